"""Side effects of an accepted payment: the DynamoDB record, then the S3 receipt.

Write order and guarantees (see docs/payment-validator.md):

1. Look up the transaction id in this region's table (strongly consistent Query on
   the hash key).  A record with the same request hash means "already accepted":
   complete the receipt in this region's bucket - wherever the record was accepted,
   since the receipt is derived from the record - and answer with the stored result.
   A record with a different hash is a conflict (409).
2. Otherwise put the record with ``attribute_not_exists(transactionId)`` so an
   existing item can never be overwritten.
3. Put the receipt with ``If-None-Match: *``: a receipt already there (an earlier
   attempt, the peer bucket's replication, the reconciliation job) is kept, so
   duplicates are harmless.

Every failure says what is known (:class:`Attempt`): ``not_recorded`` only while no
PutItem of the record has been sent; ``unknown`` once one may have been applied;
``recorded`` once the record is proven stored.  No call starts unless its worst case
fits in the time the caller has left (``time_left``); a shorter budget gets a client
with fewer attempts and shorter timeouts (``payments.clients.profile_for_budget``).

Concurrent requests for one id are serialised before this module runs by the
idempotency layer's in-progress lock (a conditional write on the idempotency table).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", "Unknown"))
    return type(exc).__name__


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

    # ------------------------------------------------------------------ reads

    def find_records(self, transaction_id: str, attempt: Attempt | None = None,
                     time_left: Callable[[], float] | None = None) -> list[dict[str, Any]]:
        """All items for ``transaction_id`` visible in this region, oldest first."""
        from botocore.exceptions import BotoCoreError, ClientError

        attempt = attempt or Attempt()
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "transactionId = :id",
            "ExpressionAttributeValues": {":id": {"S": transaction_id}},
            "ConsistentRead": True,
            "ScanIndexForward": True,
            "Limit": 10,
        }
        try:
            while True:
                page = self._client("dynamodb", attempt, time_left).query(**kwargs)
                items.extend(from_attr(i) for i in page.get("Items", []))
                last = page.get("LastEvaluatedKey")
                if not last or len(items) >= 50:
                    break
                kwargs["ExclusiveStartKey"] = last
        except (ClientError, BotoCoreError) as exc:
            raise DependencyError(attempt.outcome, "transaction store unavailable", exc) from exc
        return items

    # ------------------------------------------------------------------ writes

    def put_record(self, item: Mapping[str, Any], attempt: Attempt,
                   time_left: Callable[[], float] | None = None) -> bool:
        """Conditionally create the record; ``False`` if that exact key already exists."""
        from botocore.exceptions import BotoCoreError, ClientError

        ddb = self._client("dynamodb", attempt, time_left)
        attempt.record_may_exist = True
        try:
            ddb.put_item(
                TableName=self.table,
                Item=to_attr(item),
                ConditionExpression="attribute_not_exists(transactionId)",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            if proven_not_applied(exc):
                attempt.record_may_exist = False
            raise DependencyError(attempt.outcome, "transaction store unavailable", exc) from exc
        except BotoCoreError as exc:  # timeouts, connection resets: the write may have been applied
            raise DependencyError(attempt.outcome, "transaction store unavailable", exc) from exc
        attempt.record = dict(item)
        return True

    def put_receipt(self, record: Mapping[str, Any], attempt: Attempt | None = None,
                    time_left: Callable[[], float] | None = None) -> bool:
        """Store the receipt unless one is there already; ``True`` if this call wrote it."""
        from botocore.exceptions import BotoCoreError, ClientError

        attempt = attempt or Attempt(record=dict(record))
        s3 = self._client("s3", attempt, time_left)
        try:
            s3.put_object(
                Bucket=self.bucket,
                Key=core.receipt_key(str(record["transactionId"])),
                Body=core.build_receipt(record),
                ContentType="application/json",
                IfNoneMatch="*",
                # Object Lock buckets reject a PutObject without a checksum; not left to the
                # SDK's default.  No lock parameters: a receipt takes the bucket's default retention.
                ChecksumAlgorithm="SHA256",
            )
        except ClientError as exc:
            if error_code(exc) == "PreconditionFailed":
                return False  # a receipt is already there; it is derived from the same record
            raise DependencyError(attempt.outcome, "receipt could not be stored", exc) from exc
        except BotoCoreError as exc:
            raise DependencyError(attempt.outcome, "receipt could not be stored", exc) from exc
        return True

    # ------------------------------------------------------------------ flow

    def complete_existing(self, request: core.PaymentRequest, attempt: Attempt | None = None,
                          time_left: Callable[[], float] | None = None) -> dict[str, Any] | None:
        """The stored record for ``request`` with its receipt completed here, or ``None`` if there is none.

        Raises :class:`TransactionConflict` if the id is recorded with a different request.
        """
        attempt = attempt or Attempt()
        existing = self.find_records(request.transaction_id, attempt, time_left)
        if not existing:
            return None
        same = [r for r in existing if r.get("requestHash") == request.request_hash()]
        if not same:
            raise TransactionConflict(request.transaction_id)
        attempt.record = same[0]
        # The record may have been accepted in the other region (replicated here) and its
        # receipt lost there: complete it in this region's bucket either way.
        self.put_receipt(same[0], attempt, time_left)
        return same[0]

    def accept(self, request: core.PaymentRequest, api_request_id: str | None = None, *,
               attempt: Attempt | None = None,
               time_left: Callable[[], float] | None = None) -> tuple[dict[str, Any], bool]:
        """Record ``request`` (or find its earlier record) and make sure the receipt exists here.

        Returns ``(record, created)``.  Raises :class:`TransactionConflict` or
        :class:`DependencyError`; ``attempt`` records how far it got.
        """
        attempt = attempt if attempt is not None else Attempt()
        for _ in range(2):
            found = self.complete_existing(request, attempt, time_left)
            if found is not None:
                return found, False
            record = core.build_record(
                request,
                now_ms=self.clock_ms(),
                region=self.region,
                region_role=self.region_role,
                api_request_id=api_request_id,
            )
            if self.put_record(record, attempt, time_left):
                self.put_receipt(record, attempt, time_left)
                return record, True
            # Same (transactionId, timestamp) key appeared between query and put: look again.
        raise DependencyError(attempt.outcome, "transaction store returned inconsistent results")
