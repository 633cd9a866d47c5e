"""Issue 20: one payment per (client, transaction id), whatever the client and the region.

Real: the validator handler, Powertools idempotency, DynamoDB and S3 in moto, in both regions.

Modelled, and said so: **multi-Region strong consistency (MRSC) of the transactions table**.
moto does not implement MRSC.  The ``mrsc`` fixture makes us-east-2's transactions table *the
same table object* as us-east-1's in moto's backends, so a conditional write or a
strongly consistent read in either region sees every write made in the other at once:
what AWS documents for an MRSC table (a write is acknowledged once another member of the
region set holds it; a strongly consistent read returns the latest write of any region;
concurrent writes to one item from two regions fail with ReplicatedWriteConflictException).
The idempotency table stays one table per region (MREC, TTL: it cannot be MRSC), with no
replication at all - the worst case for these tests.  The regions run one after the other in
this process (``use_region``); "simultaneous" requests are interleaved deterministically by
pausing one region's request inside the store while the other region's request runs.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from unittest import mock

import pytest
import validator
from botocore.exceptions import ClientError, ReadTimeoutError
from lambda_support import (
    DR,
    IDEMPOTENCY_TABLE,
    PACKAGE_PATH,
    PRIMARY,
    TABLE,
    api_event,
    bucket_keys,
    get_receipt,
    invoke,
    nothing_written,
    table_items,
    use_region,
)

from payments import audit

SEED = '{"transactionId": "test-123", "customerId": "cust-456", "amount": 100.00}'
OTHER_BODY = '{"transactionId": "test-123", "customerId": "cust-999", "amount": 5.00}'
A, B = "merchant-a", "merchant-b"


def records(region: str = PRIMARY) -> list[dict]:
    return table_items(region)


def validated(*regions: str) -> list[dict]:
    """Every VALIDATED record visible in ``regions`` (one logical table under MRSC: deduplicated)."""
    seen = {}
    for region in regions:
        for item in table_items(region):
            if item.get("status") == "VALIDATED":
                seen[(item["transactionId"], int(item["timestamp"]))] = item
    return list(seen.values())


# --------------------------------------------------------------------------- client scoping


def test_two_clients_with_one_transaction_id_are_independent(aws):
    """B sending A's transactionId with A's body gets its own payment, not A's stored answer."""
    status_a, body_a, _ = invoke(validator, api_event(SEED, client=A))
    status_b, body_b, _ = invoke(validator, api_event(SEED, client=B))
    assert (status_a, status_b) == (200, 200)
    by_client = {r["clientId"]: r for r in records()}
    assert set(by_client) == {A, B}, "B must get its own record, not A's answer"
    assert body_a["acceptedAt"] == by_client[A]["acceptedAt"]
    assert body_b["acceptedAt"] == by_client[B]["acceptedAt"]
    # receipts per client, each naming its client
    assert sorted(bucket_keys(PRIMARY)) == [f"receipts/{A}/test-123.json", f"receipts/{B}/test-123.json"]
    assert get_receipt(PRIMARY, "test-123", A)[0]["clientId"] == A
    assert get_receipt(PRIMARY, "test-123", B)[0]["clientId"] == B
    # two idempotency records: the key carries the client
    assert len(table_items(PRIMARY, IDEMPOTENCY_TABLE)) == 2
    # and the reconciliation does not take two clients' payments for a duplicate
    assert audit.find_duplicates(validator._get_runtime().store.dynamodb, TABLE, ["test-123"]) == []


def test_another_client_with_its_own_body_is_neither_blocked_nor_told_the_id_exists(aws):
    assert invoke(validator, api_event(SEED, client=A))[0] == 200
    status, body, _ = invoke(validator, api_event(OTHER_BODY, client=B))
    assert status == 200, body  # not 409 TRANSACTION_ID_CONFLICT, which would reveal A's id
    assert body["amount"] == "5.00"
    # A is untouched: its retry still gets its own first answer
    status, again, _ = invoke(validator, api_event(SEED, client=A))
    assert (status, again["amount"]) == (200, "100.00")
    assert sorted((r["clientId"], str(r["amount"])) for r in records()) == [(A, "100.00"), (B, "5.00")]


def test_same_client_reusing_an_id_with_another_body_is_still_409(aws):
    assert invoke(validator, api_event(SEED, client=A))[0] == 200
    status, err, _ = invoke(validator, api_event(OTHER_BODY, client=A))
    assert (status, err["error"]["code"]) == (409, "TRANSACTION_ID_CONFLICT")
    assert len(records()) == 1


