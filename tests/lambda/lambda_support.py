"""Helpers for the Lambda tests: environment, moto resources in both regions, API Gateway events.

``lambda/`` cannot be imported as a package (``lambda`` is a keyword), so it is put
on ``sys.path`` and its modules are imported top-level (``import validator``), exactly
as the Lambda runtime does with the handler strings ``validator.lambda_handler``
and ``health.lambda_handler``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lambda"
if str(LAMBDA_DIR) not in sys.path:
    sys.path.insert(0, str(LAMBDA_DIR))
#: PYTHONPATH of a handler run in its own process: the package ships lambda/ and contract.py
#: (modules/compute.py) side by side at its root.
PACKAGE_PATH = os.pathsep.join([str(LAMBDA_DIR), str(LAMBDA_DIR.parent)])

PRIMARY = "us-east-1"
DR = "us-east-2"
REGIONS = {PRIMARY: "primary", DR: "dr"}
TABLE = "payment-transactions-test"
IDEMPOTENCY_TABLE = "payment-idempotency-test"
#: The client the ``api_event`` authorizer context authenticates by default.
CLIENT = "merchant-test"


#: The test audit buckets' default Object Lock retention (dev's settings).
DEFAULT_RETENTION_MODE = "GOVERNANCE"
DEFAULT_RETENTION_DAYS = 365


def bucket_for(region: str) -> str:
    return f"payments-audit-test-{region}"


#: ARN of each region's moto KMS key (the key of the tables and the audit bucket), set by create_resources.
KEY_ARNS: dict[str, str] = {}


# Environment the infra sets, plus fake credentials so nothing can reach real AWS.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": PRIMARY,
        "AWS_REGION": PRIMARY,
        "REGION_ROLE": "primary",
        "TRANSACTIONS_TABLE": TABLE,
        "IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE,
        "AUDIT_BUCKET": bucket_for(PRIMARY),
        "KMS_KEY_ARN": "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000",
        "MAX_AMOUNT": "1000000.00",
        "POWERTOOLS_SERVICE_NAME": "payment-validator",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_METRICS_NAMESPACE": "PaymentsDR",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_LAMBDA_FUNCTION_NAME": "payment-validator",
    }
)
os.environ.pop("AWS_PROFILE", None)


def create_resources(region: str) -> None:
    ddb = aws_client("dynamodb", region)
    ddb.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "transactionId", "AttributeType": "S"},
            {"AttributeName": "timestamp", "AttributeType": "N"},
            {"AttributeName": "customerId", "AttributeType": "S"},
            {"AttributeName": "status", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "transactionId", "KeyType": "HASH"},
            {"AttributeName": "timestamp", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "customer-index",
                "KeySchema": [
                    {"AttributeName": "customerId", "KeyType": "HASH"},
                    {"AttributeName": "timestamp", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "status-index",
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "timestamp", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
    )
    ddb.create_table(
        TableName=IDEMPOTENCY_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    ddb.update_time_to_live(
        TableName=IDEMPOTENCY_TABLE,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"},
    )
    KEY_ARNS[region] = aws_client("kms", region).create_key(Description=f"payments {region}")["KeyMetadata"]["Arn"]
    s3 = aws_client("s3", region)
    # Like the real audit buckets (modules/buckets.py HardenedBucket): Object Lock (moto turns
    # versioning on with it) and a default retention, dev's GOVERNANCE 365 days.  moto then
    # applies the default to an object put without lock parameters, and rejects a PutObject
    # without Content-MD5 / a checksum algorithm, as S3 does.
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=bucket_for(region), ObjectLockEnabledForBucket=True, **location)
    s3.put_object_lock_configuration(Bucket=bucket_for(region), ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": DEFAULT_RETENTION_MODE, "Days": DEFAULT_RETENTION_DAYS}}})


def reset_modules() -> None:
    """Drop cached settings/clients so the next call builds them inside the active mock.

    Only handler modules already imported are reset (each test module imports its own)."""
    for name in ("validator", "health", "reconcile", "dupcheck"):
        module = sys.modules.get(name)
        if module is not None:
            module.reset_runtime()


def use_region(region: str) -> None:
    """Configure the process as the Lambda function of ``region``."""
    os.environ["AWS_REGION"] = region
    os.environ["AWS_DEFAULT_REGION"] = region
    os.environ["REGION_ROLE"] = REGIONS[region]
    os.environ["AUDIT_BUCKET"] = bucket_for(region)
    if region in KEY_ARNS:
        os.environ["KMS_KEY_ARN"] = KEY_ARNS[region]
    reset_modules()


# --------------------------------------------------------------------------- events


class FakeContext:
    """The parts of the Lambda context object that Powertools reads."""

    def __init__(self, name: str = "payment-validator", remaining_ms: int = 20_000):
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.memory_limit_in_mb = 256
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "2025/01/01/[$LATEST]0123456789abcdef"
        self._remaining = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining


def api_event(
    body: str | bytes | dict | None,
    *,
    method: str = "POST",
    path: str = "/validate",
    headers: dict[str, str] | None = None,
    content_type: str | None = "application/json",
    base64_body: bool = False,
    authorized: bool = True,
    body_hash: str | None = None,
    client: str = CLIENT,
) -> dict[str, Any]:
    """An API Gateway REST (v1) Lambda proxy integration event, stage ``prod``.

    As the authorizer lets it through (``authorized``): ``requestContext.authorizer.clientId``
    set and ``X-Content-SHA256`` = the body's hash (``body_hash`` overrides it)."""
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, bytes):
        base64_body = True
        body = base64.b64encode(body).decode("ascii")
    elif base64_body and body is not None:
        body = base64.b64encode(body.encode("utf-8")).decode("ascii")
    hdrs = {
        "Accept": "application/json",
        "Host": "abc123.execute-api.us-east-1.amazonaws.com",
        "User-Agent": "pytest",
        "X-Amzn-Trace-Id": "Root=1-5e1b4151-5ac6c58f5b5daa6532e4ed75",
        "X-Forwarded-For": "203.0.113.10",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    if content_type is not None:
        hdrs["Content-Type"] = content_type
    if authorized:
        raw = base64.b64decode(body) if (base64_body and body is not None) else (body or "").encode("utf-8")
        hdrs["X-Content-SHA256"] = body_hash or hashlib.sha256(raw).hexdigest()
    if headers:
        hdrs.update(headers)
    request_id = str(uuid.uuid4())
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": hdrs,
        "multiValueHeaders": {k: [v] for k, v in hdrs.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "extendedRequestId": "EXAMPLE=",
            "httpMethod": method,
            "identity": {"sourceIp": "203.0.113.10", "userAgent": "pytest"},
            "path": f"/prod{path}",
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": "01/Jan/2025:00:00:00 +0000",
            "requestTimeEpoch": 1735689600000,
            "resourceId": "abc123",
            "resourcePath": path,
            "stage": "prod",
            **({"authorizer": {"clientId": client, "principalId": client}}
               if authorized else {}),
        },
        "body": body,
        "isBase64Encoded": base64_body,
    }


