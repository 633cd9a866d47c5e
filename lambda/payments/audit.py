"""Reconciliation of one region: records without receipts, and duplicate acceptances.

Used by the scheduled ``reconcile.lambda_handler`` (one per region) and usable from a
shell with plain boto3 clients (no Powertools needed).

Bounded by design:

* Records are read from ``status-index`` (hash ``status``, range ``timestamp``) with a
  key condition ``status = VALIDATED AND timestamp BETWEEN start AND end``: the cost is
  proportional to the payments in the window, never to the table (no Scan).
* Each record in the window costs one S3 ``HeadObject`` (is the receipt in this region's
  bucket?) and one ``Query ... Select=COUNT`` on its ``transactionId`` (was it accepted
  twice?).  The duplicate check reads the base table, so a twin *outside* the window
  (for example the primary's item replicated hours late after an outage) is still found.
* ``stop()`` is checked before every record; the run reports ``truncated`` instead of
  running into the Lambda timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from contract import aws_error_code
from payments import core

STATUS_INDEX = "status-index"


@dataclass
class Duplicate:
    transaction_id: str
    regions: list[str]  # acceptedRegion of each item, oldest first
    same_request: bool  # all items carry the same requestHash (a retry accepted twice) or not (client bug)


@dataclass
class Report:
    window_start_ms: int
    window_end_ms: int
    records_checked: int = 0
    missing_receipts: int = 0
    receipts_repaired: int = 0
    receipt_repair_failed: int = 0
    duplicates: list[Duplicate] = field(default_factory=list)
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "windowStartMs": self.window_start_ms,
            "windowEndMs": self.window_end_ms,
            "recordsChecked": self.records_checked,
            "missingReceipts": self.missing_receipts,
            "receiptsRepaired": self.receipts_repaired,
            "receiptRepairFailed": self.receipt_repair_failed,
            "duplicateTransactions": [d.transaction_id for d in self.duplicates],
            "truncated": self.truncated,
        }


def _from_attr(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    des = TypeDeserializer()
    return {k: des.deserialize(v) for k, v in item.items()}


def _code(exc: BaseException) -> str:
    return aws_error_code(exc, missing="")


def records_in_window(dynamodb: Any, table: str, index: str, start_ms: int, end_ms: int) -> Iterator[dict[str, Any]]:
    """Accepted records with ``start_ms <= timestamp <= end_ms``, oldest first (one Query per page)."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": index,
        "KeyConditionExpression": "#s = :s AND #t BETWEEN :start AND :end",
        "ExpressionAttributeNames": {"#s": "status", "#t": "timestamp"},
        "ExpressionAttributeValues": {":s": {"S": core.STATUS_VALIDATED}, ":start": {"N": str(start_ms)},
                                      ":end": {"N": str(end_ms)}},
    }
    while True:
        page = dynamodb.query(**kwargs)
        for item in page.get("Items", []):
            yield _from_attr(item)
        if not page.get("LastEvaluatedKey"):
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def receipt_exists(s3: Any, bucket: str, transaction_id: str, client_id: str = "") -> bool:
    """HeadObject on the receipt.  Needs ``s3:ListBucket`` so that a missing key is a 404, not a 403."""
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=core.receipt_key(transaction_id, client_id))
    except ClientError as exc:
        if _code(exc) in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def write_receipt(s3: Any, bucket: str, record: dict[str, Any]) -> bool:
    """Put the receipt derived from ``record`` unless one exists (``If-None-Match: *``)."""
    from botocore.exceptions import ClientError

    try:
        s3.put_object(**core.receipt_put_params(bucket, record))
    except ClientError as exc:
        if _code(exc) == "PreconditionFailed":
            return False
        raise
    return True


def find_duplicates(dynamodb: Any, table: str, transaction_ids: list[str],
                    stop: Callable[[], bool] = lambda: False) -> list[Duplicate] | None:
    """The detection query: ids with more than one accepted item (``Query transactionId = :id``).

    Items of one id differ only by ``timestamp`` (the acceptance time), so two items mean two
    acceptances - in this region or replicated from the other one.  ``None`` if ``stop()`` cut it short.
    """
    found: list[Duplicate] = []
    for transaction_id in dict.fromkeys(transaction_ids):
        if stop():
            return None
        page = dynamodb.query(
            TableName=table,
            KeyConditionExpression="transactionId = :id",
            ExpressionAttributeValues={":id": {"S": transaction_id}},
            ProjectionExpression="acceptedRegion, requestHash, clientId",
            ScanIndexForward=True,
        )
        # Transaction ids are per client: two clients' records under one id are not duplicates.
        by_client: dict[str, list[dict[str, Any]]] = {}
        for item in page.get("Items", []):
            by_client.setdefault(item.get("clientId", {}).get("S", ""), []).append(item)
        for items in by_client.values():
            if len(items) > 1:
                found.append(Duplicate(
                    transaction_id=transaction_id,
                    regions=[i.get("acceptedRegion", {}).get("S", "?") for i in items],
                    same_request=len({i.get("requestHash", {}).get("S") for i in items}) == 1,
                ))
    return found


def reconcile(
    dynamodb: Any,
    s3: Any,
    *,
    table: str,
    bucket: str,
    now_ms: int,
    lookback_ms: int,
    grace_ms: int,
    index: str = STATUS_INDEX,
    repair: bool = True,
    stop: Callable[[], bool] = lambda: False,
    on_error: Callable[[str, BaseException], None] = lambda tid, exc: None,
) -> Report:
    """Check every record accepted in ``[now - lookback, now - grace]`` against this region's bucket.

    ``grace_ms`` keeps in-flight requests (and the peer bucket's replication, for records accepted
    in the other region) from being counted as missing.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    report = Report(window_start_ms=now_ms - lookback_ms, window_end_ms=now_ms - grace_ms)
    ids: list[str] = []
    for record in records_in_window(dynamodb, table, index, report.window_start_ms, report.window_end_ms):
        if stop():
            report.truncated = True
            break
        transaction_id = str(record["transactionId"])
        ids.append(transaction_id)
        report.records_checked += 1
        try:
            if receipt_exists(s3, bucket, transaction_id, str(record.get("clientId") or "")):
                continue
            report.missing_receipts += 1
            if repair:
                write_receipt(s3, bucket, record)
                report.receipts_repaired += 1
        except (ClientError, BotoCoreError) as exc:
            report.receipt_repair_failed += 1
            on_error(transaction_id, exc)
    duplicates = None if report.truncated else find_duplicates(dynamodb, table, ids, stop)
    if duplicates is None:
        report.truncated = True
    else:
        report.duplicates = duplicates
    return report
