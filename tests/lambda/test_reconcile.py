"""Issue 15, items 1 and 3: the scheduled reconciliation job (``reconcile.lambda_handler``).

Records are put straight into moto's tables with chosen timestamps; a record "accepted in
DR" sitting in the primary table stands for one that global-table replication brought in
(moto does not replicate).
"""

from __future__ import annotations

import json
import time
from datetime import UTC
from decimal import Decimal
from unittest import mock

import pytest
import reconcile
from botocore.exceptions import ClientError
from lambda_support import (
    DR,
    PRIMARY,
    TABLE,
    FakeContext,
    aws_client,
    bucket_for,
    bucket_keys,
)

from payments import audit, core

MINUTE_MS = 60_000


def record(tid: str, ts_ms: int, region: str = PRIMARY, amount: str = "10.00") -> dict:
    request = core.PaymentRequest(tid, "cust-1", Decimal(amount), "USD")
    return core.build_record(request, now_ms=ts_ms, region=region,
                             region_role="primary" if region == PRIMARY else "dr")


def put_records(region: str, *items: dict) -> None:
    import boto3

    table = boto3.resource("dynamodb", region_name=region).Table(TABLE)
    for item in items:
        table.put_item(Item=item)


def put_receipt(region: str, item: dict) -> None:
    aws_client("s3", region).put_object(Bucket=bucket_for(region), Key=core.receipt_key(item["transactionId"]),
                                        Body=core.build_receipt(item))


def emitted_metrics(capsys) -> dict[str, float]:
    values: dict[str, float] = {}
    for line in capsys.readouterr().out.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == "PaymentsDR"
            assert ["region", "service"] in [sorted(d) for d in directive["Dimensions"]]
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                values[metric["Name"]] = sum(value) if isinstance(value, list) else value
        assert blob["service"] == "payment-reconcile" and blob["region"] == PRIMARY
    return values


@pytest.fixture
def now_ms() -> int:
    return int(time.time() * 1000)


def test_repairs_missing_receipts_of_records_in_the_window_and_publishes_metrics(aws, now_ms, capsys):
    with_receipt = record("has-receipt", now_ms - 30 * MINUTE_MS)
    own_missing = record("own-missing", now_ms - 40 * MINUTE_MS)
    replicated_missing = record("from-dr", now_ms - 50 * MINUTE_MS, region=DR)
    too_new = record("in-flight", now_ms - 1 * MINUTE_MS)  # inside the grace period
    too_old = record("ancient", now_ms - 10 * 60 * MINUTE_MS)  # outside the lookback
    put_records(PRIMARY, with_receipt, own_missing, replicated_missing, too_new, too_old)
    put_receipt(PRIMARY, with_receipt)

    report = reconcile.lambda_handler({}, FakeContext("payment-reconcile", remaining_ms=170_000))
    assert report["missingReceipts"] == 2 and report["receiptsRepaired"] == 2
    assert report["recordsChecked"] == 3 and report["truncated"] is False
    assert sorted(bucket_keys(PRIMARY)) == sorted(
        core.receipt_key(t) for t in ("has-receipt", "own-missing", "from-dr"))
    body = aws_client("s3", PRIMARY).get_object(Bucket=bucket_for(PRIMARY), Key="receipts/from-dr.json")["Body"]
    assert body.read() == core.build_receipt(replicated_missing)
    assert bucket_keys(DR) == []  # its own region's bucket only
    metrics = emitted_metrics(capsys)
    assert metrics["MissingReceipts"] == 2 and metrics["ReceiptsRepaired"] == 2
    assert metrics["ReceiptRepairFailed"] == 0 and metrics["DuplicateTransactions"] == 0
    assert metrics["ReconcileTruncated"] == 0

    # The next scheduled run starts after the watermark: each record is checked once.
    again = reconcile.lambda_handler({}, FakeContext("payment-reconcile", remaining_ms=170_000))
    assert again["recordsChecked"] == 0 and again["windowStartMs"] == report["checkedUntilMs"] + 1
    # idempotent: a manual run over the same window finds nothing to do
    manual = reconcile.lambda_handler({"lookbackMinutes": 180}, FakeContext("payment-reconcile", remaining_ms=170_000))
    assert manual["missingReceipts"] == 0 and manual["receiptsRepaired"] == 0 and manual["recordsChecked"] == 3


def test_dry_run_counts_but_writes_nothing(aws, now_ms):
    put_records(PRIMARY, record("missing", now_ms - 30 * MINUTE_MS))
    report = reconcile.lambda_handler({"dryRun": True}, FakeContext("payment-reconcile", remaining_ms=170_000))
    assert report["missingReceipts"] == 1 and report["receiptsRepaired"] == 0
    assert bucket_keys(PRIMARY) == []


