"""``GET /health``: bounded probe of the region's transactions table."""

from __future__ import annotations

from unittest import mock

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from lambda_support import DR, PRIMARY, TABLE, api_event, invoke, aws_client, use_region

import health
from payments import clients
from payments.health import CALL_WORST_CASE_SECONDS, probe


def health_event():
    return api_event(None, method="GET", path="/health", content_type=None)


def client_error(code: str, http: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": http}},
                       "GetItem")


def health_client():
    import os

    return clients.client("dynamodb", os.environ["AWS_REGION"], clients.HEALTH_PATH)


@pytest.mark.parametrize("region", [PRIMARY, DR])
def test_healthy_region_is_200(aws, region):
    use_region(region)
    status, body, _ = invoke(health, health_event())
    assert status == 200
    assert body["status"] == "healthy" and body["region"] == region
    assert body["regionRole"] == ("primary" if region == PRIMARY else "dr")
    assert body["checks"]["read"]["status"] == "ok"
    assert body["checks"]["table"]["tableStatus"] == "ACTIVE"


def test_missing_table_is_503(aws):
    aws_client("dynamodb", PRIMARY).delete_table(TableName=TABLE)
    status, body, headers = invoke(health, health_event())
    assert status == 503
    assert body["status"] == "unhealthy"
    assert body["checks"]["read"]["error"] == "ResourceNotFoundException"
    assert body["checks"]["read"]["attempts"] == 1  # not transient: no retry
    assert headers["Retry-After"]


def test_missing_table_in_dr_does_not_affect_primary(aws):
    aws_client("dynamodb", DR).delete_table(TableName=TABLE)
    assert invoke(health, health_event())[0] == 200
    use_region(DR)
    assert invoke(health, health_event())[0] == 503


def test_persistent_throttling_is_503_after_one_retry(aws):
    with mock.patch.object(health_client(), "get_item",
                           side_effect=client_error("ProvisionedThroughputExceededException")) as get_item:
        status, body, _ = invoke(health, health_event())
    assert status == 503
    assert get_item.call_count == 2
    assert body["checks"]["read"] == {"status": "error", "attempts": 2,
                                      "error": "ProvisionedThroughputExceededException", "transient": True}


def test_single_transient_blip_is_retried_and_healthy(aws):
    real = health_client().get_item
    calls = {"n": 0}

    def flaky(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise client_error("InternalServerError", 500)
        return real(**kwargs)

    with mock.patch.object(health_client(), "get_item", side_effect=flaky):
        status, body, _ = invoke(health, health_event())
    assert status == 200
    assert body["checks"]["read"]["attempts"] == 2


def test_table_not_active_is_503(aws):
    real = health_client().describe_table

    def deleting(**kwargs):
        out = real(**kwargs)
        out["Table"]["TableStatus"] = "DELETING"
        return out

    with mock.patch.object(health_client(), "describe_table", side_effect=deleting):
        status, body, _ = invoke(health, health_event())
    assert status == 503
    assert body["checks"]["table"]["tableStatus"] == "DELETING"


def test_throttled_describe_table_alone_does_not_fail_over(aws):
    with mock.patch.object(health_client(), "describe_table",
                           side_effect=client_error("ThrottlingException")):
        status, body, _ = invoke(health, health_event())
    assert status == 200
    assert body["checks"]["table"]["status"] == "warning"


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_probe_never_exceeds_its_budget_when_calls_time_out():
    clock = FakeClock()
    ddb = mock.Mock()

    def slow_timeout(**kwargs):
        clock.now += CALL_WORST_CASE_SECONDS  # each call burns its full worst case
        raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")

    ddb.get_item.side_effect = slow_timeout
    result = probe(ddb, TABLE, budget_seconds=3.0, clock=clock)
    assert result.healthy is False
    assert ddb.get_item.call_count == 2  # timeout is transient: one retry fits exactly in 3.0 s
    assert clock.now - 100.0 <= 3.0
    assert ddb.describe_table.call_count == 0

    clock.now = 100.0
    ddb.get_item.reset_mock()
    result = probe(ddb, TABLE, clock=clock)  # default budget 2.8 s: no room for a retry
    assert result.healthy is False and ddb.get_item.call_count == 1
    assert clock.now - 100.0 <= 2.8


def test_probe_skips_retry_when_budget_is_short():
    clock = FakeClock()
    ddb = mock.Mock()

    def slow_throttle(**kwargs):
        clock.now += 1.0
        raise client_error("ThrottlingException")

    ddb.get_item.side_effect = slow_throttle
    result = probe(ddb, TABLE, budget_seconds=2.0, clock=clock)
    assert result.healthy is False
    assert ddb.get_item.call_count == 1  # 1.0 s left < 1.5 s worst case: no retry
    assert clock.now - 100.0 <= 2.0


def test_health_client_is_single_attempt_with_short_timeouts(aws):
    config = health_client().meta.config
    assert config.retries["total_max_attempts"] == 1
    assert config.connect_timeout + config.read_timeout <= CALL_WORST_CASE_SECONDS


def test_unexpected_error_is_503_json(aws):
    with mock.patch.object(health, "probe", side_effect=RuntimeError("bug")):
        status, body, _ = invoke(health, health_event())
    assert status == 503 and body["status"] == "unhealthy"


def test_clients_and_probe_are_built_at_init_not_on_the_first_request():
    """Import in a fresh interpreter (the Lambda init phase): the probe and its clients exist before
    any request.  No AWS call is made: building clients does no I/O."""
    import os
    import subprocess
    import sys

    from lambda_support import LAMBDA_DIR

    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run([sys.executable, "-c", "import health; r = health._runtime; "
                          "print(r is not None and r.probe.dynamodb.meta.region_name)"],
                         cwd=str(LAMBDA_DIR), env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == os.environ["AWS_REGION"], out.stderr[-2000:]
