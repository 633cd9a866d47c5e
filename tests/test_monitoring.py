"""Alarm topics and alarms: each alarm in its metric's region and stack, notifying that region's
topic, which pages someone; role-symmetric replication alarms; each region watches the other."""

from __future__ import annotations

import json

import pytest
from helpers import one, outputs, ref, resources
from platform_support import PROD

ROLES = (("primary", "us-east-1"), ("dr", "us-east-2"))
OTHER = {"primary": "dr", "dr": "primary"}
REGION = dict(ROLES)


def _alarm(stack, name) -> dict:
    matches = [a for a in resources(stack, "aws_cloudwatch_metric_alarm").values()
               if a["alarm_name"] == name]
    assert len(matches) == 1, f"expected one alarm named {name}"
    return matches[0]


def _topic_ref(stack, role) -> str:
    name, _ = one(stack, "aws_sns_topic", role, f"monitoring-{role}/topic/topic")
    return ref("aws_sns_topic", name, "arn")


def _assert_notifies_own_region(stack, alarm, role):
    assert alarm["provider"] == f"aws.{role}"
    assert alarm["alarm_actions"] == [_topic_ref(stack, role)]
    assert alarm["ok_actions"] == [_topic_ref(stack, role)]


def test_topic_per_region_encrypted_with_that_regions_key(platform):
    for role, _ in ROLES:
        topic_name, topic = one(platform, "aws_sns_topic", role, f"monitoring-{role}/")
        key_name, _ = one(platform, "aws_kms_key", role, f"key-{role}")
        assert topic["kms_master_key_id"] == ref("aws_kms_key", key_name, "arn")
        _, policy = one(platform, "aws_sns_topic_policy", role, f"monitoring-{role}/")
        assert policy["arn"] == ref("aws_sns_topic", topic_name, "arn")
        # CloudWatch alarms, and the key-state rule (tests/test_keys.py).
        st, events = json.loads(policy["policy"])["Statement"]
        assert events["Principal"] == {"Service": "events.amazonaws.com"}
        assert st["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
        assert st["Action"] == ["sns:Publish"]
        assert st["Resource"] == [ref("aws_sns_topic", topic_name, "arn")]
        assert "aws:SourceAccount" in st["Condition"]["StringEquals"]


def test_every_topic_pages_every_configured_target(prod_platform):
    subs = resources(prod_platform, "aws_sns_topic_subscription")
    topics = resources(prod_platform, "aws_sns_topic")
    # primary and dr; the Route 53 health-check alarms in us-east-1 use the primary's topic
    # (tests/test_terraform.py: no physical resource is declared twice).
    assert len(topics) == 2
    for topic_name in topics:
        mine = [s for s in subs.values() if s["topic_arn"] == ref("aws_sns_topic", topic_name, "arn")]
        assert sorted((s["protocol"], s["endpoint"]) for s in mine) == [
            ("email", PROD["ALARM_EMAIL"]), ("https", PROD["ALARM_HTTPS_ENDPOINTS"])]
        [https] = [s for s in mine if s["protocol"] == "https"]
        assert https["endpoint_auto_confirms"] is True


def test_prod_without_a_paging_target_is_refused_before_any_json():
    from modules.settings import Settings, SettingsError

    environ = {k: v for k, v in PROD.items() if not k.startswith("ALARM_")}
    with pytest.raises(SettingsError) as error:
        Settings.from_env(environ)
    assert "ALARM_EMAIL or ALARM_HTTPS_ENDPOINTS is required for ENVIRONMENT_SUFFIX='prod'" in str(error.value)


def test_dev_without_targets_has_no_subscriptions(platform):
    assert not resources(platform, "aws_sns_topic_subscription")


def test_each_cluster_has_an_rpo_lag_alarm_in_its_own_region_silent_while_writer(platform, tuned_platform):
    for role, _ in ROLES:
        alarm = _alarm(platform, f"payments-dev-aurora-rpo-lag-{role}")
        _, cluster = one(platform, "aws_rds_cluster", role)
        _assert_notifies_own_region(platform, alarm, role)
        assert (alarm["namespace"], alarm["metric_name"]) == ("AWS/RDS", "AuroraGlobalDBRPOLag")
        # By name, so the alarm follows the cluster whatever its role is after a switchover.
        assert alarm["dimensions"] == {"DBClusterIdentifier": cluster["cluster_identifier"]}
        assert alarm["threshold"] == 1000  # milliseconds: 1 s default
        assert alarm["comparison_operator"] == "GreaterThanThreshold"
        # The writer publishes no RPO lag: missing data must not leave it stuck in ALARM.
        assert alarm["treat_missing_data"] == "notBreaching"
    assert not [a for a in resources(platform, "aws_cloudwatch_metric_alarm").values()
                if a.get("metric_name") == "AuroraGlobalDBReplicationLag"]
    assert _alarm(tuned_platform, "payments-dev-aurora-rpo-lag-dr")["threshold"] == 2500


def test_dynamodb_replication_latency_in_each_direction_for_both_tables(platform):
    for role, _ in ROLES:
        receiving = REGION[OTHER[role]]
        for label in ("transactions", "idempotency"):
            alarm = _alarm(platform, f"payments-dev-dynamodb-replication-latency-{label}-{role}")
            _assert_notifies_own_region(platform, alarm, role)
            assert (alarm["namespace"], alarm["metric_name"]) == ("AWS/DynamoDB", "ReplicationLatency")
            assert alarm["dimensions"] == {"TableName": f"payment-{label}-dev",
                                           "ReceivingRegion": receiving}
            assert alarm["threshold"] == 10_000  # contract: 10 s, the same figure drctl uses
            assert alarm["treat_missing_data"] == "notBreaching"


def test_s3_replication_alarms_in_each_direction_use_the_routing_rule_ids(platform):
    """Each alarm lives where AWS publishes its metric (S3 User Guide, "Using S3 Replication
    metrics"): OperationsFailedReplication in the source bucket's region, ReplicationLatency in
    the destination's. An alarm elsewhere sees no data and, notBreaching, never fires."""
    for role, _ in ROLES:
        dest = OTHER[role]
        source_ref = ref("aws_s3_bucket", one(platform, "aws_s3_bucket", role, f"storage-{role}/audit/bucket")[0],
                         "bucket")
        dest_ref = ref("aws_s3_bucket", one(platform, "aws_s3_bucket", dest, f"storage-{dest}/audit/bucket")[0],
                       "bucket")
        _, source = one(platform, "aws_s3_bucket", role, f"storage-{role}/audit/bucket")
        _, destination = one(platform, "aws_s3_bucket", dest, f"storage-{dest}/audit/bucket")
        _, config = one(platform, "aws_s3_bucket_replication_configuration", role)
        rule_id = config["rule"][0]["id"]
        assert rule_id == f"all-objects-to-{dest}"
        # The peer's bucket by contract name, with the alarm's stack's own account id token.
        failed = _alarm(platform, f"payments-dev-s3-replication-failed-{role}")
        _assert_notifies_own_region(platform, failed, role)  # the source's region
        assert failed["dimensions"] == {
            "SourceBucket": source_ref, "RuleId": rule_id,
            "DestinationBucket": destination["bucket"].replace(f"identity-{dest}", f"identity-{role}")}
        latency = _alarm(platform, f"payments-dev-s3-replication-latency-{dest}")
        _assert_notifies_own_region(platform, latency, dest)  # the destination's region
        assert latency["dimensions"] == {
            "SourceBucket": source["bucket"].replace(f"identity-{role}", f"identity-{dest}"),
            "RuleId": rule_id, "DestinationBucket": dest_ref}
        assert f"{REGION[role]} -> {REGION[dest]}" in latency["alarm_description"]
        for alarm in (failed, latency):
            assert alarm["namespace"] == "AWS/S3"
            assert alarm["treat_missing_data"] == "notBreaching"
        assert failed["metric_name"] == "OperationsFailedReplication" and failed["threshold"] == 0
        assert latency["metric_name"] == "ReplicationLatency"
        assert latency["threshold"] == 900  # the 15-minute RTC target, in seconds


def test_s3_metric_regions_follow_aws():
    """contract.s3_metric_region, which alarms, drctl and the twin share, says what AWS's page
    says: latency and pending in the destination's region, failed operations in the source's."""
    import contract
    where = {spec.name: contract.s3_metric_region(spec, source="src", destination="dst")
             for spec in (contract.S3_REPLICATION_LATENCY, contract.S3_REPLICATION_PENDING,
                          contract.S3_REPLICATION_FAILED)}
    assert where == {"ReplicationLatency": "dst", "OperationsPendingReplication": "dst",
                     "OperationsFailedReplication": "src"}


def test_lambda_error_alarms_per_function_per_region(platform):
    for role, _ in ROLES:
        for purpose in ("validator", "health"):
            fn_name, _ = one(platform, "aws_lambda_function", role, f"compute-{role}/{purpose}/function")
            alarm = _alarm(platform, f"payments-dev-lambda-errors-{purpose}-{role}")
            _assert_notifies_own_region(platform, alarm, role)
            assert (alarm["namespace"], alarm["metric_name"]) == ("AWS/Lambda", "Errors")
            assert alarm["dimensions"] == {"FunctionName": ref("aws_lambda_function", fn_name, "function_name")}
            assert (alarm["statistic"], alarm["period"], alarm["threshold"]) == ("Sum", 300, 10)
            assert alarm["treat_missing_data"] == "notBreaching"


def test_each_region_watches_the_other_and_pages_through_its_own_topic(stacks, platform):
    """A primary outage pages through the DR stack alone: its probe alarms live there."""
    dr_stack = stacks["payments-dr-dr"]
    for role, _ in ROLES:
        for what, metric in (("peer-unreachable", "PeerHealthy"), ("domain-unreachable", "DomainHealthy")):
            alarm = _alarm(platform, f"payments-dev-{what}-{role}")
            _assert_notifies_own_region(platform, alarm, role)
            assert (alarm["namespace"], alarm["metric_name"]) == ("PaymentsDR", metric)
            # The domain is one name for both regions: no peer dimension (lambda/probe.py).
            assert alarm["dimensions"] == ({"Peer": OTHER[role]} if metric == "PeerHealthy" else {})
            assert alarm["comparison_operator"] == "LessThanThreshold" and alarm["threshold"] == 1
            # The probe runs every minute: silence is no evidence that the peer is fine.
            assert alarm["treat_missing_data"] == "breaching"
    peer_alarm = _alarm(dr_stack, "payments-dev-peer-unreachable-dr")
    assert peer_alarm["provider"] == "aws.dr"
    assert {p["region"] for p in dr_stack["provider"]["aws"]} == {"us-east-2"}


def test_failback_blocked_alarm_mirrors_the_dr_latch_and_keeps_its_state(platform):
    alarm = _alarm(platform, "payments-dev-failback-blocked-dr")
    _assert_notifies_own_region(platform, alarm, "dr")
    assert (alarm["metric_name"], alarm["dimensions"]) == ("FailbackBlocked", {"Peer": "primary"})
    assert alarm["comparison_operator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["treat_missing_data"] == "ignore"
    assert not [a for a in resources(platform, "aws_cloudwatch_metric_alarm").values()
                if a["alarm_name"] == "payments-dev-failback-blocked-primary"]


def test_health_check_alarms_in_us_east_1_in_the_routing_stack(stacks, platform):
    routing = stacks["payments-dr-routing"]
    for role, _ in ROLES:
        check_name, _ = one(platform, "aws_route53_health_check", None, f"failover/{role}/health-check")
        alarm = _alarm(routing, f"payments-dev-health-check-{role}")
        assert alarm["provider"] == "aws.primary"  # us-east-1 is the primary region here
        # The primary stack's own topic (one state owns it), read through remote state.
        [action] = alarm["alarm_actions"]
        assert action.startswith("${data.terraform_remote_state.cross-stack-reference-input-"
                                 "payments-dr-primary.outputs.")
        assert "aws_sns_topicmonitoring-primary_topic" in action
        assert (alarm["namespace"], alarm["metric_name"]) == ("AWS/Route53", "HealthCheckStatus")
        assert alarm["dimensions"] == {"HealthCheckId": ref("aws_route53_health_check", check_name, "id")}
        assert alarm["comparison_operator"] == "LessThanThreshold" and alarm["threshold"] == 1
        assert alarm["treat_missing_data"] == "breaching"


def test_health_check_alarms_get_a_us_east_1_provider_topic_and_key_when_needed(tuned_platform):
    stack = tuned_platform  # PRIMARY_REGION=us-west-2
    topic_name, topic = one(stack, "aws_sns_topic", "global")
    key_name, _ = one(stack, "aws_kms_key", "global")
    assert topic["kms_master_key_id"] == ref("aws_kms_key", key_name, "arn")
    for role in ("primary", "dr"):
        alarm = _alarm(stack, f"payments-dev-health-check-{role}")
        assert alarm["provider"] == "aws.global"
        assert alarm["alarm_actions"] == [ref("aws_sns_topic", topic_name, "arn")]
    # Every other alarm stays in its own metric's region.
    assert {a["provider"] for a in resources(stack, "aws_cloudwatch_metric_alarm").values()
            if a.get("namespace") != "AWS/Route53"} == {"aws.primary", "aws.dr"}
    # No output names that region: it is contract.ROUTE53_METRICS_REGION, which drctl imports.
    assert "health_check_alarm_region" not in outputs(stack)


def test_every_alarm_has_the_prefix_and_a_deliberate_missing_data_policy(platform):
    alarms = resources(platform, "aws_cloudwatch_metric_alarm")
    for alarm in alarms.values():
        assert alarm["alarm_name"].startswith("payments-dev-")
        assert alarm["treat_missing_data"] in ("breaching", "notBreaching", "ignore")
        assert alarm["alarm_actions"] and alarm["alarm_actions"] == alarm["ok_actions"]
    names = {a["alarm_name"] for a in alarms.values()}
    assert len(names) == len(alarms)
    assert outputs(platform)["alarm_name_prefix"]["value"] == "payments-dev-"


def test_dashboard_per_region_shows_replication_probes_and_api(platform):
    for role, region in ROLES:
        _, dashboard = one(platform, "aws_cloudwatch_dashboard", role)
        body = json.loads(dashboard["dashboard_body"])
        metrics = {m[1] for w in body["widgets"] for m in w["properties"]["metrics"]}
        assert {"ReplicationLatency", "OperationsFailedReplication", "5XXError", "Latency",
                "AuroraGlobalDBRPOLag", "PeerHealthy", "FailbackBlocked"} <= metrics
        assert {w["properties"]["region"] for w in body["widgets"]} == {region}


def test_topic_outputs(platform):
    out = outputs(platform)
    for role, _ in ROLES:
        assert out[f"{role}_sns_topic"]["value"] == _topic_ref(platform, role)


def test_client_key_expiry_pages_in_each_region_on_the_metric_the_authorizer_publishes(platform):
    """Issue 21: `drctl client-keys check` ran only when someone ran it. The authorizer's
    ClientKeyDaysLeft (tests/lambda/test_authorizer.py) pages below 14 days, in each region,
    on the dimensions the authorizer function is given (its POWERTOOLS_SERVICE_NAME)."""
    from contract import CLIENT_KEY_ALARM_DAYS, METRIC_CLIENT_KEY_DAYS_LEFT, METRICS_NAMESPACE

    alarms = {a["alarm_name"]: a for a in resources(platform, "aws_cloudwatch_metric_alarm").values()}
    services = {f["environment"]["variables"]["POWERTOOLS_SERVICE_NAME"]
                for f in resources(platform, "aws_lambda_function").values()
                if "authorizer" in f["function_name"]}
    topics = {r["provider"]: r for r in resources(platform, "aws_sns_topic").values()}
    for role in ("primary", "dr"):
        alarm = alarms[f"payments-dev-client-key-expiry-{role}"]
        assert (alarm["namespace"], alarm["metric_name"]) == (METRICS_NAMESPACE, METRIC_CLIENT_KEY_DAYS_LEFT)
        assert [alarm["dimensions"]["service"]] == sorted(services)
        assert (alarm["statistic"], alarm["period"], alarm["threshold"], alarm["comparison_operator"]) == (
            "Minimum", 3600, CLIENT_KEY_ALARM_DAYS, "LessThanThreshold")
        assert alarm["treat_missing_data"] == "notBreaching"
        assert alarm["provider"] == f"aws.{role}" and alarm["alarm_actions"] == alarm["ok_actions"]
        assert alarm["alarm_actions"][0].startswith("${aws_sns_topic.") and f"aws.{role}" in topics
