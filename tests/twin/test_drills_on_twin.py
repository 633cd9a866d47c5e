"""`drctl drill` on the twin (issue 19, scenario 5), default and prod-like synths: drctl's own orchestrator
(`run_drill`, unchanged, in-process) with ports that read the twin (twin/drills.py): the FIS
templates of the JSON start the twin's simulated faults, the scenario clock is drctl's clock.

One twin for the module; in order:

1. the regional-failover template's fault (FIS network ACL cutting the primary's private
   subnets off DynamoDB): the subnets' functions fail their DynamoDB calls, the others work;
2. a drill whose canary has been silent: refused (the canary's alarms fire), nothing started;
3. a regional-failover drill whose --timeout ends before DNS moves: aborted, fault removed;
4. the regional-failover drill on the primary: detection, DNS and RTO are the twin's own
   observations; RPO from the real heartbeat canary (its bounds; INCONCLUSIVE: see below);
5. the replication drill: FIS pauses DynamoDB and S3 replication for 25 scenario minutes; the
   replication metrics AWS publishes (twin/awsmetrics.py, from the twin's replicator, latency
   in scenario time) raise the JSON's DynamoDB ReplicationLatency alarm (10 s, 5 periods of
   a minute) and S3's (above RTC's 15 minutes in 2 periods of 5 minutes) before the pause
   ends, and both clear after it: the drill passes on that evidence;
6. the database drill: drctl's planned switchover and failback in-process against a rehearsal
   (Aurora's simulated roles): the switchover completes; the failback asked for at once is
   refused by drctl's evidence checks, and the drill fails saying the writer is in DR.

The canary's delays are real time (the functions' clocks) while the schedule runs on the
scenario clock, so a scenario minute's real length is the canary's write interval: the
failover drill paces the clock (`pace_s`) so that interval is at least ~2 s, coarser than the
1 s RPO target as AWS's 60 s heartbeat is, and the RPO evidence is INCONCLUSIVE on any machine.
"""

from __future__ import annotations

import time

import pytest
from twin_support import PROFILES, operator_failback, warm_up

from contract import (
    DRILL_DATABASE,
    DRILL_REGIONAL_FAILOVER,
    DRILL_REPLICATION,
    HEALTH_PATH,
    RPO_TARGET_S,
    RTO_TARGET_S,
)
from drctl import exitcodes
from drctl.drill.models import DrillOptions
from drctl.drill.run import run_drill
from drctl.log import EventLog

pytestmark = pytest.mark.twin

HEARTBEAT = "heartbeat.lambda_handler"


@pytest.fixture(scope="module", params=sorted(PROFILES))
def drills(request, synth_stacks, tmp_path_factory):
    """Each profile's twin (default and prod-like synths), evaluating, warmed up; the drills'
    side of it."""
    from twin.core import Twin
    from twin.drills import TwinDrill

    environ = PROFILES[request.param]
    synth_stacks(**environ)
    with Twin(synth_stacks.outdir_of(**environ), lag_s=0.3) as twin:
        warm_up(twin)
        drill = TwinDrill(twin)
        drill.report_dir = tmp_path_factory.mktemp("drills")
        try:
            yield drill
        finally:
            drill.close()


def _options(drill, name: str, **kw) -> DrillOptions:
    kw.setdefault("poll", 10.0)
    return DrillOptions(name=name, domain_name=drill.domain_name(), report_dir=str(drill.report_dir), **kw)


def _regional(twin, region: str) -> str:
    return next(n for n, r in twin.names.items() if r == region and n not in twin.route53.records)


def _health(twin, region: str) -> int:
    return twin.request("GET", f"https://{_regional(twin, region)}{HEALTH_PATH}", timeout=5).status


