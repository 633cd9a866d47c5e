"""Issue 20: a second acceptance of a payment is marked as it lands in a replica
(``dupcheck.lambda_handler`` on the replica's DynamoDB stream, TRANSACTIONS_CONSISTENCY=EVENTUAL).

Each test enables the stream on moto's table of a region and hands the handler what a Lambda
event source mapping would: the stream's new records, in the mapping's event shape, through the
mapping's filter as modules/jobs.py declares it. moto does not replicate: a record "replicated
in" is put into the region's table by the test, which is what replication does to a replica (an
INSERT on its stream). Read straight from moto's streams backend: this moto/botocore pair routes
the DynamoDB Streams API (signing name ``dynamodb``) to the DynamoDB backend.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

import dupcheck
import pytest
from botocore.exceptions import ClientError
from lambda_support import DR, PRIMARY, TABLE, FakeContext, aws_client, use_region
from ops import duplicates
from test_duplicates import accepted
from test_reconcile import put_records

import contract
from modules.jobs import DUPCHECK_FILTER
from payments import core

MINUTE_MS = 60_000
ACCOUNT = "123456789012"  # moto's default account


def matches(pattern: Any, value: Any) -> bool:
    """Lambda event filtering for the constructs DUPCHECK_FILTER uses: nested objects, and
    arrays of exact values (a missing field never matches)."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and matches(p, value[k]) for k, p in pattern.items())
    assert isinstance(pattern, list) and all(isinstance(v, str) for v in pattern), pattern
    return value in pattern


