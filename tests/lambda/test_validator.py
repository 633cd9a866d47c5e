"""``POST /validate`` end to end, in-process, against moto in both regions."""

from __future__ import annotations

import json
import threading
from datetime import UTC
from decimal import Decimal
from unittest import mock

import pytest
import validator
from botocore.exceptions import ClientError
from lambda_support import (
    DR,
    IDEMPOTENCY_TABLE,
    PRIMARY,
    api_event,
    bucket_keys,
    get_receipt,
    invoke,
    nothing_written,
    table_items,
    use_region,
)

SEED = '{"transactionId": "test-123", "customerId": "cust-456", "amount": 100.00}'


def throttled(operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"},
         "ResponseMetadata": {"HTTPStatusCode": 400}},
        operation,
    )


@pytest.mark.parametrize("region", [PRIMARY, DR])
def test_happy_path_writes_record_and_receipt_in_own_region_only(aws, region):
    use_region(region)
    status, body, _ = invoke(validator, api_event(SEED))
    assert status == 200
    assert body["transactionId"] == "test-123"
    assert body["status"] == "VALIDATED"
    assert body["region"] == region
    assert body["amount"] == "100.00" and body["currency"] == "USD"

    [item] = table_items(region)
    assert item["transactionId"] == "test-123" and item["customerId"] == "cust-456"
    assert item["amount"] == Decimal("100.00") and isinstance(item["amount"], Decimal)
    assert item["amountMinorUnits"] == 10000
    assert item["currency"] == "USD" and item["status"] == "VALIDATED"
    assert item["acceptedRegion"] == region
    assert item["regionRole"] == ("primary" if region == PRIMARY else "dr")
    assert isinstance(item["timestamp"], Decimal) and item["timestamp"] > 1_600_000_000_000
    assert len(item["requestHash"]) == 64

    receipt, content_type = get_receipt(region, "test-123")
    assert content_type == "application/json"
    assert receipt["transactionId"] == "test-123" and receipt["amount"] == "100.00"
    assert receipt["acceptedRegion"] == region and receipt["requestHash"] == item["requestHash"]
    assert receipt["timestamp"] == int(item["timestamp"])

    other = DR if region == PRIMARY else PRIMARY
    assert table_items(other) == [] and bucket_keys(other) == []


def test_second_seed_example_in_dr(aws):
    use_region(DR)
    status, body, _ = invoke(
        validator, api_event('{"transactionId": "test-124", "customerId": "cust-456", "amount": 150.00}')
    )
    assert (status, body["region"], body["amount"]) == (200, DR, "150.00")


def test_gsi_queries_find_the_record(aws):
    import boto3

    invoke(validator, api_event(SEED))
    table = boto3.resource("dynamodb", region_name=PRIMARY).Table("payment-transactions-test")
    by_customer = table.query(IndexName="customer-index",
                              KeyConditionExpression="customerId = :c",
                              ExpressionAttributeValues={":c": "cust-456"})["Items"]
    by_status = table.query(IndexName="status-index",
                            KeyConditionExpression="#s = :s",
                            ExpressionAttributeNames={"#s": "status"},
                            ExpressionAttributeValues={":s": "VALIDATED"})["Items"]
    assert [i["transactionId"] for i in by_customer] == ["test-123"]
    assert [i["transactionId"] for i in by_status] == ["test-123"]


def test_non_usd_currency_and_exact_amount(aws):
    status, body, _ = invoke(
        validator, api_event('{"transactionId": "bhd-1", "customerId": "c", "amount": 12.345, "currency": "BHD"}')
    )
    assert (status, body["amount"], body["currency"]) == (200, "12.345", "BHD")
    [item] = table_items(PRIMARY)
    assert item["amount"] == Decimal("12.345") and item["amountMinorUnits"] == 12345


