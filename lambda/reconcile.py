"""Scheduled reconciliation of one region: records without receipts, duplicate acceptances.

Handler string: ``reconcile.lambda_handler``; one function per region, run on a schedule
(e.g. every 15 minutes).  It reads *its own region's* replica of the transactions table
and writes missing receipts to *its own region's* audit bucket, so either region can
repair receipts while the other is down.  The work is in ``payments.audit``.

Window: records accepted between ``now - RECONCILE_LOOKBACK_MINUTES`` (default 180) and
``now - RECONCILE_GRACE_MINUTES`` (default 15), read from ``status-index``.  The lookback
is several schedule periods, so a run that fails or is truncated is covered by the next
ones; the grace period keeps in-flight requests and the peer bucket's replication
(S3 RTC: 15 minutes) from counting as missing.  After an outage longer than the lookback
(records replicated in late, with old timestamps), run it once by hand with a larger
``lookbackMinutes`` (at most 14400 = 10 days).

Event: ``{}`` or an EventBridge "Scheduled Event" envelope (no overrides), or
``{"lookbackMinutes": <int>, "dryRun": <bool>}`` for a manual run.  Anything else is
rejected before any read.

Metrics (namespace ``POWERTOOLS_METRICS_NAMESPACE``, default ``PaymentsDR``; dimensions
``service=payment-reconcile`` and ``region``), published on every run, zeros included,
so a missing datapoint means the job did not run: ``RecordsChecked``,
``MissingReceipts``, ``ReceiptsRepaired``, ``ReceiptRepairFailed``,
``DuplicateTransactions``, ``ReconcileTruncated``.
"""

from __future__ import annotations

import os
import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from contract import ENV_METRICS_NAMESPACE, METRICS_NAMESPACE
from payments import audit, clients, settings

#: Fixed, not read from POWERTOOLS_SERVICE_NAME: it is a metric dimension the alarms match.
SERVICE = "payment-reconcile"
DEFAULT_LOOKBACK_MINUTES = 180
DEFAULT_GRACE_MINUTES = 15
MAX_LOOKBACK_MINUTES = 10 * 24 * 60
#: Stop taking new records when less than this is left: one HeadObject and one PutObject at
#: their worst case (batch client profile), plus time to publish the metrics.
STOP_MARGIN_SECONDS = 2 * clients.worst_case_seconds(clients.BATCH_PATH) + 5

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get(ENV_METRICS_NAMESPACE, METRICS_NAMESPACE), service=SERVICE)

_runtime: dict[str, Any] = {}


def reset_runtime() -> None:
    _runtime.clear()
    settings.reset()
    clients.reset()


def _minutes(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default)).strip()
    if not raw.isdigit() or not 0 < int(raw) <= MAX_LOOKBACK_MINUTES:
        raise RuntimeError(f"{name} must be a whole number of minutes in 1..{MAX_LOOKBACK_MINUTES}, got {raw!r}")
    return int(raw)


def _get_runtime() -> dict[str, Any]:
    if not _runtime:
        cfg = settings.get_settings("reconcile")
        lookback = _minutes("RECONCILE_LOOKBACK_MINUTES", DEFAULT_LOOKBACK_MINUTES)
        grace = _minutes("RECONCILE_GRACE_MINUTES", DEFAULT_GRACE_MINUTES)
        if grace >= lookback:
            raise RuntimeError("RECONCILE_GRACE_MINUTES must be smaller than RECONCILE_LOOKBACK_MINUTES")
        _runtime.update(
            settings=cfg,
            lookback_minutes=lookback,
            grace_minutes=grace,
            index=os.environ.get("STATUS_INDEX", audit.STATUS_INDEX),
            dynamodb=clients.client("dynamodb", cfg.region, clients.BATCH_PATH),
            s3=clients.client("s3", cfg.region, clients.BATCH_PATH),
        )
    return _runtime


def parse_event(event: Any, default_lookback: int) -> tuple[int, bool]:
    """``(lookback_minutes, dry_run)`` from the invocation event; ``ValueError`` on anything unexpected."""
    if isinstance(event, dict) and event.get("source") == "aws.events" and "detail-type" in event:
        return default_lookback, False  # EventBridge rule envelope: the schedule itself, no overrides
    if event is None:
        event = {}
    if not isinstance(event, dict):
        raise ValueError("event must be a JSON object")
    unknown = sorted(set(event) - {"lookbackMinutes", "dryRun"})
    if unknown:
        raise ValueError(f"unknown event field(s): {', '.join(unknown)}")
    lookback = event.get("lookbackMinutes", default_lookback)
    if isinstance(lookback, bool) or not isinstance(lookback, int) or not 0 < lookback <= MAX_LOOKBACK_MINUTES:
        raise ValueError(f"lookbackMinutes must be an integer in 1..{MAX_LOOKBACK_MINUTES}")
    dry_run = event.get("dryRun", False)
    if not isinstance(dry_run, bool):
        raise ValueError("dryRun must be true or false")
    return lookback, dry_run


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    runtime = _get_runtime()
    cfg = runtime["settings"]
    lookback, dry_run = parse_event(event, runtime["lookback_minutes"])
    grace = runtime["grace_minutes"]
    if grace >= lookback:
        raise ValueError(f"lookbackMinutes must be larger than the grace period ({grace} minutes)")
    logger.append_keys(region=cfg.region, region_role=cfg.region_role)
    metrics.add_dimension(name="region", value=cfg.region)

    def on_error(transaction_id: str, exc: BaseException) -> None:
        logger.error("receipt check or repair failed", extra={"transaction_id": transaction_id,
                                                              "aws_error": audit._code(exc)})

    report = audit.reconcile(
        runtime["dynamodb"], runtime["s3"],
        table=cfg.transactions_table, bucket=cfg.audit_bucket, index=runtime["index"],
        now_ms=time.time_ns() // 1_000_000, lookback_ms=lookback * 60_000, grace_ms=grace * 60_000,
        repair=not dry_run,
        stop=lambda: context.get_remaining_time_in_millis() / 1000 < STOP_MARGIN_SECONDS,
        on_error=on_error,
    )
    for name, value in (("RecordsChecked", report.records_checked),
                        ("MissingReceipts", report.missing_receipts),
                        ("ReceiptsRepaired", report.receipts_repaired),
                        ("ReceiptRepairFailed", report.receipt_repair_failed),
                        ("DuplicateTransactions", len(report.duplicates)),
                        ("ReconcileTruncated", int(report.truncated))):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    for duplicate in report.duplicates:
        logger.warning("transaction accepted more than once", extra={
            "transaction_id": duplicate.transaction_id, "accepted_regions": duplicate.regions,
            "same_request": duplicate.same_request})
    result = report.to_dict() | {"dryRun": dry_run, "lookbackMinutes": lookback}
    level = logger.warning if (report.missing_receipts or report.duplicates or report.truncated
                               or report.receipt_repair_failed) else logger.info
    level("reconciliation finished", extra=result)
    return result
