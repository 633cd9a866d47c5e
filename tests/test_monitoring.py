"""Alarm topics and alarms: each alarm in its metric's region, notifying that region's topic."""

from __future__ import annotations

import json

from helpers import one, outputs, ref, resources

ROLES = (("primary", "us-east-1"), ("dr", "us-east-2"))
OTHER = {"primary": "dr", "dr": "primary"}


def _alarm(stack, name) -> dict:
    matches = [a for a in resources(stack, "aws_cloudwatch_metric_alarm").values()
               if a["alarm_name"] == name]
    assert len(matches) == 1, f"expected one alarm named {name}"
    return matches[0]


def _topic_ref(stack, role) -> str:
    name, _ = one(stack, "aws_sns_topic", role, f"monitoring/topic-{role}/topic")
    return ref("aws_sns_topic", name, "arn")


def _assert_notifies_own_region(stack, alarm, role):
    assert alarm["provider"] == f"aws.{role}"
    assert alarm["alarm_actions"] == [_topic_ref(stack, role)]
    assert alarm["ok_actions"] == [_topic_ref(stack, role)]


def test_topic_per_region_encrypted_with_that_regions_key(platform):
    assert len(resources(platform, "aws_sns_topic")) == 2
    for role, _ in ROLES:
        topic_name, topic = one(platform, "aws_sns_topic", role)
        key_name, _ = one(platform, "aws_kms_key", role, f"key-{role}")
        assert topic["kms_master_key_id"] == ref("aws_kms_key", key_name, "arn")
        _, policy = one(platform, "aws_sns_topic_policy", role)
        assert policy["arn"] == ref("aws_sns_topic", topic_name, "arn")
        [st] = json.loads(policy["policy"])["Statement"]
        assert st["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
        assert st["Action"] == ["sns:Publish"]
        assert st["Resource"] == [ref("aws_sns_topic", topic_name, "arn")]
        assert "aws:SourceAccount" in st["Condition"]["StringEquals"]


def test_email_subscription_only_when_configured(platform, synth_stacks):
    assert not resources(platform, "aws_sns_topic_subscription")
    stack = synth_stacks(ALARM_EMAIL="oncall@example.com")["payments-dr"]
    subs = resources(stack, "aws_sns_topic_subscription")
    assert len(subs) == 2
    for role, _ in ROLES:
        [sub] = [s for s in subs.values() if s["provider"] == f"aws.{role}"]
        assert sub["protocol"] == "email" and sub["endpoint"] == "oncall@example.com"
        assert sub["topic_arn"] == _topic_ref(stack, role)


def test_aurora_lag_alarm_on_the_secondary_cluster_in_the_dr_region(platform, synth_stacks):
    alarm = _alarm(platform, "payments-dev-aurora-replication-lag-dr")
    cluster_name, _ = one(platform, "aws_rds_cluster", "dr")
    _assert_notifies_own_region(platform, alarm, "dr")
    assert (alarm["namespace"], alarm["metric_name"]) == ("AWS/RDS", "AuroraGlobalDBReplicationLag")
    assert alarm["dimensions"] == {
        "DBClusterIdentifier": ref("aws_rds_cluster", cluster_name, "cluster_identifier")}
    assert alarm["threshold"] == 1000  # milliseconds: 1 s default
    assert alarm["comparison_operator"] == "GreaterThanThreshold"
    assert alarm["treat_missing_data"] == "breaching"
    assert not [a for a in resources(platform, "aws_cloudwatch_metric_alarm").values()
                if a["metric_name"] == "AuroraGlobalDBReplicationLag" and a["provider"] != "aws.dr"]
    tuned = synth_stacks(REPLICATION_LAG_THRESHOLD="2.5")["payments-dr"]
    assert _alarm(tuned, "payments-dev-aurora-replication-lag-dr")["threshold"] == 2500


def test_dynamodb_replication_latency_in_each_source_region(platform):
    tables = {label: one(platform, "aws_dynamodb_table", None, f"tables/{label}")[0]
              for label in ("transactions", "idempotency")}
    for role, _ in ROLES:
        receiving = dict(ROLES)[OTHER[role]]
        for label, table in tables.items():
            alarm = _alarm(platform, f"payments-dev-dynamodb-replication-latency-{label}-{role}")
            _assert_notifies_own_region(platform, alarm, role)
            assert (alarm["namespace"], alarm["metric_name"]) == ("AWS/DynamoDB", "ReplicationLatency")
            assert alarm["dimensions"] == {"TableName": ref("aws_dynamodb_table", table, "name"),
                                           "ReceivingRegion": receiving}
            assert alarm["treat_missing_data"] == "notBreaching"


def test_s3_replication_alarms_use_the_storage_rule_ids(platform):
    for role, _ in ROLES:
        source, _ = one(platform, "aws_s3_bucket", role, f"storage/{role}-audit/bucket")
        destination, _ = one(platform, "aws_s3_bucket", None, f"storage/{OTHER[role]}-audit/bucket")
        config_name, config = one(platform, "aws_s3_bucket_replication_configuration", role)
        assert config["rule"][0]["id"] == f"all-objects-to-{OTHER[role]}"
        dims = {"SourceBucket": ref("aws_s3_bucket", source, "bucket"),
                "DestinationBucket": ref("aws_s3_bucket", destination, "bucket"),
                "RuleId": f"${{aws_s3_bucket_replication_configuration.{config_name}.rule[0].id}}"}
        failed = _alarm(platform, f"payments-dev-s3-replication-failed-{role}")
        latency = _alarm(platform, f"payments-dev-s3-replication-latency-{role}")
        for alarm in (failed, latency):
            _assert_notifies_own_region(platform, alarm, role)
            assert alarm["namespace"] == "AWS/S3" and alarm["dimensions"] == dims
            assert alarm["treat_missing_data"] == "notBreaching"
        assert failed["metric_name"] == "OperationsFailedReplication" and failed["threshold"] == 0
        assert latency["metric_name"] == "ReplicationLatency"
        assert latency["threshold"] == 900  # the 15-minute RTC target, in seconds


def test_lambda_error_alarms_per_function_per_region(platform):
    for role, _ in ROLES:
        for purpose in ("validator", "health"):
            fn_name, _ = one(platform, "aws_lambda_function", role, f"compute/{role}/{purpose}/function")
            alarm = _alarm(platform, f"payments-dev-lambda-errors-{purpose}-{role}")
            _assert_notifies_own_region(platform, alarm, role)
            assert (alarm["namespace"], alarm["metric_name"]) == ("AWS/Lambda", "Errors")
            assert alarm["dimensions"] == {"FunctionName": ref("aws_lambda_function", fn_name, "function_name")}
            assert (alarm["statistic"], alarm["period"], alarm["threshold"]) == ("Sum", 300, 10)
            assert alarm["treat_missing_data"] == "notBreaching"


def test_api_5xx_alarm_per_region(platform):
    for role, _ in ROLES:
        api_name, _ = one(platform, "aws_api_gateway_rest_api", role)
        alarm = _alarm(platform, f"payments-dev-api-5xx-{role}")
        _assert_notifies_own_region(platform, alarm, role)
        assert (alarm["namespace"], alarm["metric_name"]) == ("AWS/ApiGateway", "5XXError")
        assert alarm["dimensions"] == {"ApiName": ref("aws_api_gateway_rest_api", api_name, "name"),
                                       "Stage": "prod"}


def test_health_check_alarms_in_us_east_1(platform):
    # Default pair: us-east-1 is the primary, so the alarms use the primary provider and topic.
    for role, _ in ROLES:
        check_name, _ = one(platform, "aws_route53_health_check", None, f"failover/{role}/health-check")
        alarm = _alarm(platform, f"payments-dev-health-check-{role}")
        _assert_notifies_own_region(platform, alarm, "primary")
        assert (alarm["namespace"], alarm["metric_name"]) == ("AWS/Route53", "HealthCheckStatus")
        assert alarm["dimensions"] == {"HealthCheckId": ref("aws_route53_health_check", check_name, "id")}
        assert alarm["comparison_operator"] == "LessThanThreshold" and alarm["threshold"] == 1
        assert alarm["treat_missing_data"] == "breaching"


def test_health_check_alarms_get_a_us_east_1_provider_topic_and_key_when_needed(synth_stacks, platform):
    assert {p["alias"] for p in platform["provider"]["aws"]} == {"primary", "dr"}
    stack = synth_stacks(PRIMARY_REGION="us-west-2", DR_REGION="us-east-2")["payments-dr"]
    topic_name, topic = one(stack, "aws_sns_topic", "global")
    key_name, _ = one(stack, "aws_kms_key", "global")
    assert topic["kms_master_key_id"] == ref("aws_kms_key", key_name, "arn")
    for role in ("primary", "dr"):
        alarm = _alarm(stack, f"payments-dev-health-check-{role}")
        _assert_notifies_own_region(stack, alarm, "global")
    # Every other alarm stays in its own metric's region.
    assert {a["provider"] for a in resources(stack, "aws_cloudwatch_metric_alarm").values()
            if a["namespace"] != "AWS/Route53"} == {"aws.primary", "aws.dr"}
    assert outputs(stack)["health_check_alarm_region"]["value"] == "us-east-1"


def test_every_alarm_has_the_prefix_and_a_deliberate_missing_data_policy(platform):
    alarms = resources(platform, "aws_cloudwatch_metric_alarm")
    assert len(alarms) == 17
    for alarm in alarms.values():
        assert alarm["alarm_name"].startswith("payments-dev-")
        assert alarm["treat_missing_data"] in ("breaching", "notBreaching")
        assert alarm["alarm_actions"] and alarm["alarm_actions"] == alarm["ok_actions"]
    assert outputs(platform)["alarm_name_prefix"]["value"] == "payments-dev-"


def test_dashboard_per_region_shows_replication_and_api(platform):
    for role, region in ROLES:
        _, dashboard = one(platform, "aws_cloudwatch_dashboard", role)
        body = json.loads(dashboard["dashboard_body"])
        metrics = {m[1] for w in body["widgets"] for m in w["properties"]["metrics"]}
        assert {"ReplicationLatency", "OperationsFailedReplication", "5XXError", "Latency"} <= metrics
        assert {w["properties"]["region"] for w in body["widgets"]} == {region}
        assert ("AuroraGlobalDBReplicationLag" in metrics) == (role == "dr")


def test_topic_outputs(platform):
    out = outputs(platform)
    for role, _ in ROLES:
        assert out[f"{role}_sns_topic"]["value"] == _topic_ref(platform, role)