def test_idempotent_retry_returns_first_answer_and_writes_nothing_new(aws):
    first = invoke(validator, api_event(SEED))
    receipt_before, _ = get_receipt(PRIMARY, "test-123")
    # Same payment written differently (100 vs 100.00) is the same canonical request.
    second = invoke(validator, api_event('{"amount": 100, "customerId": "cust-456", "transactionId": "test-123"}'))
    assert second[0] == 200 and second[1] == first[1]
    assert len(table_items(PRIMARY)) == 1
    assert len(table_items(PRIMARY, IDEMPOTENCY_TABLE)) == 1
    assert get_receipt(PRIMARY, "test-123")[0] == receipt_before


def test_id_reuse_with_different_body_is_409(aws):
    assert invoke(validator, api_event(SEED))[0] == 200
    for body in (
        '{"transactionId": "test-123", "customerId": "cust-456", "amount": 100.01}',
        '{"transactionId": "test-123", "customerId": "cust-999", "amount": 100.00}',
        '{"transactionId": "test-123", "customerId": "cust-456", "amount": 100.00, "currency": "EUR"}',
    ):
        status, err, _ = invoke(validator, api_event(body))
        assert status == 409
        assert err["error"]["code"] == "TRANSACTION_ID_CONFLICT" and err["error"]["field"] == "transactionId"
    [item] = table_items(PRIMARY)
    assert item["amount"] == Decimal("100.00") and item["customerId"] == "cust-456"


def test_id_reuse_after_idempotency_record_expired_is_still_409(aws):
    """The transactions table itself guards the id once the idempotency record is gone."""
    import boto3

    assert invoke(validator, api_event(SEED))[0] == 200
    idem = boto3.resource("dynamodb", region_name=PRIMARY).Table(IDEMPOTENCY_TABLE)
    for item in idem.scan()["Items"]:
        idem.delete_item(Key={"id": item["id"]})
    status, err, _ = invoke(validator, api_event(SEED.replace("100.00", "5.00")))
    assert (status, err["error"]["code"]) == (409, "TRANSACTION_ID_CONFLICT")
    # and the same body is answered from the stored record, without a second item
    status, body, _ = invoke(validator, api_event(SEED))
    assert (status, body["transactionId"], body["amount"]) == (200, "test-123", "100.00")
    assert len(table_items(PRIMARY)) == 1


def _run_with_first_request_paused(method: str):
    """Start a first request that pauses inside ``PaymentStore.<method>``, send a second one meanwhile."""
    from payments.store import PaymentStore

    entered, release = threading.Event(), threading.Event()
    original = getattr(PaymentStore, method)
    results = {}

    def paused(self, *args, **kwargs):
        entered.set()
        assert release.wait(10)
        return original(self, *args, **kwargs)

    with mock.patch.object(PaymentStore, method, paused):
        worker = threading.Thread(target=lambda: results.setdefault("first", invoke(validator, api_event(SEED))))
        worker.start()
        assert entered.wait(10)
        with mock.patch.object(PaymentStore, method, original):
            second = invoke(validator, api_event(SEED))
        release.set()
        worker.join(10)
    return results["first"], second


def test_concurrent_retry_before_the_claim_exists_is_409_with_retry_after(aws):
    first, (status, err, headers) = _run_with_first_request_paused("claim")
    assert status == 409
    assert err["error"]["code"] == "REQUEST_IN_PROGRESS" and err["error"]["retryable"] is True
    assert err["error"]["outcome"] == "unknown"
    assert headers["Retry-After"] == "1"
    assert first[0] == 200
    assert len(table_items(PRIMARY)) == 1


def test_concurrent_retry_after_the_claim_exists_completes_it_and_gets_the_same_answer(aws):
    """The first request made its claim and pauses before the record: the retry (lock held)
    writes the record the claim determines - the identical one - and answers 200 with it."""
    first, second = _run_with_first_request_paused("put_record")
    assert first[0] == 200 and second[0] == 200 and second[1] == first[1]
    assert len(table_items(PRIMARY)) == 1 and len(table_items(PRIMARY, claims=True)) == 1


def test_concurrent_retry_after_the_record_exists_gets_the_same_answer(aws):
    """The lock is still held (first request writing its receipt), but the record is there:
    the retry converges on the first answer instead of a 409."""
    first, second = _run_with_first_request_paused("put_receipt")
    assert first[0] == 200 and second[0] == 200 and second[1] == first[1]
    assert len(table_items(PRIMARY)) == 1
    assert bucket_keys(PRIMARY) == ["receipts/merchant-test/test-123.json"]