def _quiet(drill, limit_s: float = 600) -> None:
    """Advance until no alarm is in ALARM and the failover name answers the primary (the
    operator opening the failback latch if the DR probe closed it, as scenario 2 does)."""
    twin = drill.twin
    primary = twin.region_of("primary")
    check = twin.route53.checks[drill.cfg.primary_health_check_id]
    start = twin.clock.now()
    opened = False
    while twin.clock.now() - start < limit_s:
        firing = [n for n, a in twin.alarms.alarms.items() if a.state == "ALARM"]
        # at least two of the primary's checks since the last drill: a failure streak of an
        # aborted drill must not count towards the next drill's detection
        settled = twin.clock.now() - start >= 2 * check.request_interval and check.streak == 0
        if settled and not firing and twin.region_for(drill.domain_name()) == primary:
            return
        if not opened and twin.clock.now() - start >= 120:
            operator_failback(twin, "twin drill: between drills")
            opened = True
        twin.advance(10)
    raise AssertionError(f"the twin did not quieten in {limit_s} s: {firing}")


@pytest.fixture(scope="module")
def failover_fault(drills):
    """Scenario seconds after starting the template: who answers what."""
    twin, fis = drills.twin, drills.fis
    primary, dr = twin.region_of("primary"), twin.region_of("dr")
    template = fis.find_template(primary, DRILL_REGIONAL_FAILOVER, drills.cfg.environment_suffix)
    experiment = fis.start(primary, template, {})
    seen = {"state": fis.state(primary, experiment), "primary": _health(twin, primary), "dr": _health(twin, dr),
            "actions": [a.detail for a in fis.experiments[experiment].actions]}
    heartbeat = next(fn for (r, _), fn in twin.pool.functions.items() if r == primary and fn.handler == HEARTBEAT)
    seen["heartbeat"] = twin.invoke(primary, heartbeat.name, {}).payload
    fis.stop(primary, experiment)
    seen["after_stop"] = (fis.state(primary, experiment), _health(twin, primary))
    return seen


def test_failover_template_cuts_the_subnets_functions_off_dynamodb(failover_fault):
    """FIS's network ACL (scope=dynamodb) on the primary's tagged private subnets: the functions
    in those subnets (health, validator, reconcile, authorizer) lose DynamoDB, /health answers
    503; the DR region and the functions outside the VPC (heartbeat, probe) are untouched;
    stopping removes it."""
    assert failover_fault["state"] == ("running", "")
    assert failover_fault["primary"] == 503
    assert failover_fault["dr"] == 200
    (detail,) = failover_fault["actions"]
    assert "for 3 subnets" in detail
    assert all(f"payment-{fn}-primary" in detail for fn in ("health", "validator", "reconcile", "authorizer"))
    assert "heartbeat" not in detail and "probe" not in detail
    assert "writeError" not in failover_fault["heartbeat"]["dynamodb"], failover_fault["heartbeat"]
    assert failover_fault["after_stop"] == (("stopped", "Experiment stopped by the user (StopExperiment)."), 200)


@pytest.fixture(scope="module")
def silent_canary(drills, failover_fault):
    """The heartbeat schedules disabled for 6 scenario minutes (more than the drill's 5-minute
    canary lookback), then a regional-failover drill."""
    twin = drills.twin
    disabled = {}
    for key, schedule in twin.schedules.schedules.items():
        if any(fn.handler == HEARTBEAT for fn in schedule.targets):
            disabled[key], schedule.targets = schedule.targets, []
    try:
        twin.advance(360)
        before = len(drills.fis.experiments)
        result = run_drill(drills.cfg, drills.ports(), drills.clock, EventLog(),
                           _options(drills, DRILL_REGIONAL_FAILOVER))
        started = len(drills.fis.experiments) - before
    finally:
        for key, targets in disabled.items():
            twin.schedules.schedules[key].targets = targets
    _quiet(drills)
    return result, started


def test_drill_without_canary_evidence_does_not_pass(silent_canary):
    result, experiments = silent_canary
    assert result.outcome == "refused" and result.exit_code == exitcodes.REFUSED != 0
    assert "observed-replication-delay-dynamodb" in result.broke[0], result.broke
    assert experiments == 0, "a refused drill started an experiment"


