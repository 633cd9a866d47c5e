import io
import json

from botocore.exceptions import ClientError
from drctl_fakes import DR, PRIMARY, FakeGateways, arn

from drctl import exitcodes
from drctl.cli import main
from drctl.operations import REJOIN_HELP, Overrides, failover, planned_switchover

DR_ARN = arn(DR, "payments-dr-dev")


def run_failover(world, gw, cfg, log, **kw):
    kw.setdefault("poll", 10)
    kw.setdefault("timeout", 600)
    return failover(cfg, gw, world.clock, log, **kw)


def test_without_confirmation_refuses_before_any_api_call(world, gw, cfg, log):
    result = run_failover(world, gw, cfg, log, confirm_data_loss=False)
    assert result.outcome == "refused" and result.exit_code == exitcodes.REFUSED
    assert "--confirm-data-loss" in result.reasons[0]
    assert world.calls == [] and world.created == []


def test_confirmed_failover_promotes_dr_and_touches_only_the_dr_region(world, gw, cfg, log):
    world.unreachable = {PRIMARY}  # the primary region is down
    world.lag_ms[DR] = 830.0
    result = run_failover(world, gw, cfg, log, confirm_data_loss=True)
    assert result.outcome == "completed" and result.exit_code == 0
    assert world.writer_region == DR
    assert world.ops("failover_global_cluster") == [("rds", DR, "failover_global_cluster")]
    assert world.regions_called() == {DR}
    assert {region for _, region in world.created} == {DR}  # no client for any other region
    assert result.data["last_lag_ms"] == 830.0
    assert "830 ms" in result.data["possible_data_loss"]
    assert log.named("possible_data_loss")[0]["last_lag_ms"] == 830.0
    assert any("Route 53" in step for step in result.data["next_steps"])


def test_unknown_lag_is_reported_as_unknown(world, gw, cfg, log):
    world.lag_ms[DR] = None
    result = run_failover(world, gw, cfg, log, confirm_data_loss=True)
    assert result.exit_code == 0 and result.data["possible_data_loss"].startswith("unknown")


def test_dry_run_needs_no_confirmation_and_changes_nothing(world, gw, cfg, log):
    result = run_failover(world, gw, cfg, log, confirm_data_loss=False, dry_run=True)
    assert result.outcome == "dry-run" and result.exit_code == 0
    assert any("FailoverGlobalCluster" in s and "AllowDataLoss=True" in s for s in result.plan)
    assert not world.ops("failover_global_cluster") and world.writer_region == PRIMARY
    assert world.regions_called() == {DR}


def test_dr_region_unreachable_exits_3(world, gw, cfg, log):
    world.unreachable = {DR}
    result = run_failover(world, gw, cfg, log, confirm_data_loss=True)
    assert result.exit_code == exitcodes.UNREACHABLE
    assert not world.ops("failover_global_cluster")


def test_dr_cluster_not_available_refuses(world, gw, cfg, log):
    world.cluster_status[DR] = "inaccessible-encryption-credentials"
    result = run_failover(world, gw, cfg, log, confirm_data_loss=True)
    assert result.exit_code == exitcodes.REFUSED and "aurora:dr-cluster" in result.reasons[0]
    assert not world.ops("failover_global_cluster")


def test_rerun_after_failover_is_already_done_and_in_progress_is_waited(world, gw, cfg, log):
    world.start_operation("failover", DR_ARN)
    first = run_failover(world, gw, cfg, log, confirm_data_loss=True)
    assert first.outcome == "completed" and not world.ops("failover_global_cluster")
    again = run_failover(world, gw, cfg, log, confirm_data_loss=True)
    assert again.outcome == "already-done" and again.exit_code == 0
    assert not world.ops("failover_global_cluster")


def test_cli_failover_exit_codes(world):
    args = ["failover", "--dr-region", DR, "--environment-suffix", "dev", "--json"]
    out = io.StringIO()
    assert main(args, gateways=lambda a: FakeGateways(world), clock=world.clock, stdout=out,
                stderr=io.StringIO()) == exitcodes.REFUSED
    assert json.loads(out.getvalue())["outcome"] == "refused"
    out = io.StringIO()
    assert main(args + ["--confirm-data-loss", "--poll-interval", "5"],
                gateways=lambda a: FakeGateways(world), clock=world.clock, stdout=out,
                stderr=io.StringIO()) == 0
    assert json.loads(out.getvalue())["outcome"] == "completed"
    assert world.regions_called() == {DR}


# -- failback -----------------------------------------------------------------------------------

def failback(world, gw, cfg, log, **kw):
    kw.setdefault("confirm", lambda question: True)
    return planned_switchover(cfg, gw, world.clock, log, to_role="primary", poll=10, timeout=600,
                              operation="failback", **kw)


