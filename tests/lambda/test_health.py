"""``GET /health``: every dependency of a payment, probed in parallel within one deadline."""

from __future__ import annotations

import json
from datetime import UTC
from unittest import mock

import health
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from lambda_support import DR, PRIMARY, TABLE, api_event, aws_client, invoke, use_region

from payments import clients
from payments.health import CALL_WORST_CASE_SECONDS, _call


def health_event():
    return api_event(None, method="GET", path="/health", content_type=None)


def client_error(code: str, http: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": http}},
                       "GetItem")


def health_client():
    return health._get_runtime().probe.dynamodb


@pytest.mark.parametrize("region", [PRIMARY, DR])
def test_healthy_region_is_200(aws, region):
    use_region(region)
    status, body, _ = invoke(health, health_event())
    assert status == 200
    assert body["status"] == "healthy" and body["region"] == region
    assert body["regionRole"] == ("primary" if region == PRIMARY else "dr")
    assert body["checks"]["transactions"]["read"]["status"] == "ok"
    assert body["checks"]["transactions"]["table"]["tableStatus"] == "ACTIVE"
    assert body["checks"]["key"]["describe"]["keyState"] == "Enabled"


def test_missing_table_is_503(aws):
    aws_client("dynamodb", PRIMARY).delete_table(TableName=TABLE)
    status, body, headers = invoke(health, health_event())
    assert status == 503
    assert body["status"] == "unhealthy" and body["verdict"] == "PAYMENTS_UNAVAILABLE"
    assert body["checks"]["transactions"]["read"]["error"] == "ResourceNotFoundException"
    assert body["checks"]["transactions"]["read"]["attempts"] == 1  # not transient: no retry
    assert body["checks"]["idempotency"]["status"] == "ok"
    assert headers["Retry-After"]


def test_missing_table_in_dr_does_not_affect_primary(aws):
    aws_client("dynamodb", DR).delete_table(TableName=TABLE)
    assert invoke(health, health_event())[0] == 200
    use_region(DR)
    assert invoke(health, health_event())[0] == 503


def test_persistent_throttling_is_503_after_one_retry(aws):
    with mock.patch.object(health_client(), "get_item",
                           side_effect=client_error("ProvisionedThroughputExceededException")):
        status, body, _ = invoke(health, health_event())
    assert status == 503
    assert body["checks"]["transactions"]["read"] == {
        "status": "error", "attempts": 2, "error": "ProvisionedThroughputExceededException", "transient": True}


def test_single_transient_blip_is_retried_and_healthy(aws):
    import threading

    real = health_client().get_item
    lock, calls = threading.Lock(), {"n": 0}

    def flaky(**kwargs):
        with lock:
            calls["n"] += 1
            first = calls["n"] == 1
        if first:
            raise client_error("InternalServerError", 500)
        return real(**kwargs)

    with mock.patch.object(health_client(), "get_item", side_effect=flaky):
        status, body, _ = invoke(health, health_event())
    assert status == 200
    attempts = sorted(body["checks"][t]["read"]["attempts"] for t in ("transactions", "idempotency"))
    assert attempts == [1, 2]


def test_table_not_active_is_503(aws):
    real = health_client().describe_table

    def deleting(**kwargs):
        out = real(**kwargs)
        out["Table"]["TableStatus"] = "INACCESSIBLE_ENCRYPTION_CREDENTIALS"
        return out

    with mock.patch.object(health_client(), "describe_table", side_effect=deleting):
        status, body, _ = invoke(health, health_event())
    assert status == 503
    assert body["checks"]["transactions"]["table"]["tableStatus"] == "INACCESSIBLE_ENCRYPTION_CREDENTIALS"


def test_unhealthy_control_plane_facts_are_not_cached(aws):
    real = health_client().describe_table
    with mock.patch.object(health_client(), "describe_table", side_effect=lambda **kw: {
            "Table": {"TableStatus": "DELETING"}}):
        assert invoke(health, health_event())[0] == 503
    with mock.patch.object(health_client(), "describe_table", wraps=real) as describe:
        assert invoke(health, health_event())[0] == 200  # re-checked at once, not after the TTL
    assert describe.call_count == 2


def test_throttled_describe_table_alone_does_not_fail_over(aws):
    with mock.patch.object(health_client(), "describe_table",
                           side_effect=client_error("ThrottlingException")):
        status, body, _ = invoke(health, health_event())
    assert status == 200
    assert body["checks"]["transactions"]["table"]["status"] == "warning"
    assert body["checks"]["transactions"]["status"] == "warning"


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_call_retries_a_transient_error_once_only_if_a_whole_call_fits():
    clock = FakeClock()
    fn = mock.Mock()

    def slow_timeout():
        clock.now += CALL_WORST_CASE_SECONDS  # each call burns its full worst case
        raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")

    fn.side_effect = slow_timeout
    _, info = _call(fn, deadline=100.0 + 2 * CALL_WORST_CASE_SECONDS + 0.01, clock=clock)
    assert (info["status"], info["attempts"], fn.call_count) == ("error", 2, 2)
    assert clock.now - 100.0 <= 2 * CALL_WORST_CASE_SECONDS + 0.01

    clock.now, fn.call_count = 100.0, 0
    _, info = _call(fn, deadline=100.0 + 1.5 * CALL_WORST_CASE_SECONDS, clock=clock)
    assert info["attempts"] == 1 and fn.call_count == 1  # no room for a whole second call


