"""Failback after an unplanned failover (issue 11 item 1, 7; issue 10's failback gate).

Simulated in the fakes: the Aurora writer, alarm states (CloudWatch does not evaluate here),
DynamoDB/S3 replication metrics and the SSM latch."""

import io
import json

from drctl_fakes import DR, PRIMARY, FakeGateways

import contract
from drctl import exitcodes
from drctl.cli import main
from drctl.operations import Overrides, planned_switchover

GATE = "/payments-dr/dev/failback/primary"
GATE_ALARM = "payments-dev-failback-blocked-dr"
ARGS = ["failback", "--primary-region", PRIMARY, "--dr-region", DR, "--environment-suffix", "dev",
        "--primary-health-check-id", "hc-primary", "--dr-health-check-id", "hc-dr",
        "--primary-s3-bucket", "audit-primary", "--dr-s3-bucket", "audit-dr",
        "--replication-lag-threshold-seconds", "1", "--poll-interval", "10", "--json"]


def after_failover(world):
    """DR writes; the primary is back and replicating; DR's probe latched the gate."""
    world.writer_region = DR
    world.lag_ms = {PRIMARY: 30.0, DR: None}
    # the new writer's RPO-lag alarm and the gate alarm are in ALARM, as deployed (issue 10):
    # the gate alarm lives in DR and is named for it (tests/test_monitoring.py reads the JSON)
    world.alarms[DR] = ["payments-dev-aurora-rpo-lag-dr", GATE_ALARM]
    world.latches[(DR, GATE)] = world.latches[(DR, GATE)].__class__(
        "blocked", "2026-11-25T02:10:00Z", "probe payment-probe-dr-dev", "primary unreachable")


def hold_writes(world):
    return [(region, table, item) for region, table, item in world.item_writes
            if item.get("transactionId") == contract.FAILBACK_HOLD_ID]


def failback(world, gw, cfg, log, **kw):
    kw.setdefault("confirm", lambda question: True)
    return planned_switchover(cfg, gw, world.clock, log, to_role="primary", poll=10, timeout=600,
                              operation="failback", **kw)


def test_failback_after_failover_is_allowed_and_opens_the_gate_in_the_dr_region(world, gw, cfg, log):
    after_failover(world)
    result = failback(world, gw, cfg, log, operator="alice")
    assert result.outcome == "completed" and result.exit_code == 0, result.to_text()
    assert world.writer_region == PRIMARY
    alarms = {c.name: c for c in result.checks if c.component == "alarms"}
    assert alarms["dr alarms"].state == "OK"  # writer's rpo-lag alarm and the gate: not blockers
    assert "publishes no RPO lag" in alarms["dr alarms"].detail
    [(region, name, latch)] = world.latch_writes
    assert (region, name, latch.state) == (DR, GATE, "open")  # written where DR watches the primary
    assert latch.by.startswith("alice (arn:aws:sts::") and latch.since == "2026-11-25T03:01:30Z"
    assert not [c for c in world.calls if c[0] == "ssm" and c[1] == PRIMARY]
    assert f"once the alarm {GATE_ALARM} (us-east-2) clears" in result.data["gate"]
    assert "1-2 minutes" in result.data["gate"]
    assert [c.id for c in result.post_checks][-2:] == ["gate:failback-gate-primary", "gate:failback-hold"]


def test_failback_clears_the_hold_in_the_primary_region_after_the_evidence(world, gw, cfg, log):
    """The hold the DR validator armed (lambda/ops/hold.py) is cleared where the primary's
    /health reads it, with who and when: the primary answers healthy again."""
    after_failover(world)
    result = failback(world, gw, cfg, log, operator="alice")
    assert result.exit_code == 0, result.to_text()
    [(region, table, item)] = hold_writes(world)
    assert (region, table) == (PRIMARY, cfg.dynamodb_table_name)
    assert item["state"] == contract.FAILBACK_HOLD_CLEARED and item["timestamp"] == 0
    assert item["clearedAt"] == int(world.clock.now().timestamp()) and item["clearedBy"].startswith("alice")