def test_body_client_id_naming_another_client_is_403_and_writes_nothing(aws):
    body = '{"transactionId": "t-9", "customerId": "c", "amount": 1.00, "clientId": "merchant-b"}'
    status, err, _ = invoke(validator, api_event(body, client=A))
    assert (status, err["error"]["code"], err["error"]["field"]) == (403, "CLIENT_ID_MISMATCH", "clientId")
    assert nothing_written()
    # naming itself is allowed and changes nothing: the authenticated id is the one recorded
    status, _, _ = invoke(validator, api_event(body.replace("merchant-b", A), client=A))
    assert status == 200
    [record] = records()
    assert record["clientId"] == A


def test_record_and_receipt_carry_the_authenticated_client(aws):
    assert invoke(validator, api_event(SEED, client=A))[0] == 200
    [record] = records()
    [claim] = table_items(PRIMARY, claims=True)
    assert record["clientId"] == claim["clientId"] == A
    assert record["receiptKey"] == f"receipts/{A}/test-123.json"
    assert claim["transactionId"] == f"claim#{A}#test-123" and claim["timestamp"] == 0
    assert "status" not in claim and "customerId" not in claim  # out of both GSIs


# --------------------------------------------------------------------------- across regions (MRSC model)


@pytest.fixture
def mrsc(aws):
    """The transactions table as one MRSC table seen from both regions (see the module docstring)."""
    from moto.dynamodb.models import dynamodb_backends

    backends = dynamodb_backends["123456789012"]
    backends[DR].tables[TABLE] = backends[PRIMARY].tables[TABLE]
    yield


def _paused(method: str, region: str, body: str = SEED):
    """Run a request in ``region`` that pauses inside ``PaymentStore.<method>``; returns (start, finish)."""
    from payments.store import PaymentStore

    entered, release = threading.Event(), threading.Event()
    original = getattr(PaymentStore, method)
    result: dict = {}

    def paused(self, *args, **kwargs):
        if self.region == region and not entered.is_set():
            entered.set()
            assert release.wait(10)
        return original(self, *args, **kwargs)

    patcher = mock.patch.object(PaymentStore, method, paused)

    def start():
        patcher.start()
        use_region(region)
        worker = threading.Thread(target=lambda: result.setdefault("answer", invoke(validator, api_event(body))))
        worker.start()
        assert entered.wait(10)
        return worker

    def finish(worker):
        release.set()
        worker.join(10)
        patcher.stop()
        return result["answer"]

    return start, finish


@pytest.mark.parametrize("pause_in", ["claim", "put_record", "put_receipt"])
def test_simultaneous_requests_in_both_regions_make_one_payment_and_one_answer(mrsc, pause_in):
    """The primary's request is paused (before its claim, after it, after its record) while the
    same request runs to completion in DR: one VALIDATED record, and both get the same answer."""
    start, finish = _paused(pause_in, PRIMARY)
    worker = start()
    use_region(DR)
    dr_answer = invoke(validator, api_event(SEED))
    primary_answer = finish(worker)
    assert primary_answer[0] == dr_answer[0] == 200, (primary_answer, dr_answer)
    assert primary_answer[1] == dr_answer[1]
    [record] = validated(PRIMARY, DR)
    assert dr_answer[1]["acceptedAt"] == record["acceptedAt"]
    assert dr_answer[1]["region"] == record["acceptedRegion"]
    assert get_receipt(DR, "test-123")[0] == get_receipt(PRIMARY, "test-123")[0]


def test_retry_in_dr_after_a_primary_receipt_failure_gets_the_first_answer(mrsc):
    use_region(PRIMARY)
    failure = ClientError({"Error": {"Code": "InternalError", "Message": "x"},
                           "ResponseMetadata": {"HTTPStatusCode": 500}}, "PutObject")
    with mock.patch.object(validator._get_runtime().store.s3, "put_object", side_effect=failure):
        status, err, _ = invoke(validator, api_event(SEED))
    assert (status, err["error"]["code"]) == (503, "RECEIPT_WRITE_FAILED")
    [first] = validated(PRIMARY)

    use_region(DR)  # before any replication of the idempotency table
    status, body, _ = invoke(validator, api_event(SEED))
    assert (status, body["region"], body["acceptedAt"]) == (200, PRIMARY, first["acceptedAt"])
    assert validated(PRIMARY, DR) == [first]
    assert get_receipt(DR, "test-123")[0]["acceptedRegion"] == PRIMARY


