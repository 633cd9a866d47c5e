"""Scheduled reconciliation of one region: records without receipts, duplicate acceptances.

Handler string: ``reconcile.lambda_handler``; one function per region, run on a schedule
(every minute, modules/jobs.py).  It reads *its own region's* replica of the transactions
table and writes missing receipts to *its own region's* audit bucket, so either region can
repair receipts while the other is down.  The work is in ``payments.audit``.

Window: from just after the stored watermark (an item ``RECONCILE_CHECKPOINT_KEY`` in the
transactions table: every record up to it has been checked) to ``now -
RECONCILE_GRACE_MINUTES`` (default 15), read from ``status-index``; with no watermark yet,
from ``now - RECONCILE_LOOKBACK_MINUTES`` (default 180).  Each record is checked once, by
``RECONCILE_WORKERS`` threads (default 16); a run that stops early, or a record whose check
failed, leaves the watermark before it, so the next run goes on from there: nothing is
skipped, and ``ReconcileLagSeconds`` says how far behind the window's end the watermark is.
The grace period keeps in-flight requests, replication (of records into this replica, of
receipts into this bucket: S3 RTC 15 minutes) and the index's propagation from counting as
missing.  After a replication outage longer than the grace period (records replicated in
late, with old timestamps), run it once by hand with ``lookbackMinutes`` (at most 14400 =
10 days): a manual window ignores the watermark and leaves it where it is. (Their duplicates,
on an EVENTUAL table, are marked on arrival by ``dupcheck.py`` on the replica's stream; this
job's duplicate check is the backstop.)

Event: ``{}`` or an EventBridge "Scheduled Event" envelope, or ``{"segment": i, "segments": n}``
(what the schedule's targets send when the job is split into ``n`` parallel segments, each
with its own watermark): a scheduled run.  ``{"lookbackMinutes": <int>, "dryRun": <bool>}``
(optionally with the segment fields) is a manual run.  Anything else is rejected before any
read.

Metrics (namespace ``POWERTOOLS_METRICS_NAMESPACE``, default ``PaymentsDR``; dimensions
``service=payment-reconcile`` and ``region``), published on every run, zeros included,
so a missing datapoint means the job did not run: ``RecordsChecked``,
``MissingReceipts``, ``ReceiptsRepaired``, ``ReceiptRepairFailed``,
``DuplicateTransactions`` (ids with a duplicate acceptance no operator has resolved yet),
``DuplicatesMarked`` (later acceptances marked ``DUPLICATE`` by this run: ``ops.duplicates``),
``DuplicateCheckFailed``, ``ReconcileTruncated``, and
``ReconcileLagSeconds`` (scheduled runs only; a manual run does not move the watermark).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from ops import duplicates

from contract import (
    ENV_METRICS_NAMESPACE,
    ENV_RECONCILE_CHECKPOINT_KEY,
    ENV_RECONCILE_GRACE_MINUTES,
    ENV_RECONCILE_LOOKBACK_MINUTES,
    ENV_RECONCILE_WORKERS,
    ENV_STATUS_INDEX,
    METRICS_NAMESPACE,
)
from payments import audit, clients, settings

#: Fixed, not read from POWERTOOLS_SERVICE_NAME: it is a metric dimension the alarms match.
SERVICE = "payment-reconcile"
DEFAULT_LOOKBACK_MINUTES = 180
DEFAULT_GRACE_MINUTES = 15
DEFAULT_WORKERS = 16
MAX_WORKERS = 64
MAX_LOOKBACK_MINUTES = 10 * 24 * 60
#: Stop taking new records when less than this is left: a batch gives each worker
#: ``audit.BATCH_PER_WORKER`` records of three calls (HeadObject, PutObject, the duplicate Query)
#: at their worst case (batch client profile), plus time to store the watermark and publish.
STOP_MARGIN_SECONDS = audit.BATCH_PER_WORKER * 3 * clients.worst_case_seconds(clients.BATCH_PATH) + 5

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get(ENV_METRICS_NAMESPACE, METRICS_NAMESPACE), service=SERVICE)


@dataclass(frozen=True)
class _Runtime:
    """Settings and clients: built once per execution environment."""

    settings: settings.Settings
    lookback_minutes: int
    grace_minutes: int
    workers: int
    checkpoint_key: str
    index: str
    dynamodb: Any
    s3: Any


# The handler's runtime cache (one style for every handler in lambda/): `init()` builds it,
# `_get_runtime()` returns it (building it on first use), `reset_runtime()` drops it (tests).
_runtime: _Runtime | None = None


def reset_runtime() -> None:
    global _runtime
    _runtime = None
    settings.reset()
    clients.reset()


def _minutes(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default)).strip()
    if not raw.isdigit() or not 0 < int(raw) <= MAX_LOOKBACK_MINUTES:
        raise RuntimeError(f"{name} must be a whole number of minutes in 1..{MAX_LOOKBACK_MINUTES}, got {raw!r}")
    return int(raw)


def _get_runtime() -> _Runtime:
    return _runtime or init()


def init() -> _Runtime:
    global _runtime
    cfg = settings.get_settings("reconcile")
    lookback = _minutes(ENV_RECONCILE_LOOKBACK_MINUTES, DEFAULT_LOOKBACK_MINUTES)
    grace = _minutes(ENV_RECONCILE_GRACE_MINUTES, DEFAULT_GRACE_MINUTES)
    if grace >= lookback:
        raise RuntimeError(f"{ENV_RECONCILE_GRACE_MINUTES} must be smaller than {ENV_RECONCILE_LOOKBACK_MINUTES}")
    workers = os.environ.get(ENV_RECONCILE_WORKERS, str(DEFAULT_WORKERS)).strip()
    if not workers.isdigit() or not 0 < int(workers) <= MAX_WORKERS:
        raise RuntimeError(f"{ENV_RECONCILE_WORKERS} must be a whole number in 1..{MAX_WORKERS}, got {workers!r}")
    _runtime = _Runtime(
        settings=cfg,
        lookback_minutes=lookback,
        grace_minutes=grace,
        workers=int(workers),
        checkpoint_key=os.environ.get(ENV_RECONCILE_CHECKPOINT_KEY) or f"__reconcile__#{cfg.region}",
        index=os.environ.get(ENV_STATUS_INDEX, audit.STATUS_INDEX),
        dynamodb=clients.client("dynamodb", cfg.region, clients.BATCH_PATH),
        s3=clients.client("s3", cfg.region, clients.BATCH_PATH),
    )
    return _runtime


#: The watermark item's sort key (the table's range key is ``timestamp``): one item per region.
CHECKPOINT_TIMESTAMP = 0


def checkpoint_key(base: str, segment: tuple[int, int]) -> str:
    """One watermark per segment: ``<base>`` alone, or ``<base>#<i>of<n>``."""
    return base if segment[1] <= 1 else f"{base}#{segment[0]}of{segment[1]}"


