"""Side effects of an accepted payment: the claim, the DynamoDB record, then the S3 receipt.

Write order and guarantees (see docs/payment-validator.md):

1. **Claim** (client, transaction id): a conditional put of one item on a fixed key
   (``claim#<clientId>#<transactionId>``, sort key 0) with ``ReturnValuesOnConditionCheckFailure
   =ALL_OLD``.  It decides "first": on the multi-Region strongly consistent transactions
   table, once for both regions.  An existing claim with the same request hash is adopted
   (a retry, a lost response, the other region); a different hash is a conflict (409).
2. **Record**, derived only from the request and the claim (time, region, request id), so
   every attempt in every region writes the identical item: put with
   ``attribute_not_exists(transactionId)``; an existing identical item is success.
3. **Receipt** with ``If-None-Match: *``: a receipt already there (an earlier attempt, the
   peer bucket's replication, the reconciliation job) is kept, so duplicates are harmless.

Every failure says what is known (:class:`Attempt`): ``not_recorded`` only while no
PutItem of the claim has been sent; ``unknown`` once one may have been applied;
``recorded`` once the record is proven stored.  No call starts unless its worst case
fits in the time the caller has left (``time_left``); a shorter budget gets a client
with fewer attempts and shorter timeouts (``payments.clients.profile_for_budget``).

Concurrent requests for one id in one region are serialised before this module runs by
the idempotency layer's in-progress lock; across regions, by the claim.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from contract import aws_error_code
from payments import clients, core

if TYPE_CHECKING:  # typing only: boto3 is imported on first use, not at cold start
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

#: What a failed request may claim about the payment.
NOT_RECORDED = "not_recorded"
UNKNOWN = "unknown"
RECORDED = "recorded"


@dataclass
class Attempt:
    """What one request has done so far; decides what a failure may claim."""

    record_may_exist: bool = False  # a PutItem of the record was sent: it may have been applied
    record: dict[str, Any] | None = None  # the stored record, once proven (found, or put succeeded)
    result: dict[str, Any] | None = None  # the 200 answer, once the payment step completed

    @property
    def outcome(self) -> str:
        if self.record is not None:
            return RECORDED
        return UNKNOWN if self.record_may_exist else NOT_RECORDED


class DependencyError(Exception):
    """DynamoDB or S3 failed, or no time was left for a safe call; ``outcome`` says what is known."""

    def __init__(self, outcome: str, message: str, cause: BaseException | None = None):
        super().__init__(message)
        self.outcome = outcome
        self.message = message
        self.cause = cause


class TransactionConflict(Exception):
    """The transaction id is already recorded in this region with a different request."""


#: Error codes of DynamoDB / S3 that are worth logging as throttling.
THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "SlowDown",
        "TooManyRequestsException",
    }
)

_serializer: TypeSerializer | None = None
_deserializer: TypeDeserializer | None = None


def _ser() -> tuple[TypeSerializer, TypeDeserializer]:
    global _serializer, _deserializer
    if _serializer is None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        _serializer, _deserializer = TypeSerializer(), TypeDeserializer()
    return _serializer, _deserializer


def to_attr(item: Mapping[str, Any]) -> dict[str, Any]:
    ser, _ = _ser()
    return {k: ser.serialize(v) for k, v in item.items()}


def from_attr(item: Mapping[str, Any]) -> dict[str, Any]:
    _, des = _ser()
    return {k: des.deserialize(v) for k, v in item.items()}


def error_code(exc: BaseException) -> str:
    return aws_error_code(exc)


#: A single DynamoDB attempt rejected with one of these codes applied nothing.
NOT_APPLIED_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "ValidationException",
        "AccessDeniedException",
        "ResourceNotFoundException",
        "UnrecognizedClientException",
        # MRSC tables: the item is being written from another region; the request was rejected.
        "ReplicatedWriteConflictException",
    }
)


def proven_not_applied(exc: BaseException) -> bool:
    """True only for a 4xx rejection on the *first and only* attempt (no earlier attempt could
    have been applied and lost its response)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    meta = response.get("ResponseMetadata", {})
    return (error_code(exc) in NOT_APPLIED_CODES and meta.get("RetryAttempts") == 0
            and int(meta.get("HTTPStatusCode") or 0) == 400)


