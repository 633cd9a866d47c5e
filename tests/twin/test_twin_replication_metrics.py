"""The replication metrics AWS publishes, SIMULATED by the twin (twin/awsmetrics.py): S3 RTC
metrics per rule and DynamoDB ReplicationLatency, once a scenario minute, where AWS publishes
them, read by the JSON's own alarms (their dimensions) and by drctl (moto's CloudWatch).

Replication is paused for 3 scenario minutes (less than the DynamoDB alarm's 5 periods, so
no alarm fires here; the replication drill, tests/twin/test_drills_on_twin.py, fires them)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from twin_support import validator_env, warm_up

from contract import IDEMPOTENCY_KEY_ATTRIBUTE, s3_metric_region

pytestmark = pytest.mark.twin

PAUSE_MINUTES = 3


def _alarm(twin, region: str, namespace: str, name: str, **dims: str):
    return next(a for a in twin.alarms.alarms.values() if a.region == region and a.metric
                and a.metric[:2] == (namespace, name) and all(a.metric[2].get(k) == v for k, v in dims.items()))


@pytest.fixture(scope="module")
def paused(twin):
    """A receipt-sized object in the primary's audit bucket and an item in the (EVENTUAL)
    idempotency table written while replication is paused; PAUSE_MINUTES scenario minutes;
    then resumed and caught up, two more minutes."""
    warm_up(twin)
    primary, dr = twin.region_of("primary"), twin.region_of("dr")
    source, dest_region, dest = next((s, dr_, d) for r, s, dr_, d in twin.inventory.bucket_replication if r == primary)
    table = validator_env(twin, primary)["IDEMPOTENCY_TABLE"]
    assert table not in twin.inventory.strong_tables
    twin.advance(60 - twin.clock.now() % 60 or 60)  # on a minute boundary
    start = twin.clock.now()
    published_before = len(twin.aws_metrics.published)
    body = b"x" * 1234
    key = f"twin-metrics/{uuid.uuid4().hex}"
    twin.replication.pause("dynamodb", "s3")
    try:
        twin.client("s3", primary).put_object(Bucket=source, Key=key, Body=body)
        twin.client("dynamodb", primary).put_item(TableName=table, Item={
            IDEMPOTENCY_KEY_ATTRIBUTE: {"S": key}, "transactionId": {"S": key}})
        twin.replication.wait_caught_up(2)  # one poll: the writes are seen (and held)
        twin.advance(PAUSE_MINUTES * 60)
        during = list(twin.aws_metrics.published[published_before:])
        alarm_values = {
            "s3": _alarm(twin, dest_region, "AWS/S3", "ReplicationLatency", SourceBucket=source).period_values(
                twin.metrics, twin.alarms.last_evaluation),
            "ddb": _alarm(twin, primary, "AWS/DynamoDB", "ReplicationLatency", TableName=table).period_values(
                twin.metrics, twin.alarms.last_evaluation)}
        dims = _alarm(twin, dest_region, "AWS/S3", "ReplicationLatency", SourceBucket=source).metric[2]
        wall = dt.datetime.now(dt.UTC)
        cw = twin.client("cloudwatch", dest_region).get_metric_statistics(
            Namespace="AWS/S3", MetricName="ReplicationLatency",
            Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
            StartTime=wall - dt.timedelta(minutes=10), EndTime=wall + dt.timedelta(minutes=1),
            Period=60, Statistics=["Maximum"])["Datapoints"]
    finally:
        twin.replication.resume("dynamodb", "s3")
    assert twin.replication.wait_caught_up(15)
    twin.advance(120)
    after = list(twin.aws_metrics.published[published_before + len(during):])
    twin.client("s3", primary).delete_object(Bucket=source, Key=key)
    twin.client("dynamodb", primary).delete_item(TableName=table, Key={IDEMPOTENCY_KEY_ATTRIBUTE: {"S": key}})
    return {"start": start, "during": during, "after": after, "alarm_values": alarm_values, "cw": cw,
            "primary": primary, "dr": dr, "source": source, "dest": dest, "dest_region": dest_region,
            "table": table, "bytes": len(body)}


def _series(rows, region: str, metric: str, **dims: str) -> list[tuple[float, float]]:
    return [(t, v) for t, r, m, d, v in rows if r == region and m == metric
            and all(d.get(k) == want for k, want in dims.items())]


def test_s3_metrics_are_published_once_a_minute_where_aws_publishes_them(paused):
    from contract import S3_REPLICATION_FAILED, S3_REPLICATION_LATENCY, S3_REPLICATION_PENDING

    p = paused
    for spec in (S3_REPLICATION_LATENCY, S3_REPLICATION_PENDING, S3_REPLICATION_FAILED):
        region = s3_metric_region(spec, source=p["primary"], destination=p["dest_region"])
        other = p["primary"] if region == p["dest_region"] else p["dest_region"]
        rows = _series(p["during"], region, spec.name, SourceBucket=p["source"], DestinationBucket=p["dest"])
        assert [t for t, _ in rows] == [p["start"] + 60 * (i + 1) for i in range(PAUSE_MINUTES)], (spec.name, rows)
        assert _series(p["during"], other, spec.name, SourceBucket=p["source"]) == [], spec.name
    latency = [v for _, v in _series(p["during"], p["dest_region"], "ReplicationLatency", SourceBucket=p["source"])]
    # the object waited from the pause's start: the latency grows a minute a minute (scenario time)
    assert latency[-1] >= (PAUSE_MINUTES - 1) * 60 and latency == sorted(latency), latency
    pending = _series(p["during"], p["dest_region"], "OperationsPendingReplication", SourceBucket=p["source"])
    assert all(v >= 1 for _, v in pending), pending
    pending_bytes = _series(p["during"], p["dest_region"], "BytesPendingReplication", SourceBucket=p["source"])
    assert all(v >= p["bytes"] for _, v in pending_bytes), pending_bytes
    assert {v for _, v in _series(p["during"], p["primary"], "OperationsFailedReplication",
                                  SourceBucket=p["source"])} == {0.0}


def test_the_jsons_alarms_read_the_published_metrics(paused):
    """The S3 latency alarm (destination's region) and the DynamoDB latency alarm (source's)
    match the published series by their dimensions: their newest period holds the pause."""
    s3, ddb = paused["alarm_values"]["s3"], paused["alarm_values"]["ddb"]
    assert s3[0] is not None and s3[0] >= (PAUSE_MINUTES - 1) * 60, s3
    assert ddb[0] is not None and ddb[0] >= (PAUSE_MINUTES - 1) * 60_000, ddb
    assert ddb[-1] is not None, "the DynamoDB alarm's oldest period (before the pause) had data too"


def test_drctl_reads_them_from_cloudwatch(paused):
    """drctl reads moto's CloudWatch (GetMetricStatistics) with the wall clock: the datapoints
    are there, in the destination's region, with the alarm's dimensions."""
    assert paused["cw"] and max(d["Maximum"] for d in paused["cw"]) >= (PAUSE_MINUTES - 1) * 60, paused["cw"]


def test_after_catch_up_the_latency_is_the_lag_again(paused, twin):
    p = paused
    latency = [v for _, v in _series(p["after"], p["dest_region"], "ReplicationLatency", SourceBucket=p["source"])]
    ddb = [v for _, v in _series(p["after"], p["primary"], "ReplicationLatency", TableName=p["table"],
                                 ReceivingRegion=p["dr"])]
    assert latency and latency[-1] == pytest.approx(twin.lag_s), latency
    assert ddb and ddb[-1] == pytest.approx(twin.lag_s * 1000), ddb
    # the held object is no longer pending; what the schedules wrote within the last lag_s REAL
    # seconds is (live traffic: on the accelerated clock, up to a scenario minute of their writes)
    for metric in ("OperationsPendingReplication", "BytesPendingReplication"):
        pending = _series(p["after"], p["dest_region"], metric, SourceBucket=p["source"])
        during = _series(p["during"], p["dest_region"], metric, SourceBucket=p["source"])
        assert pending and pending[-1][1] < min(v for _, v in during), (metric, pending, during)
