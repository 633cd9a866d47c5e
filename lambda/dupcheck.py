"""Duplicate acceptances marked as they land: this region's replica's DynamoDB stream (issue 20).

Handler string: ``dupcheck.lambda_handler``; one function per region, built only with
``TRANSACTIONS_CONSISTENCY=EVENTUAL`` (on the default multi-Region strongly consistent table a
payment is decided once across regions: there is no duplicate to find). Its trigger is an event
source mapping on *this region's* replica's stream (modules/jobs.py ``DuplicateCheck``). A global
table's replica produces its own stream of every write applied to it, "regardless of the
origination point" (AWS, "Global tables: how it works", streams section): the records this region
accepted and the ones replicated in from the other region both arrive here.

Each record of a batch that is the INSERT of a ``VALIDATED`` payment record (the mapping's filter
passes nothing else; checked again here) has its ``transactionId`` handed to
``ops.duplicates.mark``: a strongly consistent Query of this replica, and every later acceptance
of the same (client, id) marked ``DUPLICATE`` (the first stays the payment; the same rule as the
scheduled reconcile job, so both regions and both jobs mark the same record).

Why this closes the late-replication gap: a record is checked when it *arrives* in this replica,
not by its ``timestamp``. A record accepted in the other region during a partition and replicated
in hours later is an INSERT on this stream when it lands, and its check finds the local
acceptance already there; the scheduled job's watermark, keyed on ``timestamp``, had passed it.

Never skipped: a record whose check failed is reported back (``batchItemFailures``, the mapping
has ``ReportBatchItemFailures``) and Lambda retries the batch from it, without a retry or age
limit, until it succeeds or leaves the stream (24 hours). ``IteratorAge`` (AWS/Lambda) says how far
behind the function is; the ``duplicates-stream-lag`` alarm pages on it.

Metrics (namespace ``POWERTOOLS_METRICS_NAMESPACE``, dimensions ``service=payment-dupcheck`` and
``region``), on every batch, zeros included: ``RecordsChecked``, ``DuplicatesMarked``,
``DuplicateCheckFailed``.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from ops import duplicates

from contract import ENV_DUPCHECK_WORKERS, ENV_METRICS_NAMESPACE, METRICS_NAMESPACE
from payments import clients, settings

#: Fixed, not read from POWERTOOLS_SERVICE_NAME: it is a metric dimension the alarms match.
SERVICE = "payment-dupcheck"
DEFAULT_WORKERS = 16
MAX_WORKERS = 64

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get(ENV_METRICS_NAMESPACE, METRICS_NAMESPACE), service=SERVICE)


@dataclass(frozen=True)
class _Runtime:
    """Settings and the client: built once per execution environment."""

    settings: settings.Settings
    workers: int
    dynamodb: Any


# The handler's runtime cache (one style for every handler in lambda/): `init()` builds it,
# `_get_runtime()` returns it (building it on first use), `reset_runtime()` drops it (tests).
_runtime: _Runtime | None = None


def reset_runtime() -> None:
    global _runtime
    _runtime = None
    settings.reset()
    clients.reset()


def _get_runtime() -> _Runtime:
    return _runtime or init()


def init() -> _Runtime:
    global _runtime
    cfg = settings.get_settings("dupcheck")
    workers = os.environ.get(ENV_DUPCHECK_WORKERS, str(DEFAULT_WORKERS)).strip()
    if not workers.isdigit() or not 0 < int(workers) <= MAX_WORKERS:
        raise RuntimeError(f"{ENV_DUPCHECK_WORKERS} must be a whole number in 1..{MAX_WORKERS}, got {workers!r}")
    _runtime = _Runtime(settings=cfg, workers=int(workers),
                        dynamodb=clients.client("dynamodb", cfg.region, clients.BATCH_PATH))
    return _runtime


def accepted_transaction_id(record: dict[str, Any]) -> str | None:
    """The ``transactionId`` of a stream record that is a new ``VALIDATED`` payment record, else
    ``None`` (claims, heartbeats, watermarks, markings and resolutions are not acceptances)."""
    if record.get("eventName") != "INSERT":
        return None
    image = (record.get("dynamodb") or {}).get("NewImage") or {}
    if (image.get("status") or {}).get("S") != duplicates.STATUS_VALIDATED:
        return None
    transaction_id = (image.get("transactionId") or {}).get("S")
    return transaction_id if isinstance(transaction_id, str) and transaction_id else None


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    runtime = _get_runtime()
    cfg = runtime.settings
    if not isinstance(event, dict) or not isinstance(event.get("Records"), list):
        raise ValueError("expected a DynamoDB stream batch: {\"Records\": [...]}")
    logger.append_keys(region=cfg.region, region_role=cfg.region_role)
    metrics.add_dimension(name="region", value=cfg.region)
    records: list[dict[str, Any]] = event["Records"]
    accepted = [(r, accepted_transaction_id(r)) for r in records]
    ids = list(dict.fromkeys(tid for _, tid in accepted if tid))

    def check(transaction_id: str) -> duplicates.Outcome | BaseException:
        try:
            return duplicates.mark(runtime.dynamodb, cfg.transactions_table, [transaction_id],
                                   now_ms=time.time_ns() // 1_000_000,
                                   marked_by=f"dupcheck:{cfg.region}")
        except Exception as exc:  # reported below; Lambda retries the batch from this record
            return exc

    with ThreadPoolExecutor(max_workers=runtime.workers, thread_name_prefix="dupcheck") as pool:
        results = dict(zip(ids, pool.map(check, ids), strict=True))
    failed = {tid for tid, result in results.items() if isinstance(result, BaseException)}
    marked = [m for result in results.values() if isinstance(result, duplicates.Outcome) for m in result.marked]
    for tid in sorted(failed):
        logger.error("duplicate check failed", extra={"transaction_id": tid,
                                                       "aws_error": duplicates._code(results[tid])})
    for found in marked:
        logger.warning("later acceptance marked the duplicate", extra={
            "transaction_id": found.transaction_id, "client_id": found.client_id,
            "timestamp": found.timestamp, "duplicate_of": found.duplicate_of,
            "accepted_region": found.region, "same_request": found.same_request})
    # Stream order: Lambda resumes from the earliest failure it is told of; the rest are rechecked.
    first_failure = next((r for r, tid in accepted if tid in failed), None)
    for name, value in (("RecordsChecked", len(ids) - len(failed)), ("DuplicatesMarked", len(marked)),
                        ("DuplicateCheckFailed", len(failed))):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    if first_failure is None:
        return {"batchItemFailures": []}
    return {"batchItemFailures": [{"itemIdentifier": first_failure["dynamodb"]["SequenceNumber"]}]}
