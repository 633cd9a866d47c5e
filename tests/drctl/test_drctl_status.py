import io
import json

import pytest
from drctl_fakes import DR, PRIMARY, FakeGateways, config

from drctl import exitcodes
from drctl.cli import main
from drctl.status import collect_status


def run(world, gw, cfg, log):
    return collect_status(cfg, gw, world.clock, log)


def by_name(report):
    return {(c.component, c.name, c.region): c for c in report.checks}


def test_healthy_platform_reports_every_channel_ok(world, gw, cfg, log):
    report = run(world, gw, cfg, log)
    assert report.exit_code == 0 and report.overall == "healthy"
    assert report.writer_region == PRIMARY
    assert {c.state for c in report.checks} == {"OK"}
    names = {(c.component, c.name) for c in report.checks}
    assert names >= {("aurora", "global cluster"), ("aurora", "primary cluster"), ("aurora", "dr cluster"),
                     ("aurora", "replication lag"),
                     ("dynamodb", "replica payment-transactions-dev"),
                     ("dynamodb", "replica payment-idempotency-dev"),
                     ("dynamodb", "ddb latency primary->dr"), ("dynamodb", "ddb latency dr->primary"),
                     ("s3", "replication primary->dr"), ("s3", "replication dr->primary"),
                     ("s3", "s3 metrics primary->dr"), ("s3", "s3 metrics dr->primary"),
                     ("route53", "primary health check"), ("route53", "dr health check"),
                     ("alarms", "primary alarms"), ("alarms", "dr alarms")}
    # the lag is read from the secondary (DR) cluster's region
    lag = by_name(report)[("aurora", "replication lag", DR)]
    assert lag.data["lag_ms"] == 40.0
    assert lag.detail == ("AuroraGlobalDBRPOLag 40 ms into payments-dr-dev (threshold 1000 ms) at "
                          "02:59:00Z (60 s ago)")
    assert not world.ops("switchover_global_cluster") and not world.ops("put_item")


UNHEALTHY = {
    "aurora lag over threshold": (lambda w: w.lag_ms.update({DR: 2500.0}), ("aurora", "replication lag")),
    "dr cluster not available": (lambda w: w.cluster_status.update({DR: "modifying"}), ("aurora", "dr cluster")),
    "dr cluster left the global cluster": (lambda w: w.members_present.update({DR: False}),
                                           ("aurora", "global cluster")),
    "secondary pending resync": (lambda w: w.sync_status.update({DR: "pending-resync"}),
                                 ("aurora", "global cluster")),
    "dynamodb replica not active": (lambda w: w.replica_status.update({DR: "UPDATING"}),
                                    [("dynamodb", "replica payment-transactions-dev"),
                                     ("dynamodb", "replica payment-idempotency-dev")]),
    "dynamodb replication latency": (lambda w: w.ddb_latency_ms.update({PRIMARY: 10_500.0}),
                                     [("dynamodb", "ddb latency primary->dr"),
                                      ("dynamodb", "ddb latency primary->dr payment-idempotency-dev")]),
    "s3 rtc disabled": (lambda w: w.s3_rules_ok.update({DR: False}), ("s3", "replication dr->primary")),
    "s3 failed replication": (lambda w: w.s3_failed_ops.update({PRIMARY: 3.0}), ("s3", "s3 metrics primary->dr")),
    "s3 latency over RTC": (lambda w: w.s3_latency_s.update({DR: 1200.0}), ("s3", "s3 metrics dr->primary")),
    "dr health check failing": (lambda w: w.health.update({"hc-dr": (2, 16)}), ("route53", "dr health check")),
    "primary alarm firing": (lambda w: w.alarms.update({PRIMARY: ["payments-dev-api-errors"]}),
                             ("alarms", "primary alarms")),
    "dr alarm firing": (lambda w: w.alarms.update({DR: ["payments-dev-dr-lag"]}), ("alarms", "dr alarms")),
}


@pytest.mark.parametrize("case", sorted(UNHEALTHY))
def test_each_unhealthy_condition_fails_its_check_and_exits_1(case, world, gw, cfg, log):
    mutate, expected = UNHEALTHY[case]
    mutate(world)
    report = run(world, gw, cfg, log)
    failing = [(c.component, c.name) for c in report.checks if c.state == "FAIL"]
    assert failing == (expected if isinstance(expected, list) else [expected]), failing
    assert report.exit_code == exitcodes.UNHEALTHY


def test_health_check_uses_route53s_rule_more_than_18_percent(world, gw, cfg, log):
    world.health["hc-dr"] = (9, 50)  # exactly 18 % is not more than 18 %
    assert by_name(run(world, gw, cfg, log))[("route53", "dr health check", DR)].state == "FAIL"
    world.health["hc-dr"] = (3, 16)  # 18.75 %: healthy for Route 53 (a majority rule said FAIL)
    assert by_name(run(world, gw, cfg, log))[("route53", "dr health check", DR)].state == "OK"


