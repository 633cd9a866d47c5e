"""Gateways against botocore's Stubber: real response shapes for what moto does not model
(global cluster FailoverState/SynchronizationStatus, DynamoDB Replicas, Route 53 checker
observations, alarm pagination) and the exact parameters of the state-changing calls."""

import datetime as dt
import itertools
import json

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from drctl.gateways import AlarmGateway, AuroraGateway, DynamoGateway, HealthGateway, S3Gateway

P_ARN = "arn:aws:rds:us-east-1:111122223333:cluster:payments-primary-dev"
D_ARN = "arn:aws:rds:us-east-2:111122223333:cluster:payments-dr-dev"


def client(service, region="us-east-1"):
    return boto3.Session(aws_access_key_id="a", aws_secret_access_key="b").client(service, region_name=region)


def test_global_cluster_with_switchover_in_progress():
    rds = client("rds", "us-east-2")
    with Stubber(rds) as stub:
        stub.add_response("describe_global_clusters", {"GlobalClusters": [{
            "GlobalClusterIdentifier": "payments-global-dev", "Status": "switching-over",
            "GlobalClusterMembers": [
                {"DBClusterArn": P_ARN, "IsWriter": True, "Readers": [D_ARN]},
                {"DBClusterArn": D_ARN, "IsWriter": False, "SynchronizationStatus": "connected"}],
            "FailoverState": {"Status": "pending", "FromDbClusterArn": P_ARN, "ToDbClusterArn": D_ARN,
                              "IsDataLossAllowed": False}}]},
            {"GlobalClusterIdentifier": "payments-global-dev"})
        g = AuroraGateway(rds, "us-east-2").global_cluster("payments-global-dev")
    assert g.in_progress and g.failover_to == D_ARN and g.data_loss_allowed is False
    assert g.writer.region == "us-east-1" and g.writer.cluster_id == "payments-primary-dev"
    assert g.member("payments-dr-dev", "us-east-2").sync_status == "connected"
    assert g.member("payments-dr-dev", "us-east-1") is None


def test_switchover_and_failover_send_exact_parameters():
    rds = client("rds", "us-east-2")
    with Stubber(rds) as stub:
        stub.add_response("switchover_global_cluster", {},
                          {"GlobalClusterIdentifier": "payments-global-dev", "TargetDbClusterIdentifier": D_ARN})
        stub.add_response("failover_global_cluster", {},
                          {"GlobalClusterIdentifier": "payments-global-dev", "TargetDbClusterIdentifier": D_ARN,
                           "AllowDataLoss": True})
        gw = AuroraGateway(rds, "us-east-2")
        gw.switchover("payments-global-dev", D_ARN)
        gw.failover("payments-global-dev", D_ARN)
        stub.assert_no_pending_responses()


def test_dynamodb_replicas_are_read_per_region():
    ddb = client("dynamodb")
    with Stubber(ddb) as stub:
        stub.add_response("describe_table", {"Table": {
            "TableName": "payment-transactions-dev", "TableStatus": "ACTIVE",
            "KeySchema": [{"AttributeName": "transactionId", "KeyType": "HASH"},
                          {"AttributeName": "timestamp", "KeyType": "RANGE"}],
            "AttributeDefinitions": [{"AttributeName": "transactionId", "AttributeType": "S"},
                                     {"AttributeName": "timestamp", "AttributeType": "N"}],
            "Replicas": [{"RegionName": "us-east-2", "ReplicaStatus": "UPDATING"}]}},
            {"TableName": "payment-transactions-dev"})
        t = DynamoGateway(ddb, "us-east-1").table("payment-transactions-dev")
    assert t.replicas == {"us-east-2": "UPDATING"}
    assert t.attribute_types["timestamp"] == "N" and t.key_schema["timestamp"] == "RANGE"


