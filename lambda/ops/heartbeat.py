"""The RPO canary's keys, payloads and arithmetic (pure; the handler does the I/O).

DynamoDB: one item per writing region in the transactions table, key
``transactionId = "__heartbeat__#<region>"``, ``timestamp = 0``. It can never be a payment:
``#`` is outside the transaction-id alphabet the validator accepts (``[A-Za-z0-9_-]``),
so no payment query (``transactionId = :id``) can return it. It carries no ``customerId``
and no ``status`` attribute, so the sparse ``customer-index`` and ``status-index`` skip it.
Each region overwrites only its own item, so global-table last-writer-wins never mixes them.

S3: ``heartbeat/<region>.json`` in the region's audit bucket; replication brings the other
region's object into this region's bucket under the same key. Each version is written with a
one-day GOVERNANCE lock (:data:`PROBE_OBJECT_RETENTION_DAYS`), not the bucket's default
retention (see :func:`object_lock_params`).

Observed delay = now - the peer's ``writtenAt`` as read from this region's replica. It is an
upper bound of the replication delay: it includes the time since the peer's last write (up
to one schedule interval, 60 s, plus EventBridge jitter) and the clock difference between
the two functions. Alarm thresholds must allow for that interval.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from contract import HEARTBEAT_PREFIX

KEY_PREFIX = "__heartbeat__#"
OBJECT_PREFIX = HEARTBEAT_PREFIX
RECORD_TYPE = "heartbeat"
#: The audit bucket's default retention (Object Lock, 365 days, replicated) would lock every
#: heartbeat version - one a minute per region - for a year.  The heartbeat object carries its
#: own short GOVERNANCE lock instead (needs ``s3:PutObjectRetention`` on ``heartbeat/*``), and the
#: bucket's lifecycle expires noncurrent ``heartbeat/`` versions after 2 days (Terraform side),
#: once this lock has run out.  Same as ``payments.health.PROBE_OBJECT_RETENTION_DAYS``.
PROBE_OBJECT_RETENTION_DAYS = 1


def item_key(region: str) -> dict[str, dict[str, str]]:
    return {"transactionId": {"S": KEY_PREFIX + region}, "timestamp": {"N": "0"}}


def item(region: str, role: str, written_at_ms: int) -> dict[str, dict[str, str]]:
    """The heartbeat item (attribute-value form). No customerId/status: GSIs skip it."""
    return {**item_key(region), "writtenAt": {"N": str(written_at_ms)}, "recordType": {"S": RECORD_TYPE},
            "heartbeatRegion": {"S": region}, "regionRole": {"S": role}}


def written_at_from_item(found: Mapping[str, Any] | None) -> int | None:
    if not found or "writtenAt" not in found:
        return None
    return int(found["writtenAt"]["N"])


def object_key(region: str) -> str:
    return f"{OBJECT_PREFIX}{region}.json"


def object_body(region: str, role: str, written_at_ms: int) -> bytes:
    return json.dumps({"recordType": RECORD_TYPE, "region": region, "regionRole": role,
                       "writtenAt": written_at_ms}, sort_keys=True, separators=(",", ":")).encode()


def object_lock_params(now_ms: int) -> dict[str, Any]:
    """PutObject parameters of a heartbeat object: its own short lock, and the checksum S3
    requires on any PutObject to an Object Lock bucket (Content-MD5 or x-amz-checksum-*)."""
    written = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
    retain_until = written + timedelta(days=PROBE_OBJECT_RETENTION_DAYS)
    return {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": retain_until, "ChecksumAlgorithm": "SHA256"}


def written_at_from_object(body: bytes) -> int:
    """``writtenAt`` from a heartbeat object; ValueError when it is not one."""
    doc = json.loads(body)
    value = doc.get("writtenAt") if isinstance(doc, dict) else None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("heartbeat object has no integer writtenAt")
    return value


def delay_seconds(now_ms: int, written_at_ms: int) -> float:
    """now - writtenAt in seconds, never negative (a peer clock ahead of ours reads as 0)."""
    return max(0, now_ms - written_at_ms) / 1000.0