@pytest.mark.parametrize(("retry_attempts", "code"), [(None, "OUTCOME_UNKNOWN"), (1, "OUTCOME_UNKNOWN"),
                                                      (0, "SERVICE_UNAVAILABLE")])
def test_dynamodb_throttling_of_the_record_write_is_503(aws, retry_attempts, code):
    """Only a throttle on the first and only attempt proves nothing was applied; after a retry an
    earlier attempt may have been applied and lost its response, so the outcome is unknown."""
    real_put = validator._get_runtime().store.dynamodb.put_item
    error = throttled("PutItem")
    if retry_attempts is not None:
        error.response["ResponseMetadata"]["RetryAttempts"] = retry_attempts

    def put_item(**kwargs):
        if kwargs["TableName"] == "payment-transactions-test":
            raise error
        return real_put(**kwargs)

    with mock.patch.object(validator._get_runtime().store.dynamodb, "put_item", side_effect=put_item):
        status, err, headers = invoke(validator, api_event(SEED))
    assert status == 503
    assert err["error"]["code"] == code and err["error"]["retryable"] is True
    assert "Retry-After" in headers
    assert "slow down" not in json.dumps(err)  # AWS error details are not leaked
    assert nothing_written()
    # the idempotency record was released: a retry succeeds
    assert invoke(validator, api_event(SEED))[0] == 200
    assert len(table_items(PRIMARY)) == 1


def test_idempotency_store_failure_is_503_and_nothing_written(aws):
    ddb = validator._get_runtime().store.dynamodb
    with mock.patch.object(ddb, "put_item", side_effect=throttled("PutItem")):
        status, err, _ = invoke(validator, api_event(SEED))
    assert (status, err["error"]["code"]) == (503, "SERVICE_UNAVAILABLE")
    assert nothing_written()


def test_receipt_failure_is_503_then_retry_completes_receipt_without_duplicate(aws):
    s3 = validator._get_runtime().store.s3
    failure = ClientError({"Error": {"Code": "InternalError", "Message": "boom"},
                           "ResponseMetadata": {"HTTPStatusCode": 500}}, "PutObject")
    with mock.patch.object(s3, "put_object", side_effect=failure):
        status, err, headers = invoke(validator, api_event(SEED))
    assert status == 503
    assert err["error"]["code"] == "RECEIPT_WRITE_FAILED" and headers["Retry-After"]
    [record] = table_items(PRIMARY)
    assert bucket_keys(PRIMARY) == []
    assert table_items(PRIMARY, IDEMPOTENCY_TABLE) == []  # released for the retry

    status, body, _ = invoke(validator, api_event(SEED))
    assert status == 200 and body["acceptedAt"] == record["acceptedAt"]
    assert table_items(PRIMARY) == [record]
    receipt, _ = get_receipt(PRIMARY, "test-123")
    assert receipt["timestamp"] == int(record["timestamp"]) and receipt["requestHash"] == record["requestHash"]