def _observations(statuses):
    return {"HealthCheckObservations": [
        {"Region": r, "IPAddress": "192.0.2.1",
         "StatusReport": {"Status": s, "CheckedTime": dt.datetime(2026, 1, 1)}}
        for r, s in zip(itertools.cycle(["us-east-1", "us-west-1", "eu-west-1", "ap-southeast-1",
                                         "sa-east-1"]), statuses)]}


@pytest.mark.parametrize("statuses, healthy", [
    # Route 53: healthy when MORE than 18 % of its checkers report healthy (not a majority)
    (["Success: HTTP Status Code 200"] * 1 + ["Failure: HTTP Status Code 503"] * 4, True),  # 20 %
    (["Success: HTTP Status Code 200"] * 1 + ["Failure: Connection timed out"] * 5, False),  # 16.7 %
    (["Success: HTTP Status Code 200"] * 9 + ["Failure: HTTP Status Code 503"] * 41, False),  # 18 %
    ([], False),
])
def test_health_check_uses_route53s_18_percent_rule(statuses, healthy):
    r53 = client("route53")
    with Stubber(r53) as stub:
        stub.add_response("get_health_check_status", _observations(statuses), {"HealthCheckId": "hc-1"})
        h = HealthGateway(r53, "us-east-1").status("hc-1")
    assert h.healthy is healthy and h.total == len(statuses)


def test_alarms_use_the_paginator():
    cw = client("cloudwatch", "us-east-2")
    with Stubber(cw) as stub:
        stub.add_response("describe_alarms", {"MetricAlarms": [{"AlarmName": "payments-dev-a", "StateValue": "OK"}],
                                              "NextToken": "t1"}, {"AlarmNamePrefix": "payments-dev-"})
        stub.add_response("describe_alarms", {"MetricAlarms": [{"AlarmName": "payments-dev-b", "StateValue": "ALARM",
                                                                "StateReason": "Threshold Crossed"}]},
                          {"AlarmNamePrefix": "payments-dev-", "NextToken": "t1"})
        alarms = AlarmGateway(cw, "us-east-2").alarms("payments-dev-")
    assert [(a.name, a.state) for a in alarms] == [("payments-dev-a", "OK"), ("payments-dev-b", "ALARM")]


def test_bucket_without_replication_has_no_rules_and_other_errors_propagate():
    s3 = client("s3")
    with Stubber(s3) as stub:
        stub.add_client_error("get_bucket_replication", "ReplicationConfigurationNotFoundError", http_status_code=404)
        stub.add_client_error("get_bucket_replication", "AccessDenied", http_status_code=403)
        gw = S3Gateway(s3, "us-east-1")
        assert gw.replication_rules("b") == []
        with pytest.raises(ClientError):
            gw.replication_rules("b")


# -- issue 11: the latch, snapshots, events, identity; botocore validates every parameter --------

def test_latch_read_and_write_use_a_string_parameter_overwritten():
    from drctl.gateways import Latch, ParameterGateway
    ssm = client("ssm", "us-east-2")
    value = Latch("open", "2026-11-25T03:10:00Z", "alice", "caught up").to_json()
    with Stubber(ssm) as stub:
        stub.add_client_error("get_parameter", "ParameterNotFound", http_status_code=400,
                              expected_params={"Name": "/payments-dr/dev/failback/primary"})
        stub.add_response("put_parameter", {"Version": 2},
                          {"Name": "/payments-dr/dev/failback/primary", "Value": value, "Type": "String",
                           "Overwrite": True})
        stub.add_response("get_parameter", {"Parameter": {"Name": "/payments-dr/dev/failback/primary",
                                                          "Type": "String", "Value": value}},
                          {"Name": "/payments-dr/dev/failback/primary"})
        gw = ParameterGateway(ssm, "us-east-2")
        assert gw.latch("/payments-dr/dev/failback/primary") is None
        gw.set_latch("/payments-dr/dev/failback/primary", Latch.parse(value))
        assert gw.latch("/payments-dr/dev/failback/primary") == Latch("open", "2026-11-25T03:10:00Z",
                                                                       "alice", "caught up")
        stub.assert_no_pending_responses()
    assert json.loads(value) == {"state": "open", "since": "2026-11-25T03:10:00Z", "by": "alice",
                                 "reason": "caught up", "consecutiveFailures": 0}  # contract.latch_json