@pytest.fixture(scope="module")
def dns_too_slow(drills, silent_canary):
    """A drill whose --timeout ends before Route 53 can move the name: a third of the primary
    check's failure_threshold x request_interval (30 s on the default synth, 10 s on prod-like)."""
    check = drills.twin.route53.checks[drills.cfg.primary_health_check_id]
    timeout = check.failure_threshold * check.request_interval / 3
    result = run_drill(drills.cfg, drills.ports(), drills.clock, EventLog(),
                       _options(drills, DRILL_REGIONAL_FAILOVER, timeout=timeout, recovery_timeout=60))
    primary = drills.twin.region_of("primary")
    health = _health(drills.twin, primary)
    _quiet(drills)
    return result, health


def test_drill_where_dns_never_moved_does_not_pass(dns_too_slow):
    result, primary_health = dns_too_slow
    assert result.outcome == "aborted" and result.exit_code == exitcodes.FAILED != 0
    assert "did not serve" in result.broke[0]
    assert result.experiment["final_state"] == "stopped"
    assert primary_health == 200, "the fault was not removed by the abort"


@pytest.fixture(scope="module")
def failover(drills, dns_too_slow):
    """The regional-failover drill on the primary, the clock paced (module doc)."""
    from twin.drills import TwinDrill

    twin = drills.twin
    paced = TwinDrill(twin, pace_s=0.4)
    paced.report_dir = drills.report_dir
    answers_before = len(twin.route53.answers)
    started = time.monotonic()
    result = run_drill(paced.cfg, paced.ports(), paced.clock, EventLog(),
                       _options(paced, DRILL_REGIONAL_FAILOVER, recovery_timeout=300))
    seconds = time.monotonic() - started
    paced.close()
    experiment = next(iter(paced.fis.experiments.values()))
    moves = twin.route53.answers[answers_before:]
    _quiet(drills)
    print(f"\nregional-failover on the twin ({seconds:.0f} s real): {result.outcome} {result.measured}")
    return result, experiment, moves


def test_regional_failover_rto_is_the_twins_observation(failover, drills):
    result, experiment, moves = failover
    twin = drills.twin
    dr = twin.region_of("dr")
    fault_t = experiment.started_at
    m = result.measured
    # The first DNS move after the fault, as the twin's Route 53 evaluated it, is what the drill saw.
    moved_t = next(t for t, name, region in moves if region == dr)
    assert m["dns_change_s"] == pytest.approx(moved_t - fault_t, abs=10.0)
    assert m["detection_s"] <= m["dns_change_s"] <= m["rto_s"] <= RTO_TARGET_S
    check = twin.route53.checks[drills.cfg.primary_health_check_id]
    unhealthy_t = next(t for t, healthy, _ in check.history if t >= fault_t and not healthy)
    assert m["detection_s"] == pytest.approx(unhealthy_t - fault_t, abs=10.0)
    # within what the JSON allows: failure_threshold x request_interval (+ one poll)
    assert m["rto_s"] <= check.failure_threshold * check.request_interval + 10
    assert [e["event"] for e in result.events if e["event"] in ("dns_answer_changed", "dr_served")] == [
        "dns_answer_changed", "dr_served"]
    assert not [b for b in result.broke if "never observed" in b or "RTO" in b], result.broke
    assert experiment.status == "stopped"


def test_regional_failover_rpo_is_the_canarys(failover):
    """Both stores, both directions, with datapoints: the canary's bounds, and (paced) a write
    interval coarser than the target: the evidence cannot show RPO <= 1 s."""
    result, _, _ = failover
    rows = {(c["store"], c["region"]) for c in result.canary if c["datapoints"] > 0}
    assert len(rows) == 4, result.canary
    m = result.measured
    assert m["rpo_upper_s"] > RPO_TARGET_S, m
    assert m["rpo_s"] is None or m["rpo_s"] > RPO_TARGET_S, m


