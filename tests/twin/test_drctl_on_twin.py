"""drctl against the twin, unchanged (issue 19, scenarios 2 and 4), on the default and the
prod-like synth (twin_support.PROFILES; one module Twin at a time, never with the session `twin`).

Every `drctl` step is a subprocess, as an operator runs it: `python -m drctl ... --json` with
the stacks' outputs files, the twin's AWS endpoint (through twin/faultproxy.py, so a faulted
region's APIs hang for drctl as they would for an operator) and `DRCTL_RESOLVE` (the twin's
names). What drctl reads that moto lacks is simulated by twin/aurora.py and twin/observed.py
(docs/twin.md). The runbook's order (docs/runbook.md sections 4-7):

1. normal day: `status`;
2. us-east-1 dies (each fault kind on the default synth: hang, refuse, 5xx; the hang on the
   prod-like one: VARIANTS): DNS moves; `status` exit 3; `failover --dry-run`, `failover
   --confirm-data-loss`; payments continue in DR; `verify --from dr` ends quickly (exit 3);
   `failback` refused while the primary is dark;
3. us-east-1 answers again (Aurora's documented path: unplanned-failover snapshot, rejoin as
   pending-resync): `lost-writes` copies the snapshot; `rejoin` says nothing to rejoin;
   `failback` refused until resync and replication caught up, then completes; the writes DR
   accepted are in the primary before the gate opens; `verify` passes;
4. a second unplanned failover whose old primary comes back DETACHED: `lost-writes`, `rejoin`
   prints the re-create procedure, `failback` refused.

The probes run on the twin's schedules and reach its names, so `peer-unreachable-dr` pages
during an outage as in AWS; the second failover waits for that page, as the runbook does.
Where drctl refuses failback on probe alarms, the test asserts those are the ONLY rows at
fault, and failback then runs with `--override` of exactly those checks (audited in the latch),
as the runbook allows after review. S3 is never overridden: its evidence (a fresh
ReplicationLatency under contract.S3_FAILBACK_LATENCY_MAX_S, no failed operation) passes with
DR's receipts still in flight.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from ops.clientkeys import seed_document
from ops.signing import new_key, signed_headers
from twin_support import CLIENT_ID, PROFILES

from twin.gameday import probe_alarm_row

pytestmark = pytest.mark.twin


PROBE_ALARMS = ("peer-unreachable", "domain-unreachable")  # the probe's metrics (see module doc)


def _probe_alarm(name: str) -> bool:
    return any(p in name for p in PROBE_ALARMS)


STEP_S = 10.0


def _pay(twin, name: str, key: str, txn: str):
    body = json.dumps({"transactionId": txn, "customerId": "cust-drctl", "amount": 12.5,
                       "currency": "USD"}).encode()
    headers = {"Content-Type": "application/json", **signed_headers(key_b64=key, client_id=CLIENT_ID, body=body)}
    return twin.request("POST", f"https://{name}/validate", headers=headers, body=body, timeout=3.0)


def _s3_row(result) -> dict:
    """The S3 evidence row of a failback (state and what it read), for the figures."""
    doc = result.report or {}
    rows = doc.get("pre_checks", []) + doc.get("checks", [])
    row = next((r for r in rows if r.get("id") == "s3:s3-metrics-dr-primary"), {})
    data = row.get("data") or {}
    return {"state": row.get("state"), **{k: data.get(k) for k in (
        "latency_s", "age_s", "pending_operations", "failed_operations")}}


def _records(twin, region: str, txn: str) -> list[dict]:
    fn = next(f for (r, _), f in twin.pool.functions.items() if r == region and f.handler == "validator.lambda_handler")
    return twin.client("dynamodb", region).query(
        TableName=fn.environment["TRANSACTIONS_TABLE"], KeyConditionExpression="transactionId = :t",
        ExpressionAttributeValues={":t": {"S": txn}}, ConsistentRead=True)["Items"]


def _failed(run) -> list[dict]:
    doc = run.report or {}
    rows = doc.get("checks", []) + doc.get("pre_checks", []) + doc.get("post_checks", [])
    return [c for c in rows if c.get("state") not in ("OK", "WARN", "OVERRIDDEN")]


def _only_probe_alarms(rows: list[dict]) -> bool:
    """Every failed row is an alarms row whose alarms in ALARM are the probe's (module doc)."""
    return bool(rows) and all(
        r.get("component") == "alarms" and not r.get("data", {}).get("insufficient_data")
        and r.get("data", {}).get("in_alarm") and all(_probe_alarm(a) for a in r["data"]["in_alarm"])
        for r in rows)