def load_checkpoint(dynamodb: Any, table: str, key: str) -> int | None:
    """The stored watermark (ms), or ``None`` before the first scheduled run stored one."""
    item = dynamodb.get_item(TableName=table, ConsistentRead=True,
                             Key={"transactionId": {"S": key}, "timestamp": {"N": str(CHECKPOINT_TIMESTAMP)}},
                             ProjectionExpression="checkedUntil").get("Item")
    return int(item["checkedUntil"]["N"]) if item and "checkedUntil" in item else None


def store_checkpoint(dynamodb: Any, table: str, key: str, checked_until_ms: int) -> bool:
    """Move the watermark forward (never back: two overlapping runs cannot undo each other)."""
    from botocore.exceptions import ClientError

    try:
        dynamodb.update_item(
            TableName=table, Key={"transactionId": {"S": key}, "timestamp": {"N": str(CHECKPOINT_TIMESTAMP)}},
            UpdateExpression="SET checkedUntil = :v",
            ConditionExpression="attribute_not_exists(checkedUntil) OR checkedUntil < :v",
            ExpressionAttributeValues={":v": {"N": str(checked_until_ms)}})
    except ClientError as exc:
        if audit._code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


MAX_SEGMENTS = 16


def parse_event(event: Any, default_lookback: int) -> tuple[int, bool]:
    """``(lookback_minutes, dry_run)`` from the invocation event; ``ValueError`` on anything unexpected."""
    return _parse_event(event, default_lookback)[:2]