def test_snapshot_copy_and_listing_parameters():
    rds = client("rds", "us-east-1")
    with Stubber(rds) as stub:
        stub.add_response("describe_db_cluster_snapshots", {"DBClusterSnapshots": [{
            "DBClusterSnapshotIdentifier": "rds:unplanned-global-failover-payments-primary-dev-x",
            "DBClusterIdentifier": "payments-primary-dev", "Status": "available",
            "SnapshotType": "automated"}]}, {"DBClusterIdentifier": "payments-primary-dev"})
        stub.add_response("copy_db_cluster_snapshot", {"DBClusterSnapshot": {
            "DBClusterSnapshotIdentifier": "lost-writes-x", "Status": "creating", "SnapshotType": "manual"}},
            {"SourceDBClusterSnapshotIdentifier": "rds:unplanned-global-failover-payments-primary-dev-x",
             "TargetDBClusterSnapshotIdentifier": "lost-writes-x", "CopyTags": True})
        gw = AuroraGateway(rds, "us-east-1")
        [snap] = gw.cluster_snapshots("payments-primary-dev")
        copy = gw.copy_cluster_snapshot(snap.identifier, "lost-writes-x")
        stub.assert_no_pending_responses()
    assert snap.snapshot_type == "automated" and copy.status == "creating"


def test_events_are_read_for_one_cluster_in_a_window():
    rds = client("rds", "us-east-1")
    start, end = dt.datetime(2026, 11, 11, tzinfo=dt.UTC), dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    with Stubber(rds) as stub:
        stub.add_response("describe_events", {"Events": [{
            "SourceIdentifier": "payments-primary-dev", "SourceType": "db-cluster",
            "Message": "writes fenced", "Date": end}]},
            {"SourceIdentifier": "payments-primary-dev", "SourceType": "db-cluster", "StartTime": start,
             "EndTime": end})
        [event] = AuroraGateway(rds, "us-east-1").events("payments-primary-dev", "db-cluster", start, end)
    assert event.message == "writes fenced"


def test_cluster_details_for_rejoin():
    rds = client("rds", "us-east-1")
    with Stubber(rds) as stub:
        stub.add_response("describe_db_clusters", {"DBClusters": [{
            "DBClusterIdentifier": "payments-primary-dev", "DBClusterArn": P_ARN, "Status": "available",
            "Engine": "aurora-postgresql", "EngineVersion": "16.4", "DBSubnetGroup": "subnets",
            "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-1", "Status": "active"}],
            "DBClusterMembers": [{"DBInstanceIdentifier": "payments-primary-dev-1", "IsClusterWriter": True}],
            "MasterUsername": "payments_admin", "DatabaseName": "payments"}]},
            {"DBClusterIdentifier": "payments-primary-dev"})
        c = AuroraGateway(rds, "us-east-1").cluster("payments-primary-dev")
    assert (c.global_cluster_id, c.security_groups, c.instances) == (None, ("sg-1",), ("payments-primary-dev-1",))


def test_aurora_changes_are_sent_by_a_client_that_never_retries(aws_session):
    from drctl.gateways import AwsGateways
    gw = AwsGateways(aws_session)
    aurora = gw.aurora("us-east-2")
    assert aurora.once_client.meta.config.retries["total_max_attempts"] == 1
    assert aurora.client.meta.config.retries["total_max_attempts"] == 1  # read probes: one attempt
    assert aurora.action_client.meta.config.retries["total_max_attempts"] == 3
    assert aurora.client.meta.config.read_timeout == 8 and gw.regions_used == ["us-east-2"]