class Stream:
    """One region's replica stream, read like an event source mapping (TRIM_HORIZON, filtered)."""

    def __init__(self, region: str):
        from moto.dynamodbstreams.models import dynamodbstreams_backends

        ddb = aws_client("dynamodb", region)
        ddb.update_table(TableName=TABLE, StreamSpecification={
            "StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})  # modules/tables.py's
        self.region = region
        self.arn = ddb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
        self.backend = dynamodbstreams_backends[ACCOUNT][region]
        shard = self.backend.describe_stream(self.arn)["Shards"][0]["ShardId"]
        self.iterator = self.backend.get_shard_iterator(self.arn, shard, "TRIM_HORIZON", None).arn
        self.seen: list[dict[str, Any]] = []  # every record, filtered out or not

    def batch(self) -> dict[str, Any]:
        page = self.backend.get_records(self.iterator, 1000)
        self.iterator = page["NextShardIterator"]
        records = []
        for raw in page["Records"]:
            record = {**raw, "awsRegion": self.region, "eventSourceARN": self.arn,
                      "dynamodb": {**raw["dynamodb"]}}
            created = record["dynamodb"]["ApproximateCreationDateTime"]
            if isinstance(created, datetime):  # the event carries epoch seconds
                record["dynamodb"]["ApproximateCreationDateTime"] = created.timestamp()
            self.seen.append(record)
            if matches(DUPCHECK_FILTER, record):
                records.append(record)
        return {"Records": records}


def deliver(stream: Stream) -> dict[str, Any]:
    use_region(stream.region)
    return dupcheck.lambda_handler(stream.batch(), FakeContext("payment-dupcheck", remaining_ms=200_000))


def emitted_metrics(capsys, region: str = PRIMARY) -> dict[str, float]:
    """The EMF metrics the handler printed: its service and region as dimensions."""
    values: dict[str, float] = {}
    for line in capsys.readouterr().out.splitlines():
        if line.startswith('{"_aws"'):
            blob = json.loads(line)
            for directive in blob["_aws"]["CloudWatchMetrics"]:
                assert ["region", "service"] in [sorted(d) for d in directive["Dimensions"]]
                for metric in directive["Metrics"]:
                    value = blob[metric["Name"]]
                    values[metric["Name"]] = sum(value) if isinstance(value, list) else value
            assert (blob["service"], blob["region"]) == (contract.DUPCHECK_SERVICE, region)
    return values


def status(region: str, tid: str, ts_ms: int) -> str:
    item = aws_client("dynamodb", region).get_item(
        TableName=TABLE, Key={"transactionId": {"S": tid}, "timestamp": {"N": str(ts_ms)}})["Item"]
    return item["status"]["S"]


def marked_at(region: str, tid: str, ts_ms: int) -> int:
    item = aws_client("dynamodb", region).get_item(
        TableName=TABLE, Key={"transactionId": {"S": tid}, "timestamp": {"N": str(ts_ms)}})["Item"]
    return int(item["duplicateMarkedAt"]["N"])


@pytest.fixture
def now_ms() -> int:
    return int(time.time() * 1000)


def test_the_filter_passes_new_payment_records_only(aws, now_ms):
    """What the mapping lets through, on the items the platform really writes to the table."""
    stream = Stream(DR)
    payment = accepted("t-1", now_ms, DR)
    put_records(DR, payment)
    request = core.PaymentRequest("t-1", "cust-1", Decimal("10.00"), "USD", client_id="acme")
    claim = core.build_claim(request, now_ms=now_ms, region=DR, region_role="dr", api_request_id="r-1")
    put_records(DR, claim, {"transactionId": "__heartbeat__#us-east-2", "timestamp": 0, "writtenAt": now_ms},
                {"transactionId": f"{contract.RECONCILE_CHECKPOINT_KEY_PREFIX}us-east-2", "timestamp": 0,
                 "checkedUntil": now_ms})
    aws_client("dynamodb", DR).update_item(  # a marking (MODIFY), as ops.duplicates writes it
        TableName=TABLE, Key={"transactionId": {"S": "t-1"}, "timestamp": {"N": str(now_ms)}},
        UpdateExpression="SET #s = :d", ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":d": {"S": duplicates.STATUS_DUPLICATE}})
    passed = stream.batch()["Records"]
    assert len(stream.seen) == 5
    assert [(r["eventName"], r["dynamodb"]["Keys"]["transactionId"]["S"]) for r in passed] == [("INSERT", "t-1")]
    assert [dupcheck.accepted_transaction_id(r) for r in stream.seen].count("t-1") == 1


def test_a_duplicate_is_marked_when_the_second_acceptance_lands_within_the_documented_window(
        aws, now_ms, capsys):
    """Accepted in us-east-1 at t, then in us-east-2 5 ms later (before replication); replication
    brings each into the other replica. Each region's check marks the later one, well inside
    contract.DUPLICATE_DETECTION_WINDOW_S of it (the mapping's delays: tests/test_dupcheck_stream.py)."""
    primary, dr = Stream(PRIMARY), Stream(DR)
    first, later = accepted("split", now_ms, PRIMARY), accepted("split", now_ms + 5, DR)
    put_records(PRIMARY, first)
    put_records(DR, later)
    assert deliver(primary) == {"batchItemFailures": []}  # alone so far
    assert deliver(dr) == {"batchItemFailures": []}
    assert status(PRIMARY, "split", now_ms) == status(DR, "split", now_ms + 5) == "VALIDATED"
    capsys.readouterr()
    put_records(PRIMARY, later)  # replicated in
    assert deliver(primary) == {"batchItemFailures": []}
    assert status(PRIMARY, "split", now_ms) == "VALIDATED"  # the first acceptance is the payment
    assert status(PRIMARY, "split", now_ms + 5) == duplicates.STATUS_DUPLICATE
    assert marked_at(PRIMARY, "split", now_ms + 5) - (now_ms + 5) <= contract.DUPLICATE_DETECTION_WINDOW_S * 1000
    metrics = emitted_metrics(capsys)
    assert (metrics["RecordsChecked"], metrics["DuplicatesMarked"], metrics["DuplicateCheckFailed"]) == (1, 1, 0)
    put_records(DR, first)  # and the other way: the DR replica marks the same record
    deliver(dr)
    assert (status(DR, "split", now_ms), status(DR, "split", now_ms + 5)) == ("VALIDATED", "DUPLICATE")


def test_a_record_replicated_in_hours_late_is_checked_when_it_lands(aws, now_ms):
    """The gap the scheduled job's watermark leaves: accepted in us-east-1 during a partition
    (3 hours ago), replicated into us-east-2 after reconcile's watermark had passed its timestamp.
    On arrival it is an INSERT on us-east-2's stream: checked then, by arrival, not by timestamp."""
    import reconcile

    stream = Stream(DR)
    cut_off = accepted("partition", now_ms - 180 * MINUTE_MS, PRIMARY)
    local = accepted("partition", now_ms - 170 * MINUTE_MS, DR)
    put_records(DR, local)
    deliver(stream)
    use_region(DR)
    reconcile.lambda_handler({}, FakeContext("payment-reconcile", remaining_ms=170_000))  # watermark
    reconcile.lambda_handler({}, FakeContext("payment-reconcile", remaining_ms=170_000))  # moves on
    assert status(DR, "partition", now_ms - 170 * MINUTE_MS) == "VALIDATED"
    put_records(DR, cut_off)  # replication resumes: the primary's acceptance lands, 3 h old
    # The scheduled pass no longer looks there: its window starts after the watermark.
    assert reconcile.lambda_handler({}, FakeContext("payment-reconcile", remaining_ms=170_000))[
        "duplicatesMarked"] == []
    assert deliver(stream) == {"batchItemFailures": []}
    assert status(DR, "partition", now_ms - 180 * MINUTE_MS) == "VALIDATED"  # the first: the payment
    assert status(DR, "partition", now_ms - 170 * MINUTE_MS) == duplicates.STATUS_DUPLICATE
    rows = duplicates.list_marked(aws_client("dynamodb", DR), TABLE)
    assert [(r["transactionId"], r["duplicateOf"], r["markedBy"]) for r in rows] == [
        ("partition", now_ms - 180 * MINUTE_MS, "dupcheck:us-east-2")]


def test_two_clients_with_one_transaction_id_are_not_duplicates(aws, now_ms):
    stream = Stream(PRIMARY)
    put_records(PRIMARY, accepted("shared", now_ms, PRIMARY, client="acme"),
                accepted("shared", now_ms + 1, DR, client="globex"))
    assert deliver(stream) == {"batchItemFailures": []}
    assert status(PRIMARY, "shared", now_ms) == status(PRIMARY, "shared", now_ms + 1) == "VALIDATED"


def test_a_failed_check_is_retried_from_that_record_never_skipped(aws, now_ms, capsys):
    """ReportBatchItemFailures: Lambda resumes the shard from the earliest failed record."""
    stream = Stream(PRIMARY)
    put_records(PRIMARY, accepted("ok", now_ms, PRIMARY), accepted("flaky", now_ms + 1, PRIMARY),
                accepted("flaky", now_ms + 2, DR), accepted("after", now_ms + 3, PRIMARY))
    batch = stream.batch()
    use_region(PRIMARY)
    real_mark = duplicates.mark

    def failing(dynamodb, table, ids, **kwargs):
        if ids == ["flaky"]:
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "x"}},
                              "Query")
        return real_mark(dynamodb, table, ids, **kwargs)

    capsys.readouterr()
    from unittest import mock
    with mock.patch.object(duplicates, "mark", failing):
        result = dupcheck.lambda_handler(batch, FakeContext("payment-dupcheck"))
    flaky = next(r for r in batch["Records"] if r["dynamodb"]["Keys"]["transactionId"]["S"] == "flaky")
    assert result == {"batchItemFailures": [{"itemIdentifier": flaky["dynamodb"]["SequenceNumber"]}]}
    assert emitted_metrics(capsys)["DuplicateCheckFailed"] == 1
    assert status(PRIMARY, "flaky", now_ms + 2) == "VALIDATED"  # not marked yet
    # Lambda's retry: the batch from the failed record on.
    retry = {"Records": batch["Records"][batch["Records"].index(flaky):]}
    assert dupcheck.lambda_handler(retry, FakeContext("payment-dupcheck")) == {"batchItemFailures": []}
    assert status(PRIMARY, "flaky", now_ms + 2) == duplicates.STATUS_DUPLICATE


