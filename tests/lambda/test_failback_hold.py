"""The failback hold (lambda/ops/hold.py): DR arms it before accepting a payment that came
through the failover name; the primary's GET /health answers 503 while it is armed, so Route 53
keeps the failover name on DR; only `drctl failback` clears it (tests/drctl)."""

from __future__ import annotations

import time
from unittest import mock

import health
import pytest
import validator
from botocore.exceptions import ClientError
from lambda_support import DR, PRIMARY, TABLE, api_event, aws_client, invoke, nothing_written, use_region
from ops import hold

FAILOVER_NAME = "payments-test.example.com"
SEED = '{"transactionId": "hold-1", "customerId": "cust-456", "amount": 10.00}'


@pytest.fixture
def failover_name(monkeypatch):
    monkeypatch.setenv("FAILOVER_DOMAIN_NAME", FAILOVER_NAME)
    yield FAILOVER_NAME


def pay(domain: str, body: str = SEED):
    event = api_event(body)
    event["requestContext"]["domainName"] = domain
    event["headers"]["Host"] = domain
    return invoke(validator, event)


def hold_item(region: str) -> dict | None:
    return aws_client("dynamodb", region).get_item(TableName=TABLE, Key=hold.KEY, ConsistentRead=True).get("Item")


def replicate_hold(source: str, dest: str) -> None:
    """What the global table does (MRSC: synchronously) with the hold item."""
    item = hold_item(source)
    assert item is not None
    aws_client("dynamodb", dest).put_item(TableName=TABLE, Item=item)


def health_get(path: str = "/health"):
    return invoke(health, api_event(None, method="GET", path=path, content_type=None))


def test_dr_payment_through_the_failover_name_arms_the_hold_before_it_is_accepted(aws, failover_name):
    use_region(DR)
    status, body, _ = pay(FAILOVER_NAME)
    assert status == 200, body
    item = hold_item(DR)
    assert item is not None and item["state"]["S"] == hold.ARMED and item["armedBy"]["S"] == DR
    assert "customerId" not in item and "status" not in item  # indexes and reconcile skip it


def test_dr_payment_through_the_regional_name_does_not_arm_it(aws, failover_name):
    use_region(DR)
    assert pay(f"{DR}.{FAILOVER_NAME}")[0] == 200
    assert hold_item(DR) is None


def test_primary_payment_through_the_failover_name_does_not_arm_it(aws, failover_name):
    use_region(PRIMARY)
    assert pay(FAILOVER_NAME)[0] == 200
    assert hold_item(PRIMARY) is None


def test_a_hold_that_cannot_be_armed_refuses_the_payment_and_writes_nothing(aws, failover_name):
    use_region(DR)
    runtime = validator._get_runtime()
    error = ClientError({"Error": {"Code": "InternalServerError", "Message": "x"},
                         "ResponseMetadata": {"HTTPStatusCode": 500}}, "UpdateItem")
    with mock.patch.object(runtime.ddb, "update_item", side_effect=error):
        status, body, _ = pay(FAILOVER_NAME)
    assert status == 503 and body["error"]["outcome"] == "not_recorded", body
    assert nothing_written()


def test_armed_once_per_environment_then_trusted(aws, failover_name):
    use_region(DR)
    runtime = validator._get_runtime()
    real = runtime.ddb.update_item
    calls = []

    def counting(**kwargs):
        calls.append(kwargs["Key"])
        return real(**kwargs)

    with mock.patch.object(runtime.ddb, "update_item", side_effect=counting):
        for n in range(3):
            assert pay(FAILOVER_NAME, SEED.replace("hold-1", f"hold-{n}"))[0] == 200
    assert calls.count(hold.KEY) == 1