def test_dns_gateway_resolves_locally_and_bounds_a_hanging_resolver(monkeypatch):
    import socket
    import threading

    from drctl.gateways import DnsGateway, Unreachable
    assert DnsGateway().addresses("localhost")  # /etc/hosts, no network
    release = threading.Event()
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: release.wait(5) or [])
    with pytest.raises(Unreachable, match=r"no answer for pay\.example in 0\.2 s"):
        DnsGateway(timeout=0.2).addresses("pay.example")
    release.set()


# -- API keys (drctl client-keys: per-client quotas) ------------------------------------------

def test_usage_plan_is_found_by_name_across_pages_and_a_missing_one_is_not_found():
    from drctl.gateways import ApiKeysGateway, NotFound
    apigw = client("apigateway")
    with Stubber(apigw) as stub:
        stub.add_response("get_usage_plans", {"items": [{"id": "p1", "name": "other"}], "position": "next"},
                          {"limit": 500})
        stub.add_response("get_usage_plans", {"items": [{"id": "p2", "name": "payments-clients-primary-dev"}]},
                          {"limit": 500, "position": "next"})
        stub.add_response("get_usage_plans", {"items": []}, {"limit": 500})
        gw = ApiKeysGateway(apigw, "us-east-1")
        assert gw.plan_id("payments-clients-primary-dev") == "p2"
        with pytest.raises(NotFound):
            gw.plan_id("payments-clients-primary-dev")


def test_join_reuses_an_existing_key_and_a_key_already_in_the_plan_is_not_an_error():
    from drctl.gateways import ApiKeysGateway, NotFound
    apigw = client("apigateway")
    value = "usage-" + "a" * 64
    with Stubber(apigw) as stub:
        stub.add_response("get_api_keys", {"items": [{"id": "k1", "name": "payments-dr-dev-client-acme",
                                                      "value": value}]},
                          {"nameQuery": "payments-dr-dev-client-acme", "includeValues": True, "limit": 500})
        stub.add_client_error("create_usage_plan_key", "ConflictException", http_status_code=409,
                              expected_params={"usagePlanId": "p1", "keyId": "k1", "keyType": "API_KEY"})
        # the same name holding another value (made by hand): refused, never overwritten
        stub.add_response("get_api_keys", {"items": [{"id": "k1", "name": "payments-dr-dev-client-acme",
                                                      "value": "usage-" + "b" * 64}]},
                          {"nameQuery": "payments-dr-dev-client-acme", "includeValues": True, "limit": 500})
        gw = ApiKeysGateway(apigw, "us-east-1")
        gw.join("p1", name="payments-dr-dev-client-acme", value=value)     # no create_api_key
        with pytest.raises(NotFound, match="another value"):
            gw.join("p1", name="payments-dr-dev-client-acme", value=value)
        stub.assert_no_pending_responses()


def test_a_region_answering_only_5xx_is_unreachable_and_a_4xx_is_an_answer():
    """An outage may answer 503 instead of hanging (the twin's `5xx` fault): after the SDK's
    retries that is no usable answer, so checks show the region UNREACHABLE (status exit 3)
    rather than crashing or FAILing; a 4xx is AWS saying no, and stays an error."""
    from drctl.checks import UNREACHABLE, guarded
    from drctl.gateways import Unreachable, is_unreachable

    rds = client("rds")
    with Stubber(rds) as stub:
        stub.add_client_error("describe_global_clusters", service_error_code="503", http_status_code=503)
        stub.add_client_error("describe_global_clusters", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(Unreachable) as down:
            AuroraGateway(rds, "us-east-1").global_cluster("payments-global-dev")
        with pytest.raises(ClientError) as denied:
            AuroraGateway(rds, "us-east-1").global_cluster("payments-global-dev")
    assert is_unreachable(down.value) and down.value.region == "us-east-1"
    assert not is_unreachable(denied.value)
    server = ClientError({"Error": {"Code": "InternalError"}, "ResponseMetadata": {"HTTPStatusCode": 500}}, "GetItem")
    check = guarded("dynamodb", "replica", "us-east-1", lambda: (_ for _ in ()).throw(server))
    assert check.state == UNREACHABLE, check