def _writer(rehearsal) -> str:
    return rehearsal.aurora.writer_region()


# (profile, fault kind of both outages): every kind on the default synth; the hang on the
# prod-like one too. A variant costs about 3 min of real time (mostly drctl subprocesses and
# the scenario minutes of schedules), so refuse and 5xx run on the default synth only: the
# fault kind changes what drctl and Route 53 meet, not what the profile changes (check
# intervals, thresholds), and the hang is the slowest kind for both.
VARIANTS = [("default", "hang"), ("default", "refuse"), ("default", "5xx"), ("prod", "hang")]


@pytest.fixture(scope="module", params=VARIANTS, ids=[f"{p}-{k}" for p, k in VARIANTS])
def day(request, synth_stacks):
    """Play the whole day once per variant; the tests below read what happened."""
    from twin.core import Twin
    from twin.rehearsal import Rehearsal

    profile, fault = request.param
    environ = PROFILES[profile]
    synth_stacks(**environ)
    started = time.monotonic()
    with Twin(synth_stacks.outdir_of(**environ), lag_s=0.3) as twin:
        rehearsal = Rehearsal(twin, switch_s=2.0, resync_s=15.0).start()
        try:
            out = _play(twin, rehearsal, fault)
            out["suffix"] = environ.get("ENVIRONMENT_SUFFIX", "dev")
            out["real_s"] = round(time.monotonic() - started, 1)
            print(f"scenario 4 on {profile}, {fault}: {out['real_s']} s real")
            yield out
        finally:
            rehearsal.stop()


def _seed_key(twin) -> str:
    key = new_key()
    primary = twin.region_of("primary")
    authorizer = next(fn for (r, _), fn in twin.pool.functions.items()
                      if r == primary and fn.handler == "authorizer.lambda_handler")
    twin.client("secretsmanager", primary).put_secret_value(
        SecretId=authorizer.environment["CLIENT_KEYS_SECRET"],
        SecretString=seed_document(CLIENT_ID, key))
    assert twin.replication.wait_caught_up(10)
    return key


