"""Side effects of an accepted payment: the DynamoDB record, then the S3 receipt.

Write order and guarantees (see docs/payment-validator.md):

1. Look up the transaction id in this region's table (strongly consistent Query on
   the hash key).  A record with the same request hash means "already accepted":
   complete the receipt if this region accepted it and answer with the stored
   result.  A record with a different hash is a conflict (409).
2. Otherwise put the record with ``attribute_not_exists(transactionId)`` so an
   existing item can never be overwritten.
3. Put the receipt.  The receipt is built from the stored record only, so a retry
   after a failed receipt write produces the identical object.

Concurrent requests for one id are serialised before this module runs by the
idempotency layer's in-progress lock (a conditional write on the idempotency table).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from payments import core


class DependencyError(Exception):
    """A retryable failure of DynamoDB or S3 (answered with 503)."""

    def __init__(self, code: str, message: str, cause: BaseException | None = None):
        super().__init__(message)
        self.code = code
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

_serializer = None
_deserializer = None


def _ser():
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


class PaymentStore:
    """Writes for one region: its transactions table and its audit bucket."""

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
    ):
        self.dynamodb = dynamodb
        self.s3 = s3
        self.table = table
        self.bucket = bucket
        self.region = region
        self.region_role = region_role
        self.clock_ms = clock_ms

    # ------------------------------------------------------------------ reads

    def find_records(self, transaction_id: str) -> list[dict[str, Any]]:
        """All items for ``transaction_id`` visible in this region, oldest first."""
        from botocore.exceptions import BotoCoreError, ClientError

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
                page = self.dynamodb.query(**kwargs)
                items.extend(from_attr(i) for i in page.get("Items", []))
                last = page.get("LastEvaluatedKey")
                if not last or len(items) >= 50:
                    break
                kwargs["ExclusiveStartKey"] = last
        except (ClientError, BotoCoreError) as exc:
            raise DependencyError("SERVICE_UNAVAILABLE", "transaction store unavailable", exc) from exc
        return items

    # ------------------------------------------------------------------ writes

    def put_record(self, item: Mapping[str, Any]) -> bool:
        """Conditionally create the record; ``False`` if that exact key already exists."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item=to_attr(item),
                ConditionExpression="attribute_not_exists(transactionId)",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise DependencyError("SERVICE_UNAVAILABLE", "transaction store unavailable", exc) from exc
        except BotoCoreError as exc:
            raise DependencyError("SERVICE_UNAVAILABLE", "transaction store unavailable", exc) from exc
        return True

    def put_receipt(self, record: Mapping[str, Any]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=core.receipt_key(str(record["transactionId"])),
                Body=core.build_receipt(record),
                ContentType="application/json",
            )
        except (ClientError, BotoCoreError) as exc:
            raise DependencyError("RECEIPT_WRITE_FAILED", "receipt could not be stored; retry the request", exc) from exc

    # ------------------------------------------------------------------ flow

    def accept(self, request: core.PaymentRequest, api_request_id: str | None = None) -> tuple[dict[str, Any], bool]:
        """Record ``request`` (or find its earlier record) and make sure the receipt exists.

        Returns ``(record, created)``.  Raises :class:`TransactionConflict` or
        :class:`DependencyError`.
        """
        wanted_hash = request.request_hash()
        for _ in range(2):
            existing = self.find_records(request.transaction_id)
            if existing:
                same = [r for r in existing if r.get("requestHash") == wanted_hash]
                if not same:
                    raise TransactionConflict(request.transaction_id)
                record = same[0]
                if record.get("acceptedRegion") == self.region:
                    # A previous attempt stored the record but may have failed on the receipt.
                    self.put_receipt(record)
                return record, False
            record = core.build_record(
                request,
                now_ms=self.clock_ms(),
                region=self.region,
                region_role=self.region_role,
                api_request_id=api_request_id,
            )
            if self.put_record(record):
                self.put_receipt(record)
                return record, True
            # Same (transactionId, timestamp) key appeared between query and put: look again.
        raise DependencyError("SERVICE_UNAVAILABLE", "transaction store returned inconsistent results")
