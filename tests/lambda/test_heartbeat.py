"""RPO canary: heartbeat writes in the replicated stores, the peer's heartbeat read locally.

Real: DynamoDB tables (with the customer/status GSIs) and buckets in both regions in moto.
Simulated: cross-region replication (moto has none) - ``replicate()`` copies the peer's
heartbeat item and object into this region, as global tables and S3 replication would;
the clock (milliseconds, set by hand).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import heartbeat
import pytest
from botocore.exceptions import ClientError
from lambda_support import (
    DEFAULT_RETENTION_DAYS,
    DR,
    PRIMARY,
    REGIONS,
    TABLE,
    FakeContext,
    aws_client,
    bucket_for,
    object_lock,
    s3_without_default_checksum,
    sha256_b64,
    table_items,
)
from ops import heartbeat as hb
from ops_support import CallCounter, Recorder, metric

from payments import core


class MsClock:
    def __init__(self, start_ms: int = 1_790_000_000_000):
        self.now = start_ms

    def __call__(self) -> int:
        return self.now


def canary(region: str, clock: MsClock) -> tuple[heartbeat.Heartbeat, Recorder]:
    peer = DR if region == PRIMARY else PRIMARY
    environ = {"AWS_REGION": region, "REGION_ROLE": REGIONS[region], "PEER_REGION": peer,
               "TRANSACTIONS_TABLE": TABLE, "AUDIT_BUCKET": bucket_for(region)}
    cw = aws_client("cloudwatch", region)
    c = heartbeat.Heartbeat(heartbeat.HeartbeatSettings.from_env(environ), dynamodb=aws_client("dynamodb", region),
                            s3=aws_client("s3", region), cloudwatch=cw, clock_ms=clock)
    return c, Recorder(cw, "PutMetricData")


def replicate(source: str, target: str) -> None:
    """What global tables and S3 replication do for the heartbeat (moto does not)."""
    found = aws_client("dynamodb", source).get_item(TableName=TABLE, Key=hb.item_key(source))["Item"]
    aws_client("dynamodb", target).put_item(TableName=TABLE, Item=found)
    body = aws_client("s3", source).get_object(Bucket=bucket_for(source), Key=hb.object_key(source))["Body"].read()
    aws_client("s3", target).put_object(Bucket=bucket_for(target), Key=hb.object_key(source), Body=body)


def test_a_run_makes_its_declared_aws_calls(aws):
    """Every run takes the same path (each store written and read, then the metrics): the
    count its timeout is sized for (heartbeat.AWS_CALLS_PER_RUN, tests/lambda/test_ops_sizing.py)."""
    c, _ = canary(PRIMARY, MsClock())
    counter = CallCounter(c.dynamodb, c.s3, c.cloudwatch)
    c.run()
    assert counter.calls == ["PutItem", "GetItem", "PutObject", "GetObject", "PutMetricData"]
    assert len(counter.calls) == heartbeat.AWS_CALLS_PER_RUN


def test_heartbeat_item_is_invisible_to_payments(aws):
    clock = MsClock()
    c, _rec = canary(PRIMARY, clock)
    summary = c.run()
    assert summary["metricsPublished"] is True
    [item] = table_items(PRIMARY)
    assert item == {"transactionId": "__heartbeat__#us-east-1", "timestamp": 0, "writtenAt": clock.now,
                    "recordType": "heartbeat", "heartbeatRegion": PRIMARY, "regionRole": "primary"}
    assert "customerId" not in item and "status" not in item
    ddb = aws_client("dynamodb", PRIMARY)
    for index in ("customer-index", "status-index"):  # sparse indexes skip it
        assert ddb.scan(TableName=TABLE, IndexName=index)["Items"] == []
    # the validator can never be asked for it: '#' is outside the transaction-id alphabet
    assert not core.IDENTIFIER_RE.fullmatch(item["transactionId"])
    with pytest.raises(core.RequestError) as exc:
        core.validate_payload({"transactionId": item["transactionId"], "customerId": "c", "amount": "1"},
                              core.parse_max_amount("100"))
    assert exc.value.field == "transactionId"
    # nor can a payment's claim key be it (claims are "claim#<client>#<id>")
    request = core.PaymentRequest("__heartbeat__", "c", core.parse_max_amount("1"), "USD", "us-east-1")
    assert core.claim_key(request)["transactionId"] != item["transactionId"]


def test_heartbeat_object_is_written_in_own_bucket(aws):
    clock = MsClock()
    canary(DR, clock)[0].run()
    obj = aws_client("s3", DR).get_object(Bucket=bucket_for(DR), Key="heartbeat/us-east-2.json")
    assert json.loads(obj["Body"].read()) == {"recordType": "heartbeat", "region": DR, "regionRole": "dr",
                                              "writtenAt": clock.now}
    assert obj["ContentType"] == "application/json"
    assert aws_client("s3", PRIMARY).list_objects_v2(Bucket=bucket_for(PRIMARY)).get("KeyCount") == 0


def test_observed_delay_per_store_from_the_local_replica(aws):
    clock = MsClock()
    dr, _ = canary(DR, clock)
    dr.run()
    replicate(DR, PRIMARY)
    clock.now += 1_500
    primary, rec = canary(PRIMARY, clock)
    summary = primary.run()
    assert metric(rec, "ObservedReplicationDelay", Store="dynamodb", From=DR) == [1.5]
    assert metric(rec, "ObservedReplicationDelay", Store="s3", From=DR) == [1.5]
    assert metric(rec, "HeartbeatMissing", Store="dynamodb", From=DR) == [0.0]
    assert metric(rec, "HeartbeatMissing", Store="s3", From=DR) == [0.0]
    assert summary["dynamodb"]["observedDelaySeconds"] == 1.5
    assert all(d["Unit"] == "Seconds" for c in rec.calls for d in c["MetricData"]
               if d["MetricName"] == "ObservedReplicationDelay")


def test_stale_replica_shows_growing_delay(aws):
    """Replication paused: the primary keeps seeing the DR heartbeat of minute 0."""
    clock = MsClock()
    dr, _ = canary(DR, clock)
    primary, rec = canary(PRIMARY, clock)
    dr.run()
    replicate(DR, PRIMARY)
    for _ in range(3):
        clock.now += 60_000
        dr.run()  # not replicated any more
        primary.run()
    assert metric(rec, "ObservedReplicationDelay", Store="dynamodb", From=DR) == [60.0, 120.0, 180.0]
    assert metric(rec, "HeartbeatAge", Store="dynamodb", Region=PRIMARY) == [60.0, 60.0]  # first run: no previous


def test_missing_peer_heartbeat_is_reported_not_raised(aws):
    c, rec = canary(PRIMARY, MsClock())
    summary = c.run()
    assert summary["dynamodb"]["peerHeartbeat"] == summary["s3"]["peerHeartbeat"] == "missing"
    assert metric(rec, "HeartbeatMissing", Store="dynamodb", From=DR) == [1.0]
    assert metric(rec, "HeartbeatMissing", Store="s3", From=DR) == [1.0]
    assert metric(rec, "ObservedReplicationDelay", Store="dynamodb", From=DR) == []


def test_peer_clock_ahead_reads_as_zero_delay(aws):
    clock = MsClock()
    canary(DR, clock)[0].run()
    replicate(DR, PRIMARY)
    clock.now -= 2_000
    primary, rec = canary(PRIMARY, clock)
    primary.run()
    assert metric(rec, "ObservedReplicationDelay", Store="dynamodb", From=DR) == [0.0]


def test_store_failure_is_published_and_the_other_store_still_runs(aws):
    clock = MsClock()
    aws_client("dynamodb", PRIMARY).delete_table(TableName=TABLE)
    c, rec = canary(PRIMARY, clock)
    summary = c.run()
    assert summary["dynamodb"]["writeError"] == "ResourceNotFoundException"
    assert metric(rec, "HeartbeatErrors", Store="dynamodb") == [1.0, 1.0]  # write and read
    assert summary["s3"]["written"] == clock.now and summary["metricsPublished"] is True


def test_unreadable_peer_object_is_an_error_not_a_delay(aws):
    clock = MsClock()
    aws_client("s3", PRIMARY).put_object(Bucket=bucket_for(PRIMARY), Key=hb.object_key(DR), Body=b"{}")
    c, rec = canary(PRIMARY, clock)
    assert c.run()["s3"]["readError"] == "ValueError"
    assert metric(rec, "HeartbeatErrors", Store="s3") == [1.0]
    assert metric(rec, "ObservedReplicationDelay", Store="s3", From=DR) == []


def test_handler_with_environment(aws, monkeypatch):
    monkeypatch.setenv("PEER_REGION", DR)
    heartbeat.init()
    try:
        summary = heartbeat.lambda_handler({"source": "aws.events"}, FakeContext("payments-heartbeat-primary-test"))
    finally:
        heartbeat.reset_runtime()
    assert summary["metricsPublished"] is True and "written" in summary["dynamodb"]


@pytest.mark.parametrize("name,value,message", [
    ("PEER_REGION", "", "PEER_REGION is required"),
    ("PEER_REGION", PRIMARY, "PEER_REGION must name the other region"),
    ("TRANSACTIONS_TABLE", "", "TRANSACTIONS_TABLE is required"),
    ("REGION_ROLE", "secondary", "REGION_ROLE must be primary or dr"),
])
def test_bad_settings_name_the_variable(name, value, message):
    environ = {"AWS_REGION": PRIMARY, "REGION_ROLE": "primary", "PEER_REGION": DR, "TRANSACTIONS_TABLE": TABLE,
               "AUDIT_BUCKET": "b"}
    environ[name] = value
    with pytest.raises(heartbeat.env.ConfigError, match=message):
        heartbeat.HeartbeatSettings.from_env(environ)


def test_heartbeat_object_gets_a_one_day_governance_lock_not_the_bucket_default(aws):
    """The test bucket's default retention is GOVERNANCE 365 days (like dev); every heartbeat
    version is locked only until written + 1 day, and carries a SHA-256 checksum."""
    clock = MsClock(int(time.time()) * 1000)
    c, _ = canary(PRIMARY, clock)
    puts = Recorder(c.s3, "PutObject")
    assert "writeError" not in c.run()["s3"]
    [params] = puts.calls
    assert (params["ObjectLockMode"], params["ChecksumAlgorithm"]) == ("GOVERNANCE", "SHA256")
    mode, until, checksum = object_lock(PRIMARY, hb.object_key(PRIMARY))
    assert hb.PROBE_OBJECT_RETENTION_DAYS == 1 < DEFAULT_RETENTION_DAYS
    assert mode == "GOVERNANCE"
    assert until == datetime.fromtimestamp(clock.now / 1000, tz=UTC) + timedelta(days=1)
    assert checksum == sha256_b64(hb.object_body(PRIMARY, "primary", clock.now))


def test_heartbeat_put_does_not_rely_on_the_sdks_default_checksum(aws):
    """An SDK that adds no checksum by default: a plain PutObject is rejected by the Object Lock
    bucket, the heartbeat's write is not."""
    plain = s3_without_default_checksum(PRIMARY)
    with pytest.raises(ClientError) as exc:
        plain.put_object(Bucket=bucket_for(PRIMARY), Key=hb.object_key(PRIMARY), Body=b"{}")
    assert exc.value.response["Error"]["Code"] == "MissingUploadObjectWithObjectLockHeaders"
    environ = {"AWS_REGION": PRIMARY, "REGION_ROLE": "primary", "PEER_REGION": DR,
               "TRANSACTIONS_TABLE": TABLE, "AUDIT_BUCKET": bucket_for(PRIMARY)}
    clock = MsClock(int(time.time()) * 1000)
    c = heartbeat.Heartbeat(heartbeat.HeartbeatSettings.from_env(environ), dynamodb=aws_client("dynamodb", PRIMARY),
                            s3=plain, cloudwatch=aws_client("cloudwatch", PRIMARY), clock_ms=clock)
    assert c.run()["s3"]["written"] == clock.now
