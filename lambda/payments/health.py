"""The health probe: can this region take payments right now?

A payment needs both tables, the receipts bucket and the region's KMS key, so the probe
exercises each of them, cheaply, *in parallel*, within one deadline:

* ``transactions`` - ``GetItem`` on a sentinel key (``transactionId="__healthcheck__"``,
  ``timestamp=0``; the item need not exist; strongly consistent when the table is an MRSC
  global table, because an MRSC region cut off from its peers can still serve eventually
  consistent reads but cannot write) and ``DescribeTable`` (status ``ACTIVE`` or
  ``UPDATING``; a table whose key is unusable reports ``INACCESSIBLE_ENCRYPTION_CREDENTIALS``);
* ``idempotency`` - the same on ``id="__healthcheck__"``;
* ``receipts`` - ``PutObject`` of a few bytes to ``health/<region>.json`` in the audit
  bucket, the write a receipt makes (same bucket, default SSE-KMS with the region key,
  a checksum as Object Lock requires) but with its own one-day lock (see
  :data:`PROBE_OBJECT_RETENTION_DAYS`);
* ``key`` - ``kms:DescribeKey`` on the region key: ``KeyState`` must be ``Enabled``
  (S3 Bucket Keys can hide a disabled key from the PutObject for a while).

Data-plane calls run on every probe.  Control-plane facts (``DescribeTable``,
``DescribeKey``) are cached for :data:`CONTROL_PLANE_TTL_SECONDS` once they are healthy,
so the probe does not spend the control plane's quota and latency every few seconds,
and a fault is re-checked on every probe.  A throttled or timed-out control-plane call
with the data plane answering is a warning, not an outage.

Each call uses the health client profile (one attempt, connect 0.3 s + read 0.6 s) and
is retried once if a whole call still fits before the deadline (default 1.2 s).  The
probe returns at its deadline whatever is still running, so the answer reaches Route 53
well inside its 2 seconds.

In the primary region (``failback_hold``) the transactions read is of the failback hold's item
(``ops.hold``) instead of the sentinel: same call, same cost; :attr:`ProbeResult.held` says
whether it is armed. A failed read fails the transactions check (unhealthy): fail closed,
which is safe because a region that cannot read its transactions table cannot take payments.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ops import hold

from contract import HEALTH_PREFIX, IDEMPOTENCY_KEY_ATTRIBUTE, aws_error_code
from payments import clients

SENTINEL_KEY = {"transactionId": {"S": "__healthcheck__"}, "timestamp": {"N": "0"}}
IDEMPOTENCY_SENTINEL_KEY = {IDEMPOTENCY_KEY_ATTRIBUTE: {"S": "__healthcheck__"}}
HEALTHY_TABLE_STATUSES = frozenset({"ACTIVE", "UPDATING"})
#: Route 53 matches this string in the body (HTTPS_STR_MATCH); it appears only when healthy.
HEALTHY_MARKER = "PAYMENTS_HEALTHY"
UNHEALTHY_MARKER = "PAYMENTS_UNAVAILABLE"
#: Worst-case duration of one call with the health client profile.
CALL_WORST_CASE_SECONDS = clients.worst_case_seconds(clients.HEALTH_PATH)
DEFAULT_BUDGET_SECONDS = 1.2
CONTROL_PLANE_TTL_SECONDS = 60.0
DEPENDENCIES = ("transactions", "idempotency", "receipts", "key")
#: The audit bucket's default retention (Object Lock, 365 days, replicated) would lock every
#: health object version - one per Route 53 check - for a year.  The probe object carries its
#: own short GOVERNANCE lock instead (needs ``s3:PutObjectRetention`` on ``health/*``), and
#: the bucket's lifecycle expires noncurrent ``health/`` versions after 2 days (Terraform side),
#: once this lock has run out.  Same as ``ops.heartbeat.PROBE_OBJECT_RETENTION_DAYS``.
PROBE_OBJECT_RETENTION_DAYS = 1

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
        "SlowDown",
        "KMSInternalException",
        "DependencyTimeoutException",
    }
)


@dataclass
class ProbeResult:
    healthy: bool
    checks: dict[str, Any] = field(default_factory=dict)
    elapsed_ms: int = 0
    held: bool = False  # the failback hold is armed (primary only): stay out of DNS


def health_object_key(region: str) -> str:
    return f"{HEALTH_PREFIX}{region}.json"


def _classify(exc: BaseException) -> tuple[str, bool]:
    """Return ``(error_code, transient)`` for a botocore exception."""
    from botocore.exceptions import ClientError, ReadTimeoutError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    if isinstance(exc, ClientError):
        code = aws_error_code(exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return code, code in TRANSIENT_CODES or status >= 500
    if isinstance(exc, (BotoConnectionError, ReadTimeoutError)):
        return type(exc).__name__, True
    return type(exc).__name__, False


def _call(fn: Callable[[], Any], deadline: float, clock: Callable[[], float]) -> tuple[Any, dict[str, Any]]:
    """Run ``fn`` with at most one retry of a transient error, and only if a whole call fits before ``deadline``."""
    from botocore.exceptions import BotoCoreError, ClientError

    attempts = 0
    info: dict[str, Any] = {}
    while True:
        attempts += 1
        started = clock()
        try:
            result = fn()
            info = {"status": "ok", "attempts": attempts, "latencyMs": int((clock() - started) * 1000)}
            return result, info
        except (ClientError, BotoCoreError) as exc:
            code, transient = _classify(exc)
            info = {"status": "error", "attempts": attempts, "error": code, "transient": transient}
            if transient and attempts < 2 and deadline - clock() >= CALL_WORST_CASE_SECONDS:
                continue
            return None, info


class HealthProbe:
    """One region's probe; built once per container (clients and thread pool at init)."""

    def __init__(self, *, dynamodb: Any, s3: Any, kms: Any, transactions_table: str, idempotency_table: str,
                 bucket: str, key_arn: str, region: str, clock: Callable[[], float] = time.monotonic,
                 control_plane_ttl: float = CONTROL_PLANE_TTL_SECONDS, strong_transactions: bool = False,
                 wall_clock: Callable[[], float] = time.time, failback_hold: bool = False):
        self.dynamodb, self.s3, self.kms = dynamodb, s3, kms
        self.failback_hold = failback_hold
        self.tables = {"transactions": (transactions_table, hold.KEY if failback_hold else SENTINEL_KEY),
                       "idempotency": (idempotency_table, IDEMPOTENCY_SENTINEL_KEY)}
        self.consistent = {"transactions": strong_transactions, "idempotency": False}
        self.bucket, self.key_arn, self.region = bucket, key_arn, region
        self.clock = clock  # monotonic: deadlines and cache expiry
        self.wall_clock = wall_clock  # epoch seconds: the probe object's retain-until date
        self.control_plane_ttl = control_plane_ttl
        self._facts: dict[str, tuple[float, dict[str, Any]]] = {}  # name -> (expires, healthy fact)
        # Calls abandoned at the deadline keep their thread until their own timeout (< 1 s).
        self.executor = ThreadPoolExecutor(max_workers=12, thread_name_prefix="probe")

    # ------------------------------------------------------------------ control-plane facts

    def _cached(self, name: str) -> dict[str, Any] | None:
        found = self._facts.get(name)
        if found and found[0] > self.clock():
            return dict(found[1], cached=True)
        return None

    def _get_sentinel(self, table: str, key: dict[str, dict[str, str]], consistent: bool) -> Any:
        return self.dynamodb.get_item(TableName=table, Key=key, ConsistentRead=consistent,
                                      ProjectionExpression="#k, #s",
                                      ExpressionAttributeNames={"#k": next(iter(key)), "#s": "state"})

    def _describe_table(self, table: str) -> dict[str, Any]:
        described = self.dynamodb.describe_table(TableName=table)
        return {"tableStatus": described.get("Table", {}).get("TableStatus", "UNKNOWN")}

    def _describe_key(self) -> dict[str, Any]:
        described = self.kms.describe_key(KeyId=self.key_arn)
        return {"keyState": described.get("KeyMetadata", {}).get("KeyState", "UNKNOWN")}

    def _put_health_object(self) -> None:
        retain_until = (datetime.fromtimestamp(self.wall_clock(), tz=UTC)
                        + timedelta(days=PROBE_OBJECT_RETENTION_DAYS))
        # Explicit lock overrides the bucket's default retention for this version only;
        # S3 requires a checksum (Content-MD5 or x-amz-checksum-*) on a PutObject with a lock.
        self.s3.put_object(Bucket=self.bucket, Key=health_object_key(self.region), Body=b'{"probe":"health"}',
                           ContentType="application/json", ChecksumAlgorithm="SHA256",
                           ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=retain_until)

    # ------------------------------------------------------------------ probe

    def run(self, budget_seconds: float = DEFAULT_BUDGET_SECONDS) -> ProbeResult:
        started = self.clock()
        deadline = started + budget_seconds
        calls: dict[tuple[str, str], Callable[[], Any]] = {}
        facts: dict[tuple[str, str], dict[str, Any]] = {}
        for name, (table, key) in self.tables.items():
            calls[(name, "read")] = functools.partial(self._get_sentinel, table, key, self.consistent[name])
            cached = self._cached(name)
            if cached is None:
                calls[(name, "table")] = functools.partial(self._describe_table, table)
            else:
                facts[(name, "table")] = cached
        calls[("receipts", "write")] = self._put_health_object
        cached_key = self._cached("key")
        if cached_key is None:
            calls[("key", "describe")] = self._describe_key
        else:
            facts[("key", "describe")] = cached_key

        futures: dict[tuple[str, str], Future[tuple[Any, dict[str, Any]]]] = {
            slot: self.executor.submit(_call, fn, deadline, self.clock) for slot, fn in calls.items()}
        wait(list(futures.values()), timeout=max(0.0, deadline - self.clock()))
        held = False
        for slot, future in futures.items():
            if future.done():
                value, info = future.result()
                if slot == ("transactions", "read") and self.failback_hold and info["status"] == "ok":
                    held = hold.state_of((value or {}).get("Item")).armed
                    info["failbackHold"] = hold.ARMED if held else "none"
                if info["status"] == "ok" and isinstance(value, dict) and slot[1] in ("table", "describe"):
                    info.update(value)
                facts[slot] = info
            else:
                future.cancel()
                facts[slot] = {"status": "error", "error": "DeadlineExceeded", "transient": True}

        checks = {name: self._verdict(name, {part: info for (dep, part), info in facts.items() if dep == name})
                  for name in DEPENDENCIES}
        healthy = all(check["status"] in ("ok", "warning") for check in checks.values())
        return ProbeResult(healthy=healthy, checks=checks, elapsed_ms=int((self.clock() - started) * 1000),
                           held=held)

    def _verdict(self, name: str, parts: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """Combine the calls of one dependency into ok / warning / error, and cache healthy facts."""
        status = "ok"
        error = None
        for part, info in parts.items():
            if info["status"] == "ok":
                fact_bad = (info.get("tableStatus", "ACTIVE") not in HEALTHY_TABLE_STATUSES
                            or info.get("keyState", "Enabled") != "Enabled")
                if fact_bad:
                    status, error = "error", info.get("tableStatus") or info.get("keyState")
                elif part in ("table", "describe") and not info.get("cached"):
                    fact = {k: v for k, v in info.items() if k in ("tableStatus", "keyState", "status")}
                    self._facts[name] = (self.clock() + self.control_plane_ttl, fact)
                continue
            control_plane = part in ("table", "describe")
            data_plane_ok = all(p["status"] == "ok" for k, p in parts.items() if k not in ("table", "describe"))
            if control_plane and info.get("transient") and data_plane_ok:
                info["status"] = "warning"  # a throttled control plane is not an outage
                if status == "ok":
                    status = "warning"
                continue
            status, error = "error", error or info.get("error")
        check: dict[str, Any] = {"status": status, **parts}
        if error is not None:
            check["error"] = error
        return check
