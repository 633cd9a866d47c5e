"""Pure-ish health probe logic: a bounded check of this region's transactions table.

The probe answers "can this region take payments right now?" by exercising the
same data path a payment uses, cheaply:

* ``GetItem`` on a sentinel key (``transactionId="__healthcheck__"``, ``timestamp=0``)
  - a real, eventually consistent data-plane read (0.5 RCU, the item need not exist);
* ``DescribeTable`` - the table (replica) status must be ``ACTIVE`` or ``UPDATING``;
  run only when the time budget still allows it after the read.

Each AWS call uses one attempt with tight timeouts (connect 0.5 s, read 1.0 s), so
one call costs at most ~1.5 s.  A *transient* failure (throttling, 5xx, timeout,
connection error) is retried once if the remaining budget covers a whole call.
The total never exceeds ``budget_seconds`` (default 2.8 s) plus scheduling noise,
well inside API Gateway's 29 s, so Route 53 sees a fast, definite answer and fails
over on a real fault rather than a blip.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

SENTINEL_KEY = {"transactionId": {"S": "__healthcheck__"}, "timestamp": {"N": "0"}}
HEALTHY_TABLE_STATUSES = frozenset({"ACTIVE", "UPDATING"})
#: Worst-case duration of one call with the health client config (connect + read timeout).
CALL_WORST_CASE_SECONDS = 1.5
DEFAULT_BUDGET_SECONDS = 2.8

TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "TransactionConflictException",
    }
)


@dataclass
class ProbeResult:
    healthy: bool
    checks: dict[str, Any] = field(default_factory=dict)
    elapsed_ms: int = 0


def _classify(exc: BaseException) -> tuple[str, bool]:
    """Return ``(error_code, transient)`` for a botocore exception."""
    from botocore.exceptions import ClientError, ConnectionError as BotoConnectionError, ReadTimeoutError

    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return code, code in TRANSIENT_CODES or status >= 500
    if isinstance(exc, (BotoConnectionError, ReadTimeoutError)):
        return type(exc).__name__, True
    return type(exc).__name__, False


def _call(fn: Callable[[], Any], deadline: float, clock: Callable[[], float]) -> tuple[Any, dict[str, Any]]:
    """Run ``fn`` with at most one retry of a transient error, never past ``deadline``."""
    from botocore.exceptions import BotoCoreError, ClientError

    attempts = 0
    info: dict[str, Any] = {}
    while True:
        attempts += 1
        started = clock()
        try:
            result = fn()
            info.update(status="ok", attempts=attempts, latencyMs=int((clock() - started) * 1000))
            return result, info
        except (ClientError, BotoCoreError) as exc:
            code, transient = _classify(exc)
            info.update(status="error", attempts=attempts, error=code, transient=transient)
            if transient and attempts < 2 and deadline - clock() >= CALL_WORST_CASE_SECONDS:
                continue
            return None, info


def probe(
    dynamodb: Any,
    table: str,
    *,
    budget_seconds: float = DEFAULT_BUDGET_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> ProbeResult:
    started = clock()
    deadline = started + budget_seconds
    checks: dict[str, Any] = {}

    _, read = _call(
        lambda: dynamodb.get_item(TableName=table, Key=SENTINEL_KEY, ProjectionExpression="transactionId"),
        deadline,
        clock,
    )
    checks["read"] = read
    healthy = read["status"] == "ok"

    if healthy and deadline - clock() >= CALL_WORST_CASE_SECONDS:
        described, info = _call(lambda: dynamodb.describe_table(TableName=table), deadline, clock)
        if described is not None:
            table_status = described.get("Table", {}).get("TableStatus", "UNKNOWN")
            info["tableStatus"] = table_status
            if table_status not in HEALTHY_TABLE_STATUSES:
                info["status"] = "error"
                info["error"] = f"table status {table_status}"
                healthy = False
        elif not info.get("transient"):
            # ResourceNotFound, AccessDenied, ...: a real fault.
            healthy = False
        else:
            # The data-plane read just succeeded; a throttled control-plane call is not an outage.
            info["status"] = "warning"
        checks["table"] = info
    elif healthy:
        checks["table"] = {"status": "skipped", "reason": "time budget spent on the read"}

    return ProbeResult(healthy=healthy, checks=checks, elapsed_ms=int((clock() - started) * 1000))