def held(world, *, peer_healthy=1.0):
    """DR took payments through the failover name: the hold is armed, so Route 53 sees the
    primary's /health answer 503 and its health-check alarm fires; DR's probe (GET /probe,
    which ignores the hold) sees the primary healthy, or published nothing (None)."""
    after_failover(world)
    world.hold_state = contract.FAILBACK_HOLD_ARMED
    world.health["hc-primary"] = (0, 16)
    world.alarms[PRIMARY] = ["payments-dev-health-check-primary"]
    world.peer_healthy[DR] = peer_healthy


def test_failback_with_the_hold_armed_judges_the_primary_by_the_dr_probe_and_clears_it(world, gw, cfg, log):
    """The hold keeps the primary's /health unhealthy until failback clears it: failback must
    not wait for a healthy Route 53 check it is the only way to get (found on the twin)."""
    held(world)
    result = failback(world, gw, cfg, log, operator="alice")
    assert result.exit_code == 0, result.to_text()
    checks = {c.id: c for c in result.checks}
    health = checks["route53:primary-health-check"]
    assert health.state == "OK" and "failback hold is armed" in health.detail and "PeerHealthy 1" in health.detail
    assert checks["alarms:primary-alarms"].state == "OK"
    assert "failback hold keeps the primary's /health" in checks["alarms:primary-alarms"].detail
    [(region, _, item)] = hold_writes(world)
    assert (region, item["state"]) == (PRIMARY, contract.FAILBACK_HOLD_CLEARED)


def test_a_held_primary_without_fresh_probe_evidence_is_refused(world, gw, cfg, log):
    for peer_healthy, age in ((None, 60.0), (0.0, 60.0), (1.0, 13 * 60.0)):
        world.item_writes.clear()
        held(world, peer_healthy=peer_healthy)
        world.metric_age_s = age
        result = failback(world, gw, cfg, log)
        assert result.exit_code == exitcodes.REFUSED, (peer_healthy, age, result.to_text())
        assert "route53:primary-health-check" in " ".join(result.data.get("reasons", [])) or any(
            c.id == "route53:primary-health-check" and c.state == "FAIL" for c in result.checks)
        assert not hold_writes(world)
    world.metric_age_s = 60.0


def test_an_unhealthy_primary_without_the_hold_is_still_refused(world, gw, cfg, log):
    held(world)
    world.hold_state = None  # not held: the 503s are the primary's own
    result = failback(world, gw, cfg, log)
    assert result.exit_code == exitcodes.REFUSED
    assert any(c.id == "route53:primary-health-check" and c.state == "FAIL" for c in result.checks)
    assert any(c.id == "alarms:primary-alarms" and c.state == "FAIL" for c in result.checks)


def test_dry_run_leaves_the_hold_armed(world, gw, cfg, log):
    after_failover(world)
    assert failback(world, gw, cfg, log, dry_run=True).outcome == "dry-run"
    assert not hold_writes(world)


def test_rerun_after_completed_failback_opens_a_gate_left_blocked(world, gw, cfg, log):
    after_failover(world)
    world.writer_region = PRIMARY  # the switchover finished, the run was interrupted before the gate
    result = failback(world, gw, cfg, log)
    assert result.outcome == "already-done" and world.latches[(DR, GATE)].state == "open"
    assert not world.ops("switchover_global_cluster")


def test_a_real_alarm_still_refuses_and_names_its_override(world, gw, cfg, log):
    after_failover(world)
    world.alarms[DR].append("payments-dev-peer-unreachable-dr")
    result = failback(world, gw, cfg, log)
    assert result.exit_code == exitcodes.REFUSED and not world.ops("switchover_global_cluster")
    assert any(r.startswith("alarms:dr-alarms (us-east-2): FAIL") and "peer-unreachable-dr" in r
               and "failback-blocked" not in r.split("in ALARM:")[1].split(";")[0]
               for r in result.reasons), result.reasons
    assert "--override CHECK --reason TEXT" in result.reasons[-1]
    assert world.latches[(DR, GATE)].state == "blocked"


