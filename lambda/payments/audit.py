"""Reconciliation of one region: records without receipts, and duplicate acceptances.

Used by the scheduled ``reconcile.lambda_handler`` (one per region) and usable from a
shell with plain boto3 clients (no Powertools needed).

Bounded by design, and sized to keep up with the declared peak (issue 22):

* Records are read from ``status-index`` (hash ``status``, range ``timestamp``) with a
  key condition ``status = VALIDATED AND timestamp BETWEEN start AND end``: the cost is
  proportional to the payments in the window, never to the table (no Scan).
* Each record costs one S3 ``HeadObject`` (is the receipt in this region's bucket?) and
  one ``Query transactionId = :id`` (was it accepted twice?).  Both checks of a record are
  done together, by ``workers`` threads: the calls are network-bound, so the rate a run can
  check is ``workers`` times the sequential one, up to the CPU the function's memory buys.
  The duplicate check reads the base table, so a twin *outside* the window (for example
  the primary's item replicated hours late after an outage) is still found.
* ``segment=(i, n)`` checks only the records whose id hashes to ``i`` of ``n`` (CRC-32): ``n``
  invocations, one per segment, share a window that one function's CPU cannot keep up with.
* ``checked_until_ms`` is a watermark: every record with a timestamp up to it has had both
  checks.  The scheduled job stores it and starts the next run just after it, so each
  record is checked once (not once per run of a long lookback) and a run that stops early
  (``stop()``, or a failed check) leaves the rest to the next run instead of skipping it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from contract import STATUS_INDEX, aws_error_code
from payments import core


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
    duplicate_check_failed: int = 0
    duplicates: list[Duplicate] = field(default_factory=list)
    truncated: bool = False
    #: Every record with ``timestamp <= checked_until_ms`` has had both checks (the watermark).
    checked_until_ms: int = 0

    @property
    def lag_ms(self) -> int:
        """How far the watermark is behind the window's end: 0 when the run got through it."""
        return max(0, self.window_end_ms - self.checked_until_ms)

    def to_dict(self) -> dict[str, Any]:
        return {
            "windowStartMs": self.window_start_ms,
            "windowEndMs": self.window_end_ms,
            "recordsChecked": self.records_checked,
            "missingReceipts": self.missing_receipts,
            "receiptsRepaired": self.receipts_repaired,
            "receiptRepairFailed": self.receipt_repair_failed,
            "duplicateCheckFailed": self.duplicate_check_failed,
            "duplicateTransactions": [d.transaction_id for d in self.duplicates],
            "truncated": self.truncated,
            "checkedUntilMs": self.checked_until_ms,
            "lagSeconds": self.lag_ms / 1000,
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


def duplicate_of(dynamodb: Any, table: str, transaction_id: str) -> list[Duplicate]:
    """The detection query for one id: its accepted items, per client, when more than one.

    Items of one id differ only by ``timestamp`` (the acceptance time), so two items mean two
    acceptances - in this region or replicated from the other one.
    """
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "transactionId = :id",
        "ExpressionAttributeValues": {":id": {"S": transaction_id}},
        "ProjectionExpression": "acceptedRegion, requestHash, clientId",
        "ScanIndexForward": True,
    }
    items: list[dict[str, Any]] = []
    while True:
        page = dynamodb.query(**kwargs)
        items.extend(page.get("Items", []))
        if not page.get("LastEvaluatedKey"):
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    # Transaction ids are per client: two clients' records under one id are not duplicates.
    by_client: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_client.setdefault(item.get("clientId", {}).get("S", ""), []).append(item)
    return [Duplicate(transaction_id=transaction_id,
                      regions=[i.get("acceptedRegion", {}).get("S", "?") for i in group],
                      same_request=len({i.get("requestHash", {}).get("S") for i in group}) == 1)
            for group in by_client.values() if len(group) > 1]


def find_duplicates(dynamodb: Any, table: str, transaction_ids: list[str],
                    stop: Callable[[], bool] = lambda: False) -> list[Duplicate] | None:
    """``duplicate_of`` for each id, in order; ``None`` if ``stop()`` cut it short."""
    found: list[Duplicate] = []
    for transaction_id in dict.fromkeys(transaction_ids):
        if stop():
            return None
        found.extend(duplicate_of(dynamodb, table, transaction_id))
    return found