def test_unreachable_region_is_reported_not_a_crash(world, gw, cfg, log):
    world.unreachable = {DR}
    report = run(world, gw, cfg, log)
    assert report.exit_code == exitcodes.UNREACHABLE
    dr_rows = [c for c in report.checks if c.region == DR and c.component != "route53"]
    assert dr_rows and all(c.state == "UNREACHABLE" for c in dr_rows)
    # the primary region and Route 53 still answer
    assert all(c.state == "OK" for c in report.checks if c.region == PRIMARY)
    # after the first failure the region is skipped, not retried by every check
    assert len([c for c in world.calls if c[1] == DR]) == 1


def test_s3_latency_into_a_down_region_is_unreadable_not_a_second_call(world, gw, cfg, log):
    """primary -> DR latency is published in DR (AWS): with DR down the primary's row says so
    and reads failed operations at home; DR is called once in all (the status row order holds)."""
    world.unreachable = {DR}
    report = run(world, gw, cfg, log)
    [row] = [c for c in report.checks if c.id == "s3:s3-metrics-primary-dr"]
    assert row.region == PRIMARY and "latency (us-east-2): unreachable" in row.detail, row.detail
    assert "failed ops 0" in row.detail and row.data["failed_region"] == PRIMARY
    names = [c.name for c in report.checks if c.region == PRIMARY and c.component == "s3"]
    assert names == ["replication primary->dr", "s3 metrics primary->dr"]
    assert len([c for c in world.calls if c[1] == DR]) == 1


def test_s3_latency_is_read_in_the_destination_region(world, gw, cfg, log):
    report = run(world, gw, cfg, log)
    rows = {c.id: c for c in report.checks}
    assert rows["s3:s3-metrics-primary-dr"].data["latency_region"] == DR
    assert rows["s3:s3-metrics-dr-primary"].data["latency_region"] == PRIMARY
    assert "latency 12 s in us-east-2" in rows["s3:s3-metrics-primary-dr"].detail


def test_global_cluster_is_read_from_dr_when_primary_is_down(world, gw, cfg, log):
    world.unreachable = {PRIMARY}
    report = run(world, gw, cfg, log)
    rows = [c for c in report.checks if c.name == "global cluster"]
    assert [(c.region, c.state) for c in rows] == [(DR, "OK")]
    assert report.writer_region == PRIMARY and report.exit_code == exitcodes.UNREACHABLE


def test_after_switchover_lag_is_read_from_the_primary_cluster(world, gw, cfg, log):
    world.writer_region = DR
    world.lag_ms = {PRIMARY: 3000.0, DR: None}
    report = run(world, gw, cfg, log)
    assert report.writer_region == DR
    lag = by_name(report)[("aurora", "replication lag", PRIMARY)]
    assert lag.state == "FAIL" and "payments-primary-dev" in lag.detail
    assert by_name(report)[("aurora", "global cluster", PRIMARY)].state == "WARN"  # writer in DR: noted


def test_operation_in_progress_is_a_warning(world, gw, cfg, log):
    world.start_operation("switchover", "arn:aws:rds:us-east-2:111122223333:cluster:payments-dr-dev")
    report = run(world, gw, cfg, log)
    row = by_name(report)[("aurora", "global cluster", PRIMARY)]
    assert row.state == "WARN" and "in progress" in row.detail
    assert report.exit_code == 0


def test_missing_metrics_are_warnings_not_failures(world, gw, cfg, log):
    world.lag_ms[DR] = None
    world.ddb_latency_ms = {PRIMARY: None, DR: None}
    report = run(world, gw, cfg, log)
    assert report.exit_code == 0
    assert by_name(report)[("aurora", "replication lag", DR)].state == "WARN"


def test_cli_json_and_table_output(world, tmp_path):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({k: {"value": v, "type": "string", "sensitive": False}
                                   for k, v in config().as_dict().items() if v is not None
                                   and k in ("primary_region", "dr_region", "environment_suffix",
                                             "primary_s3_bucket", "dr_s3_bucket",
                                             "primary_health_check_id", "dr_health_check_id",
                                             "replication_lag_threshold_seconds")}))
    world.alarms[DR] = ["payments-dev-x"]
    out, err = io.StringIO(), io.StringIO()
    code = main(["status", "--outputs", str(outputs), "--json"], gateways=lambda a: FakeGateways(world),
                clock=world.clock, stdout=out, stderr=err)
    doc = json.loads(out.getvalue())
    assert code == 1 and doc["exit_code"] == 1 and doc["overall"] == "unhealthy"
    assert [c["name"] for c in doc["checks"] if c["state"] == "FAIL"] == ["dr alarms"]
    events = [json.loads(line) for line in err.getvalue().splitlines()]
    assert events and all({"ts", "level", "event", "command"} <= set(e) for e in events)
    assert events[-1]["event"] == "status_done"

    out = io.StringIO()
    world.alarms[DR] = []
    code = main(["status", "--outputs", str(outputs), "--quiet"], gateways=lambda a: FakeGateways(world),
                clock=world.clock, stdout=out, stderr=io.StringIO())
    text = out.getvalue()
    assert code == 0 and text.startswith("DR status: HEALTHY (exit 0)")
    assert "CHECK" in text and "route53" in text


