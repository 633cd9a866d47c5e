import io
import json


from drctl import exitcodes
from drctl.cli import main
from drctl.operations import REJOIN_HELP, failover, planned_switchover
from drctl_fakes import DR, PRIMARY, FakeGateways, arn

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
