"""Duplicate acceptances of one payment: mark one record the duplicate, resolve it (issue 20).

With ``TRANSACTIONS_CONSISTENCY=EVENTUAL`` the same (client, transactionId) can be accepted
in both regions within the replication lag: two records under one ``transactionId`` with
different ``timestamp`` keys. The stream-triggered check finds them as the second lands in a
replica (``dupcheck.py``), and the reconciliation job after its grace period as a backstop
(``payments.audit``'s ``find_duplicates``); both call :func:`mark`:

* the **first** acceptance (lowest ``timestamp``) is the payment and stays ``VALIDATED``;
* every later ``VALIDATED`` one becomes ``status = DUPLICATE`` with ``duplicateOf`` (the
  first one's ``timestamp``), ``duplicateMarkedAt`` and ``duplicateMarkedBy``.

The choice is a function of the items alone, so both regions' jobs mark the same record; the
write is conditional (still ``VALIDATED``, never reviewed), so marking twice changes nothing
and never undoes an operator's decision. A marked record leaves ``status-index``'s
``VALIDATED`` partition, so whatever settles ``VALIDATED`` records no longer sees it.

An operator resolves each marked record (``drctl duplicates``, dry run unless ``--apply``):
``void`` makes it ``VOIDED`` (not a payment: settle the first one only); ``keep`` puts it
back to ``VALIDATED`` with ``duplicateReview`` set (the client meant two payments), and
:func:`mark` never marks a reviewed record again. Both write who, when and why on the record
(``resolvedBy``, ``resolvedAt``, ``resolution``, ``resolutionReason``), conditional on the
record still being ``DUPLICATE``.

Plain boto3 DynamoDB clients; used by ``reconcile.lambda_handler`` and by drctl.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contract import STATUS_INDEX, aws_error_code

STATUS_VALIDATED = "VALIDATED"  # payments.core.STATUS_VALIDATED (drctl imports this without it)
STATUS_DUPLICATE = "DUPLICATE"
STATUS_VOIDED = "VOIDED"
RESOLUTIONS = {"void": STATUS_VOIDED, "keep": STATUS_VALIDATED}
#: Every attribute a marking names (keys, writes, condition): the reconcile role's UpdateItem
#: grant is limited to these (modules/jobs.py, dynamodb:Attributes).
MARK_ATTRIBUTES = ("transactionId", "timestamp", "status", "duplicateOf", "duplicateMarkedAt",
                      "duplicateMarkedBy", "duplicateReview")


class NotMarked(ValueError):
    """The record to resolve does not exist or is not (any more) a marked duplicate."""


@dataclass(frozen=True)
class Marking:
    transaction_id: str
    client_id: str
    timestamp: int            # the record marked (or to be marked) the duplicate
    region: str               # its acceptedRegion
    duplicate_of: int         # the first acceptance's timestamp: the payment
    same_request: bool        # same requestHash as the first (a retry accepted twice)


@dataclass
class Outcome:
    marked: list[Marking] = field(default_factory=list)     # written by this call (or would be)
    pending: list[Marking] = field(default_factory=list)    # DUPLICATE, awaiting an operator

    @property
    def unresolved_ids(self) -> list[str]:
        return sorted({m.transaction_id for m in self.marked + self.pending})


def _s(item: dict[str, Any], name: str) -> str:
    return str(item.get(name, {}).get("S", ""))


def _n(item: dict[str, Any], name: str) -> int:
    return int(item.get(name, {}).get("N", "0"))


def _items(dynamodb: Any, table: str, transaction_id: str) -> list[dict[str, Any]]:
    kwargs: dict[str, Any] = {
        "TableName": table, "KeyConditionExpression": "transactionId = :id",
        "ExpressionAttributeValues": {":id": {"S": transaction_id}}, "ConsistentRead": True}
    items: list[dict[str, Any]] = []
    while True:
        page = dynamodb.query(**kwargs)
        items += page.get("Items", [])
        if not page.get("LastEvaluatedKey"):
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _code(exc: BaseException) -> str:
    return aws_error_code(exc, missing="")


def mark(dynamodb: Any, table: str, transaction_ids: list[str], *, now_ms: int, marked_by: str,
         apply: bool = True) -> Outcome:
    """Mark every later acceptance of each id (per client) the duplicate of the first."""
    outcome = Outcome()
    for transaction_id in dict.fromkeys(transaction_ids):
        by_client: dict[str, list[dict[str, Any]]] = {}
        for item in _items(dynamodb, table, transaction_id):
            by_client.setdefault(_s(item, "clientId"), []).append(item)
        for client_id, items in by_client.items():
            items.sort(key=lambda i: _n(i, "timestamp"))
            first = items[0]
            for item in items[1:]:
                found = Marking(transaction_id, client_id, _n(item, "timestamp"),
                                _s(item, "acceptedRegion"), _n(first, "timestamp"),
                                _s(item, "requestHash") == _s(first, "requestHash"))
                if _s(item, "status") == STATUS_DUPLICATE:
                    outcome.pending.append(found)
                elif _s(item, "status") == STATUS_VALIDATED and "duplicateReview" not in item:
                    if apply and not _write_mark(dynamodb, table, found, now_ms, marked_by):
                        continue
                    outcome.marked.append(found)
    return outcome


def _write_mark(dynamodb: Any, table: str, found: Marking, now_ms: int, marked_by: str) -> bool:
    try:
        dynamodb.update_item(
            TableName=table,
            Key={"transactionId": {"S": found.transaction_id}, "timestamp": {"N": str(found.timestamp)}},
            UpdateExpression="SET #s = :dup, duplicateOf = :of, duplicateMarkedAt = :at, "
                             "duplicateMarkedBy = :by",
            ConditionExpression="#s = :validated AND attribute_not_exists(duplicateReview)",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":dup": {"S": STATUS_DUPLICATE}, ":of": {"N": str(found.duplicate_of)},
                                       ":at": {"N": str(now_ms)}, ":by": {"S": marked_by},
                                       ":validated": {"S": STATUS_VALIDATED}})
    except Exception as exc:
        if _code(exc) == "ConditionalCheckFailedException":
            return False  # the other region's job marked it, or an operator reviewed it
        raise
    return True


def list_marked(dynamodb: Any, table: str, index: str = STATUS_INDEX) -> list[dict[str, Any]]:
    """Every record awaiting an operator (``status-index``, ``status = DUPLICATE``), oldest first."""
    kwargs: dict[str, Any] = {
        "TableName": table, "IndexName": index, "KeyConditionExpression": "#s = :dup",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":dup": {"S": STATUS_DUPLICATE}}}
    rows: list[dict[str, Any]] = []
    while True:
        page = dynamodb.query(**kwargs)
        for item in page.get("Items", []):
            rows.append({"transactionId": _s(item, "transactionId"), "clientId": _s(item, "clientId"),
                         "timestamp": _n(item, "timestamp"), "region": _s(item, "acceptedRegion"),
                         "duplicateOf": _n(item, "duplicateOf"),
                         "markedAt": _n(item, "duplicateMarkedAt"),
                         "markedBy": _s(item, "duplicateMarkedBy")})
        if not page.get("LastEvaluatedKey"):
            return rows
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def resolve(dynamodb: Any, table: str, *, transaction_id: str, timestamp: int, action: str,
            operator: str, reason: str, now_ms: int, apply: bool) -> dict[str, Any]:
    """Resolve one marked record: ``void`` or ``keep``. Returns what was (or would be) written."""
    if action not in RESOLUTIONS:
        raise ValueError(f"action must be one of {', '.join(RESOLUTIONS)}, got {action!r}")
    if not reason.strip() or not operator.strip():
        raise ValueError("a resolution needs --reason TEXT and an operator (recorded on the record)")
    key = {"transactionId": {"S": transaction_id}, "timestamp": {"N": str(timestamp)}}
    item = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    if item is None or _s(item, "status") != STATUS_DUPLICATE:
        state = "no such record" if item is None else f"status {_s(item, 'status')}"
        raise NotMarked(f"{transaction_id} @ {timestamp}: {state}, not a marked duplicate")
    change = {"transactionId": transaction_id, "timestamp": timestamp, "clientId": _s(item, "clientId"),
              "duplicateOf": _n(item, "duplicateOf"), "from": STATUS_DUPLICATE,
              "to": RESOLUTIONS[action], "resolution": action, "resolvedBy": operator,
              "resolvedAt": now_ms, "resolutionReason": reason, "applied": False}
    if not apply:
        return change
    review = ", duplicateReview = :review" if action == "keep" else ""
    values: dict[str, Any] = {":to": {"S": RESOLUTIONS[action]}, ":action": {"S": action},
                              ":by": {"S": operator}, ":at": {"N": str(now_ms)},
                              ":why": {"S": reason}, ":dup": {"S": STATUS_DUPLICATE}}
    if review:
        values[":review"] = {"S": f"kept by {operator}"}
    try:
        dynamodb.update_item(
            TableName=table, Key=key,
            UpdateExpression="SET #s = :to, resolution = :action, resolvedBy = :by, "
                             f"resolvedAt = :at, resolutionReason = :why{review}",
            ConditionExpression="#s = :dup", ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=values)
    except Exception as exc:
        if _code(exc) == "ConditionalCheckFailedException":
            raise NotMarked(f"{transaction_id} @ {timestamp}: resolved by someone else meanwhile") from exc
        raise
    return change | {"applied": True}