def test_failback_after_planned_switchover_returns_writer_to_primary(world, gw, cfg, log):
    world.writer_region = DR
    world.lag_ms = {PRIMARY: 20.0, DR: None}
    result = failback(world, gw, cfg, log)
    assert result.outcome == "completed" and result.exit_code == 0
    assert world.writer_region == PRIMARY
    assert world.ops("switchover_global_cluster") == [("rds", PRIMARY, "switchover_global_cluster")]
    # pre-checks looked at the primary's lag and health, not the DR's
    assert [c.region for c in result.checks if c.name == "replication lag"] == [PRIMARY]
    assert [c.name for c in result.checks if c.component == "route53"] == ["primary health check"]


def test_failback_refuses_while_old_primary_is_outside_the_global_cluster(world, gw, cfg, log):
    world.writer_region, world.members_present[PRIMARY] = DR, False  # detached after the outage
    result = failback(world, gw, cfg, log)
    assert result.exit_code == exitcodes.REFUSED
    assert "payments-primary-dev (us-east-1) is not a member" in result.reasons[0]
    assert REJOIN_HELP in result.reasons
    assert not world.ops("switchover_global_cluster")


def test_failback_refuses_while_old_primary_is_resynchronising(world, gw, cfg, log):
    world.writer_region = DR
    world.sync_status[PRIMARY] = "pending-resync"
    world.lag_ms = {PRIMARY: None, DR: None}
    result = failback(world, gw, cfg, log)
    assert result.exit_code == exitcodes.REFUSED
    assert REJOIN_HELP in result.reasons
    assert any("pending resync" in r for r in result.reasons)


def test_failback_when_primary_already_writer_is_already_done(world, gw, cfg, log):
    result = failback(world, gw, cfg, log)
    assert result.outcome == "already-done" and not world.ops("switchover_global_cluster")


def test_full_cycle_failover_then_failback(world, gw, cfg, log):
    world.unreachable = {PRIMARY}
    assert run_failover(world, gw, cfg, log, confirm_data_loss=True).exit_code == 0
    world.unreachable = set()
    world.sync_status[PRIMARY] = "pending-resync"  # region back, Aurora resyncing it
    world.lag_ms = {PRIMARY: None, DR: None}
    assert failback(world, gw, cfg, log).exit_code == exitcodes.REFUSED
    world.sync_status[PRIMARY] = "connected"
    world.lag_ms[PRIMARY] = 50.0
    assert failback(world, gw, cfg, log).exit_code == 0
    assert world.writer_region == PRIMARY


# -- issue 11: lost responses, stuck switchovers, evidence, gate, RPO estimate --------------------

def test_lost_response_that_took_effect_is_waited_on_not_resent(world, gw, cfg, log):
    world.hang_after_send = {"failover_global_cluster"}  # AWS got it; the response was lost
    result = run_failover(world, gw, cfg, log, confirm_data_loss=True)
    assert result.outcome == "completed" and result.exit_code == 0, result.to_text()
    assert len(world.ops("failover_global_cluster")) == 1 and world.writer_region == DR
    assert log.named("request_outcome_unknown") and log.named("request_took_effect")


def test_lost_request_is_outcome_unknown_exit_6_and_rerun_resumes(world):
    world.lose_request = {"failover_global_cluster"}  # no response, and nothing happened (yet)
    args = ["failover", "--dr-region", DR, "--environment-suffix", "dev", "--confirm-data-loss",
            "--poll-interval", "5", "--json"]
    out = io.StringIO()
    code = main(args, gateways=lambda a: FakeGateways(world), clock=world.clock, stdout=out,
                stderr=io.StringIO())
    doc = json.loads(out.getvalue())
    assert code == exitcodes.UNKNOWN == 6 and doc["outcome"] == "unknown"
    assert "may still take effect" in doc["reasons"][0] and "Re-run the same command" in doc["reasons"][0]
    assert len(world.ops("describe_global_clusters")) >= 3  # re-read before giving up
    world.lose_request = set()
    out = io.StringIO()
    assert main(args, gateways=lambda a: FakeGateways(world), clock=world.clock, stdout=out,
                stderr=io.StringIO()) == 0
    assert world.writer_region == DR


def test_lost_switchover_response_is_outcome_unknown(world, gw, cfg, log):
    world.lose_request = {"switchover_global_cluster"}
    result = planned_switchover(cfg, gw, world.clock, log, to_role="dr", poll=10, timeout=600,
                                confirm=lambda q: True)
    assert result.outcome == "unknown" and result.exit_code == exitcodes.UNKNOWN
    assert "SwitchoverGlobalCluster was sent to us-east-2 but no response came back" in result.reasons[0]


def test_switchover_stuck_when_the_primary_dies_escalates_to_a_failover(world, gw, cfg, log):
    world.start_operation("switchover", DR_ARN)
    world.operation_done_at = world.clock.monotonic() + 10_000  # the primary died mid-switchover
    world.unreachable = {PRIMARY}
    result = run_failover(world, gw, cfg, log, confirm_data_loss=True, escalate_after=60)
    assert world.ops("failover_global_cluster") == [("rds", DR, "failover_global_cluster")]
    escalated_at = log.named("escalate")[0]["ts"]
    assert escalated_at.startswith("2026-11-25T03:01:00")  # after the 60 s grace, not 30 minutes
    assert result.outcome == "completed" and world.writer_region == DR
    assert "escalated to a failover" in result.data["escalated"]


