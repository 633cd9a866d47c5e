"""`drctl duplicates list|resolve` against moto: records marked by the reconciliation job's own
code (lambda/ops/duplicates.py), resolved by an operator, dry run by default, audited on the
record and in the log. Simulated: global-table replication (one region's table here).
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import boto3
import pytest

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lambda"
if str(LAMBDA_DIR) not in sys.path:
    sys.path.insert(0, str(LAMBDA_DIR))

from ops import duplicates  # noqa: E402

from drctl import exitcodes  # noqa: E402
from drctl.cli import main  # noqa: E402
from drctl.gateways import AwsGateways  # noqa: E402

P, D, ENV = "us-east-1", "us-east-2", "dev"
TABLE = f"payment-transactions-{ENV}"
FIRST, LATER = 1_790_000_000_000, 1_790_000_000_420


@pytest.fixture
def session(monkeypatch):
    from moto import mock_aws

    for var, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(var, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        session = boto3.Session(region_name=P)
        ddb = session.client("dynamodb", P)
        ddb.create_table(  # modules/tables.py: key and status-index as deployed
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in
                                  (("transactionId", "S"), ("timestamp", "N"), ("status", "S"))],
            KeySchema=[{"AttributeName": "transactionId", "KeyType": "HASH"},
                       {"AttributeName": "timestamp", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{
                "IndexName": "status-index", "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"},
                              {"AttributeName": "timestamp", "KeyType": "RANGE"}]}])
        for ts, region in ((FIRST, P), (LATER, D)):
            ddb.put_item(TableName=TABLE, Item={
                "transactionId": {"S": "t-1"}, "timestamp": {"N": str(ts)},
                "status": {"S": "VALIDATED"}, "clientId": {"S": "acme"},
                "acceptedRegion": {"S": region}, "requestHash": {"S": "h"}})
        duplicates.mark(ddb, TABLE, ["t-1"], now_ms=LATER + 900_000, marked_by=f"reconcile:{P}")
        yield session


def drctl(session, *argv: str) -> tuple[int, str, list[dict]]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["duplicates", *argv, "--primary-region", P, "--dr-region", D,
                 "--environment-suffix", ENV, "--json"],
                gateways=lambda args: AwsGateways(session), stdout=out, stderr=err)
    return code, out.getvalue(), [json.loads(line) for line in err.getvalue().splitlines()]


def status(session, ts: int) -> dict:
    item = session.client("dynamodb", P).get_item(
        TableName=TABLE, Key={"transactionId": {"S": "t-1"}, "timestamp": {"N": str(ts)}})["Item"]
    return {k: next(iter(v.values())) for k, v in item.items()}


RESOLVE = ("resolve", "--transaction-id", "t-1", "--timestamp", str(LATER), "--action", "void",
           "--reason", "INC-7: accepted in both regions", "--operator", "alice")


def test_list_shows_the_marked_record_and_its_payment(session):
    code, out, _ = drctl(session, "list")
    assert code == exitcodes.OK
    [row] = json.loads(out)["marked"]
    assert (row["transactionId"], row["clientId"], row["timestamp"], row["duplicateOf"],
            row["region"], row["markedBy"]) == ("t-1", "acme", LATER, FIRST, D, f"reconcile:{P}")


def test_resolve_is_a_dry_run_unless_applied(session):
    code, out, log = drctl(session, *RESOLVE)
    assert code == exitcodes.OK
    assert json.loads(out)["change"]["applied"] is False
    assert status(session, LATER)["status"] == "DUPLICATE"
    assert [e["event"] for e in log] == ["duplicate_resolve_dry_run"]


def test_resolve_void_writes_the_decision_on_the_record_and_logs_it(session):
    code, out, log = drctl(session, *RESOLVE, "--apply")
    assert code == exitcodes.OK and json.loads(out)["change"]["applied"] is True
    record = status(session, LATER)
    assert (record["status"], record["resolution"], record["resolvedBy"], record["resolutionReason"]) \
        == ("VOIDED", "void", "alice", "INC-7: accepted in both regions")
    assert status(session, FIRST)["status"] == "VALIDATED"
    [event] = [e for e in log if e["event"] == "duplicate_resolved"]
    assert (event["resolvedBy"], event["to"], event["region"]) == ("alice", "VOIDED", P)
    assert json.loads(drctl(session, "list")[1])["marked"] == []
    # resolving again is refused: it is no longer a marked duplicate
    code, out, _ = drctl(session, *RESOLVE, "--apply")
    assert code == exitcodes.REFUSED and "VOIDED" in json.loads(out)["message"]


@pytest.mark.parametrize("argv, fragment", [
    (("resolve", "--transaction-id", "t-1", "--timestamp", str(LATER), "--action", "void",
      "--operator", "alice", "--apply"), "--reason"),
    (("resolve", "--transaction-id", "t-1", "--action", "void", "--reason", "x"), "--timestamp"),
])
def test_resolve_without_what_it_needs_is_a_usage_error_and_writes_nothing(session, argv, fragment):
    code, out, _ = drctl(session, *argv)
    assert code == exitcodes.USAGE and fragment in json.loads(out)["message"]
    assert status(session, LATER)["status"] == "DUPLICATE"


def test_the_runbook_documents_the_command():
    runbook = (Path(__file__).resolve().parents[2] / "docs" / "runbook.md").read_text()
    for fragment in ("drctl duplicates list", "drctl duplicates resolve", "--apply"):
        assert fragment in runbook
