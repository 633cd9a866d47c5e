"""Issue 20: a payment accepted twice (TRANSACTIONS_CONSISTENCY=EVENTUAL) is marked by the
reconciliation job and stays alarmed until resolved (lambda/ops/duplicates.py).

moto does not replicate: the DR acceptance sits in the primary's table, as global-table
replication would bring it in. Resolution by drctl is in tests/drctl/test_drctl_duplicates.py.
"""

from __future__ import annotations

import re
import time
from decimal import Decimal
from unittest import mock

import pytest
import reconcile
from lambda_support import DR, PRIMARY, TABLE, FakeContext, aws_client
from ops import duplicates
from test_reconcile import emitted_metrics, put_records

from payments import core

MINUTE_MS = 60_000


def accepted(tid: str, ts_ms: int, region: str, client: str = "acme", amount: str = "10.00") -> dict:
    request = core.PaymentRequest(tid, "cust-1", Decimal(amount), "USD", client_id=client)
    return core.build_record(request, now_ms=ts_ms, region=region,
                             region_role="primary" if region == PRIMARY else "dr")


def item(tid: str, ts_ms: int) -> dict:
    found = aws_client("dynamodb", PRIMARY).get_item(
        TableName=TABLE, Key={"transactionId": {"S": tid}, "timestamp": {"N": str(ts_ms)}})
    return {k: next(iter(v.values())) for k, v in found["Item"].items()}


def validated_in_index() -> list[tuple[str, str]]:
    page = aws_client("dynamodb", PRIMARY).query(
        TableName=TABLE, IndexName="status-index", KeyConditionExpression="#s = :v",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":v": {"S": "VALIDATED"}})
    return sorted((i["transactionId"]["S"], i["timestamp"]["N"]) for i in page["Items"])


@pytest.fixture
def now_ms() -> int:
    return int(time.time() * 1000)


def run(dry_run: bool = False) -> dict:
    return reconcile.lambda_handler({"dryRun": dry_run} if dry_run else {},
                                    FakeContext("payment-reconcile", remaining_ms=170_000))


def test_the_later_acceptance_is_marked_and_stays_alarmed_until_resolved(aws, now_ms, capsys):
    first = accepted("split-1", now_ms - 60 * MINUTE_MS, PRIMARY)
    later = accepted("split-1", now_ms - 59 * MINUTE_MS, DR)
    put_records(PRIMARY, first, later, accepted("alone", now_ms - 30 * MINUTE_MS, PRIMARY))

    report = run()
    assert report["duplicateTransactions"] == ["split-1"]
    assert report["duplicatesMarked"] == ["split-1"] and report["duplicatesUnresolved"] == ["split-1"]
    assert item("split-1", first["timestamp"])["status"] == "VALIDATED"
    marked = item("split-1", later["timestamp"])
    assert (marked["status"], int(marked["duplicateOf"]), marked["duplicateMarkedBy"]) == (
        "DUPLICATE", first["timestamp"], f"reconcile:{PRIMARY}")
    # what settles VALIDATED records (status-index) sees one payment
    assert [tid for tid, _ in validated_in_index()].count("split-1") == 1
    metrics = emitted_metrics(capsys)
    assert (metrics["DuplicateTransactions"], metrics["DuplicatesMarked"]) == (1, 1)

    # the next run marks nothing new, and the alarm's metric stays up: not resolved yet
    again = run()
    assert again["duplicatesMarked"] == [] and again["duplicatesUnresolved"] == ["split-1"]
    metrics = emitted_metrics(capsys)
    assert (metrics["DuplicateTransactions"], metrics["DuplicatesMarked"]) == (1, 0)

    # resolved (void): the metric drops to zero although the first stays in the window
    duplicates.resolve(aws_client("dynamodb", PRIMARY), TABLE, transaction_id="split-1",
                       timestamp=later["timestamp"], action="void", operator="alice",
                       reason="INC-42: same payment accepted in both regions", now_ms=now_ms,
                       apply=True)
    after = run()
    assert after["duplicatesUnresolved"] == [] and emitted_metrics(capsys)["DuplicateTransactions"] == 0
    assert item("split-1", later["timestamp"])["status"] == "VOIDED"


def test_an_unresolved_duplicate_stays_counted_after_its_payment_leaves_the_window(aws, now_ms, capsys):
    first = accepted("old-split", now_ms - 60 * MINUTE_MS, PRIMARY)
    later = accepted("old-split", now_ms - 59 * MINUTE_MS, DR)
    put_records(PRIMARY, first, later)
    run()
    capsys.readouterr()
    with mock.patch.dict("os.environ", {"RECONCILE_LOOKBACK_MINUTES": "30"}):
        reconcile.reset_runtime()
        report = run()  # neither record is in a 30-minute window any more
    assert report["recordsChecked"] == 0 and report["duplicatesUnresolved"] == ["old-split"]
    assert emitted_metrics(capsys)["DuplicateTransactions"] == 1


def test_a_dry_run_reports_what_it_would_mark_and_writes_nothing(aws, now_ms):
    first = accepted("split-2", now_ms - 40 * MINUTE_MS, PRIMARY)
    later = accepted("split-2", now_ms - 39 * MINUTE_MS, DR)
    put_records(PRIMARY, first, later)
    report = run(dry_run=True)
    assert report["duplicatesMarked"] == ["split-2"]
    assert item("split-2", later["timestamp"])["status"] == "VALIDATED"


