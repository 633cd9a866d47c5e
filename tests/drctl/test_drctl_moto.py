"""Gateways and single-region wiring against moto (server mode on 127.0.0.1), resources in both
regions. moto does not simulate DR (no Aurora switchover/failover, no DynamoDB replicas, no
replication, always-healthy health checks); the two places where a healthy end-to-end status
needs that, are patched with botocore `after-call` hooks that add the AWS response fields
moto leaves out, and say so."""

import io
import json

import pytest
from botocore.awsrequest import AWSResponse

import contract
from drctl import exitcodes
from drctl.cli import main
from drctl.clock import Clock
from drctl.config import DrConfig
from drctl.gateways import AwsGateways, NotFound, Unreachable
from drctl.log import EventLog
from drctl.operations import failover

P, D = "us-east-1", "us-east-2"
ENV = "dev"


def make_platform(session, url):
    out = {"primary_region": P, "dr_region": D, "environment_suffix": ENV,
           "replication_lag_threshold_seconds": 1.0}
    c = lambda svc, region: session.client(svc, region_name=region, endpoint_url=url)  # noqa: E731
    rds_p, rds_d = c("rds", P), c("rds", D)
    primary = rds_p.create_db_cluster(DBClusterIdentifier=f"payments-primary-{ENV}", Engine="aurora-postgresql",
                                      MasterUsername="payments_admin", MasterUserPassword="not-a-secret-1")["DBCluster"]
    rds_p.create_global_cluster(GlobalClusterIdentifier=f"payments-global-{ENV}",
                                SourceDBClusterIdentifier=primary["DBClusterArn"])
    dr = rds_d.create_db_cluster(DBClusterIdentifier=f"payments-dr-{ENV}", Engine="aurora-postgresql",
                                 GlobalClusterIdentifier=f"payments-global-{ENV}")["DBCluster"]
    out["primary_cluster_arn"], out["dr_cluster_arn"] = primary["DBClusterArn"], dr["DBClusterArn"]
    for region in (P, D):
        ddb = c("dynamodb", region)
        ddb.create_table(TableName=f"payment-transactions-{ENV}", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "transactionId", "KeyType": "HASH"},
                                    {"AttributeName": "timestamp", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "transactionId", "AttributeType": "S"},
                                               {"AttributeName": "timestamp", "AttributeType": "N"}])
        ddb.create_table(TableName=f"payment-idempotency-{ENV}", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    buckets = {P: f"audit-{ENV}-{P}", D: f"audit-{ENV}-{D}"}
    for region, bucket in buckets.items():
        s3 = c("s3", region)
        extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **extra)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for region, bucket in buckets.items():
        peer = buckets[D if region == P else P]
        c("s3", region).put_bucket_replication(Bucket=bucket, ReplicationConfiguration={
            "Role": "arn:aws:iam::123456789012:role/replication",
            "Rules": [{"ID": f"to-{peer}", "Status": "Enabled", "Priority": 1, "Filter": {},
                       "DeleteMarkerReplication": {"Status": "Enabled"},
                       "Destination": {"Bucket": f"arn:aws:s3:::{peer}",
                                       "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}},
                                       "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}}}]})
    out["primary_s3_bucket"], out["dr_s3_bucket"] = buckets[P], buckets[D]
    r53 = c("route53", "us-east-1")
    for role, region in (("primary", P), ("dr", D)):
        hc = r53.create_health_check(CallerReference=f"{role}-hc", HealthCheckConfig={
            "Type": "HTTPS", "FullyQualifiedDomainName": f"api.{region}.example.com",
            "ResourcePath": "/health", "Port": 443})["HealthCheck"]
        out[f"{role}_health_check_id"] = hc["Id"]
        cw = c("cloudwatch", region)
        for name in ("api-5xx", "aurora-lag"):
            cw.put_metric_alarm(AlarmName=f"payments-{ENV}-{name}-{role}", MetricName=name, Namespace="payments",
                                Statistic="Maximum", Period=60, EvaluationPeriods=1, Threshold=1,
                                ComparisonOperator="GreaterThanThreshold")
            cw.set_alarm_state(AlarmName=f"payments-{ENV}-{name}-{role}", StateValue="OK", StateReason="test")
        cw.put_metric_alarm(AlarmName=f"other-app-{role}", MetricName="m", Namespace="n", Statistic="Maximum",
                            Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")
    c("cloudwatch", D).put_metric_data(Namespace="AWS/RDS", MetricData=[{
        "MetricName": "AuroraGlobalDBRPOLag", "Value": 85.0, "Unit": "Milliseconds",
        "Dimensions": [{"Name": "DBClusterIdentifier", "Value": f"payments-dr-{ENV}"}]}])
    for region, peer in ((D, "primary"), (P, "dr")):  # the failback latches, open
        c("ssm", region).put_parameter(Name=f"/payments-dr/{ENV}/failback/{peer}", Type="String",
                                       Value=json.dumps({"state": "open", "since": "2026-11-01T00:00:00Z",
                                                         "by": "setup", "reason": "deployed"}))
    return out


def add_moto_gaps(session, writer_region=P):
    """moto reports IsWriter=False for every member and never lists DynamoDB replicas."""
    def global_clusters(parsed, **_):
        for g in parsed.get("GlobalClusters", []):
            for m in g.get("GlobalClusterMembers", []):
                m["IsWriter"] = m["DBClusterArn"].split(":")[3] == writer_region
                if not m["IsWriter"]:
                    m["SynchronizationStatus"] = "connected"

    def tables(parsed, **_):
        t = parsed.get("Table", {})
        region = t.get("TableArn", "").split(":")[3]
        t["Replicas"] = [{"RegionName": r, "ReplicaStatus": "ACTIVE"} for r in (P, D) if r != region]
    session.events.register("after-call.rds.DescribeGlobalClusters", global_clusters)
    session.events.register("after-call.dynamodb.DescribeTable", tables)


@pytest.fixture
def platform(moto_url, aws_session):
    return make_platform(aws_session, moto_url)


def gateways(session, url, **kw):
    return AwsGateways(session, endpoint_url=url, max_attempts=1, **kw)


def test_aurora_gateway_reads_global_and_regional_clusters(platform, aws_session, moto_url):
    gw = gateways(aws_session, moto_url)
    for region in (P, D):  # the global cluster is visible from every member region
        g = gw.aurora(region).global_cluster(f"payments-global-{ENV}")
        assert {m.region for m in g.members} == {P, D}
        assert g.member(f"payments-dr-{ENV}", D).arn == platform["dr_cluster_arn"]
    c = gw.aurora(D).cluster(f"payments-dr-{ENV}")
    assert c.arn == platform["dr_cluster_arn"] and c.global_cluster_id == f"payments-global-{ENV}"
    gw.aurora(D).wait_cluster_available(f"payments-dr-{ENV}", timeout_seconds=5, delay_seconds=1)
    assert gw.aurora(D).cluster(f"payments-dr-{ENV}").status == "available"
    with pytest.raises(NotFound):
        gw.aurora(P).cluster("payments-nope")
    with pytest.raises(NotFound):
        gw.aurora(P).global_cluster("nope")


def test_metrics_alarms_and_health_gateways(platform, aws_session, moto_url):
    gw = gateways(aws_session, moto_url)
    point = gw.metrics(D).latest("AWS/RDS", "AuroraGlobalDBRPOLag",
                                 {"DBClusterIdentifier": f"payments-dr-{ENV}"})
    assert point.value == 85.0
    assert gw.metrics(P).latest("AWS/RDS", "AuroraGlobalDBRPOLag",
                                {"DBClusterIdentifier": f"payments-dr-{ENV}"}) is None  # regional
    names = sorted(a.name for a in gw.alarms(D).alarms(f"payments-{ENV}-"))
    assert names == [f"payments-{ENV}-api-5xx-dr", f"payments-{ENV}-aurora-lag-dr"]  # prefix only
    assert gw.health().status(platform["dr_health_check_id"]).healthy
    with pytest.raises(NotFound):
        gw.health().status("00000000-0000-0000-0000-000000000000")


def test_dynamo_and_s3_gateways(platform, aws_session, moto_url):
    gw = gateways(aws_session, moto_url)
    t = gw.dynamo(D).table(f"payment-transactions-{ENV}")
    assert t.status == "ACTIVE" and t.key_schema == {"transactionId": "HASH", "timestamp": "RANGE"}
    key = {"transactionId": "drctl-canary-x", "timestamp": 1}
    gw.dynamo(P).put_item(f"payment-transactions-{ENV}", {**key, "drctlCanary": True})
    assert gw.dynamo(P).get_item(f"payment-transactions-{ENV}", key)["drctlCanary"] == {"BOOL": True}
    gw.dynamo(P).delete_item(f"payment-transactions-{ENV}", key)
    assert gw.dynamo(P).get_item(f"payment-transactions-{ENV}", key) is None

    rules = gw.s3(P).replication_rules(platform["primary_s3_bucket"])
    assert [(r.destination_bucket, r.rtc_enabled, r.metrics_enabled, r.status) for r in rules] == [
        (platform["dr_s3_bucket"], True, True, "Enabled")]
    bucket, key = platform["primary_s3_bucket"], "drctl-canary/x.txt"
    gw.s3(P).put_object(bucket, key, b"1")
    gw.s3(P).put_object(bucket, key, b"2")
    assert gw.s3(P).object_exists(bucket, key)
    assert gw.s3(P).delete_all_versions(bucket, key) == 2
    assert not gw.s3(P).object_exists(bucket, key)
    versions = aws_session.client("s3", region_name=P, endpoint_url=moto_url).list_object_versions(
        Bucket=bucket, Prefix=key)
    assert not versions.get("Versions") and not versions.get("DeleteMarkers")


def test_status_end_to_end_on_moto(platform, aws_session, moto_url, tmp_path):
    add_moto_gaps(aws_session)
    outputs = tmp_path / "outputs.json"  # cdktf outputs format, one entry per stack (contract.OUTPUTS)
    stacks: dict = {}
    for key, value in platform.items():
        stacks.setdefault(contract.OUTPUTS[key][0], {})[key] = value
    assert len(stacks) >= 3
    outputs.write_text(json.dumps(stacks))

    def run():
        out = io.StringIO()
        code = main(["status", "--outputs", str(outputs), "--json"],
                    gateways=lambda a: gateways(aws_session, moto_url), stdout=out, stderr=io.StringIO())
        return code, out
    code, out = run()
    doc = json.loads(out.getvalue())
    assert code == 0, [c for c in doc["checks"] if c["state"] not in ("OK", "WARN")]
    assert doc["writer_region"] == P
    assert {c["name"]: c["state"] for c in doc["checks"]}["replication lag"] == "OK"

    aws_session.client("cloudwatch", region_name=D, endpoint_url=moto_url).set_alarm_state(
        AlarmName=f"payments-{ENV}-aurora-lag-dr", StateValue="ALARM", StateReason="test")
    code, out = run()
    doc = json.loads(out.getvalue())
    assert code == exitcodes.UNHEALTHY
    assert [c["name"] for c in doc["checks"] if c["state"] == "FAIL"] == ["dr alarms"]


def test_unreachable_region_on_the_wire(platform, aws_session, moto_url):
    add_moto_gaps(aws_session)
    gw = AwsGateways(aws_session, endpoint_url={"*": moto_url, D: "http://127.0.0.1:9"},
                     max_attempts=1, connect_timeout=1)
    with pytest.raises(Unreachable):
        gw.aurora(D).cluster(f"payments-dr-{ENV}")
    from drctl.status import collect_status
    report = collect_status(DrConfig.build(platform), gw, Clock(), EventLog(io.StringIO()))
    assert report.exit_code == exitcodes.UNREACHABLE
    assert {c.state for c in report.checks if c.region == D and c.component != "route53"} == {"UNREACHABLE"}
    assert {c.state for c in report.checks if c.region == P} <= {"OK", "WARN"}


def test_failover_sends_every_request_to_the_dr_region_only(platform, aws_session, moto_url):
    """Real boto3 clients on moto; every signed request's region is recorded. moto has no
    FailoverGlobalCluster, so that one call is answered by a before-call hook (after its region
    and parameters are recorded) and the writer then reported in the DR region."""
    signed, sent = [], []
    state = {"writer": P}

    def record_sign(region_name=None, **kwargs):
        signed.append(region_name)

    def fake_failover(model, params, request_signer, **kwargs):
        body = params["body"]
        sent.append((request_signer.region_name, model.name,
                     {k: body[k] for k in ("GlobalClusterIdentifier", "TargetDbClusterIdentifier",
                                           "AllowDataLoss")}))
        state["writer"] = D
        return AWSResponse("https://rds.amazonaws.com", 200, {}, None), {}

    def writer(parsed, **_):
        for g in parsed.get("GlobalClusters", []):
            for m in g.get("GlobalClusterMembers", []):
                m["IsWriter"] = m["DBClusterArn"].split(":")[3] == state["writer"]

    aws_session.events.register("before-sign", record_sign)
    aws_session.events.register("before-call.rds.FailoverGlobalCluster", fake_failover)
    aws_session.events.register("after-call.rds.DescribeGlobalClusters", writer)
    gw = gateways(aws_session, moto_url)
    cfg = DrConfig.build(platform)
    class WallClockNoSleep(Clock):  # metric timestamps are wall-clock; waiting is instant
        def sleep(self, seconds):
            pass

    result = failover(cfg, gw, WallClockNoSleep(), EventLog(io.StringIO()), confirm_data_loss=True,
                      timeout=60, poll=5)
    assert result.outcome == "completed" and result.exit_code == 0, result.to_text()
    assert sent == [(D, "FailoverGlobalCluster", {
        "GlobalClusterIdentifier": f"payments-global-{ENV}",
        "TargetDbClusterIdentifier": platform["dr_cluster_arn"], "AllowDataLoss": "true"})]
    assert len(signed) >= 4 and set(signed) == {D}
    assert set(gw.regions_used) == {D}  # no client was even built for us-east-1
    assert result.data["last_lag_ms"] == 85.0


def test_status_with_us_east_1_hanging_sends_one_request_per_endpoint(platform, aws_session, moto_url,
                                                                      hanging_server):
    """us-east-1 accepts connections and never answers (a local server). Status still reports
    the DR region from moto; us-east-1 costs ONE request for the regional APIs and ONE for
    Route 53 (no retries, then skipped): issue 11 item 6. Timeouts shortened for the test;
    scripts/bench_status.py measures the real defaults."""
    add_moto_gaps(aws_session)
    gw = AwsGateways(aws_session, endpoint_url={P: hanging_server.url, "*": moto_url},
                     read_timeout=1, connect_timeout=1)
    err = io.StringIO()
    from drctl.status import collect_status
    report = collect_status(DrConfig.build(platform), gw, Clock(), EventLog(err))
    assert report.exit_code == exitcodes.UNREACHABLE
    assert len(hanging_server.accepted) == 2
    assert report.unreachable == ["route53", P]
    assert {c.state for c in report.checks if c.region == D and c.component not in ("route53",)} <= {
        "OK", "WARN"}
    assert [c.region for c in report.checks if c.name == "global cluster"] == [D]
    events = [json.loads(line)["event"] for line in err.getvalue().splitlines()]
    assert events.count("progress") == 4 and events[-1] == "status_done"


def test_verify_from_dr_with_us_east_1_hanging_asks_it_once(platform, aws_session, moto_url, hanging_server):
    """issue 19: `verify --from dr` took 106 s with us-east-1 hanging (the cleanup retried the
    hung region with the action client, 3 x 30 s). Now a region that did not answer is asked
    once: one request (the first poll), no cleanup there. The action client keeps its real
    30 s read timeout here, so a retry would show; probe timeouts are shortened for the test
    (real defaults: 3 s connect + 8 s read, one attempt, inside the 25 s target)."""
    import time

    from drctl.verify import verify

    gw = AwsGateways(aws_session, endpoint_url={P: hanging_server.url, "*": moto_url},
                     read_timeout=1, connect_timeout=1)
    started = time.monotonic()
    result = verify(DrConfig.build(platform), gw, Clock(), EventLog(io.StringIO()), source_role="dr",
                    timeout=20, poll=0.2)
    elapsed = time.monotonic() - started
    assert result.exit_code == exitcodes.UNREACHABLE, result.to_text()
    assert len(hanging_server.accepted) == 1
    assert elapsed < 5, elapsed
    skipped = [e for e in result.cleanup_errors if "not attempted" in e]
    assert len(skipped) == 2 and all(P in e or f"-{P}" in e or "primary" in e for e in skipped), skipped
    dr = aws_session.client("dynamodb", region_name=D, endpoint_url=moto_url)
    assert dr.scan(TableName=f"payment-transactions-{ENV}")["Count"] == 0  # cleaned where it answered


def test_the_s3_gateway_sees_object_lock_and_raises_when_s3_refuses_a_deletion(aws_session, moto_url):
    """DeleteObjects with Quiet answers 200 and lists refused versions in `Errors`: the gateway
    must not call that a deletion (issue 21: the runbook said verify deleted locked canaries)."""
    gw = gateways(aws_session, moto_url).s3(P)
    s3 = aws_session.client("s3", region_name=P, endpoint_url=moto_url)
    s3.create_bucket(Bucket="locked", ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket="locked", ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 365}}})
    s3.put_object(Bucket="locked", Key="drctl-canary/x.txt", Body=b"canary")
    lock = gw.retained_until("locked", "drctl-canary/x.txt")
    assert lock is not None and lock[1] == 6
    with pytest.raises(RuntimeError, match="not deleted"):
        gw.delete_all_versions("locked", "drctl-canary/x.txt")
    s3.create_bucket(Bucket="plain")
    s3.put_object(Bucket="plain", Key="k", Body=b"x")
    assert gw.retained_until("plain", "k") is None
    gw.delete_all_versions("plain", "k")
    assert "Contents" not in s3.list_objects_v2(Bucket="plain")