# -- issue 11: roles, the failback gate, DNS, bounded probing ------------------------------------

def test_alarms_are_judged_by_the_current_roles(world, gw, cfg, log):
    world.writer_region = DR
    world.lag_ms = {PRIMARY: 30.0, DR: None}
    world.alarms[DR] = ["payments-dev-aurora-rpo-lag-dr"]  # the writer's: publishes nothing
    row = by_name(run(world, gw, cfg, log))[("alarms", "dr alarms", DR)]
    assert row.state == "OK" and "the writer (dr) publishes no RPO lag" in row.detail
    world.alarms[PRIMARY] = ["payments-dev-aurora-rpo-lag-primary"]  # the secondary's: real
    row = by_name(run(world, gw, cfg, log))[("alarms", "primary alarms", PRIMARY)]
    assert row.state == "FAIL" and row.data["in_alarm"] == ["payments-dev-aurora-rpo-lag-primary"]


def test_status_reports_the_failback_latch(world, gw, cfg, log):
    latch = world.latches[(DR, "/payments-dr/dev/failback/primary")].__class__
    world.writer_region = DR
    world.lag_ms = {PRIMARY: 30.0, DR: None}
    world.latches[(DR, "/payments-dr/dev/failback/primary")] = latch(
        "blocked", "2026-11-25T02:10:00Z", "probe", "primary unreachable for 3 min")
    row = by_name(run(world, gw, cfg, log))[("gate", "failback gate primary", DR)]
    assert row.state == "WARN" and row.detail.startswith("BLOCKED (since 2026-11-25T02:10:00Z by probe")
    assert "drctl failback" in row.detail
    world.writer_region = PRIMARY  # blocked while the primary writes: traffic away from the writer
    row = by_name(run(world, gw, cfg, log))[("gate", "failback gate primary", DR)]
    assert row.state == "FAIL"
    # Only the DR region keeps a latch (the primary is the record that fails back): no row
    # for a "dr" gate, so a deployment without one is not reported as missing anything.
    del world.latches[(PRIMARY, "/payments-dr/dev/failback/dr")]
    rows = by_name(run(world, gw, cfg, log))
    assert ("gate", "failback gate dr", PRIMARY) not in rows
    del world.latches[(DR, "/payments-dr/dev/failback/primary")]
    row = by_name(run(world, gw, cfg, log))[("gate", "failback gate primary", DR)]
    assert row.state == "WARN" and "no parameter /payments-dr/dev/failback/primary" in row.detail


def test_status_reports_what_dns_answers_for_the_domain(world, gw, log):
    cfg = config(custom_domain_url="https://pay.corp.internal", primary_api_host="p.execute-api",
                 dr_api_host="d.execute-api")
    world.dns = {"pay.corp.internal": ["192.0.2.20"], "p.execute-api": ["192.0.2.10"],
                 "d.execute-api": ["192.0.2.20", "192.0.2.21"]}
    row = by_name(run(world, gw, cfg, log))[("dns", "domain answer", "-")]
    assert row.state == "OK" and row.data["serving_roles"] == ["dr"]
    assert row.detail == "pay.corp.internal -> 192.0.2.20: serves the dr API"
    world.dns.pop("pay.corp.internal")
    row = by_name(run(world, gw, cfg, log))[("dns", "domain answer", "-")]
    assert row.state == "WARN" and "no answer" in row.detail


def test_route53_endpoint_is_skipped_after_its_first_failure(world, gw, cfg, log):
    world.unreachable = {PRIMARY}  # us-east-1: the primary region AND Route 53's control plane
    report = run(world, gw, cfg, log)
    r53 = [c for c in report.checks if c.component == "route53"]
    assert [c.state for c in r53] == ["UNREACHABLE", "UNREACHABLE"]
    assert "skipped: route53 unreachable" in r53[1].detail
    assert len([c for c in world.calls if c[0] == "route53"]) == 1
    assert len([c for c in world.calls if c[1] == PRIMARY and c[0] != "route53"]) == 1
    assert report.unreachable == ["route53", PRIMARY]


def test_progress_is_logged_per_region_and_endpoint(world, gw, cfg, log):
    run(world, gw, cfg, log)
    done = sorted(e["done"] for e in log.named("progress") if "done" in e)
    assert done == ["dr region", "primary region", "route53"]