def test_override_with_reason_proceeds_and_is_audited(world, gw, cfg, log):
    after_failover(world)
    world.alarms[DR].append("payments-dev-peer-unreachable-dr")
    result = failback(world, gw, cfg, log, operator="bob", overrides=Overrides(
        ("alarms:dr-alarms",), "probe alarm stale: primary verified by hand", "bob"))
    assert result.outcome == "completed" and result.exit_code == 0
    assert result.overrides == [{"check": "alarms:dr-alarms", "was": "FAIL",
                                 "detail": result.overrides[0]["detail"],
                                 "reason": "probe alarm stale: primary verified by hand", "by": "bob"}]
    assert [e["check"] for e in log.named("override")] == ["alarms:dr-alarms"]
    text = result.to_text()
    assert "Overrides (audited):" in text and "probe alarm stale" in text
    reason = world.latches[(DR, GATE)].reason
    assert "OVERRIDDEN: alarms:dr-alarms (FAIL): probe alarm stale: primary verified by hand" in reason
    assert "replication evidence passed: aurora:replication-lag, dynamodb:ddb-latency-dr-primary" in reason


def test_override_naming_no_pre_check_refuses(world, gw, cfg, log):
    after_failover(world)
    result = failback(world, gw, cfg, log, overrides=Overrides(("alarms:nope",), "x", "bob"))
    assert result.exit_code == exitcodes.REFUSED
    assert "--override alarms:nope matches no pre-check" in result.reasons[0]
    assert not world.ops("switchover_global_cluster")


def test_dynamodb_behind_by_more_than_the_alarm_threshold_refuses(world, gw, cfg, log):
    after_failover(world)
    world.ddb_latency_ms[DR] = 12_000.0  # over the 10 s alarm threshold (drctl used to allow 30 s)
    result = failback(world, gw, cfg, log)
    assert result.exit_code == exitcodes.REFUSED
    failed = sorted(c.id for c in result.checks if c.state == "FAIL")
    assert failed == ["dynamodb:ddb-latency-dr-primary-payment-idempotency-dev",
                      "dynamodb:ddb-latency-dr-primary-payment-transactions-dev"]


def test_s3_operations_pending_with_a_young_latency_do_not_refuse(world, gw, cfg, log):
    """DR keeps writing receipts until DNS moves back, after failback: some are always pending.
    A fresh latency under the failback bound says they reach the primary within it (stop 25's
    finding: pending > 0 refused for good under live traffic)."""
    after_failover(world)
    world.s3_pending_ops[DR] = 42.0
    world.s3_latency_s[DR] = contract.S3_FAILBACK_LATENCY_MAX_S
    result = failback(world, gw, cfg, log)
    assert result.outcome == "completed" and result.exit_code == 0, result.to_text()
    [s3] = [c for c in result.checks if c.id == "s3:s3-metrics-dr-primary"]
    assert s3.state == "OK" and "pending ops 42" in s3.detail, s3.detail
    assert "s3:s3-metrics-dr-primary" in world.latch_writes[0][2].reason  # audited as evidence


def test_s3_latency_over_the_failback_bound_refuses_though_inside_rtc(world, gw, cfg, log):
    """61 s behind: the outage's backlog has not drained (RTC's 900 s would let it through)."""
    after_failover(world)
    world.s3_latency_s[DR] = contract.S3_FAILBACK_LATENCY_MAX_S + 1
    assert world.s3_latency_s[DR] < contract.S3_REPLICATION_LATENCY_THRESHOLD_S
    [reason] = _refused_on(failback(world, gw, cfg, log), world, "s3:s3-metrics-dr-primary")
    assert "latency 61 s over 60 s (failback bound), read in us-east-1" in reason, reason