def _parse_event(event: Any, default_lookback: int) -> tuple[int, bool, bool, tuple[int, int]]:
    """... whether it is a scheduled run (no overrides: the watermark is read and moved), and
    the segment ``(i, n)``."""
    if isinstance(event, dict) and event.get("source") == "aws.events" and "detail-type" in event:
        return default_lookback, False, True, (0, 1)  # EventBridge rule envelope: the schedule itself
    if event is None:
        event = {}
    if not isinstance(event, dict):
        raise ValueError("event must be a JSON object")
    unknown = sorted(set(event) - {"lookbackMinutes", "dryRun", "segment", "segments"})
    if unknown:
        raise ValueError(f"unknown event field(s): {', '.join(unknown)}")
    index, count = event.get("segment", 0), event.get("segments", 1)
    if any(isinstance(v, bool) or not isinstance(v, int) for v in (index, count)) \
            or not 0 < count <= MAX_SEGMENTS or not 0 <= index < count:
        raise ValueError(f"segment must be an integer in 0..segments-1, segments in 1..{MAX_SEGMENTS}")
    lookback = event.get("lookbackMinutes", default_lookback)
    if isinstance(lookback, bool) or not isinstance(lookback, int) or not 0 < lookback <= MAX_LOOKBACK_MINUTES:
        raise ValueError(f"lookbackMinutes must be an integer in 1..{MAX_LOOKBACK_MINUTES}")
    dry_run = event.get("dryRun", False)
    if not isinstance(dry_run, bool):
        raise ValueError("dryRun must be true or false")
    return lookback, dry_run, not set(event) - {"segment", "segments"}, (index, count)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    runtime = _get_runtime()
    cfg = runtime.settings
    lookback, dry_run, scheduled, segment = _parse_event(event, runtime.lookback_minutes)
    grace = runtime.grace_minutes
    if grace >= lookback:
        raise ValueError(f"lookbackMinutes must be larger than the grace period ({grace} minutes)")
    logger.append_keys(region=cfg.region, region_role=cfg.region_role)
    metrics.add_dimension(name="region", value=cfg.region)

    def on_error(transaction_id: str, exc: BaseException) -> None:
        logger.error("receipt check or repair failed", extra={"transaction_id": transaction_id,
                                                              "aws_error": audit._code(exc)})

    dynamodb, table = runtime.dynamodb, cfg.transactions_table
    key = checkpoint_key(runtime.checkpoint_key, segment)
    since = load_checkpoint(dynamodb, table, key) if scheduled else None
    report = audit.reconcile(
        dynamodb, runtime.s3,
        table=table, bucket=cfg.audit_bucket, index=runtime.index,
        now_ms=time.time_ns() // 1_000_000, lookback_ms=lookback * 60_000, grace_ms=grace * 60_000,
        since_ms=since, workers=runtime.workers, segment=segment,
        repair=not dry_run,
        stop=lambda: context.get_remaining_time_in_millis() / 1000 < STOP_MARGIN_SECONDS,
        on_error=on_error,
    )
    # Mark the later acceptance of each duplicate (ops/duplicates.py); DuplicateTransactions
    # counts ids with a duplicate no operator has resolved yet, so its alarm stays on until then.
    marking = duplicates.mark(runtime.dynamodb, cfg.transactions_table,
                              [d.transaction_id for d in report.duplicates],
                              now_ms=time.time_ns() // 1_000_000,
                              marked_by=f"reconcile:{cfg.region}", apply=not dry_run)
    unresolved = sorted(set(marking.unresolved_ids) | {
        row["transactionId"] for row in duplicates.list_marked(runtime.dynamodb, cfg.transactions_table,
                                                               runtime.index)})
    if scheduled:
        store_checkpoint(dynamodb, table, key, report.checked_until_ms)
        metrics.add_metric(name="ReconcileLagSeconds", unit=MetricUnit.Seconds, value=report.lag_ms / 1000)
    for name, value in (("RecordsChecked", report.records_checked),
                        ("MissingReceipts", report.missing_receipts),
                        ("ReceiptsRepaired", report.receipts_repaired),
                        ("ReceiptRepairFailed", report.receipt_repair_failed),
                        ("DuplicateCheckFailed", report.duplicate_check_failed),
                        ("DuplicateTransactions", len(unresolved)),
                        ("DuplicatesMarked", len(marking.marked)),
                        ("ReconcileTruncated", int(report.truncated))):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    for duplicate in report.duplicates:
        logger.warning("transaction accepted more than once", extra={
            "transaction_id": duplicate.transaction_id, "accepted_regions": duplicate.regions,
            "same_request": duplicate.same_request})
    for found in marking.marked:
        logger.warning("later acceptance marked the duplicate", extra={
            "transaction_id": found.transaction_id, "client_id": found.client_id,
            "timestamp": found.timestamp, "duplicate_of": found.duplicate_of, "dry_run": dry_run})
    result = report.to_dict() | {"dryRun": dry_run, "lookbackMinutes": lookback,
                                 "duplicatesMarked": [m.transaction_id for m in marking.marked],
                                 "duplicatesUnresolved": unresolved,
                                 "scheduled": scheduled, "segment": list(segment)}
    level = logger.warning if (report.missing_receipts or report.duplicates or report.truncated
                               or report.receipt_repair_failed or report.duplicate_check_failed) else logger.info
    level("reconciliation finished", extra=result)
    return result