def test_repair_failure_is_counted_and_the_run_continues(aws, now_ms, capsys):
    put_records(PRIMARY, record("a", now_ms - 30 * MINUTE_MS), record("b", now_ms - 31 * MINUTE_MS))
    reconcile._get_runtime()  # build clients inside the mock
    s3 = reconcile._get_runtime().s3
    failure = ClientError({"Error": {"Code": "InternalError", "Message": "x"},
                           "ResponseMetadata": {"HTTPStatusCode": 500}}, "PutObject")
    with mock.patch.object(s3, "put_object", side_effect=failure):
        report = reconcile.lambda_handler({}, FakeContext("payment-reconcile", remaining_ms=170_000))
    assert report["missingReceipts"] == 2 and report["receiptRepairFailed"] == 2
    assert emitted_metrics(capsys)["ReceiptRepairFailed"] == 2


def test_duplicate_acceptance_is_detected_even_when_the_twin_is_outside_the_window(aws, now_ms, capsys):
    """The split-brain case: the same transactionId accepted in both regions, hours apart
    (primary's item replicated late, after an outage)."""
    first = record("dup-1", now_ms - 20 * 60 * MINUTE_MS, region=PRIMARY)
    second = record("dup-1", now_ms - 30 * MINUTE_MS, region=DR)
    single = record("single", now_ms - 30 * MINUTE_MS)
    put_records(PRIMARY, first, second, single)
    report = reconcile.lambda_handler({}, FakeContext("payment-reconcile", remaining_ms=170_000))
    assert report["duplicateTransactions"] == ["dup-1"]
    assert emitted_metrics(capsys)["DuplicateTransactions"] == 1


def test_find_duplicates_reports_every_accepting_region(aws, now_ms):
    import boto3

    put_records(PRIMARY, record("d", now_ms - 5000, PRIMARY), record("d", now_ms - 4000, DR),
                record("e", now_ms - 3000, DR))
    found = audit.find_duplicates(boto3.client("dynamodb", region_name=PRIMARY), TABLE, ["d", "e", "unknown"])
    assert [(d.transaction_id, d.regions, d.same_request) for d in found] == [("d", [PRIMARY, DR], True)]


def test_run_stops_when_the_time_budget_is_spent_and_says_so(aws, now_ms, capsys):
    put_records(PRIMARY, *(record(f"r{i}", now_ms - (30 + i) * MINUTE_MS) for i in range(5)))
    report = reconcile.lambda_handler({}, FakeContext("payment-reconcile", remaining_ms=1_000))
    assert report["truncated"] is True and report["recordsChecked"] < 5
    assert emitted_metrics(capsys)["ReconcileTruncated"] == 1


@pytest.mark.parametrize("event", [{"lookbackMinutes": 0}, {"lookbackMinutes": 10 * 24 * 60 + 1},
                                   {"lookbackMinutes": "60"}, {"dryRun": "yes"}, {"surprise": 1}])
def test_invalid_overrides_are_rejected_before_any_read(aws, event):
    with pytest.raises(ValueError):
        reconcile.lambda_handler(event, FakeContext("payment-reconcile", remaining_ms=170_000))


def test_window_is_read_from_the_status_index_only(aws, now_ms):
    """Bounded: one Query on status-index per page, never a table Scan."""
    import boto3

    put_records(PRIMARY, record("x", now_ms - 30 * MINUTE_MS))
    ddb = boto3.client("dynamodb", region_name=PRIMARY)
    with mock.patch.object(ddb, "scan", side_effect=AssertionError("no scans")):
        items = list(audit.records_in_window(ddb, TABLE, "status-index", now_ms - 60 * MINUTE_MS, now_ms))
    assert [i["transactionId"] for i in items] == ["x"]