def invoke(module: Any, event: dict[str, Any], *,
           remaining_ms: int = 20_000) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Call a handler in-process and decode its proxy response."""
    response = module.lambda_handler(event, FakeContext(remaining_ms=remaining_ms))
    assert set(response) >= {"statusCode", "body"}
    headers = dict(response.get("headers") or {})
    multi = response.get("multiValueHeaders") or {}
    for key, values in multi.items():
        headers.setdefault(key, values[0] if isinstance(values, list) else values)
    assert headers.get("Content-Type") == "application/json"
    return response["statusCode"], json.loads(response["body"]), headers


# --------------------------------------------------------------------------- state inspection


_test_clients: dict[tuple[str, str], Any] = {}


def aws_client(service: str, region: str) -> Any:
    """Cached boto3 client for assertions, shared by the tests' moto sessions (a client holds no
    AWS state); :func:`reset_test_clients` clears the cache."""
    key = (service, region)
    if key not in _test_clients:
        import boto3

        _test_clients[key] = boto3.client(service, region_name=region)
    return _test_clients[key]


def reset_test_clients() -> None:
    _test_clients.clear()


def table_items(region: str, table: str = TABLE, *, claims: bool = False) -> list[dict[str, Any]]:
    """Items of ``table``; for the transactions table the payment records only (``claims=True``:
    the claim items only)."""
    from boto3.dynamodb.types import TypeDeserializer

    des = TypeDeserializer()
    items = aws_client("dynamodb", region).scan(TableName=table, ConsistentRead=True)["Items"]
    decoded = [{k: des.deserialize(v) for k, v in item.items()} for item in items]
    if table != TABLE:
        return decoded
    return [i for i in decoded if (i.get("kind") == "claim") == claims]


def item_count(region: str, table: str = TABLE) -> int:
    return aws_client("dynamodb", region).scan(TableName=table, Select="COUNT")["Count"]


def bucket_keys(region: str) -> list[str]:
    listing = aws_client("s3", region).list_objects_v2(Bucket=bucket_for(region))
    return [o["Key"] for o in listing.get("Contents", [])]


def receipt_key(transaction_id: str, client: str = CLIENT) -> str:
    return f"receipts/{client}/{transaction_id}.json"


def get_receipt(region: str, transaction_id: str, client: str = CLIENT) -> tuple[dict[str, Any], str]:
    obj = aws_client("s3", region).get_object(
        Bucket=bucket_for(region), Key=receipt_key(transaction_id, client)
    )
    return json.loads(obj["Body"].read()), obj["ContentType"]


def object_lock(region: str, key: str) -> tuple[str | None, Any, str | None]:
    """``(ObjectLockMode, ObjectLockRetainUntilDate, ChecksumSHA256)`` of the current version of ``key``.

    Read with HeadObject: moto 5.2 has no GetObjectRetention, and HeadObject returns the same
    retention (x-amz-object-lock-* headers) plus the stored checksum with ChecksumMode=ENABLED."""
    head = aws_client("s3", region).head_object(Bucket=bucket_for(region), Key=key, ChecksumMode="ENABLED")
    return head.get("ObjectLockMode"), head.get("ObjectLockRetainUntilDate"), head.get("ChecksumSHA256")


def sha256_b64(body: bytes) -> str:
    """The ChecksumSHA256 value S3 stores for ``body``."""
    import hashlib

    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def s3_without_default_checksum(region: str) -> Any:
    """An S3 client that adds a checksum only where the API requires one (botocore before 1.36,
    or ``request_checksum_calculation=when_required``): PutObject goes out without one unless
    the caller asks for it, and an Object Lock bucket rejects it."""
    import boto3
    from botocore.config import Config

    return boto3.client("s3", region_name=region, config=Config(request_checksum_calculation="when_required"))


def nothing_written() -> bool:
    return all(
        item_count(r) == 0 and item_count(r, IDEMPOTENCY_TABLE) == 0 and not bucket_keys(r) for r in REGIONS
    )