def test_retry_in_dr_after_a_lost_claim_response_in_the_primary(mrsc):
    """Primary: the claim is applied, its response lost (503 OUTCOME_UNKNOWN). The client's retry
    goes to DR (failover): DR completes the primary's claim - one record, the primary's time."""
    use_region(PRIMARY)
    ddb = validator._get_runtime().store.dynamodb
    real_put = ddb.put_item

    def applied_then_lost(**kwargs):
        out = real_put(**kwargs)
        if kwargs["TableName"] == TABLE:
            raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")
        return out

    with mock.patch.object(ddb, "put_item", side_effect=applied_then_lost):
        status, err, _ = invoke(validator, api_event(SEED))
    assert (status, err["error"]["outcome"]) == (503, "unknown")
    [claim] = table_items(PRIMARY, claims=True)

    use_region(DR)
    status, body, _ = invoke(validator, api_event(SEED))
    [record] = validated(PRIMARY, DR)
    assert status == 200 and int(record["timestamp"]) == int(claim["recordTimestamp"])
    assert (body["region"], body["acceptedAt"]) == (PRIMARY, record["acceptedAt"])

    use_region(PRIMARY)  # failback: the client retries once more against the primary
    again = invoke(validator, api_event(SEED))
    assert again[0] == 200 and again[1] == body
    assert validated(PRIMARY, DR) == [record]


def test_replay_of_a_captured_request_into_dr_gets_the_stored_answer_and_writes_nothing(mrsc):
    """The nonce table replicates (MREC): before it does, DR's authorizer lets a replayed signed
    request through.  The payment is decided by the claim, not the nonce: no second record."""
    event = api_event(SEED)
    use_region(PRIMARY)
    first = invoke(validator, event)
    assert first[0] == 200
    use_region(DR)
    replay = invoke(validator, event)
    assert (replay[0], replay[1]) == (first[0], first[1])
    assert len(validated(PRIMARY, DR)) == 1


def test_replicated_write_conflict_is_a_retryable_refusal_and_the_retry_converges(mrsc):
    """MRSC: the other region is writing the same claim right now -> ReplicatedWriteConflict on the
    first and only attempt: nothing of ours applied; 503 SERVICE_UNAVAILABLE, never a write."""
    use_region(PRIMARY)
    assert invoke(validator, api_event(SEED))[0] == 200
    use_region(DR)
    ddb = validator._get_runtime().store.dynamodb
    conflict = ClientError({"Error": {"Code": "ReplicatedWriteConflictException", "Message": "x"},
                            "ResponseMetadata": {"HTTPStatusCode": 400, "RetryAttempts": 0}}, "PutItem")
    real_put = ddb.put_item

    def put(**kwargs):
        if kwargs["TableName"] == TABLE:
            raise conflict
        return real_put(**kwargs)

    with mock.patch.object(ddb, "put_item", side_effect=put):
        status, err, headers = invoke(validator, api_event(SEED))
    assert (status, err["error"]["code"], err["error"]["outcome"]) == (503, "SERVICE_UNAVAILABLE", "not_recorded")
    assert headers["Retry-After"]
    status, body, _ = invoke(validator, api_event(SEED))
    assert status == 200 and body["region"] == PRIMARY
    assert len(validated(PRIMARY, DR)) == 1


def test_region_cut_off_from_the_quorum_answers_retryable_and_writes_nothing(mrsc):
    """A replica that cannot reach another member of the region set cannot complete an MRSC write
    (modelled: every transactions-table write times out). The answer is a retryable 503, and the
    client's retry in the other region makes the one payment."""
    use_region(DR)
    ddb = validator._get_runtime().store.dynamodb
    real_put = ddb.put_item

    def isolated(**kwargs):
        if kwargs["TableName"] == TABLE:
            raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-2.amazonaws.com")
        return real_put(**kwargs)

    with mock.patch.object(ddb, "put_item", side_effect=isolated):
        status, err, headers = invoke(validator, api_event(SEED))
    assert status == 503 and err["error"]["retryable"] is True and headers["Retry-After"]
    assert validated(PRIMARY, DR) == [] and table_items(PRIMARY, claims=True) == []
    use_region(PRIMARY)
    status, body, _ = invoke(validator, api_event(SEED))
    assert (status, body["region"]) == (200, PRIMARY)
    assert len(validated(PRIMARY, DR)) == 1


# --------------------------------------------------------------------------- one process per region

REGION_PROCESS = r"""
import json, os, sys, time
from pathlib import Path
import lambda_support as ls
ls.use_region(sys.argv[1])
import validator
validator._get_runtime()  # init: clients and the idempotency layer, as a warm container has them
ready, go = Path(sys.argv[2]), Path(sys.argv[3])
ready.write_text("ready")
deadline = time.monotonic() + 60
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.001)
answers = []
for tid in sys.argv[4:]:
    body = json.dumps({"transactionId": tid, "customerId": "cust-456", "amount": "100.00"})
    status, answer, _ = ls.invoke(validator, ls.api_event(body))
    answers.append([tid, status, answer])
print(json.dumps(answers))
"""


