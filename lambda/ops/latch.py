"""The failback latch: an SSM String parameter in the watching region, JSON::

    {"state": "blocked"|"open", "since": "2026-11-26T03:00:00Z", "by": "probe"|"<operator>",
     "reason": "...", "consecutiveFailures": 0}

Rules (pure: :func:`next_latch`):

* The probe only ever moves ``open`` -> ``blocked``: after ``threshold`` consecutive failed
  probes of the peer *and* once the custom domain is answered by this region (traffic has
  failed over here: there is a failback to gate). It never opens: only the operator (``drctl failback``) does, by
  writing ``state: open``; a missing ``consecutiveFailures`` counts as 0.
* The failure count lives in the parameter, so it survives cold starts and concurrent
  execution environments. The probe writes only when the count or the state changes
  (nothing while the peer is healthy and the count is 0, nothing while blocked).
* A missing parameter means ``open`` with no failures (first deploy).
* A value that is not a valid latch is *not* overwritten (it may be an operator's edit) and
  counts as blocked: failback waits and the ``FailbackLatchInvalid`` metric pages someone.
  Fields the probe does not know are kept when it rewrites the value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from contract import (
    FAILBACK_BLOCKED,
    FAILBACK_OPEN,
    LATCH_BY,
    LATCH_FAILURES,
    LATCH_FIELDS,
    LATCH_REASON,
    LATCH_SINCE,
    LATCH_STATE,
    aws_error_code,
    latch_json,
)

BLOCKED = FAILBACK_BLOCKED
OPEN = FAILBACK_OPEN
STATES = (BLOCKED, OPEN)
BY_PROBE = "probe"


class LatchInvalid(ValueError):
    """The parameter holds something that is not a latch."""


@dataclass(frozen=True)
class Latch:
    state: str
    since: str
    by: str
    reason: str
    failures: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def blocked(self) -> bool:
        return self.state == BLOCKED

    def to_json(self) -> str:
        return latch_json(self.state, self.since, self.by, self.reason, self.failures, self.extra)


def iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(value: str | None, *, now: float) -> Latch:
    """The latch in ``value`` (None = parameter missing = open). Raises :class:`LatchInvalid`."""
    if value is None:
        return Latch(OPEN, iso(now), BY_PROBE, "no latch yet (first deploy)", 0)
    try:
        doc = json.loads(value)
    except ValueError as exc:
        raise LatchInvalid(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise LatchInvalid("not a JSON object")
    state = doc.get(LATCH_STATE)
    if state not in STATES:
        raise LatchInvalid(f"state must be one of {STATES}, got {state!r}")
    failures = doc.get(LATCH_FAILURES, 0)
    if isinstance(failures, bool) or not isinstance(failures, int) or failures < 0:
        raise LatchInvalid(f"consecutiveFailures must be a non-negative integer, got {failures!r}")
    extra = {k: v for k, v in doc.items() if k not in LATCH_FIELDS}
    return Latch(state, str(doc.get(LATCH_SINCE, "")), str(doc.get(LATCH_BY, "")),
                 str(doc.get(LATCH_REASON, "")), failures, extra)


def next_latch(current: Latch, *, peer_healthy: bool, threshold: int, now: float, peer: str,
               detail: str = "", failed_over: bool = True) -> Latch | None:
    """The latch to write after one probe, or None when nothing changes.

    ``failed_over``: traffic is on this region (the custom domain answered from it). Without
    it the count keeps growing but the latch does not block: a peer this region cannot reach
    while it still serves the domain is a problem on this side, and blocking would push all
    traffic onto this region (the gate removes the peer from DNS).
    """
    if current.blocked:
        return None  # only the operator opens
    if peer_healthy:
        if current.failures == 0:
            return None
        return Latch(current.state, current.since, current.by, current.reason, 0, current.extra)
    failures = current.failures + 1
    if failures >= threshold and failed_over:
        reason = f"{peer} failed {failures} consecutive probes" + (f" (last: {detail})" if detail else "")
        return Latch(BLOCKED, iso(now), BY_PROBE, reason, failures, current.extra)
    return Latch(current.state, current.since, current.by, current.reason, failures, current.extra)


# ----------------------------------------------------------------------------- SSM


def read(ssm: Any, name: str) -> str | None:
    """The parameter's value, or None when it does not exist. AWS errors propagate."""
    from botocore.exceptions import ClientError

    try:
        return ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ClientError as exc:
        if aws_error_code(exc) == "ParameterNotFound":
            return None
        raise


def write(ssm: Any, name: str, latch: Latch) -> None:
    ssm.put_parameter(Name=name, Value=latch.to_json(), Type="String", Overwrite=True)
