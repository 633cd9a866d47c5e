import io

import pytest
from botocore.exceptions import ClientError
from drctl_fakes import DR, PRIMARY, FakeGateways, arn

from drctl import exitcodes
from drctl.cli import main
from drctl.operations import planned_switchover

DR_ARN = arn(DR, "payments-dr-dev")
ARGS = ["--primary-region", PRIMARY, "--dr-region", DR, "--environment-suffix", "dev",
        "--primary-health-check-id", "hc-primary", "--dr-health-check-id", "hc-dr",
        "--replication-lag-threshold-seconds", "1", "--yes"]


def switchover(world, gw, cfg, log, **kw):
    kw.setdefault("poll", 10)
    kw.setdefault("timeout", 600)
    kw.setdefault("confirm", lambda question: True)
    return planned_switchover(cfg, gw, world.clock, log, to_role="dr", **kw)


def test_happy_path_switches_writer_waits_with_progress_and_post_checks(world, gw, cfg, log):
    world.operation_seconds = 45
    result = switchover(world, gw, cfg, log)
    assert result.outcome == "completed" and result.exit_code == 0
    assert world.writer_region == DR
    assert world.ops("switchover_global_cluster") == [("rds", DR, "switchover_global_cluster")]
    progress = log.named("waiting")
    assert len(progress) >= 5 and progress[0]["writer"].endswith("payments-primary-dev")
    assert progress[-1]["writer"] == DR_ARN
    assert world.clock.t >= 45 and set(world.clock.sleeps) == {10}  # bounded polling, injected sleep
    assert all(c.state == "OK" for c in result.checks)
    assert {c.name for c in result.post_checks} == {"dr cluster", "primary cluster", "writer",
                                                    "dr health check"}
    assert all(c.state == "OK" for c in result.post_checks)
    assert world.ops("wait_db_cluster_available")  # the boto3 waiter path is used