def test_repaired_receipt_carries_a_sha256_checksum_and_the_bucket_default_retention(aws, now_ms):
    """The repair sets no per-object lock (moto applies the test bucket's default, as S3 would)
    and does not rely on the SDK's default checksum: with an SDK that adds none, a plain
    PutObject is rejected by the Object Lock bucket, ``write_receipt`` is not."""
    from datetime import datetime, timedelta

    from lambda_support import (
        DEFAULT_RETENTION_DAYS,
        DEFAULT_RETENTION_MODE,
        object_lock,
        s3_without_default_checksum,
        sha256_b64,
    )
    from ops_support import Recorder

    item = record("missing", now_ms - 30 * MINUTE_MS)
    put_records(PRIMARY, item)
    puts = Recorder(reconcile._get_runtime().s3, "PutObject")
    report = reconcile.lambda_handler({}, FakeContext("payment-reconcile", remaining_ms=170_000))
    assert report["receiptsRepaired"] == 1
    [params] = puts.calls
    assert params["ChecksumAlgorithm"] == "SHA256"
    assert not [name for name in params if name.startswith("ObjectLock")]
    mode, until, checksum = object_lock(PRIMARY, "receipts/missing.json")
    assert checksum == sha256_b64(core.build_receipt(item))
    expected = datetime.fromtimestamp(now_ms // 1000, tz=UTC) + timedelta(days=DEFAULT_RETENTION_DAYS)
    assert mode == DEFAULT_RETENTION_MODE and timedelta(0) <= until - expected < timedelta(minutes=5)

    plain = s3_without_default_checksum(PRIMARY)
    with pytest.raises(ClientError) as exc:
        plain.put_object(Bucket=bucket_for(PRIMARY), Key="receipts/plain.json", Body=b"{}")
    assert exc.value.response["Error"]["Code"] == "MissingUploadObjectWithObjectLockHeaders"
    assert audit.write_receipt(plain, bucket_for(PRIMARY), record("other", now_ms)) is True
    assert audit.receipt_exists(plain, bucket_for(PRIMARY), "other")


# -- issue 22: a reconcile that keeps up (watermark, workers, lag) ----------------------------


class _Clock:
    """A Lambda context whose remaining time runs out after `calls` questions."""

    def __init__(self, calls: int):
        self.calls = calls

    def __call__(self) -> bool:
        self.calls -= 1
        return self.calls < 0


def test_a_run_cut_short_still_checks_duplicates_and_the_next_one_goes_on_from_its_watermark(aws, now_ms):
    """The old job skipped duplicate detection for the whole run when it ran out of time, and the
    next run started over from the lookback. Now every record gets both checks, once."""
    import boto3

    ddb, s3 = boto3.client("dynamodb", region_name=PRIMARY), boto3.client("s3", region_name=PRIMARY)
    items = [record(f"r{i}", now_ms - (60 - i) * MINUTE_MS) for i in range(10)]
    twin = record("r1", now_ms - 20 * 60 * MINUTE_MS, region=DR)  # r1 accepted twice, hours apart
    put_records(PRIMARY, *items, twin)
    common = {"table": TABLE, "bucket": bucket_for(PRIMARY), "now_ms": now_ms,
              "lookback_ms": 180 * MINUTE_MS, "grace_ms": 15 * MINUTE_MS, "workers": 1}
    first = audit.reconcile(ddb, s3, stop=_Clock(1), **common)  # one batch, then out of time
    batch = audit.BATCH_PER_WORKER
    assert first.truncated and first.records_checked == batch
    assert [d.transaction_id for d in first.duplicates] == ["r1"]
    assert first.checked_until_ms == int(items[batch]["timestamp"]) - 1
    assert first.lag_ms == first.window_end_ms - first.checked_until_ms > 0
    second = audit.reconcile(ddb, s3, since_ms=first.checked_until_ms, **common)
    assert not second.truncated and second.records_checked == 10 - batch and second.lag_ms == 0
    assert sorted(bucket_keys(PRIMARY)) == sorted(core.record_receipt_key(i) for i in items)


def test_a_failed_check_holds_the_watermark_and_the_next_scheduled_run_repeats_it(aws, now_ms, capsys):
    put_records(PRIMARY, record("a", now_ms - 40 * MINUTE_MS), record("b", now_ms - 30 * MINUTE_MS))
    s3 = reconcile._get_runtime().s3
    real_put = s3.put_object
    failure = ClientError({"Error": {"Code": "InternalError", "Message": "x"},
                           "ResponseMetadata": {"HTTPStatusCode": 500}}, "PutObject")

    def put(**kwargs):
        if kwargs["Key"].endswith("/a.json"):
            raise failure
        return real_put(**kwargs)

    with mock.patch.object(s3, "put_object", side_effect=put):
        first = reconcile.lambda_handler({}, FakeContext("payment-reconcile", remaining_ms=170_000))
    assert first["receiptRepairFailed"] == 1 and first["receiptsRepaired"] == 1
    assert first["checkedUntilMs"] == now_ms - 40 * MINUTE_MS - 1  # just before "a"
    assert emitted_metrics(capsys)["ReconcileLagSeconds"] == pytest.approx(first["lagSeconds"])
    assert first["lagSeconds"] >= 25 * 60
    second = reconcile.lambda_handler({}, FakeContext("payment-reconcile", remaining_ms=170_000))
    assert second["recordsChecked"] == 2 and second["receiptsRepaired"] == 1 and second["lagSeconds"] < 60
    assert len(bucket_keys(PRIMARY)) == 2


def test_the_lag_metric_is_the_contract_name_and_manual_runs_leave_the_watermark(aws, now_ms, capsys):
    from contract import RECONCILE_CHECKPOINT_KEY_PREFIX, RECONCILE_LAG_METRIC

    put_records(PRIMARY, record("x", now_ms - 30 * MINUTE_MS))
    reconcile.lambda_handler({"lookbackMinutes": 60}, FakeContext("payment-reconcile", remaining_ms=170_000))
    assert RECONCILE_LAG_METRIC not in emitted_metrics(capsys)  # a manual window says nothing about the schedule
    ddb = reconcile._get_runtime().dynamodb
    key = f"{RECONCILE_CHECKPOINT_KEY_PREFIX}{PRIMARY}"
    assert reconcile.load_checkpoint(ddb, TABLE, key) is None
    envelope = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    report = reconcile.lambda_handler(envelope, FakeContext("payment-reconcile", remaining_ms=170_000))
    assert emitted_metrics(capsys)[RECONCILE_LAG_METRIC] == 0
    assert reconcile.load_checkpoint(ddb, TABLE, key) == report["checkedUntilMs"]
    assert not reconcile.store_checkpoint(ddb, TABLE, key, report["checkedUntilMs"] - 1)  # never back


class _SlowAws:
    """DynamoDB and S3 stand-ins with a fixed network latency per call (thread-safe)."""

    def __init__(self, items: list[dict], latency_s: float):
        from boto3.dynamodb.types import TypeSerializer

        ser = TypeSerializer()
        self.items = [{k: ser.serialize(v) for k, v in i.items()} for i in items]
        self.latency_s = latency_s
        self.heads: list[str] = []

    def query(self, **kwargs):
        time.sleep(self.latency_s)
        if "IndexName" in kwargs:
            return {"Items": self.items}
        tid = kwargs["ExpressionAttributeValues"][":id"]["S"]
        return {"Items": [i for i in self.items if i["transactionId"]["S"] == tid]}

    def head_object(self, **kwargs):
        time.sleep(self.latency_s)
        self.heads.append(kwargs["Key"])
        return {}


def test_workers_check_records_in_parallel_at_a_multiple_of_the_sequential_rate(now_ms):
    """At ~10 ms per call a single thread checks ~50 records/s: the old job's ceiling. The
    workers overlap the calls; 16 of them must be several times faster."""
    items = [record(f"p{i}", now_ms - 30 * MINUTE_MS + i) for i in range(160)]
    fake = _SlowAws(items, latency_s=0.01)
    common = {"table": TABLE, "bucket": "b", "now_ms": now_ms, "lookback_ms": 60 * MINUTE_MS,
              "grace_ms": 15 * MINUTE_MS}
    started = time.perf_counter()
    report = audit.reconcile(fake, fake, workers=16, **common)
    elapsed = time.perf_counter() - started
    sequential = 160 * 2 * 0.01
    assert report.records_checked == 160 and report.lag_ms == 0
    assert elapsed < sequential / 4, f"{elapsed:.2f} s for 160 records (sequential: {sequential:.1f} s)"


def test_segments_split_the_records_between_them_each_checked_exactly_once(now_ms):
    items = [record(f"s{i}", now_ms - 30 * MINUTE_MS + i) for i in range(60)]
    fake = _SlowAws(items, latency_s=0)
    common = {"table": TABLE, "bucket": "b", "now_ms": now_ms, "lookback_ms": 60 * MINUTE_MS,
              "grace_ms": 15 * MINUTE_MS, "workers": 4}
    seen: list[str] = []
    for index in range(3):
        fake.heads = []
        report = audit.reconcile(fake, fake, segment=(index, 3), **common)
        assert report.records_checked == len(fake.heads) > 0 and report.lag_ms == 0
        seen += fake.heads
    assert sorted(seen) == sorted(core.record_receipt_key(i) for i in items)


def test_an_empty_window_moves_the_watermark_to_its_end(aws, now_ms):
    import boto3

    report = audit.reconcile(boto3.client("dynamodb", region_name=PRIMARY), boto3.client("s3", region_name=PRIMARY),
                             table=TABLE, bucket=bucket_for(PRIMARY), now_ms=now_ms,
                             lookback_ms=180 * MINUTE_MS, grace_ms=15 * MINUTE_MS)
    assert report.records_checked == 0 and report.checked_until_ms == report.window_end_ms
    assert report.lag_ms == 0