def test_one_process_per_region_racing_on_the_same_ids_make_one_payment_each(moto_url, tmp_path, monkeypatch):
    """Two processes, one per region (each a warm validator container), one moto server; the
    transactions table is the MRSC model (one table object for both regions, writes serialised
    as MRSC's replicated writes are). Both send the same 12 payments at the same moment."""
    import os
    import subprocess
    import sys

    from lambda_support import REGIONS, create_resources, reset_test_clients
    from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    reset_test_clients()
    for region in REGIONS:
        create_resources(region)
    backends = dynamodb_backends["123456789012"]
    backends[DR].tables[TABLE] = backends[PRIMARY].tables[TABLE]
    lock = threading.Lock()

    def serialised(write):
        def locked(self, *args, **kwargs):
            with lock:
                return write(self, *args, **kwargs)
        return locked

    for name in ("put_item", "update_item"):
        monkeypatch.setattr(DynamoDBBackend, name, serialised(getattr(DynamoDBBackend, name)))

    ids = [f"race-{i}" for i in range(12)]
    go = tmp_path / "go"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([PACKAGE_PATH, str(Path(__file__).parent)]),
               PYTHONDONTWRITEBYTECODE="1", POWERTOOLS_LOG_LEVEL="ERROR", POWERTOOLS_METRICS_DISABLED="true")
    procs = {region: subprocess.Popen([sys.executable, "-c", REGION_PROCESS, region, str(tmp_path / region), str(go),
                                       *ids], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for region in REGIONS}
    try:
        for region in REGIONS:
            for _ in range(6000):
                if (tmp_path / region).exists() or procs[region].poll() is not None:
                    break
                time.sleep(0.01)
            assert (tmp_path / region).exists(), procs[region].communicate()[1][-2000:]
        go.write_text("go")
        outputs = {region: proc.communicate(timeout=120) for region, proc in procs.items()}
    finally:
        for proc in procs.values():
            proc.kill() if proc.poll() is None else None
    answers = {}
    for region, (out, err) in outputs.items():
        assert procs[region].returncode == 0, err[-2000:]
        answers[region] = {tid: (status, body) for tid, status, body in json.loads(out.strip().splitlines()[-1])}
    reset_test_clients()
    by_id: dict[str, list] = {}
    for item in validated(PRIMARY, DR):
        by_id.setdefault(item["transactionId"], []).append(item)
    assert sorted(by_id) == sorted(ids) and all(len(v) == 1 for v in by_id.values()), (by_id, answers)
    for tid in ids:
        primary, dr = answers[PRIMARY][tid], answers[DR][tid]
        assert primary[0] == dr[0] == 200, (tid, primary, dr)
        assert primary[1] == dr[1], (tid, primary, dr)  # the first answer, in both regions
        assert primary[1]["acceptedAt"] == by_id[tid][0]["acceptedAt"]
    regions = {answers[PRIMARY][tid][1]["region"] for tid in ids}
    print("accepting regions:", sorted(regions))


def test_two_clients_same_id_same_millisecond_both_recorded(aws):
    """Records share the raw transaction id as partition key: two clients' payments accepted in
    the same millisecond would want one key. The second moves its claim one millisecond on."""
    from decimal import Decimal

    from lambda_support import aws_client, bucket_for

    from payments import core
    from payments.store import PaymentStore

    store = PaymentStore(dynamodb=aws_client("dynamodb", PRIMARY), s3=aws_client("s3", PRIMARY), table=TABLE,
                         bucket=bucket_for(PRIMARY), region=PRIMARY, region_role="primary",
                         clock_ms=lambda: 1_790_000_000_000)
    request_a = core.PaymentRequest("same-id", "cust-1", Decimal("1.00"), "USD", A)
    request_b = core.PaymentRequest("same-id", "cust-2", Decimal("2.00"), "USD", B)
    record_a, created_a = store.accept(request_a)
    record_b, created_b = store.accept(request_b)
    assert created_a and created_b
    assert (int(record_a["timestamp"]), int(record_b["timestamp"])) == (1_790_000_000_000, 1_790_000_000_001)
    assert sorted((r["clientId"], int(r["timestamp"])) for r in records()) == [
        (A, 1_790_000_000_000), (B, 1_790_000_000_001)]
    # each retry converges on its own record
    assert store.accept(request_b)[0] == record_b and store.accept(request_a)[0] == record_a
    assert len(records()) == 2