def test_arming_respects_the_grace_after_a_clear_and_rearms_after_it():
    now = [1_000_000.0]
    ddb = mock.Mock()
    cleared = {"transactionId": {"S": hold.HOLD_ID}, "state": {"S": hold.CLEARED},
               "clearedAt": {"N": str(int(now[0] - 10))}}
    ddb.update_item.side_effect = ClientError(
        {"Error": {"Code": "ConditionalCheckFailedException"}, "Item": cleared}, "UpdateItem")
    arming = hold.Arming("t", DR, wall_clock=lambda: now[0])
    assert arming.ensure(ddb, "r") == "grace"
    assert arming.ensure(ddb, "r") == "known" and ddb.update_item.call_count == 1
    now[0] += hold.GRACE_S
    ddb.update_item.side_effect = None
    assert arming.ensure(ddb, "r") == "armed-now"
    # the condition sent: arm unless armed or cleared less than GRACE_S ago
    sent = ddb.update_item.call_args.kwargs
    assert int(sent["ExpressionAttributeValues"][":grace"]["N"]) == int(now[0] - hold.GRACE_S)


def test_condition_refuses_to_rearm_inside_the_grace_on_dynamodb(aws):
    """The condition expression as DynamoDB (moto) evaluates it."""
    ddb = aws_client("dynamodb", DR)
    now = time.time()
    ddb.put_item(TableName=TABLE, Item={**hold.KEY, "state": {"S": hold.CLEARED},
                                        "clearedAt": {"N": str(int(now - 60))}})
    assert hold.Arming(TABLE, DR).ensure(ddb, "r") == "grace"
    assert hold_item(DR)["state"]["S"] == hold.CLEARED
    ddb.put_item(TableName=TABLE, Item={**hold.KEY, "state": {"S": hold.CLEARED},
                                        "clearedAt": {"N": str(int(now - hold.GRACE_S - 1))}})
    assert hold.Arming(TABLE, DR).ensure(ddb, "r") == "armed-now"
    assert hold_item(DR)["state"]["S"] == hold.ARMED
    assert hold.Arming(TABLE, DR).ensure(ddb, "r") == "armed"


def test_primary_health_is_503_while_the_hold_is_armed_and_probe_stays_200(aws, failover_name):
    use_region(DR)
    assert pay(FAILOVER_NAME)[0] == 200
    replicate_hold(DR, PRIMARY)
    use_region(PRIMARY)
    status, body, _ = health_get("/health")
    assert status == 503 and "PAYMENTS_HEALTHY" not in str(body)
    assert body["status"] == "held" and body["error"]["code"] == "FAILBACK_HELD"
    # The DR probe's door: the region works (no false peer-unreachable page), the hold is shown.
    status, body, _ = health_get("/probe")
    assert status == 200 and body["verdict"] == "PAYMENTS_HEALTHY" and body["failbackHold"] == "armed"


def test_a_cleared_hold_lets_the_primary_answer_healthy(aws):
    aws_client("dynamodb", PRIMARY).put_item(
        TableName=TABLE, Item={**hold.KEY, "state": {"S": hold.CLEARED}, "clearedAt": {"N": "1"}})
    status, body, _ = health_get("/health")
    assert status == 200 and body["verdict"] == "PAYMENTS_HEALTHY"


def test_dr_health_ignores_the_hold(aws):
    aws_client("dynamodb", DR).put_item(TableName=TABLE, Item={**hold.KEY, "state": {"S": hold.ARMED}})
    use_region(DR)
    assert health_get("/health")[0] == 200


def test_primary_health_fails_closed_when_the_hold_cannot_be_read(aws):
    error = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "x"},
                         "ResponseMetadata": {"HTTPStatusCode": 400}}, "GetItem")
    probe = health._get_runtime().probe
    real = probe.dynamodb.get_item

    def deny_hold(**kwargs):
        if kwargs["Key"] == hold.KEY:
            raise error
        return real(**kwargs)

    with mock.patch.object(probe.dynamodb, "get_item", side_effect=deny_hold):
        status, body, _ = health_get("/health")
    assert status == 503 and body["checks"]["transactions"]["read"]["error"] == "AccessDeniedException"


def test_the_hold_item_is_the_contracts():
    """drctl (contract.py) clears the item the functions (ops.hold, retyped) arm and read."""
    import contract

    assert hold.HOLD_ID == contract.FAILBACK_HOLD_ID
    assert (hold.ARMED, hold.CLEARED) == (contract.FAILBACK_HOLD_ARMED, contract.FAILBACK_HOLD_CLEARED)