def test_s3_failed_operations_refuse(world, gw, cfg, log):
    after_failover(world)
    world.s3_failed_ops[DR] = 2.0
    [reason] = _refused_on(failback(world, gw, cfg, log), world, "s3:s3-metrics-dr-primary")
    assert "2 operations failed replication, read in us-east-2" in reason, reason


def test_missing_s3_failed_operations_datapoint_refuses(world, gw, cfg, log):
    """A young latency alone does not show that none failed."""
    after_failover(world)
    world.s3_failed_ops[DR] = None
    [reason] = _refused_on(failback(world, gw, cfg, log), world, "s3:s3-metrics-dr-primary")
    assert "no OperationsFailedReplication datapoint in us-east-2 (the source's Region)" in reason, reason


def test_s3_pending_with_stale_latency_refuses(world, gw, cfg, log):
    after_failover(world)
    world.s3_pending_ops[DR] = 3.0
    world.metric_age_s = 6 * 60
    reasons = _refused_on(failback(world, gw, cfg, log), world, "s3:s3-metrics-dr-primary")
    assert any("ReplicationLatency datapoint in us-east-1 is 360 s old (over 300 s)" in r
               and "OperationsFailedReplication datapoint in us-east-2 is 360 s old" in r
               for r in reasons), reasons


def _refused_on(result, world, *check_ids):
    assert result.exit_code == exitcodes.REFUSED, result.to_text()
    assert not world.ops("switchover_global_cluster") and not world.latch_writes
    assert world.latches[(DR, GATE)].state == "blocked"
    assert not hold_writes(world), "a refused failback must leave the failback hold armed"
    failed = {c.id for c in result.checks if c.state == "FAIL"}
    assert set(check_ids) <= failed, failed
    return [r for r in result.reasons if r.split(" ")[0] in check_ids]


def test_missing_dynamodb_replication_datapoints_refuse(world, gw, cfg, log):
    """No ReplicationLatency from DR: nothing shows DR's writes reached the primary (was WARN)."""
    after_failover(world)
    world.ddb_latency_ms[DR] = None
    reasons = _refused_on(failback(world, gw, cfg, log), world,
                          "dynamodb:ddb-latency-dr-primary-payment-transactions-dev",
                          "dynamodb:ddb-latency-dr-primary-payment-idempotency-dev")
    assert all("no evidence that writes accepted here reached the other region" in r for r in reasons)


def test_missing_s3_replication_datapoints_refuse(world, gw, cfg, log):
    after_failover(world)
    world.s3_latency_s[DR], world.s3_failed_ops[DR] = None, None
    [reason] = _refused_on(failback(world, gw, cfg, log), world, "s3:s3-metrics-dr-primary")
    assert "no ReplicationLatency datapoint in us-east-1 (the destination's Region)" in reason, reason


def test_s3_failback_evidence_is_read_where_aws_publishes_it(world, gw, cfg, log):
    """DR -> primary: AWS publishes ReplicationLatency in the destination's Region (the primary,
    up at failback) and OperationsFailedReplication in the source's (DR). The fake answers only
    there, as CloudWatch would; reading both in DR found no latency and refused every failback."""
    after_failover(world)
    result = failback(world, gw, cfg, log)
    assert result.outcome == "completed", result.to_text()
    [s3] = [c for c in result.checks if c.id == "s3:s3-metrics-dr-primary"]
    assert s3.state == "OK" and "latency 14 s in us-east-1" in s3.detail, s3.detail
    assert (s3.data["latency_region"], s3.data["failed_region"]) == (PRIMARY, DR)


def test_a_13_minute_old_datapoint_is_stale_evidence_and_refuses(world, gw, cfg, log):
    after_failover(world)
    world.metric_age_s = 13 * 60
    reasons = _refused_on(failback(world, gw, cfg, log), world,
                          "dynamodb:ddb-latency-dr-primary-payment-transactions-dev",
                          "s3:s3-metrics-dr-primary")
    assert any("780 s ago): older than 300 s" in r for r in reasons), reasons
    assert any("780 s old (over 300 s)" in r for r in reasons), reasons