def test_regional_failover_with_inconclusive_rpo_does_not_pass(failover):
    result, _, _ = failover
    # (rpo_s set: the canary proved a lag above the target, a twin under heavy load: not this case)
    assert result.measured["rpo_s"] is None and result.outcome != "passed" and result.exit_code != 0, (
        f"{result.outcome}: RPO {result.measured.get('rpo_lower_s')}-{result.measured.get('rpo_upper_s')} s")


# Scenario seconds the replication drill waits for the alarms it raised to clear: S3's latency
# alarm (2 periods of 5 minutes) keeps breaching periods after the pause (measured: cleared 14 minutes
# after it ended, default synth).
REPLICATION_RECOVERY_S = 1200


@pytest.fixture(scope="module")
def replication(drills, failover):
    """The replication drill on the primary (25 scenario minutes of pause, as the JSON says)."""
    twin = drills.twin
    applied = dict(twin.replication.applied)

    def catch_up_before_the_clock_moves_on() -> None:
        """The twin's replicator catches up in REAL time (its polls), the drill's clock races
        scenario time (2,700 s in ~12 s real): once FIS's pause has ended, a backlog that takes
        a few real seconds to apply would last thousands of scenario seconds, and S3's latency
        alarm stayed in ALARM 1,200 s after the pause in one CI run. The clock waits for it, as
        AWS replication resuming at its own speed would (bounded: 15 s real per step)."""
        if not twin.replication.paused and twin.replication.backlog():
            twin.replication.wait_caught_up(15)

    drills.clock.after_step.append(catch_up_before_the_clock_moves_on)
    started = time.monotonic()
    try:
        result = run_drill(drills.cfg, drills.ports(), drills.clock, EventLog(),
                           _options(drills, DRILL_REPLICATION, recovery_timeout=REPLICATION_RECOVERY_S))
    finally:
        drills.clock.after_step.remove(catch_up_before_the_clock_moves_on)
    seconds = time.monotonic() - started
    experiment = list(drills.fis.experiments.values())[-1]
    caught_up = twin.replication.wait_caught_up(15)
    print(f"\nreplication on the twin ({seconds:.0f} s real): {result.outcome} {result.measured} {result.broke} "
          f"alarms {result.alarms}")
    return result, experiment, applied, caught_up


def test_replication_drill_passes_on_the_replication_alarms(replication, drills):
    """The pause is detected by the alarms on the metrics AWS publishes about replication, in
    the regions AWS publishes them (DynamoDB: the source's; S3 latency: the destination's),
    before it ends; they clear after it; the drill passes on that evidence and its report
    says when each was raised."""
    result, experiment, applied_before, caught_up = replication
    twin = drills.twin
    primary, dr = twin.region_of("primary"), twin.region_of("dr")
    assert experiment.status == "completed"
    pause_s = 25 * 60.0
    assert {a.ends_at - experiment.started_at for a in experiment.actions} == {pause_s}  # PT25M
    assert [a.action_id for a in experiment.actions] == [
        "aws:dynamodb:global-table-pause-replication", "aws:s3:bucket-pause-replication"]
    assert not twin.replication.paused and caught_up, "FIS's pause did not end with the experiment"
    assert twin.replication.applied["dynamodb"] > applied_before["dynamodb"]
    raised = {(a["region"], a["name"]): a for a in result.alarms}
    latency = {key: row for key, row in raised.items() if "replication-latency" in key[1]}
    ddb = [row for (region, name), row in latency.items() if region == primary and "dynamodb" in name]
    s3 = [row for (region, name), row in latency.items() if region == dr and name.endswith("s3-replication-latency-dr")]
    assert ddb and s3, f"replication-latency alarms raised: {sorted(latency)}; all: {sorted(raised)}"
    assert all(row["raised_t_s"] <= pause_s and row["cleared_t_s"] is not None for row in ddb + s3), ddb + s3
    assert result.measured["s3_detection_s"] is not None and result.measured["s3_detection_s"] <= pause_s
    assert result.measured["dynamodb_detection_s"] is not None
    assert result.outcome == "passed" and result.exit_code == exitcodes.OK, (result.outcome, result.broke)