def _play(twin, rehearsal, fault: str) -> dict:
    out: dict = {"runs": {}, "payments": {}, "fault": fault}
    primary, dr = twin.region_of("primary"), twin.region_of("dr")
    name = next(iter(twin.route53.records))
    key = _seed_key(twin)
    out.update(primary=primary, dr=dr, name=name)

    def run(label: str, *argv: str):
        out["runs"][label] = rehearsal.drctl(*argv)
        return out["runs"][label]

    # 1. a normal day, once warmed up: the heartbeat's observed-delay alarms (missing data
    # breaches, 3 of 3 minutes) need one measurement of each store first, and on the
    # accelerated clock the first can miss a minute (replication lags in real seconds; CI
    # 2026-12-08: the S3 one still in ALARM at +120 s). Probe alarms aside (module doc).
    rehearsal.step(120)
    ready_by = rehearsal.now() + 300
    while rehearsal.now() < ready_by and any(
            state == "ALARM" and not _probe_alarm(name) for name, state in twin.alarms.states().items()):
        rehearsal.step(STEP_S)
    for _ in range(2):
        txn = f"txn-{uuid.uuid4().hex[:12]}"
        answer = _pay(twin, name, key, txn)
        out["payments"][txn] = (answer.status, answer.region)
    run("status-normal", "status")

    # 2. us-east-1 dies (hangs, refuses or answers 5xx)
    rehearsal.outage(primary, fault)
    fault_t = rehearsal.now()
    while twin.region_for(name) != dr and rehearsal.now() - fault_t < 120:
        rehearsal.step(STEP_S)
    out["dns_moved_s"] = rehearsal.now() - fault_t
    rehearsal.step(60)  # the alarms' evaluation after the move
    # as the runbook says: fail over once the DR region's probe pages (peer unreachable); on the
    # prod-like synth (10 s checks) DNS moves before it does
    peer_alarm = next(n for n in twin.alarms.states() if n.endswith("peer-unreachable-dr"))
    while twin.alarms.states().get(peer_alarm) != "ALARM" and rehearsal.now() - fault_t < 420:
        rehearsal.step(STEP_S)
    out["peer_alarm_s"] = rehearsal.now() - fault_t
    run("status-outage", "status")
    run("failover-dry-run", "failover", "--dry-run")
    run("failover", "failover", "--confirm-data-loss", "--poll-interval", "1", "--timeout", "60")
    out["writer_after_failover"] = _writer(rehearsal)
    dr_accepted = []
    for _ in range(3):
        txn = f"txn-{uuid.uuid4().hex[:12]}"
        answer = _pay(twin, name, key, txn)
        out["payments"][txn] = (answer.status, answer.region)
        if answer.status == 200:
            dr_accepted.append(txn)
    out["dr_accepted"] = dr_accepted
    started = time.monotonic()
    run("verify-from-dr-outage", "verify", "--from", "dr", "--timeout", "20")
    out["verify_outage_s"] = time.monotonic() - started
    run("failback-outage", "failback", "--yes", "--poll-interval", "1", "--timeout", "60")
    out["writer_after_refused_failback"] = _writer(rehearsal)

    # 3. us-east-1 answers again: Aurora's rejoin path
    out["snapshot"] = rehearsal.restore(primary)
    rehearsal.step(STEP_S)
    run("lost-writes", "lost-writes")
    run("rejoin-member", "rejoin")
    run("failback-resyncing", "failback", "--yes", "--poll-interval", "1", "--timeout", "60")
    out["writer_after_resyncing_failback"] = _writer(rehearsal)
    deadline = time.monotonic() + 60
    while rehearsal.aurora.describe()["GlobalClusterMembers"] and any(
            m.get("SynchronizationStatus") == "pending-resync"
            for m in rehearsal.aurora.describe()["GlobalClusterMembers"]) and time.monotonic() < deadline:
        rehearsal.step(STEP_S)
    twin.replication.wait_caught_up(10)
    caught_up = time.monotonic()
    # CloudWatch keeps the minute's Maximum: the outage's latency stays in the newest datapoint
    # until a minute with the caught-up latency is published. The operator re-runs the dry run.
    out["failback_dry_runs"] = []
    while time.monotonic() - caught_up < 150:
        rehearsal.step(STEP_S)
        dry = rehearsal.drctl("failback", "--dry-run")
        out["failback_dry_runs"].append((round(time.monotonic() - caught_up, 1), dry.exit_code,
                                         [c["id"] for c in _failed(dry)]))
        out.setdefault("in_primary_at_first_dry_run",
                       {txn: len(_records(twin, primary, txn)) for txn in dr_accepted})
        out.setdefault("s3_rows", []).append(_s3_row(dry))
        if dry.exit_code == 0 or _only_probe_alarms(_failed(dry)):
            break
    out["evidence_after_catch_up_s"] = time.monotonic() - caught_up
    out["in_primary_before_failback"] = {txn: len(_records(twin, primary, txn)) for txn in dr_accepted}
    failback = run("failback", "failback", "--yes", "--poll-interval", "1", "--timeout", "60")
    out.setdefault("s3_rows", []).append(_s3_row(failback))
    if failback.exit_code == 4 and all(probe_alarm_row(r) for r in _failed(failback)):
        out["failback_override"] = [r["id"] for r in _failed(failback)]
        overrides = [a for check in out["failback_override"] for a in ("--override", check)]
        run("failback", "failback", "--yes", "--poll-interval", "1", "--timeout", "60", *overrides,
            "--reason", "twin: probe alarms (tests/twin/test_drctl_on_twin.py)")
    out["writer_after_failback"] = _writer(rehearsal)
    out["latch"] = json.loads(twin.client("ssm", dr).get_parameter(
        Name=next(c["data"]["parameter"] for c in out["runs"]["failback"].report["post_checks"]
                 if "parameter" in (c.get("data") or {})))["Parameter"]["Value"]) \
        if out["runs"]["failback"].report and out["runs"]["failback"].report.get("post_checks") else None
    rehearsal.step(STEP_S)
    run("verify-after-failback", "verify", "--timeout", "30")

    # 4. a second unplanned failover; the old primary comes back detached
    rehearsal.aurora.detach = True
    rehearsal.outage(primary, fault)
    # as the runbook says: fail over once the DR region's probe pages (peer unreachable)
    peer_alarm = next(n for n in twin.alarms.states() if n.endswith("peer-unreachable-dr"))
    fault_2 = rehearsal.now()
    while twin.alarms.states().get(peer_alarm) != "ALARM" and rehearsal.now() - fault_2 < 420:
        rehearsal.step(STEP_S)
    out["peer_alarm_2_s"] = rehearsal.now() - fault_2
    run("failover-2", "failover", "--confirm-data-loss", "--poll-interval", "1", "--timeout", "60")
    out["snapshot_2"] = rehearsal.restore(primary)
    rehearsal.step(STEP_S)
    run("lost-writes-detached", "lost-writes")
    run("rejoin-detached", "rejoin")
    run("status-detached", "status")
    run("failback-detached", "failback", "--yes", "--poll-interval", "1", "--timeout", "30")
    out["writer_at_end"] = _writer(rehearsal)
    return out