def test_evidence_just_inside_the_bound_is_accepted(world, gw, cfg, log):
    after_failover(world)
    world.metric_age_s = 290
    result = failback(world, gw, cfg, log)
    assert result.outcome == "completed", result.to_text()


def test_insufficient_data_heartbeat_alarm_refuses(world, gw, cfg, log):
    """A canary alarm with no data cannot say replication works: refuse (was only counted)."""
    after_failover(world)
    world.alarm_states[(DR, "payments-dev-observed-replication-delay-dynamodb-dr")] = "INSUFFICIENT_DATA"
    [reason] = _refused_on(failback(world, gw, cfg, log), world, "alarms:dr-alarms")
    assert "INSUFFICIENT_DATA (no evidence either way): payments-dev-observed-replication-delay-dynamodb-dr" in reason


def test_the_gate_alarm_without_data_does_not_block_failback(world, gw, cfg, log):
    after_failover(world)
    world.alarms[DR].remove(GATE_ALARM)
    world.alarm_states[(DR, GATE_ALARM)] = "INSUFFICIENT_DATA"
    assert failback(world, gw, cfg, log).outcome == "completed"


def test_rerun_after_the_writer_moved_still_needs_fresh_evidence(world, gw, cfg, log):
    after_failover(world)
    world.writer_region = PRIMARY  # the switchover finished, the run was interrupted before the gate
    world.metric_age_s = 13 * 60
    result = failback(world, gw, cfg, log)
    assert result.exit_code == exitcodes.REFUSED and world.latches[(DR, GATE)].state == "blocked"
    assert "the failback gate stays closed until replication from DR is shown" in result.reasons[0]


def test_not_confirmed_changes_nothing(world, gw, cfg, log):
    after_failover(world)
    result = failback(world, gw, cfg, log, confirm=lambda question: False)
    assert result.exit_code == exitcodes.REFUSED and "not confirmed" in result.reasons[0]
    assert not world.ops("switchover_global_cluster") and not world.latch_writes


def test_cli_needs_yes_without_a_terminal_and_override_needs_a_reason(world):
    after_failover(world)
    out, err = io.StringIO(), io.StringIO()
    code = main(ARGS, gateways=lambda a: FakeGateways(world), clock=world.clock, stdout=out,
                stderr=err, stdin=io.StringIO(""))  # not a tty
    assert code == exitcodes.REFUSED and "--yes" in json.loads(out.getvalue())["reasons"][0]
    assert not world.ops("switchover_global_cluster")
    code = main(ARGS + ["--override", "alarms:dr-alarms"], gateways=lambda a: FakeGateways(world),
                clock=world.clock, stdout=io.StringIO(), stderr=err)
    assert code == exitcodes.USAGE and "--override needs --reason" in err.getvalue()
    out = io.StringIO()
    code = main(ARGS + ["--yes", "--operator", "carol"], gateways=lambda a: FakeGateways(world),
                clock=world.clock, stdout=out, stderr=io.StringIO())
    assert code == 0 and json.loads(out.getvalue())["outcome"] == "completed"
    assert world.latches[(DR, GATE)].by.startswith("carol")


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_cli_asks_on_a_terminal_and_only_yes_proceeds(world):
    after_failover(world)
    err = io.StringIO()
    code = main(ARGS, gateways=lambda a: FakeGateways(world), clock=world.clock, stdout=io.StringIO(),
                stderr=err, stdin=_Terminal("y\n"))
    assert code == exitcodes.REFUSED and "Type 'yes' to proceed" in err.getvalue()
    assert not world.ops("switchover_global_cluster")
    code = main(ARGS, gateways=lambda a: FakeGateways(world), clock=world.clock, stdout=io.StringIO(),
                stderr=io.StringIO(), stdin=_Terminal("yes\n"))
    assert code == 0 and len(world.ops("switchover_global_cluster")) == 1