def test_replicated_record_from_other_region_is_not_duplicated(aws):
    """A record that replicated in from the peer region answers the retry: no second item, and the
    receipt is completed in this region's bucket (derived from the record)."""
    import boto3

    use_region(DR)
    assert invoke(validator, api_event(SEED))[0] == 200
    [dr_item] = table_items(DR)
    for item in table_items(DR) + table_items(DR, claims=True):  # replication copies every item
        boto3.resource("dynamodb", region_name=PRIMARY).Table("payment-transactions-test").put_item(Item=item)

    use_region(PRIMARY)
    status, body, _ = invoke(validator, api_event(SEED))
    assert (status, body["region"]) == (200, DR)
    assert table_items(PRIMARY) == [dr_item]
    assert get_receipt(PRIMARY, "test-123")[0] == get_receipt(DR, "test-123")[0]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ('{"customerId": "c", "amount": 1}', 400, "MISSING_FIELD", "transactionId"),
        ('{"transactionId": "t", "amount": 1}', 400, "MISSING_FIELD", "customerId"),
        ('{"transactionId": "t", "customerId": "c"}', 400, "MISSING_FIELD", "amount"),
        ('{"transactionId": 1, "customerId": "c", "amount": 1}', 400, "INVALID_TYPE", "transactionId"),
        ('{"transactionId": "t", "customerId": ["c"], "amount": 1}', 400, "INVALID_TYPE", "customerId"),
        ('{"transactionId": "t", "customerId": "c", "amount": true}', 400, "INVALID_TYPE", "amount"),
        ('{"transactionId": "t", "customerId": "c", "amount": -1}', 400, "INVALID_AMOUNT", "amount"),
        ('{"transactionId": "t", "customerId": "c", "amount": 0}', 400, "INVALID_AMOUNT", "amount"),
        ('{"transactionId": "t", "customerId": "c", "amount": 1.001}', 400, "AMOUNT_PRECISION", "amount"),
        ('{"transactionId": "t", "customerId": "c", "amount": 1.5, "currency": "JPY"}', 400,
         "AMOUNT_PRECISION", "amount"),
        ('{"transactionId": "t", "customerId": "c", "amount": 1000000.01}', 400, "AMOUNT_TOO_LARGE", "amount"),
        ('{"transactionId": "t", "customerId": "c", "amount": 1e3}', 400, "INVALID_AMOUNT", "amount"),
        ('{"transactionId": "t", "customerId": "c", "amount": NaN}', 400, "INVALID_AMOUNT", "amount"),
        ('{"transactionId": "t", "customerId": "c", "amount": 1, "currency": "XYZ"}', 400,
         "UNSUPPORTED_CURRENCY", "currency"),
        ('{"transactionId": "t", "customerId": "c", "amount": 1, "note": "x"}', 400, "UNKNOWN_FIELD", "note"),
        ('{"transactionId": "t x", "customerId": "c", "amount": 1}', 400, "INVALID_FORMAT", "transactionId"),
        ('{"transactionId": "t", "customerId": "c/../d", "amount": 1}', 400, "INVALID_FORMAT", "customerId"),
        ('{"transactionId": "t", "customerId": "c", "amount": 1', 400, "INVALID_JSON", None),
        ("[]", 400, "INVALID_BODY", None),
        ('{"transactionId": "' + "a" * 9000 + '"}', 413, "PAYLOAD_TOO_LARGE", None),
    ],
)
def test_rejections_are_json_4xx_and_write_nothing(aws, body, status, code, field):
    got_status, err, _ = invoke(validator, api_event(body))
    assert got_status == status
    assert err["error"]["code"] == code
    assert err["error"].get("field") == field
    assert isinstance(err["error"]["message"], str) and err["error"]["message"]
    assert nothing_written()


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_wrong_content_type_is_415(aws, content_type):
    status, err, _ = invoke(validator, api_event(SEED, content_type=content_type))
    assert (status, err["error"]["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")
    assert nothing_written()


def test_header_name_case_does_not_matter(aws):
    event = api_event(SEED, content_type=None, headers={"content-type": "application/json; charset=utf-8"})
    assert invoke(validator, event)[0] == 200


def test_base64_encoded_body_is_accepted(aws):
    assert invoke(validator, api_event(SEED, base64_body=True))[0] == 200


def test_empty_body_is_400(aws):
    status, err, _ = invoke(validator, api_event(None))
    assert (status, err["error"]["code"]) == (400, "INVALID_JSON")
    assert nothing_written()


def test_unknown_route_and_method_are_json_404(aws):
    assert invoke(validator, api_event(SEED, path="/other"))[0] == 404
    status, err, _ = invoke(validator, api_event(SEED, method="GET"))
    assert (status, err["error"]["code"]) == (404, "NOT_FOUND")


def test_logs_carry_transaction_and_region_but_no_request_body(aws, capsys):
    import io

    stream = io.StringIO()
    previous = validator.logger.registered_handler.setStream(stream)
    try:
        invoke(validator, api_event(SEED))
    finally:
        validator.logger.registered_handler.setStream(previous)
    logs = [json.loads(line) for line in stream.getvalue().splitlines()]
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    validated = [entry for entry in logs if entry["message"] == "payment validated"]
    assert validated and validated[0]["transaction_id"] == "test-123" and validated[0]["region"] == PRIMARY
    assert all("cust-456" not in json.dumps(entry) for entry in logs)
    assert any("PaymentValidated" in entry for entry in metrics)
    assert all(entry["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "PaymentsDR" for entry in metrics)


def test_invalid_configuration_fails_closed(aws, monkeypatch):
    import health

    monkeypatch.setenv("REGION_ROLE", "prod")
    validator.reset_runtime()
    health.reset_runtime()
    status, err, _ = invoke(validator, api_event(SEED))
    assert (status, err["error"]["code"]) == (500, "INTERNAL_ERROR")
    assert invoke(health, api_event(None, method="GET", path="/health", content_type=None))[0] == 503
    assert nothing_written()


def test_receipt_put_carries_a_sha256_checksum_and_keeps_the_bucket_default_retention(aws):
    """Receipts set no per-object lock: the bucket's default retention applies (moto applies the
    test bucket's GOVERNANCE 365 days, as S3 would). The PutObject carries a SHA-256 checksum."""
    import time
    from datetime import datetime, timedelta

    from lambda_support import (
        DEFAULT_RETENTION_DAYS,
        DEFAULT_RETENTION_MODE,
        aws_client,
        bucket_for,
        object_lock,
        sha256_b64,
    )
    from ops_support import Recorder

    puts = Recorder(validator._get_runtime().store.s3, "PutObject")
    before = datetime.fromtimestamp(int(time.time()), tz=UTC)
    assert invoke(validator, api_event(SEED))[0] == 200
    [params] = puts.calls
    assert params["ChecksumAlgorithm"] == "SHA256"
    assert not [name for name in params if name.startswith("ObjectLock")]  # no per-object override
    mode, until, checksum = object_lock(PRIMARY, "receipts/merchant-test/test-123.json")
    key = "receipts/merchant-test/test-123.json"
    body = aws_client("s3", PRIMARY).get_object(Bucket=bucket_for(PRIMARY), Key=key)["Body"]
    assert checksum == sha256_b64(body.read())
    assert mode == DEFAULT_RETENTION_MODE
    assert timedelta(0) <= until - (before + timedelta(days=DEFAULT_RETENTION_DAYS)) < timedelta(minutes=5)


# ----------------------------------------------------------------------------- signed requests


def test_request_without_the_authorizer_context_is_403_and_writes_nothing(aws):
    """Fail closed: a stage that lost its authorizer must not accept unsigned payments."""
    use_region(PRIMARY)
    status, body, _ = invoke(validator, api_event(SEED, authorized=False))
    assert status == 403
    assert body["error"]["code"] == "FORBIDDEN" and body["error"]["outcome"] == "not_recorded"
    assert nothing_written()


@pytest.mark.parametrize("declared", [
    "0" * 64,  # another body's hash: the body was swapped after signing
    None,  # no header at all (the authorizer signed an empty one)
    "not-a-hash",
])
def test_body_that_does_not_match_the_signed_hash_is_403_and_writes_nothing(aws, declared):
    """REQUEST authorizers never see the body: the signature covers X-Content-SHA256, and the
    validator checks the body against it before parsing or writing anything."""
    use_region(PRIMARY)
    event = api_event(SEED, body_hash=declared or "x")
    if declared is None:
        del event["headers"]["X-Content-SHA256"]
        del event["multiValueHeaders"]["X-Content-SHA256"]
    status, body, _ = invoke(validator, event)
    assert status == 403
    assert body["error"]["code"] == "BODY_HASH_MISMATCH" and body["error"]["outcome"] == "not_recorded"
    assert nothing_written()


def test_signed_hash_of_a_base64_body_is_checked_on_the_decoded_bytes(aws):
    use_region(PRIMARY)
    status, body, _ = invoke(validator, api_event(SEED, base64_body=True))
    assert status == 200 and body["transactionId"] == "test-123"