REFUSALS = {
    "lag over threshold": (lambda w: w.lag_ms.update({DR: 1500.0}), "aurora:replication-lag"),
    "no lag datapoint": (lambda w: w.lag_ms.update({DR: None}), "no AuroraGlobalDBRPOLag"),
    "stale lag datapoint": (lambda w: setattr(w, "lag_age_s", 900), "older than 300 s"),
    "dr health check red": (lambda w: w.health.update({"hc-dr": (2, 16)}), "route53:dr-health-check"),
    "alarm in primary": (lambda w: w.alarms.update({PRIMARY: ["payments-dev-5xx"]}), "payments-dev-5xx"),
    "alarm in dr": (lambda w: w.alarms.update({DR: ["payments-dev-dr-lag"]}), "payments-dev-dr-lag"),
    "primary cluster busy": (lambda w: w.cluster_status.update({PRIMARY: "backing-up"}), "backing-up"),
    "dr cluster busy": (lambda w: w.cluster_status.update({DR: "upgrading"}), "upgrading"),
    "global cluster not available": (lambda w: setattr(w, "global_status", "modifying"), "status modifying"),
    "other operation in progress": (
        lambda w: (setattr(w, "writer_region", DR),
                   w.start_operation("switchover", arn(PRIMARY, "payments-primary-dev"))),
        "another operation is in progress"),
    "target not a member": (lambda w: w.members_present.update({DR: False}), "not a member"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_each_failed_pre_check_refuses_and_changes_nothing(case, world, gw, cfg, log):
    mutate, reason = REFUSALS[case]
    mutate(world)
    result = switchover(world, gw, cfg, log)
    assert result.outcome == "refused" and result.exit_code == exitcodes.REFUSED
    assert any(reason in r for r in result.reasons), result.reasons
    assert not world.ops("switchover_global_cluster")
    assert "refused" in [e["event"] for e in log.events]


def test_every_failed_pre_check_is_listed(world, gw, cfg, log):
    world.lag_ms[DR] = 5000.0
    world.health["hc-dr"] = (0, 16)
    world.alarms[PRIMARY] = ["payments-dev-a"]
    world.alarms[DR] = ["payments-dev-b"]
    result = switchover(world, gw, cfg, log)
    assert len(result.reasons) == 5 and "--override CHECK --reason" in result.reasons[-1]
    assert [r.split(" (")[0] for r in result.reasons[:4]] == [
        "aurora:replication-lag", "route53:dr-health-check", "alarms:primary-alarms", "alarms:dr-alarms"]


def test_dry_run_shows_plan_and_sends_nothing_that_changes_state(world, gw, cfg, log):
    result = switchover(world, gw, cfg, log, dry_run=True)
    assert result.outcome == "dry-run" and result.exit_code == 0
    assert "SwitchoverGlobalCluster" in result.plan[0] and DR_ARN in result.plan[0]
    read_only = {"describe_global_clusters", "describe_db_clusters", "get_metric_statistics",
                 "get_health_check_status", "describe_alarms"}
    assert {op for _, _, op in world.calls} <= read_only
    assert world.writer_region == PRIMARY and world.clock.sleeps == []


def test_dry_run_with_failing_pre_check_reports_refusal(world, gw, cfg, log):
    world.alarms[DR] = ["payments-dev-x"]
    result = switchover(world, gw, cfg, log, dry_run=True)
    assert result.exit_code == exitcodes.REFUSED and result.plan


def test_rerun_when_target_is_already_writer_reports_already_done(world, gw, cfg, log):
    world.writer_region = DR
    world.lag_ms = {PRIMARY: 30.0, DR: None}
    result = switchover(world, gw, cfg, log)
    assert result.outcome == "already-done" and result.exit_code == 0
    assert not world.ops("switchover_global_cluster")
    assert result.post_checks and all(c.ok for c in result.post_checks)


def test_operation_in_progress_toward_target_is_waited_on_not_restarted(world, gw, cfg, log):
    world.start_operation("switchover", DR_ARN)
    world.operation_seconds = 30
    result = switchover(world, gw, cfg, log)
    assert result.outcome == "completed" and world.writer_region == DR
    assert not world.ops("switchover_global_cluster")
    assert log.named("resume_wait")


def test_timeout_then_rerun_resumes_without_a_second_request(world, gw, cfg, log):
    world.operation_seconds = 500
    first = switchover(world, gw, cfg, log, timeout=120)
    assert first.outcome == "timeout" and first.exit_code == exitcodes.FAILED
    assert "re-run" in first.reasons[0]
    assert world.clock.t <= 130  # bounded
    second = switchover(world, gw, cfg, log, timeout=600)
    assert second.outcome == "completed" and world.writer_region == DR
    assert len(world.ops("switchover_global_cluster")) == 1


def test_interrupt_during_wait_exits_130_and_rerun_only_waits(world, capsys):
    gw = FakeGateways(world)
    world.operation_seconds = 300

    clock = world.clock
    real_sleep = clock.sleep
    calls = {"n": 0}

    def sleep(seconds):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        real_sleep(seconds)

    clock.sleep = sleep
    code = main(["switchover", *ARGS], gateways=lambda a: gw,
                clock=clock, stdout=io.StringIO(), stderr=io.StringIO())
    assert code == exitcodes.INTERRUPTED
    assert world.failover_status == "pending"  # AWS keeps going without us
    clock.sleep = real_sleep
    out = io.StringIO()
    code = main(["switchover", *ARGS], gateways=lambda a: gw, clock=clock, stdout=out,
                stderr=io.StringIO())
    assert code == 0 and "COMPLETED" in out.getvalue()
    assert len(world.ops("switchover_global_cluster")) == 1


def test_concurrent_request_error_falls_back_to_waiting(world, gw, cfg, log):
    # another operator started it between our pre-checks and our request
    original = type(gw.aurora(DR)).switchover

    def racing(self, global_cluster_id, target_arn):
        if world.failover_status is None:
            world.start_operation("switchover", target_arn)
        return original(self, global_cluster_id, target_arn)

    type(gw.aurora(DR)).switchover = racing
    try:
        result = switchover(world, gw, cfg, log)
    finally:
        type(gw.aurora(DR)).switchover = original
    assert result.outcome == "completed" and world.writer_region == DR
    assert log.named("already_in_progress")


def test_api_error_is_reported_as_failed(world, gw, cfg, log):
    world.fail_on[("rds", "switchover_global_cluster")] = ClientError(
        {"Error": {"Code": "InvalidDBClusterStateFault", "Message": "engine version mismatch"}},
        "SwitchoverGlobalCluster")
    result = switchover(world, gw, cfg, log)
    assert result.outcome == "failed" and result.exit_code == exitcodes.FAILED
    assert "engine version mismatch" in result.reasons[0]


def test_post_check_failure_exits_1(world, gw, cfg, log):
    world.operation_seconds = 20
    world.health["hc-dr"] = (16, 16)
    orig = world.start_operation

    def degrade(kind, target):
        orig(kind, target)
        world.health["hc-dr"] = (2, 16)  # DR API goes red during the switchover
    world.start_operation = degrade
    result = switchover(world, gw, cfg, log)
    assert result.outcome == "completed" and result.exit_code == exitcodes.UNHEALTHY
    assert [c.name for c in result.post_checks if not c.ok] == ["dr health check"]


def test_unreachable_region_refuses_with_exit_3(world, gw, cfg, log):
    world.unreachable = {PRIMARY}
    result = switchover(world, gw, cfg, log)
    assert result.exit_code == exitcodes.UNREACHABLE and result.outcome == "refused"
    assert not world.ops("switchover_global_cluster")