def test_a_resolved_duplicate_is_not_marked_again_and_the_operator_command_still_resolves(aws, now_ms):
    stream = Stream(PRIMARY)
    put_records(PRIMARY, accepted("r", now_ms, PRIMARY), accepted("r", now_ms + 7, DR))
    deliver(stream)
    ddb = aws_client("dynamodb", PRIMARY)
    change = duplicates.resolve(ddb, TABLE, transaction_id="r", timestamp=now_ms + 7, action="keep",
                                operator="oncall", reason="two payments meant", now_ms=now_ms + 60_000,
                                apply=True)
    assert change["applied"] and status(PRIMARY, "r", now_ms + 7) == "VALIDATED"
    assert deliver(stream) == {"batchItemFailures": []}  # the resolution is a MODIFY: filtered out
    put_records(PRIMARY, accepted("other", now_ms + 9, PRIMARY))  # any later batch
    deliver(stream)
    assert status(PRIMARY, "r", now_ms + 7) == "VALIDATED"  # kept stays kept


def test_anything_but_a_stream_batch_is_refused(aws):
    use_region(PRIMARY)
    with pytest.raises(ValueError, match="DynamoDB stream batch"):
        dupcheck.lambda_handler({"lookbackMinutes": 5}, FakeContext("payment-dupcheck"))