def test_both_regions_jobs_mark_the_same_record_once(aws, now_ms):
    first = accepted("split-3", now_ms - 40 * MINUTE_MS, DR)  # DR accepted first this time
    later = accepted("split-3", now_ms - 40 * MINUTE_MS + 350, PRIMARY)
    put_records(PRIMARY, first, later)
    ddb = aws_client("dynamodb", PRIMARY)
    one = duplicates.mark(ddb, TABLE, ["split-3"], now_ms=now_ms, marked_by=f"reconcile:{DR}")
    two = duplicates.mark(ddb, TABLE, ["split-3"], now_ms=now_ms + 1, marked_by=f"reconcile:{PRIMARY}")
    assert [(m.timestamp, m.region, m.duplicate_of) for m in one.marked] == [
        (later["timestamp"], PRIMARY, first["timestamp"])]
    assert two.marked == [] and [m.timestamp for m in two.pending] == [later["timestamp"]]
    assert item("split-3", later["timestamp"])["duplicateMarkedBy"] == f"reconcile:{DR}"


def test_two_clients_with_one_transaction_id_are_not_duplicates(aws, now_ms):
    put_records(PRIMARY, accepted("shared", now_ms - 40 * MINUTE_MS, PRIMARY, client="acme"),
                accepted("shared", now_ms - 39 * MINUTE_MS, DR, client="globex"))
    outcome = duplicates.mark(aws_client("dynamodb", PRIMARY), TABLE, ["shared"], now_ms=now_ms,
                              marked_by="t")
    assert outcome.marked == [] and outcome.pending == []


def test_a_kept_record_is_never_marked_again(aws, now_ms):
    first = accepted("two-meant", now_ms - 40 * MINUTE_MS, PRIMARY, amount="10.00")
    later = accepted("two-meant", now_ms - 39 * MINUTE_MS, DR, amount="12.00")
    put_records(PRIMARY, first, later)
    ddb = aws_client("dynamodb", PRIMARY)
    [found] = duplicates.mark(ddb, TABLE, ["two-meant"], now_ms=now_ms, marked_by="t").marked
    assert found.same_request is False  # different bodies: a client bug, or two payments meant
    duplicates.resolve(ddb, TABLE, transaction_id="two-meant", timestamp=later["timestamp"],
                       action="keep", operator="bob", reason="client confirmed two orders",
                       now_ms=now_ms, apply=True)
    kept = item("two-meant", later["timestamp"])
    assert (kept["status"], kept["resolution"], kept["resolvedBy"]) == ("VALIDATED", "keep", "bob")
    again = duplicates.mark(ddb, TABLE, ["two-meant"], now_ms=now_ms, marked_by="t")
    assert again.marked == [] and again.unresolved_ids == []


def test_resolve_refuses_a_record_that_is_not_a_marked_duplicate(aws, now_ms):
    record = accepted("fine", now_ms - 40 * MINUTE_MS, PRIMARY)
    put_records(PRIMARY, record)
    ddb = aws_client("dynamodb", PRIMARY)
    for timestamp in (record["timestamp"], record["timestamp"] + 1):
        with pytest.raises(duplicates.NotMarked):
            duplicates.resolve(ddb, TABLE, transaction_id="fine", timestamp=timestamp, action="void",
                               operator="alice", reason="x", now_ms=now_ms, apply=True)
    with pytest.raises(ValueError, match="reason"):
        duplicates.resolve(ddb, TABLE, transaction_id="fine", timestamp=record["timestamp"],
                           action="void", operator="alice", reason=" ", now_ms=now_ms, apply=True)
    assert item("fine", record["timestamp"])["status"] == "VALIDATED"


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def update_item(self, **kwargs) -> dict:
        self.calls.append(kwargs)
        return {}


def test_a_marking_names_only_the_attributes_the_reconcile_role_may_update(stacks):
    """IAM's dynamodb:Attributes condition (ForAllValues) refuses an UpdateItem that names any
    other attribute: every name in the request must be in the granted list."""
    recorder = Recorder()
    found = duplicates.Marking("t", "acme", 2, DR, 1, True)
    assert duplicates._write_mark(recorder, TABLE, found, 3, "reconcile:x")
    [call] = recorder.calls
    text = re.sub(r":\w+", " ", " ".join([call["UpdateExpression"], call["ConditionExpression"]]))
    words = set(re.findall(r"#?\w+", text)) - {"SET", "AND", "attribute_not_exists"}
    names = set(call["Key"]) | {call["ExpressionAttributeNames"].get(n, n) for n in words}
    assert "status" in names and "duplicateReview" in names
    assert names <= set(duplicates.MARK_ATTRIBUTES)
    policies = [p for stack in stacks.values()
                for p in stack.get("resource", {}).get("aws_iam_role_policy", {}).values()
                if "reconcile" in p["role"]]
    assert policies
    for policy in policies:
        granted = [s for s in _statements(policy) if s.get("Sid") == "MarkDuplicates"]
        assert [s["Action"] for s in granted] == [["dynamodb:UpdateItem"]]
        condition = granted[0]["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]
        assert tuple(condition) == duplicates.MARK_ATTRIBUTES


def _statements(policy: dict) -> list[dict]:
    import json

    document = policy["policy"]
    return json.loads(document)["Statement"] if isinstance(document, str) else document["Statement"]
