"""scripts/review.py: figures from the synthesized stack and from small hand-made JSON."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import review

PROVIDERS = {"aws": [{"alias": "primary", "region": "us-east-1"}, {"alias": "dr", "region": "us-west-2"}]}


def stack(*parts: dict, **resources) -> review.Stack:
    """A stack from resource dicts; parts with the same resource type are merged."""
    merged: dict = {}
    for part in (*parts, resources):
        for rtype, items in part.items():
            merged.setdefault(rtype, {}).update(items)
    return review.Stack("fixture", {"provider": PROVIDERS, "resource": merged})


def line(rv: review.StackReview, startswith: str) -> review.BudgetLine:
    return next(b for b in rv.budget if b.item.startswith(startswith))


# -- hand-made fixtures -------------------------------------------------------------------------

def aurora(alarm_ms: float | None = None) -> dict:
    resources = {
        "aws_rds_global_cluster": {"g": {"provider": "aws.primary", "global_cluster_identifier": "pay-global"}},
        "aws_rds_cluster": {
            "writer": {"provider": "aws.primary", "cluster_identifier": "pay-primary",
                       "global_cluster_identifier": "${aws_rds_global_cluster.g.id}"},
            "reader": {"provider": "aws.dr", "cluster_identifier": "pay-dr", "source_region": "us-east-1",
                       "global_cluster_identifier": "${aws_rds_global_cluster.g.id}"},
        },
    }
    if alarm_ms is not None:
        resources["aws_cloudwatch_metric_alarm"] = {"lag": {
            "provider": "aws.dr", "alarm_name": "lag", "namespace": "AWS/RDS",
            "metric_name": "AuroraGlobalDBReplicationLag", "threshold": alarm_ms, "period": 60,
            "evaluation_periods": 3, "comparison_operator": "GreaterThanThreshold",
            "dimensions": {"DBClusterIdentifier": "${aws_rds_cluster.reader.cluster_identifier}"}}}
    return resources


def test_unmonitored_aurora_replication_is_reported_and_fails():
    rv = review.review_stack(stack(**aurora()))
    (edge,) = rv.replications
    assert (edge.kind, edge.source, edge.destination) == ("Aurora global database", "us-east-1", "us-west-2")
    assert edge.alarms == []
    aurora_line = line(rv, "Aurora global database")
    assert aurora_line.status == "FAIL" and "NOT MONITORED" in aurora_line.detail
    assert "NOT MONITORED" in review.render([rv])


@pytest.mark.parametrize("threshold_ms, status", [(500, "PASS"), (1000, "PASS"), (5000, "FAIL")])
def test_aurora_rpo_is_the_lag_alarm_threshold(threshold_ms, status):
    rv = review.review_stack(stack(**aurora(threshold_ms)))
    aurora_line = line(rv, "Aurora global database")
    assert aurora_line.value_s == threshold_ms / 1000
    assert aurora_line.status == status


def test_an_alarm_on_another_cluster_does_not_count():
    resources = aurora(500)
    resources["aws_cloudwatch_metric_alarm"]["lag"]["dimensions"] = {"DBClusterIdentifier": "someone-else"}
    assert line(review.review_stack(stack(**resources)), "Aurora").status == "FAIL"


def dynamodb(receiving: dict[str, str]) -> dict:
    alarms = {f"ddb-{src}": {
        "provider": f"aws.{src}", "namespace": "AWS/DynamoDB", "metric_name": "ReplicationLatency",
        "threshold": 800, "period": 60, "evaluation_periods": 2,
        "dimensions": {"TableName": "${aws_dynamodb_table.t.name}", "ReceivingRegion": dest}}
        for src, dest in receiving.items()}
    return {"aws_dynamodb_table": {"t": {"provider": "aws.primary", "name": "tx",
                                         "replica": [{"region_name": "us-west-2"}]}},
            "aws_cloudwatch_metric_alarm": alarms}


def test_dynamodb_global_table_replicates_both_ways_and_each_direction_needs_its_alarm():
    rv = review.review_stack(stack(**dynamodb({"primary": "us-west-2"})))
    edges = {(r.source, r.destination): r for r in rv.replications}
    assert set(edges) == {("us-east-1", "us-west-2"), ("us-west-2", "us-east-1")}
    assert edges[("us-east-1", "us-west-2")].rpo_s == 0.8
    assert edges[("us-west-2", "us-east-1")].alarms == []
    statuses = {b.item: b.status for b in rv.budget if b.item.startswith("DynamoDB")}
    assert sorted(statuses.values()) == ["FAIL", "PASS"]

    both = review.review_stack(stack(**dynamodb({"primary": "us-west-2", "dr": "us-east-1"})))
    assert all(b.status == "PASS" for b in both.budget if b.item.startswith("DynamoDB"))


def s3(rtc_minutes: int | None, alarms: bool) -> dict:
    destination = {"bucket": "${aws_s3_bucket.dst.arn}"}
    if rtc_minutes:
        destination["replication_time"] = {"status": "Enabled", "time": {"minutes": rtc_minutes}}
    resources = {
        "aws_s3_bucket": {"src": {"provider": "aws.primary", "bucket": "audit-a"},
                          "dst": {"provider": "aws.dr", "bucket": "audit-b"}},
        "aws_s3_bucket_replication_configuration": {"r": {
            "provider": "aws.primary", "bucket": "${aws_s3_bucket.src.id}",
            "rule": [{"id": "all", "status": "Enabled", "destination": destination}]}},
    }
    if alarms:
        dims = {"SourceBucket": "${aws_s3_bucket.src.bucket}", "DestinationBucket": "audit-b", "RuleId": "all"}
        resources["aws_cloudwatch_metric_alarm"] = {
            "failed": {"provider": "aws.primary", "namespace": "AWS/S3", "threshold": 0, "period": 300,
                       "evaluation_periods": 1, "metric_name": "OperationsFailedReplication", "dimensions": dims}}
    return resources


def test_s3_replication_with_rtc_and_failure_alarm():
    rv = review.review_stack(stack(**s3(15, alarms=True)))
    (edge,) = rv.replications
    assert (edge.source, edge.destination, edge.target) == ("us-east-1", "us-west-2", "RTC 15 min")
    assert edge.rpo_s == 900  # no latency alarm: the RTC target is the bound
    assert line(rv, "S3 replication").status == "FAIL"  # 15 min cannot meet a 1 s RPO


def test_s3_replication_without_alarms_is_not_monitored():
    rv = review.review_stack(stack(**s3(None, alarms=False)))
    (edge,) = rv.replications
    assert edge.target.startswith("no RTC") and edge.alarms == [] and edge.rpo_s is None
    assert "NOT MONITORED" in review.render([rv], "markdown")


def failover(interval: int, threshold: int, *, alias: bool = True, ttl: int = 30, alarm: bool = True) -> dict:
    def record(role: str, region: str) -> dict:
        body = {"provider": "aws.primary", "name": "pay.example.com", "type": "A",
                "failover_routing_policy": {"type": role.upper()},
                "health_check_id": f"${{aws_route53_health_check.{role}.id}}", "set_identifier": role}
        if alias:
            body["alias"] = {"name": f"${{aws_api_gateway_domain_name.{region}.regional_domain_name}}",
                             "evaluate_target_health": True}
        else:
            body.update(ttl=ttl, records=["192.0.2.1"])
        return body

    resources = {
        "aws_api_gateway_domain_name": {"primary": {"provider": "aws.primary"}, "dr": {"provider": "aws.dr"}},
        "aws_route53_health_check": {role: {"provider": "aws.primary", "request_interval": interval,
                                            "failure_threshold": threshold} for role in ("primary", "secondary")},
        "aws_route53_record": {"p": record("primary", "primary"), "s": record("secondary", "dr")},
    }
    if alarm:
        resources["aws_cloudwatch_metric_alarm"] = {f"hc-{role}": {
            "provider": "aws.primary", "namespace": "AWS/Route53", "metric_name": "HealthCheckStatus",
            "threshold": 1, "period": 60, "evaluation_periods": 2, "comparison_operator": "LessThanThreshold",
            "dimensions": {"HealthCheckId": f"${{aws_route53_health_check.{role}.id}}"}}
            for role in ("primary", "secondary")}
    return resources


def test_traffic_rto_is_detection_plus_alias_ttl():
    rv = review.review_stack(stack(**failover(10, 3)))
    assert {(r.role, r.region) for r in rv.records} == {("PRIMARY", "us-east-1"), ("SECONDARY", "us-west-2")}
    assert line(rv, "Failure detection").value_s == 30
    assert line(rv, "DNS failover").value_s == 60  # alias to an API Gateway regional domain
    total = line(rv, "Traffic RTO")
    assert (total.value_s, total.status) == (90, "PASS")
    assert (line(rv, "Alerting").value_s, line(rv, "Alerting").status) == (120, "PASS")


def test_slow_health_checks_blow_the_rto_budget():
    rv = review.review_stack(stack(**failover(30, 10)))
    total = line(rv, "Traffic RTO")
    assert (total.value_s, total.status) == (360, "FAIL")


def test_plain_records_use_their_ttl_and_missing_alarms_fail_alerting():
    rv = review.review_stack(stack(**failover(10, 3, alias=False, ttl=120, alarm=False)))
    assert line(rv, "DNS failover").value_s == 120
    assert line(rv, "Alerting").status == "FAIL" and "NOT MONITORED" in line(rv, "Alerting").detail


def test_empty_stack_says_not_configured():
    rv = review.review_stack(stack())
    assert rv.replications == [] and rv.records == []
    assert {b.status for b in rv.budget} == {"not configured"}
    text = review.render([rv])
    assert "not configured: nothing replicates" in text and "not configured: no Route 53" in text


def test_resources_are_counted_per_region_from_provider_aliases():
    rv = review.review_stack(stack(**s3(15, alarms=False)))
    assert rv.by_region["us-east-1"] == {"aws_s3_bucket": 1, "aws_s3_bucket_replication_configuration": 1}
    assert rv.by_region["us-west-2"] == {"aws_s3_bucket": 1}


# -- markdown, plans, checkov, CLI, diagram ------------------------------------------------------

def test_markdown_has_tables_and_bold_failures():
    rv = review.review_stack(stack(failover(30, 10), aurora()))
    text = review.render([rv], "markdown", {"*": "PASS", "fixture": "80 passed, 0 failed, 2 accepted"})
    assert text.startswith("## DR review")
    assert "| budget line |" in text.replace("|  | budget line", "| budget line")
    assert "**FAIL**" in text and "checkov gate: **PASS**" in text and "80 passed" in text
    assert "<details>" in text


def test_plan_changes_are_counted_per_region():
    st = stack(**s3(15, alarms=False))
    plan = {"resource_changes": [
        {"address": "aws_s3_bucket.src", "mode": "managed", "change": {"actions": ["create"]}},
        {"address": "aws_s3_bucket.dst", "mode": "managed", "change": {"actions": ["update"]}},
        {"address": "aws_s3_bucket_replication_configuration.r", "mode": "managed",
         "change": {"actions": ["delete", "create"]}},
        {"address": "aws_s3_bucket.gone", "mode": "managed", "change": {"actions": ["delete"]}},
        {"address": "data.aws_region.x", "mode": "data", "change": {"actions": ["read"]}},
    ], "configuration": {"provider_config": {"aws.dr": {"expressions": {"region": {"constant_value": "us-west-2"}}}},
                         "root_module": {"resources": [{"address": "aws_s3_bucket.gone",
                                                        "provider_config_key": "aws.dr"}]}}}
    summary = review.plan_summary(st, plan)
    assert summary["us-east-1"] == {"add": 1, "replace": 1}
    assert summary["us-west-2"] == {"change": 1, "destroy": 1}


def test_checkov_gate_output_is_parsed():
    text = ("checkov payments-dr: 412 passed, 0 failed, 9 accepted (checkov-suppressions.yaml)\n"
            "checkov gate: PASS\n")
    assert review.checkov_lines(text) == {
        "payments-dr": "412 passed, 0 failed, 9 accepted (checkov-suppressions.yaml)", "*": "PASS"}


def test_cli_reads_a_stack_file_and_strict_fails_on_fail(tmp_path, capsys):
    stack_dir = tmp_path / "stacks" / "fixture"
    stack_dir.mkdir(parents=True)
    (stack_dir / "cdk.tf.json").write_text(json.dumps({"provider": PROVIDERS, "resource": aurora()}))
    assert review.main([str(tmp_path)]) == 0
    assert "Stack fixture" in capsys.readouterr().out
    assert review.main([str(tmp_path), "--strict", "--format", "markdown"]) == 1


def test_diagram_is_valid_svg_with_both_regions_and_replication(tmp_path):
    rv = review.review_stack(stack(aurora(500), failover(10, 3), s3(15, alarms=True)))
    svg = review.diagram_svg(rv)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    texts = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    for expected in ("us-east-1 (primary)", "us-west-2 (dr)", "one-way replication", "PRIMARY", "SECONDARY"):
        assert expected in texts


# -- the real stack -------------------------------------------------------------------------------

def test_report_on_the_synthesized_platform_stacks(platform, stacks):
    """The platform's stacks reviewed together: replication, failover and budget span them."""
    rv = [r for r in review.review(stacks) if r.stack.name == review.PLATFORM]
    assert len(rv) == 1, "one review of the platform stacks together"
    [rv] = rv
    assert set(rv.by_region) >= {"us-east-1", "us-east-2"}
    assert sum(rv.by_region["us-east-1"].values()) + sum(rv.by_region["us-east-2"].values()) == sum(
        len(v) for t, v in platform["resource"].items() if not t.startswith("terraform_"))
    assert set(rv.by_region) == {"us-east-1", "us-east-2", "(terraform)"}
    assert rv.by_region["(terraform)"] == {"terraform_data": 1}
    kinds = {r.kind for r in rv.replications}
    assert {"Aurora global database", "DynamoDB global table", "S3 replication"} <= kinds
    aurora_edges = [r for r in rv.replications if r.kind == "Aurora global database"]
    assert [(r.source, r.destination) for r in aurora_edges] == [("us-east-1", "us-east-2")]
    s3_edges = [r for r in rv.replications if r.kind == "S3 replication"]
    assert {(r.source, r.destination) for r in s3_edges} == {("us-east-1", "us-east-2"), ("us-east-2", "us-east-1")}
    assert all(r.target == "RTC 15 min" for r in s3_edges)

    checks = platform["resource"].get("aws_route53_health_check", {})
    if checks:  # the serving tier is wired: detection follows the health checks' settings
        expected = max(c["request_interval"] * c["failure_threshold"] for c in checks.values()
                       if c["type"].startswith("HTTP"))
        assert line(rv, "Failure detection").value_s == expected
        assert line(rv, "Traffic RTO").value_s == expected + review.API_GATEWAY_ALIAS_TTL_S
    lag_alarms = [a for a in platform["resource"].get("aws_cloudwatch_metric_alarm", {}).values()
                  if a.get("metric_name") == "AuroraGlobalDBRPOLag"
                  and a["dimensions"]["DBClusterIdentifier"] == "payments-dr-dev"]
    assert lag_alarms, "the secondary's RPO lag alarm counts as the Aurora edge's monitoring"
    if lag_alarms:
        assert line(rv, "Aurora global database").value_s == min(a["threshold"] for a in lag_alarms) / 1000
    assert review.render([rv], "markdown").count("| ") > 20