def test_switchover_finishing_within_the_grace_period_is_not_escalated(world, gw, cfg, log):
    world.start_operation("switchover", DR_ARN)
    world.operation_done_at = world.clock.monotonic() + 30
    result = run_failover(world, gw, cfg, log, confirm_data_loss=True, escalate_after=120)
    assert result.outcome == "completed" and not world.ops("failover_global_cluster")


def test_failover_refuses_when_the_dr_probe_still_reaches_the_primary(world, gw, cfg, log):
    world.alarm_states[(DR, "payments-dev-peer-unreachable-dr")] = "OK"
    result = run_failover(world, gw, cfg, log, confirm_data_loss=True)
    assert result.exit_code == exitcodes.REFUSED and not world.ops("failover_global_cluster")
    assert any(r.startswith("failover:primary-unreachable") and "drctl switchover" in r
               for r in result.reasons)
    result = run_failover(world, gw, cfg, log, confirm_data_loss=True, overrides=Overrides(
        ("failover:primary-unreachable",), "primary answers but its database is impaired", "ic"))
    assert result.outcome == "completed" and result.overrides[0]["by"] == "ic"


def test_failover_says_why_it_proceeds_with_or_without_evidence(world, gw, cfg, log):
    world.alarm_states[(DR, "payments-dev-peer-unreachable-dr")] = "ALARM"
    result = run_failover(world, gw, cfg, log, confirm_data_loss=True)
    assert result.data["primary_reachability"].startswith("confirmed")
    world.writer_region, world.alarm_states = PRIMARY, {}
    result = run_failover(world, gw, cfg, log, confirm_data_loss=True)
    assert result.data["primary_reachability"].startswith("cannot confirm")
    assert "--confirm-data-loss" in result.data["primary_reachability"]


def test_failover_latches_the_gate_in_the_dr_region_only(world, gw, cfg, log):
    world.unreachable = {PRIMARY}
    result = run_failover(world, gw, cfg, log, confirm_data_loss=True, operator="ic")
    assert [(r, n, latch.state) for r, n, latch in world.latch_writes] == [
        (DR, "/payments-dr/dev/failback/primary", "blocked")]
    assert world.latch_writes[0][2].by.startswith("ic (arn:aws:sts::")
    assert world.regions_called() == {DR} and result.exit_code == 0


def test_rpo_estimate_uses_rpo_lag_and_reports_the_datapoint_age(world, gw, cfg, log):
    world.lag_ms[DR], world.lag_age_s = 2400.0, 600
    result = run_failover(world, gw, cfg, log, confirm_data_loss=True, dry_run=True)
    assert result.data["last_lag_ms"] == 2400.0 and result.data["age_s"] == 600
    loss = result.data["possible_data_loss"]
    assert "AuroraGlobalDBRPOLag 2400 ms" in loss and "600 s old" in loss and "lower bound" in loss


def test_failover_next_steps_start_with_stopping_writes(world, gw, cfg, log):
    result = run_failover(world, gw, cfg, log, confirm_data_loss=True)
    assert result.data["next_steps"][0].startswith("STOP APPLICATION WRITES")
    assert any("drctl lost-writes" in s for s in result.data["next_steps"])


def test_escalation_refused_by_aws_is_reported_not_waited_on(world, gw, cfg, log):
    world.start_operation("switchover", DR_ARN)
    world.operation_done_at = world.clock.monotonic() + 10_000
    world.fail_on[("rds", "failover_global_cluster")] = ClientError(
        {"Error": {"Code": "InvalidGlobalClusterStateFault", "Message": "switchover in progress"}},
        "FailoverGlobalCluster")
    result = run_failover(world, gw, cfg, log, confirm_data_loss=True, escalate_after=60)
    assert result.outcome == "failed" and result.exit_code == exitcodes.FAILED
    assert "switchover in progress" in result.reasons[0] and world.clock.t < 200


def test_every_command_the_failover_prints_is_one_drctl_accepts():
    """The next steps are typed by an operator mid-incident: each must parse (issue 19:
    `drctl rejoin --dry-run` did not exist)."""
    import re
    import shlex

    from drctl_fakes import config

    from drctl.cli import build_parser
    from drctl.operations import REJOIN_HELP, failover_next_steps

    texts = [*failover_next_steps(config()), REJOIN_HELP]
    commands = [c for t in texts for c in re.findall(r"`(drctl [^`]*)`", t)]
    assert any(c.startswith("drctl rejoin") for c in commands), commands
    parser = build_parser()
    for command in commands:
        try:
            parser.parse_args(shlex.split(command)[1:])
        except SystemExit as exit:
            raise AssertionError(f"drctl does not accept `{command}` (exit {exit.code})") from None