@pytest.fixture(scope="module")
def database(drills, replication):
    """The database drill: drctl's planned switchover to DR and its failback, in-process against
    a rehearsal (Aurora's simulated roles, what drctl reads from AWS; twin/rehearsal.py)."""
    from twin.awsmetrics import CLOUDWATCH_BUCKET_WAIT_S
    from twin.drills import TwinDrill
    from twin.rehearsal import Rehearsal

    twin = drills.twin
    replication_done = time.time()  # the replication drill's backlog latencies are published by now
    rehearsal = Rehearsal(twin, switch_s=2.0, resync_s=5.0).start()
    try:
        drill = TwinDrill(twin)
        drill.report_dir = drills.report_dir
        drill.rehearse(rehearsal)
        # what drctl reads (replication metrics, alarm states) published, and the replication
        # drill's pause out of the canary's 5-minute lookback
        drill.clock.sleep(330)
        # drctl reads the newest 60 s datapoint from CloudWatch (moto's, in REAL time: the twin
        # stamps what it publishes with the wall clock, twin/awsmetrics.py). moto's 60 s buckets
        # start at the window's first datapoint (AWS's at the minute), so the newest one can hold
        # anything published in the 60 s before its newest datapoint: the replication drill's
        # backlog latency (published scenario minutes ago, seconds ago in real time; ~300 s
        # measured) until more than 60 s real have passed. The scenario keeps running meanwhile
        # (an idle real minute would be a 60 s gap to the canary, whose delays are real
        # seconds), then one more scenario minute is published.
        while time.time() < replication_done + CLOUDWATCH_BUCKET_WAIT_S:
            drill.clock.sleep(10)
        drill.clock.sleep(60)
        writers = [rehearsal.aurora.writer_region()]
        started = time.monotonic()
        result = run_drill(drill.cfg, drill.ports(), drill.clock, EventLog(),
                           _options(drill, DRILL_DATABASE, timeout=300, poll=5.0, recovery_timeout=60))
        writers.append(rehearsal.aurora.writer_region())
        print(f"\ndatabase on the twin ({time.monotonic() - started:.0f} s real): {result.outcome} "
              f"{result.measured} {result.broke}")
        drill.close()
        return result, writers
    finally:
        rehearsal.stop()


def test_database_drill_switches_over_and_back_or_says_the_writer_is_in_dr(database, drills):
    """The switchover to DR is drctl's, on the role model (its RTO is the simulated switch plus
    drctl's polls, not a measurement of Aurora). drctl's drill asks for the failback at once;
    drctl's failback either completes or refuses, and then ONLY for the new secondary's
    AuroraGlobalDBRPOLag not published yet: the drill fails and says the writer is in DR, and
    it is. (S3's pending operations no longer refuse: docs/twin.md scenario 4.)"""
    result, (before, after) = database
    primary, dr = drills.twin.region_of("primary"), drills.twin.region_of("dr")
    assert before == primary
    assert result.measured["rto_s"] is not None and result.measured["rto_s"] <= RTO_TARGET_S
    assert [e["event"] for e in result.events][:3] == ["preflight", "fault_start", "dr_writer"]
    if after == primary:
        assert result.measured["failback_s"] is not None
        assert not any(b.startswith("failback") for b in result.broke), result.broke
        return
    assert after == dr and result.outcome == "failed" and result.exit_code == exitcodes.UNHEALTHY != 0
    assert result.measured["failback_s"] is None
    assert result.broke[0].startswith("failback to primary: refused; the writer may still be in the DR region")
    failed = [b for b in result.broke[1:] if ": FAIL:" in b]

    def replication_evidence(b: str) -> bool:
        """The new secondary's RPO lag not published yet. (A DynamoDB ReplicationLatency
        refusal here was the replication drill's backlog still in moto's newest 60 s bucket:
        the fixture now waits 65 s real after that drill, see `database`.)"""
        return b.startswith(f"aurora:replication-lag ({primary})") and "no AuroraGlobalDBRPOLag datapoint" in b

    assert failed and all(replication_evidence(b) for b in failed), result.broke