def _explain(day, label: str) -> str:
    r = day["runs"][label]
    return f"{r.command} -> exit {r.exit_code}\n{json.dumps(r.report, default=str)[:3000]}\n{r.stderr[-1500:]}"


def test_status_on_a_normal_day(day):
    run = day["runs"]["status-normal"]
    assert run.exit_code == 0 or (run.exit_code == 1 and _only_probe_alarms(_failed(run))), \
        _explain(day, "status-normal")
    rows = {c["id"]: c for c in run.report["checks"]}
    assert rows["dns:domain-answer"]["data"]["serving_roles"] == ["primary"], _explain(day, "status-normal")
    assert all(status == 200 and region == day["primary"] for status, region in
               list(day["payments"].values())[:2]), day["payments"]


def test_status_during_the_outage_says_the_primary_is_unreachable(day):
    """Runbook section 4, step 1: expect the primary UNREACHABLE (exit 3)."""
    run = day["runs"]["status-outage"]
    assert run.exit_code == 3, _explain(day, "status-outage")
    unreachable = {c["region"] for c in run.report["checks"] if c["state"] == "UNREACHABLE"
                   and c["component"] != "route53"}  # Route 53's API lives in us-east-1: both rows
    assert unreachable == {day["primary"]}, _explain(day, "status-outage")
    assert set(run.report["unreachable"]) == {day["primary"], "route53"}
    rows = {c["id"]: c for c in run.report["checks"]}
    assert rows["dns:domain-answer"]["data"]["serving_roles"] == ["dr"], _explain(day, "status-outage")


def test_failover_moves_the_writer_and_blocks_the_gate(day):
    assert day["runs"]["failover-dry-run"].exit_code == 0, _explain(day, "failover-dry-run")
    run = day["runs"]["failover"]
    assert run.exit_code == 0, _explain(day, "failover")
    assert run.report["outcome"] == "completed"
    assert day["writer_after_failover"] == day["dr"]
    gate = next(c for c in run.report["pre_checks"] if c["component"] == "gate")
    assert gate["data"]["state"] == "blocked", gate
    reach = next(c for c in run.report["pre_checks"] if c["name"] == "primary unreachable")
    assert reach["state"] == "OK", reach  # confirmed by the DR region's peer-unreachable alarm


def test_payments_continue_in_dr(day):
    assert len(day["dr_accepted"]) == 3, day["payments"]
    assert {day["payments"][t][1] for t in day["dr_accepted"]} == {day["dr"]}


def test_verify_from_dr_with_the_primary_hung_ends_quickly(day):
    run = day["runs"]["verify-from-dr-outage"]
    assert run.exit_code == 3, _explain(day, "verify-from-dr-outage")
    assert day["verify_outage_s"] < 45, day["verify_outage_s"]


def test_failback_is_refused_while_the_primary_is_dark(day):
    run = day["runs"]["failback-outage"]
    assert run.exit_code in (3, 4), _explain(day, "failback-outage")
    assert day["writer_after_refused_failback"] == day["dr"]