def test_call_does_not_retry_a_permanent_error():
    fn = mock.Mock(side_effect=client_error("AccessDeniedException"))
    _, info = _call(fn, deadline=1e9, clock=FakeClock())
    assert info == {"status": "error", "attempts": 1, "error": "AccessDeniedException", "transient": False}


def test_health_client_is_single_attempt_with_short_timeouts(aws):
    config = health_client().meta.config
    assert config.retries["total_max_attempts"] == 1
    assert config.connect_timeout + config.read_timeout <= CALL_WORST_CASE_SECONDS


def test_unhealthy_503_has_the_apis_error_shape(aws):
    """One error shape (issue 20): the unhealthy answer carries an ``error`` object like every
    other error of the API, and still never the healthy search string."""
    aws_client("dynamodb", PRIMARY).delete_table(TableName="payment-idempotency-test")
    status, body, headers = invoke(health, health_event())
    assert status == 503
    assert body["error"]["code"] == "PAYMENTS_UNAVAILABLE" and body["error"]["retryable"] is True
    assert body["error"]["retryAfterSeconds"] == int(headers["Retry-After"])
    assert headers["Cache-Control"] == "no-store"
    assert "PAYMENTS_HEALTHY" not in json.dumps(body)


def test_unexpected_error_is_503_json(aws):
    with mock.patch.object(health._get_runtime().probe, "run", side_effect=RuntimeError("bug")):
        status, body, _ = invoke(health, health_event())
    assert status == 503 and body["status"] == "unhealthy"
    assert "PAYMENTS_HEALTHY" not in str(body)


# --------------------------------------------------------------------------- issue 15, items 4 and 5

HEALTHY_STRING = "PAYMENTS_HEALTHY"


def test_healthy_body_carries_the_route53_search_string_early(aws):
    status, _, _ = invoke(health, health_event())
    raw = health.lambda_handler(health_event(), __import__("lambda_support").FakeContext())["body"]
    assert status == 200
    assert HEALTHY_STRING in raw[:5120]  # Route 53 searches the first 5,120 bytes
    body = __import__("json").loads(raw)
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "transactions": "ok", "idempotency": "ok", "receipts": "ok", "key": "ok"}


@pytest.mark.parametrize("break_it", ["idempotency_table", "bucket", "key_disabled", "key_pending_deletion"])
def test_any_dependency_of_a_payment_failing_makes_the_region_unhealthy(aws, break_it):
    import os

    from lambda_support import IDEMPOTENCY_TABLE, bucket_for

    if break_it == "idempotency_table":
        aws_client("dynamodb", PRIMARY).delete_table(TableName=IDEMPOTENCY_TABLE)
    elif break_it == "bucket":
        aws_client("s3", PRIMARY).delete_bucket(Bucket=bucket_for(PRIMARY))
    elif break_it == "key_disabled":
        aws_client("kms", PRIMARY).disable_key(KeyId=os.environ["KMS_KEY_ARN"].rsplit("/", 1)[-1])
    else:
        aws_client("kms", PRIMARY).schedule_key_deletion(KeyId=os.environ["KMS_KEY_ARN"].rsplit("/", 1)[-1],
                                                         PendingWindowInDays=7)
    raw = health.lambda_handler(health_event(), __import__("lambda_support").FakeContext())
    assert raw["statusCode"] == 503
    assert HEALTHY_STRING not in raw["body"]


def test_receipts_probe_writes_a_health_object_not_a_receipt(aws):
    from lambda_support import bucket_keys

    assert invoke(health, health_event())[0] == 200
    assert bucket_keys(PRIMARY) == [f"health/{PRIMARY}.json"]


def test_control_plane_facts_are_cached_between_probes(aws):
    ddb = health._get_runtime().probe.dynamodb
    kms = health._get_runtime().probe.kms
    with mock.patch.object(ddb, "describe_table", wraps=ddb.describe_table) as describe, \
            mock.patch.object(kms, "describe_key", wraps=kms.describe_key) as describe_key, \
            mock.patch.object(ddb, "get_item", wraps=ddb.get_item) as get_item:
        for _ in range(3):
            assert invoke(health, health_event())[0] == 200
    assert describe.call_count == 2  # both tables once, then cached
    assert describe_key.call_count == 1
    assert get_item.call_count == 6  # data plane every probe, both tables


def test_probe_answers_by_its_deadline_even_when_a_call_hangs(aws):
    import threading
    import time

    release = threading.Event()
    ddb = health._get_runtime().probe.dynamodb

    def hang(**kwargs):
        release.wait(5)
        raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")

    try:
        with mock.patch.object(ddb, "get_item", side_effect=hang):
            started = time.monotonic()
            result = health._get_runtime().probe.run(budget_seconds=0.3)
            elapsed = time.monotonic() - started
    finally:
        release.set()
    assert result.healthy is False
    assert result.checks["transactions"]["error"] == "DeadlineExceeded"
    assert elapsed < 1.0  # returned at its 0.3 s deadline, not after the hung call