class PaymentStore:
    """Writes for one region: its transactions table and its audit bucket.

    ``dynamodb`` / ``s3`` are the normal write-path clients; ``client_for(service, budget_s)``
    returns a client whose worst case fits in ``budget_s`` (or ``None``) when less time is left.
    """

    def __init__(
        self,
        *,
        dynamodb: Any,
        s3: Any,
        table: str,
        bucket: str,
        region: str,
        region_role: str,
        clock_ms: Callable[[], int],
        client_for: Callable[[str, float], Any | None] | None = None,
    ):
        self.dynamodb = dynamodb
        self.s3 = s3
        self.table = table
        self.bucket = bucket
        self.region = region
        self.region_role = region_role
        self.clock_ms = clock_ms
        self.client_for = client_for

    def _client(self, service: str, attempt: Attempt, time_left: Callable[[], float] | None) -> Any:
        default = self.dynamodb if service == "dynamodb" else self.s3
        if time_left is None:
            return default
        budget = time_left()
        if budget >= clients.worst_case_seconds(clients.WRITE_PATH):
            return default
        chosen = self.client_for(service, budget) if self.client_for else None
        if chosen is None:
            raise DependencyError(attempt.outcome, "no time left for a safe call")
        return chosen

    # ------------------------------------------------------------------ the claim

    def get_claim(self, request: core.PaymentRequest, attempt: Attempt | None = None,
                  time_left: Callable[[], float] | None = None) -> dict[str, Any] | None:
        """The claim of ``request``'s (client, transaction id), strongly consistent; ``None`` if none."""
        from botocore.exceptions import BotoCoreError, ClientError

        attempt = attempt or Attempt()
        try:
            found = self._client("dynamodb", attempt, time_left).get_item(
                TableName=self.table, Key=to_attr(core.claim_key(request)), ConsistentRead=True)
        except (ClientError, BotoCoreError) as exc:
            raise DependencyError(attempt.outcome, "transaction store unavailable", exc) from exc
        item = found.get("Item")
        return from_attr(item) if item else None

    def claim(self, request: core.PaymentRequest, api_request_id: str | None, attempt: Attempt,
              time_left: Callable[[], float] | None = None) -> tuple[dict[str, Any], bool]:
        """Decide "first": a conditional put of the one claim item of (client, transaction id).

        Returns ``(claim, won)``: the claim now stored - ours, or the one an earlier attempt
        stored, in this region or (MRSC) the other one.  A ConditionalCheckFailed carries the
        stored item (``ReturnValuesOnConditionCheckFailure=ALL_OLD``), so a lost response whose
        botocore retry meets our own claim adopts it like any other.  A claim for a different
        request is :class:`TransactionConflict`.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        mine = core.build_claim(request, now_ms=self.clock_ms(), region=self.region,
                                region_role=self.region_role, api_request_id=api_request_id)
        ddb = self._client("dynamodb", attempt, time_left)
        attempt.record_may_exist = True
        try:
            ddb.put_item(TableName=self.table, Item=to_attr(mine),
                         ConditionExpression="attribute_not_exists(transactionId)",
                         ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                old = exc.response.get("Item") if isinstance(exc.response, dict) else None
                stored = from_attr(old) if old else self.get_claim(request, attempt, time_left)
                if stored is None:  # deleted in between: nothing decided; the retry claims again
                    raise DependencyError(UNKNOWN, "transaction store returned inconsistent results",
                                          exc) from exc
                if stored.get("requestHash") != request.request_hash():
                    raise TransactionConflict(request.transaction_id) from None
                return stored, False
            if proven_not_applied(exc):
                attempt.record_may_exist = False
            raise DependencyError(attempt.outcome, "transaction store unavailable", exc) from exc
        except BotoCoreError as exc:  # timeouts, connection resets: the claim may have been applied
            raise DependencyError(attempt.outcome, "transaction store unavailable", exc) from exc
        return mine, True

    # ------------------------------------------------------------------ writes

    def put_record(self, item: Mapping[str, Any], attempt: Attempt,
                   time_left: Callable[[], float] | None = None) -> bool | None:
        """Conditionally create the record derived from a claim.

        ``True``: written now; ``False``: already there (an earlier attempt, or the other region);
        ``None``: the key holds *another client's* record (same raw transaction id, same
        millisecond) - the caller moves its claim to the next millisecond.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        ddb = self._client("dynamodb", attempt, time_left)
        attempt.record_may_exist = True
        try:
            ddb.put_item(
                TableName=self.table,
                Item=to_attr(item),
                ConditionExpression="attribute_not_exists(transactionId)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                old = from_attr(exc.response.get("Item") or {}) if isinstance(exc.response, dict) else {}
                if old and (old.get("clientId"), old.get("requestHash")) != (item.get("clientId"),
                                                                             item.get("requestHash")):
                    return None
                attempt.record = dict(item)  # the key is derived from the claim: it is this record
                return False
            raise DependencyError(attempt.outcome, "transaction store unavailable", exc) from exc
        except BotoCoreError as exc:  # timeouts, connection resets: the write may have been applied
            raise DependencyError(attempt.outcome, "transaction store unavailable", exc) from exc
        attempt.record = dict(item)
        return True

    def move_claim(self, request: core.PaymentRequest, claim: Mapping[str, Any], attempt: Attempt,
                   time_left: Callable[[], float] | None = None) -> dict[str, Any]:
        """Move the claim's record key one millisecond on (only from the value we saw); the stored claim."""
        from botocore.exceptions import BotoCoreError, ClientError

        ddb = self._client("dynamodb", attempt, time_left)
        seen = int(claim["recordTimestamp"])
        try:
            ddb.update_item(TableName=self.table, Key=to_attr(core.claim_key(request)),
                            UpdateExpression="SET recordTimestamp = :next",
                            ConditionExpression="recordTimestamp = :seen AND requestHash = :h",
                            ExpressionAttributeValues={":next": {"N": str(seen + 1)}, ":seen": {"N": str(seen)},
                                                       ":h": {"S": request.request_hash()}})
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise DependencyError(attempt.outcome, "transaction store unavailable", exc) from exc
        except BotoCoreError as exc:
            raise DependencyError(attempt.outcome, "transaction store unavailable", exc) from exc
        stored = self.get_claim(request, attempt, time_left)
        if stored is None:
            raise DependencyError(attempt.outcome, "transaction store returned inconsistent results")
        return stored

    def put_receipt(self, record: Mapping[str, Any], attempt: Attempt | None = None,
                    time_left: Callable[[], float] | None = None) -> bool:
        """Store the receipt unless one is there already; ``True`` if this call wrote it."""
        from botocore.exceptions import BotoCoreError, ClientError

        attempt = attempt or Attempt(record=dict(record))
        s3 = self._client("s3", attempt, time_left)
        try:
            s3.put_object(**core.receipt_put_params(self.bucket, record))
        except ClientError as exc:
            if error_code(exc) == "PreconditionFailed":
                return False  # a receipt is already there; it is derived from the same record
            raise DependencyError(attempt.outcome, "receipt could not be stored", exc) from exc
        except BotoCoreError as exc:
            raise DependencyError(attempt.outcome, "receipt could not be stored", exc) from exc
        return True

    # ------------------------------------------------------------------ flow

    def _complete(self, request: core.PaymentRequest, claim: Mapping[str, Any], attempt: Attempt,
                  time_left: Callable[[], float] | None) -> tuple[dict[str, Any], bool | None]:
        """Record and receipt derived from ``claim``: byte-identical whichever region writes them."""
        for _ in range(3):
            record = core.record_from_claim(request, claim)
            created = self.put_record(record, attempt, time_left)
            if created is not None:
                break
            claim = self.move_claim(request, claim, attempt, time_left)
        else:
            raise DependencyError(attempt.outcome, "record key taken by other clients' records")
        # The claim may have been made in the other region and its receipt lost there:
        # complete it in this region's bucket either way.
        self.put_receipt(record, attempt, time_left)
        return record, created

    def complete_existing(self, request: core.PaymentRequest, attempt: Attempt | None = None,
                          time_left: Callable[[], float] | None = None) -> dict[str, Any] | None:
        """The record of ``request``'s claim, completed here, or ``None`` if nothing is claimed yet.

        Raises :class:`TransactionConflict` if the id is claimed for a different request.
        """
        attempt = attempt or Attempt()
        claim = self.get_claim(request, attempt, time_left)
        if claim is None:
            return None
        if claim.get("requestHash") != request.request_hash():
            raise TransactionConflict(request.transaction_id)
        return self._complete(request, claim, attempt, time_left)[0]

    def accept(self, request: core.PaymentRequest, api_request_id: str | None = None, *,
               attempt: Attempt | None = None,
               time_left: Callable[[], float] | None = None) -> tuple[dict[str, Any], bool]:
        """Claim ``request`` (or adopt the claim an earlier attempt made), then store its record
        and make sure the receipt exists here.

        Returns ``(record, created)``: ``created`` when this call made the claim.  Raises
        :class:`TransactionConflict` or :class:`DependencyError`; ``attempt`` records how far it got.
        """
        attempt = attempt if attempt is not None else Attempt()
        claim, won = self.claim(request, api_request_id, attempt, time_left)
        record, _ = self._complete(request, claim, attempt, time_left)
        return record, won