@dataclass
class _Checked:
    """One record's two checks (run on a worker thread)."""

    timestamp: int
    transaction_id: str
    missing: bool = False
    repaired: bool = False
    receipt_error: BaseException | None = None
    duplicate_error: BaseException | None = None
    duplicates: list[Duplicate] = field(default_factory=list)


def in_segment(transaction_id: str, segment: tuple[int, int]) -> bool:
    """Stable across runs, processes and regions (unlike ``hash()``)."""
    import zlib

    index, count = segment
    return count <= 1 or zlib.crc32(transaction_id.encode()) % count == index


def _check(dynamodb: Any, s3: Any, table: str, bucket: str, record: dict[str, Any], repair: bool) -> _Checked:
    from botocore.exceptions import BotoCoreError, ClientError

    result = _Checked(timestamp=int(record["timestamp"]), transaction_id=str(record["transactionId"]))
    try:
        if not receipt_exists(s3, bucket, result.transaction_id, str(record.get("clientId") or "")):
            result.missing = True
            if repair:
                write_receipt(s3, bucket, record)
                result.repaired = True
    except (ClientError, BotoCoreError) as exc:
        result.receipt_error = exc
    try:
        result.duplicates = duplicate_of(dynamodb, table, result.transaction_id)
    except (ClientError, BotoCoreError) as exc:
        result.duplicate_error = exc
    return result


#: Records handed to the workers at a time: ``stop()`` is asked between batches.
BATCH_PER_WORKER = 2


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
    since_ms: int | None = None,
    workers: int = 1,
    segment: tuple[int, int] = (0, 1),
) -> Report:
    """Check every record accepted in ``[start, now - grace]`` against this region's bucket and
    for a second acceptance; ``start`` is just after ``since_ms`` (the stored watermark) when
    given, else ``now - lookback``.

    ``grace_ms`` keeps in-flight requests, the index's propagation and replication (of the peer's
    records into this replica, of its receipts into this bucket) from counting as missing.
    The report's ``checked_until_ms`` only passes a record once both of its checks answered:
    a failed check holds it there, so the next run repeats that record instead of skipping it.
    """
    from concurrent.futures import ThreadPoolExecutor

    start_ms = since_ms + 1 if since_ms is not None else now_ms - lookback_ms
    report = Report(window_start_ms=start_ms, window_end_ms=now_ms - grace_ms,
                    checked_until_ms=start_ms - 1)
    if report.window_end_ms < start_ms:  # nothing new is old enough yet
        report.checked_until_ms = max(report.checked_until_ms, report.window_end_ms)
        return report
    held: int | None = None  # the oldest failed record's timestamp: the watermark stays below it
    records = (r for r in records_in_window(dynamodb, table, index, start_ms, report.window_end_ms)
               if in_segment(str(r["transactionId"]), segment))
    batch_size = max(1, workers) * BATCH_PER_WORKER
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="reconcile") as pool:
        pending = next(records, None)
        while pending is not None:
            if stop():
                report.truncated = True
                break
            batch = [pending]
            for record in records:
                if len(batch) == batch_size:
                    pending = record
                    break
                batch.append(record)
            else:
                pending = None
            for result in pool.map(lambda r: _check(dynamodb, s3, table, bucket, r, repair), batch):
                report.records_checked += 1
                report.missing_receipts += result.missing
                report.receipts_repaired += result.repaired
                # Both acceptances of one id are in the window: report the id once.
                report.duplicates.extend(d for d in result.duplicates if d not in report.duplicates)
                for error, counter in ((result.receipt_error, "receipt_repair_failed"),
                                       (result.duplicate_error, "duplicate_check_failed")):
                    if error is not None:
                        setattr(report, counter, getattr(report, counter) + 1)
                        on_error(result.transaction_id, error)
                        held = result.timestamp if held is None else min(held, result.timestamp)
            # Records come oldest first: everything before the next one is done (or held).
            report.checked_until_ms = (int(pending["timestamp"]) - 1 if pending is not None
                                       else report.window_end_ms)
    if pending is None:  # every record of the window (or none at all) checked
        report.checked_until_ms = report.window_end_ms
    if held is not None:
        report.checked_until_ms = min(report.checked_until_ms, held - 1)
    return report