def test_health_path_budget_fits_route53s_two_seconds():
    from payments.health import DEFAULT_BUDGET_SECONDS

    assert DEFAULT_BUDGET_SECONDS <= 1.5
    assert clients.worst_case_seconds(clients.HEALTH_PATH) <= 1.0


@pytest.mark.parametrize(("mode", "consistent"), [("EVENTUAL", False), ("STRONG", True)])
def test_transactions_read_is_strongly_consistent_on_an_mrsc_table(aws, monkeypatch, mode, consistent):
    monkeypatch.setenv("TRANSACTIONS_CONSISTENCY_MODE", mode)
    health.reset_runtime()
    ddb = health._get_runtime().probe.dynamodb
    with mock.patch.object(ddb, "get_item", wraps=ddb.get_item) as get_item:
        assert invoke(health, health_event())[0] == 200
    reads = {call.kwargs["TableName"]: call.kwargs["ConsistentRead"] for call in get_item.call_args_list}
    assert reads == {TABLE: consistent, "payment-idempotency-test": False}


def test_search_string_comes_from_the_environment(aws, monkeypatch):
    monkeypatch.setenv("HEALTH_SEARCH_STRING", "REGION_TAKES_PAYMENTS")
    health.reset_runtime()
    status, body, _ = invoke(health, health_event())
    assert (status, body["verdict"]) == (200, "REGION_TAKES_PAYMENTS")


@pytest.mark.parametrize("bad", ["healthy", "SHORT", "PAYMENTS", "PAYMENTS_UNAVAILABLE"])
def test_a_search_string_an_unhealthy_body_could_contain_is_refused(aws, monkeypatch, bad):
    monkeypatch.setenv("HEALTH_SEARCH_STRING", bad)
    health.reset_runtime()
    raw = health.lambda_handler(health_event(), __import__("lambda_support").FakeContext())
    # Route 53 needs a 2xx/3xx *and* the string; the refused setting answers 503 on every probe.
    assert raw["statusCode"] == 503
    assert __import__("json").loads(raw["body"])["verdict"] == "PAYMENTS_UNAVAILABLE"


def test_clients_and_probe_are_built_at_init_not_on_the_first_request():
    """Import in a fresh interpreter (the Lambda init phase): the probe and its clients exist before
    any request.  No AWS call is made: building clients does no I/O."""
    import os
    import subprocess
    import sys

    from lambda_support import LAMBDA_DIR, PACKAGE_PATH

    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=PACKAGE_PATH)
    out = subprocess.run([sys.executable, "-c", "import health; r = health._runtime; "
                          "print(r is not None and r.probe.dynamodb.meta.region_name)"],
                         cwd=str(LAMBDA_DIR), env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == os.environ["AWS_REGION"], out.stderr[-2000:]


# --------------------------------------------------------------------------- Object Lock on the probe object


def test_health_object_gets_a_one_day_governance_lock_not_the_bucket_default(aws):
    """The test bucket's default retention is GOVERNANCE 365 days (like dev); the probe object
    overrides it with its own lock until written + 1 day, and carries a SHA-256 checksum."""
    import time
    from datetime import datetime, timedelta

    from lambda_support import DEFAULT_RETENTION_DAYS, object_lock, sha256_b64
    from ops_support import Recorder

    from payments.health import PROBE_OBJECT_RETENTION_DAYS

    probe = health._get_runtime().probe
    written = float(int(time.time()))
    probe.wall_clock = lambda: written
    puts = Recorder(probe.s3, "PutObject")
    assert invoke(health, health_event())[0] == 200
    [params] = puts.calls
    assert (params["ObjectLockMode"], params["ChecksumAlgorithm"]) == ("GOVERNANCE", "SHA256")
    mode, until, checksum = object_lock(PRIMARY, f"health/{PRIMARY}.json")
    assert PROBE_OBJECT_RETENTION_DAYS == 1 < DEFAULT_RETENTION_DAYS
    assert mode == "GOVERNANCE"
    assert until == datetime.fromtimestamp(written, tz=UTC) + timedelta(days=1)
    assert checksum == sha256_b64(b'{"probe":"health"}')


def test_health_object_put_does_not_rely_on_the_sdks_default_checksum(aws):
    """With an SDK that adds no checksum by default (older boto3 in a Lambda runtime), a PutObject
    without one is rejected by the Object Lock bucket; the probe's write still succeeds."""
    from lambda_support import bucket_for, s3_without_default_checksum

    plain = s3_without_default_checksum(PRIMARY)
    with pytest.raises(ClientError) as exc:
        plain.put_object(Bucket=bucket_for(PRIMARY), Key=f"health/{PRIMARY}.json", Body=b"{}")
    assert exc.value.response["Error"]["Code"] == "MissingUploadObjectWithObjectLockHeaders"
    probe = health._get_runtime().probe
    probe.s3 = plain
    assert probe.run().checks["receipts"]["status"] == "ok"