def test_lost_writes_preserves_the_unplanned_failover_snapshot(day):
    run = day["runs"]["lost-writes"]
    assert day["snapshot"] and day["snapshot"].startswith("rds:unplanned-global-failover-")
    assert run.exit_code == 0, _explain(day, "lost-writes")
    assert run.report["data"]["snapshot"] == day["snapshot"]
    assert run.report["data"]["manual_copy"].startswith("lost-writes-")
    copy = next(c for c in run.report["checks"] if c["name"] == "manual copy")
    assert copy["state"] == "OK" and "copied" in copy["detail"], copy


def test_rejoin_of_a_resyncing_member_has_nothing_to_do(day):
    run = day["runs"]["rejoin-member"]
    assert run.exit_code == 0, _explain(day, "rejoin-member")
    assert "already a member" in run.report["steps"][0]


def test_failback_refused_until_resync_then_only_after_catch_up(day):
    early = day["runs"]["failback-resyncing"]
    assert early.exit_code == 4, _explain(day, "failback-resyncing")
    assert any("pending-resync" in r for r in early.report["reasons"]), early.report["reasons"]
    assert day["writer_after_resyncing_failback"] == day["dr"]
    # After the catch-up the evidence may still hold the outage's backlog (a refusal) or already
    # show it drained; a dry run that passes must not pass with a DR-accepted payment missing.
    first = day["failback_dry_runs"][0]
    if first[1] == 0:
        assert day["in_primary_at_first_dry_run"] == dict.fromkeys(day["dr_accepted"], 1), day
    else:
        assert first[1] == 4 and first[2], day["failback_dry_runs"]
    run = day["runs"]["failback"]
    assert run.exit_code == 0, _explain(day, "failback") + f"\ndry runs: {day['failback_dry_runs']}"
    assert day["writer_after_failback"] == day["primary"]
    assert day["in_primary_before_failback"] == dict.fromkeys(day["dr_accepted"], 1), \
        "failback before the DR-accepted payments were in the primary"
    assert day["latch"]["state"] == "open", day["latch"]
    evidence = {c["id"] for c in run.report["pre_checks"] if c["state"] == "OK"}
    suffix = day["suffix"]
    assert {f"dynamodb:ddb-latency-dr-primary-payment-transactions-{suffix}",
            f"dynamodb:ddb-latency-dr-primary-payment-idempotency-{suffix}"} <= evidence, evidence
    assert set(day.get("failback_override", [])) <= {"alarms:primary-alarms", "alarms:dr-alarms"}
    assert "s3:s3-metrics-dr-primary" in evidence, evidence  # with DR's receipts still in flight
    print("failback S3 rows (dry runs, then the failback):", day["s3_rows"])


def test_verify_passes_after_failback(day):
    assert day["runs"]["verify-after-failback"].exit_code == 0, _explain(day, "verify-after-failback")


def test_detached_old_primary_rejoin_procedure_and_failback_refused(day):
    assert day["runs"]["failover-2"].exit_code == 0, _explain(day, "failover-2")
    assert day["snapshot_2"], "no unplanned-failover snapshot on recovery"
    lost = day["runs"]["lost-writes-detached"]
    assert lost.exit_code == 0 and lost.report["data"]["snapshot"] == day["snapshot_2"], \
        _explain(day, "lost-writes-detached")
    rejoin = day["runs"]["rejoin-detached"]
    assert rejoin.exit_code == 0, _explain(day, "rejoin-detached")
    old = next(c for c in rejoin.report["checks"] if c["name"] == "old primary")
    assert "DETACHED" in old["detail"], old
    assert any("create-db-cluster" in s and f"--global-cluster-identifier payments-global-{day['suffix']}" in s
               and "--master-username" not in s.split("(")[0] for s in rejoin.report["steps"]), rejoin.report["steps"]
    status = day["runs"]["status-detached"]
    assert status.exit_code == 1, _explain(day, "status-detached")
    failback = day["runs"]["failback-detached"]
    assert failback.exit_code == 4, _explain(day, "failback-detached")
    assert any("drctl rejoin" in r for r in failback.report["reasons"]), failback.report["reasons"]
    assert day["writer_at_end"] == day["dr"]
