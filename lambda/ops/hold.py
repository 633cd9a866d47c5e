"""The failback hold: one item in the transactions table that keeps the primary out of DNS.

Why (docs/failover.md, "The failback hold"): the probe's latch reaches Route 53 through a
CloudWatch alarm about two minutes after the fact, too late for an outage of 45 s-3 min;
Route 53 then sends traffic back to a primary that has not received what DR accepted.

* **Armed by the DR validator**, before it writes anything for a payment that reached DR
  through the failover name (``requestContext.domainName`` == ``FAILOVER_DOMAIN_NAME``): that
  name reaches DR only when Route 53 answers DR. Payments through DR's own regional name never
  arm it (clients may use that name on a normal day; the primary must not leave DNS for them).
  If the hold cannot be armed the payment is refused (503, nothing written): a DR write
  without the hold could be failed back before it is in the primary.
* **Honoured by the primary's** ``GET /health`` (what Route 53's primary check reads): while
  armed it answers 503, so the PRIMARY record stays unhealthy after the region recovers. The
  read is the health probe's own read of the transactions table, strongly consistent on the
  default MRSC table: a hold armed in DR is seen in the primary as soon as it answers at all.
* **Cleared only by** ``drctl failback``, after its replication evidence: it writes
  ``state: cleared`` with ``clearedAt``. For :data:`GRACE_S` after that, failover-name payments
  still reaching DR (clients' cached DNS answers, at most the 60 s TTL plus Route 53's switch)
  do not arm it again; both regions are up then and those writes replicate at once.

The item: ``transactionId = "__failback_hold__"``, ``timestamp = 0``; no ``customerId`` or
``status``, so the table's indexes and the reconcile job skip it (as the heartbeat item).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from contract import FAILBACK_HOLD_ARMED, FAILBACK_HOLD_CLEARED, FAILBACK_HOLD_ID, aws_error_code

HOLD_ID = FAILBACK_HOLD_ID
KEY = {"transactionId": {"S": HOLD_ID}, "timestamp": {"N": "0"}}
ARMED = FAILBACK_HOLD_ARMED
CLEARED = FAILBACK_HOLD_CLEARED
#: After ``drctl failback`` clears the hold, DR payments through the failover name do not arm
#: it for this long: Route 53's switch (~30 s) + the 60 s TTL, with room for resolvers.
GRACE_S = 300
#: A validator environment trusts what it last learnt of the hold for this long (< GRACE_S,
#: so a payment after the grace always sees a fresh decision).
CACHE_S = 30


class HoldUnavailable(Exception):
    """The hold could not be armed (or its state learnt): the payment must not be accepted."""


@dataclass(frozen=True)
class HoldState:
    armed: bool
    cleared_at: float | None = None  # epoch seconds of the last clear (drctl failback)


def state_of(item: Mapping[str, Any] | None) -> HoldState:
    """The hold in a GetItem ``Item`` (attribute-value form); None/missing = not armed."""
    if not item:
        return HoldState(False)
    state = item.get("state", {}).get("S")
    cleared = item.get("clearedAt", {}).get("N")
    return HoldState(state == ARMED, float(cleared) if cleared is not None else None)


def is_failover_request(domain_name: str | None, failover_domain: str) -> bool:
    """Did the request come through the failover name (not the regional one)?"""
    return bool(failover_domain) and (domain_name or "").rstrip(".").lower() == failover_domain.rstrip(".").lower()


class Arming:
    """One validator environment's view of the hold; arms it once, then trusts it for CACHE_S."""

    def __init__(self, table: str, region: str, *, wall_clock: Callable[[], float] = time.time):
        self.table, self.region, self.wall_clock = table, region, wall_clock
        self._known_until = 0.0  # skip the call until then (armed, or inside the grace)

    def ensure(self, dynamodb: Any, reason: str) -> str:
        """Arm the hold unless it is armed or inside the grace; returns what was found/done.
        Raises :class:`HoldUnavailable` on any AWS error."""
        from botocore.exceptions import BotoCoreError, ClientError

        now = self.wall_clock()
        if now < self._known_until:
            return "known"
        try:
            dynamodb.update_item(
                TableName=self.table, Key=KEY,
                UpdateExpression="SET #s = :armed, armedAt = :now, armedBy = :region, reason = :reason",
                ConditionExpression="attribute_not_exists(transactionId) OR "
                                    "(#s <> :armed AND (attribute_not_exists(clearedAt) OR clearedAt < :grace))",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":armed": {"S": ARMED}, ":now": {"N": str(int(now))},
                                           ":region": {"S": self.region}, ":reason": {"S": reason},
                                           ":grace": {"N": str(int(now - GRACE_S))}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except ClientError as exc:
            if aws_error_code(exc) != "ConditionalCheckFailedException":
                raise HoldUnavailable(aws_error_code(exc)) from exc
            found = state_of(exc.response.get("Item"))
            if found.armed:
                self._known_until = now + CACHE_S
                return "armed"
            # Cleared within the grace (the condition's only other way to fail).
            grace_end = (found.cleared_at or now) + GRACE_S
            self._known_until = min(now + CACHE_S, grace_end)
            return "grace"
        except BotoCoreError as exc:
            raise HoldUnavailable(type(exc).__name__) from exc
        self._known_until = now + CACHE_S
        return "armed-now"
