"""Scenario 3 on the twin (issue 19): us-east-1 hangs for 90 s, 10 min (and more lengths where
the twin plays them cheaply); the failover name must not return to us-east-1 before the writes
DR accepted are in us-east-1 and before `drctl failback` clears the failback hold.

What plays the part of what (docs/twin.md): the twin's Route 53 reads the primary's real `/health`
(the health function from the synthesized package) on the scenario clock; the DR validator, reached
through the failover name, arms the hold (lambda/ops/hold.py) in the transactions table. That table
is MRSC (STRONG) in both profiles: AWS writes it synchronously in the surviving region and the
witness, so the primary reads DR's hold as soon as it answers; the twin copies STRONG tables' writes
synchronously (twin/replication.py, StrongReplicas). The stores AWS replicates asynchronously (the
idempotency table, the receipt buckets) are paused for the hang, since a hung region receives
nothing, and resumed at the end: until then DR's writes are NOT in us-east-1. The hold is cleared
with drctl's own step (`drctl.operations.clear_hold`, against the twin's moto endpoint), as `drctl
failback` does after its evidence; the rest of `drctl failback` (Aurora, CloudWatch replication
metrics) has nothing to run against on the twin (not built). The probe runs on the twin's schedule
(twin/schedules.py), so during the hang the DR probe also closes the failback latch; the operator
step opens it and clears the hold together, as `drctl failback` does.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import pytest
from ops import hold
from test_outage import CLIENT_TIMEOUT_S, _failover_name, _payment
from twin_support import operator_failback

pytestmark = pytest.mark.twin

STEP_S = 10.0
SLACK_S = 20.0
HELD_AFTER_S = 120.0  # scenario time the primary stays up but held before replication resumes


@dataclass
class Run:
    outage_s: int
    fault_t: float
    recovered_t: float = 0.0
    moved_t: float | None = None
    caught_up_t: float | None = None
    cleared_t: float | None = None
    returned_t: float | None = None
    accepted: dict[str, str] = field(default_factory=dict)  # txn -> region that answered 200
    timed_out: list[str] = field(default_factory=list)
    missing_in_primary_before_resume: int = 0
    armed: bool = False  # the hold was armed (read when the hang ended, and again after)
    after: tuple[int, str, float] = (0, "", 0.0)  # the first payment after DNS returned: status, region, real s
    checks: dict[str, list[tuple[float, bool, str]]] = field(default_factory=dict)  # status changes, +s
    trace: list[str] = field(default_factory=list)  # per step after the move: hold in DR / primary, answer

    def why(self) -> str:
        """What Route 53 saw in this run (for a failure message): each check's status changes."""
        return "; ".join(f"{name}: " + ", ".join(f"+{t:.0f} {'healthy' if ok else 'UNHEALTHY'} ({why})"
                                                  for t, ok, why in changes)
                         for name, changes in self.checks.items() if changes) + "; steps: " + ", ".join(self.trace)


def _validator_env(twin, region: str) -> dict[str, str]:
    return next(f.environment for (r, _), f in twin.pool.functions.items()
                if r == region and f.handler == "validator.lambda_handler")


def _hold(twin, region: str) -> dict | None:
    table = _validator_env(twin, region)["TRANSACTIONS_TABLE"]
    return twin.client("dynamodb", region).get_item(TableName=table, Key=hold.KEY, ConsistentRead=True).get("Item")


# Real (monotonic) time of the last payment DR answered: a DR validator environment trusts what it
# last learnt of the hold for hold.CACHE_S after its last call.
_last_dr_payment = [0.0]


def _fresh_platform(twin) -> None:
    """Each outage starts from a platform whose hold was never armed (an earlier scenario on this
    twin may have armed or cleared it: the item is deleted, which no operator does)."""
    if any(_hold(twin, twin.region_of(role)) for role in ("primary", "dr")):
        _last_dr_payment[0] = max(_last_dr_payment[0], time.monotonic())  # e.g. test_outage's
    for role in ("primary", "dr"):
        region = twin.region_of(role)
        twin.client("dynamodb", region).delete_item(
            TableName=_validator_env(twin, region)["TRANSACTIONS_TABLE"], Key=hold.KEY)
    assert twin.replication.wait_caught_up(10)


def _until_dr_validators_forget() -> None:
    """Before a scenario's first DR payment: what DR's validators cached in the previous one has
    expired (in AWS the hold is never deleted, so no such wait exists there)."""
    wait = _last_dr_payment[0] + hold.CACHE_S + 1 - time.monotonic()
    if wait > 0:
        time.sleep(wait)


def _drctl_clear_hold(twin) -> None:
    """`drctl failback`'s writes: the hold cleared and (the DR probe runs on the twin's schedule
    and closes the latch during the hang) the latch opened."""
    operator_failback(twin, "scenario 3: DR's writes are in the primary")


def _in_primary(twin, txn: str) -> bool:
    primary = twin.region_of("primary")
    env = _validator_env(twin, primary)
    records = twin.client("dynamodb", primary).query(
        TableName=env["TRANSACTIONS_TABLE"], KeyConditionExpression="transactionId = :t",
        ExpressionAttributeValues={":t": {"S": txn}}, ConsistentRead=True)["Items"]
    receipts = twin.client("s3", primary).list_objects_v2(
        Bucket=env["AUDIT_BUCKET"], Prefix="receipts/").get("Contents", [])
    return bool(records) and any(o["Key"].endswith(f"/{txn}.json") for o in receipts)


def _pay_through_the_name(twin, key: str, run: Run, name: str, txn: str | None = None, *,
                          timeout: float = CLIENT_TIMEOUT_S) -> None:
    txn = txn or f"txn-{uuid.uuid4().hex[:16]}"
    body, headers = _payment(key, txn)
    try:
        response = twin.request("POST", f"https://{name}/validate", headers=headers, body=body, timeout=timeout)
    except OSError:
        if txn not in run.timed_out:
            run.timed_out.append(txn)
        return
    assert response.status == 200, response.body
    run.accepted[txn] = response.region
    if response.region != twin.region_of("primary"):
        _last_dr_payment[0] = time.monotonic()


def _trace(twin, run: Run, name: str) -> None:
    """One step's view for a failure message: the hold in DR and in the primary, the answer."""
    if not run.trace and twin.region_for(name) != twin.region_of("dr"):
        return

    def state(role: str) -> str:
        item = _hold(twin, twin.region_of(role))
        return item["state"]["S"] if item else "-"
    run.trace.append(f"+{twin.clock.now() - run.fault_t:.0f} dr={state('dr')} primary={state('primary')} "
                     f"-> {twin.region_for(name)}")


def play(twin, key: str, outage_s: int) -> Run:
    primary, dr = twin.region_of("primary"), twin.region_of("dr")
    name = _failover_name(twin)
    _fresh_platform(twin)
    twin.evaluate()
    check = _primary_check(twin)
    for _ in range(int((check.failure_threshold + 2) * check.request_interval // STEP_S)):
        twin.advance(STEP_S)  # an earlier scenario (test_outage's hang, its hold) is over
        if twin.region_for(name) == primary:
            break
    twin.advance(60)
    assert twin.region_for(name) == primary and _hold(twin, dr) is None
    run = Run(outage_s, fault_t=twin.clock.now())
    asynchronous = [_validator_env(twin, r)["IDEMPOTENCY_TABLE"] for r in (primary, dr)]
    twin.replication.pause("s3", *asynchronous)
    twin.fault(primary, "hang")
    retried = False
    try:
        while twin.clock.now() - run.fault_t < outage_s:
            if twin.region_for(name) == dr and not retried:
                retried = True
                _until_dr_validators_forget()
                for txn in run.timed_out:  # the clients' retries, same transactionId
                    _pay_through_the_name(twin, key, run, name, txn)
            if retried or round(twin.clock.now() - run.fault_t) % 30 == 0:
                _pay_through_the_name(twin, key, run, name)  # to the hung region: every 30 s (2 s real each)
            twin.advance(STEP_S)
            _trace(twin, run, name)
    finally:
        twin.fault(primary, None)
    run.recovered_t = twin.clock.now()
    if not retried:  # Route 53 may move the name as the hang ends (its 3rd failed check)
        _until_dr_validators_forget()
    item = _hold(twin, primary)
    run.armed = item is not None and item["state"]["S"] == hold.ARMED
    # The primary is up again: Route 53 checks it, clients keep paying through the failover name.
    while twin.clock.now() - run.recovered_t < HELD_AFTER_S:
        _pay_through_the_name(twin, key, run, name)
        twin.advance(STEP_S)
        _trace(twin, run, name)
    for txn in [t for t in run.timed_out if t not in run.accepted]:  # the clients retry (same id)
        _pay_through_the_name(twin, key, run, name, txn, timeout=15)
    item = _hold(twin, primary)
    run.armed = run.armed or (item is not None and item["state"]["S"] == hold.ARMED)
    run.missing_in_primary_before_resume = sum(1 for txn, region in run.accepted.items()
                                               if region == dr and not _in_primary(twin, txn))
    twin.replication.resume()
    assert twin.replication.wait_caught_up(30), "replication did not catch up"
    assert all(_in_primary(twin, txn) for txn, region in run.accepted.items() if region == dr)
    run.caught_up_t = twin.clock.now()
    twin.advance(60)  # caught up, not yet cleared: still held
    _drctl_clear_hold(twin)
    run.cleared_t = twin.clock.now()
    while twin.clock.now() - run.cleared_t < 240 and twin.region_for(name) != primary:
        twin.advance(STEP_S)
    run.returned_t = twin.clock.now() if twin.region_for(name) == primary else None
    run.moved_t = next((t for t, n, region in twin.route53.answers
                        if n == name and region == dr and t >= run.fault_t), None)
    body, headers = _payment(key, f"txn-{uuid.uuid4().hex[:16]}")
    started = time.monotonic()
    response = twin.request("POST", f"https://{name}/validate", headers=headers, body=body, timeout=15)
    run.after = (response.status, response.region, time.monotonic() - started)
    run.checks = {c.name: [(t - run.fault_t, ok, why) for t, ok, why in c.history if t >= run.fault_t]
                  for c in twin.route53.checks.values()}
    return run


def lengths(twin) -> tuple[int, ...]:
    """A hung health check costs 3 s of real time: a scenario minute of hang costs 6 s real with
    the dev profile's 30 s checks (the default synth) and 18 s with 10 s checks (prod-like). So
    the 10 min hang is played on the default synth (~1 min real), 90 s and 180 s on both; the
    model (tests/lambda/test_latch_model.py) covers every length on the deployed timings."""
    return (90, 180, 600) if _primary_check(twin).request_interval >= 30 else (90, 180)


@pytest.fixture(scope="module")
def runs(twin, client_key):
    twin.evaluate()
    played: dict[int, Run] = {}
    try:
        for outage_s in lengths(twin):
            played[outage_s] = play(twin, client_key, outage_s)
            r = played[outage_s]
            moved = f"+{r.moved_t - r.fault_t:.0f}" if r.moved_t is not None else "never"
            print(f"hang {outage_s:>3} s: DNS to DR at {moved}, "
                  f"{sum(1 for v in r.accepted.values() if v != twin.region_of('primary'))} payments in DR "
                  f"({r.missing_in_primary_before_resume} not in the primary before replication resumed), "
                  f"caught up at +{(r.caught_up_t or 0) - r.fault_t:.0f}, hold cleared at "
                  f"+{(r.cleared_t or 0) - r.fault_t:.0f}, DNS back at +{(r.returned_t or 0) - r.fault_t:.0f}, "
                  f"next payment {r.after[0]} from {r.after[1]} in {r.after[2]:.1f} s real")
        yield played
    finally:
        twin.replication.resume()
        twin.evaluate(False)
        _fresh_platform(twin)


def _answers_between(twin, name: str, start: float, end: float) -> list[tuple[float, str]]:
    return [(t, region) for t, n, region in twin.route53.answers if n == name and start <= t < end]


def _primary_check(twin):
    primary = twin.region_of("primary")
    return next(c for c in twin.route53.checks.values() if c.fqdn.startswith(primary + "."))


def test_every_outage_past_detection_fails_over_and_dr_takes_the_payments(twin, runs):
    """Past (threshold + 1) intervals Route 53 must have moved the name; shorter hangs may not
    fail over at all (then no payment reaches DR and nothing is armed: nothing to fail back)."""
    dr, check = twin.region_of("dr"), _primary_check(twin)
    for outage_s, run in runs.items():
        in_dr = [txn for txn, region in run.accepted.items() if region == dr]
        if outage_s >= (check.failure_threshold + 1) * check.request_interval:
            assert run.moved_t is not None, f"{outage_s} s: DNS never moved to DR"
        if run.moved_t is None:
            assert not in_dr and not run.armed, f"{outage_s} s: no failover, yet DR took {in_dr}"
            continue
        assert in_dr and run.armed, f"{outage_s} s: no payment in DR or no hold armed"
        assert all(t in run.accepted for t in run.timed_out), run.timed_out  # retries succeeded


def test_no_answer_returns_to_the_primary_before_dr_writes_are_there_and_the_hold_is_cleared(twin, runs):
    primary, name = twin.region_of("primary"), _failover_name(twin)
    for outage_s, run in runs.items():
        if run.moved_t is None:
            continue
        assert run.cleared_t is not None and run.caught_up_t is not None
        assert run.caught_up_t <= run.cleared_t
        back = [(t, r) for t, r in _answers_between(twin, name, run.moved_t, run.cleared_t) if r == primary]
        assert not back, f"{outage_s} s hang: the failover name returned to {primary} at {back}; {run.why()}"
        assert run.missing_in_primary_before_resume > 0, \
            f"{outage_s} s: the scenario must hold DR writes back from the primary to show anything"


def test_no_flapping_dns_moves_once_each_way(twin, runs):
    name, primary, dr = _failover_name(twin), twin.region_of("primary"), twin.region_of("dr")
    for outage_s, run in runs.items():
        seq = [r for _, r in _answers_between(twin, name, run.fault_t, (run.returned_t or run.cleared_t) + 1)]
        assert seq == ([dr, primary] if run.moved_t is not None else []), \
            f"{outage_s} s hang: DNS answers {seq}; {run.why()}"


def test_after_drctl_clears_the_hold_dns_returns_within_the_health_check_threshold(twin, runs):
    """The hold cleared and the latch opened (what `drctl failback` writes): the primary's check
    turns healthy after failure_threshold checks; the gate's alarm needs the DR probe's next run
    (every minute) and its next evaluation (a minute) to see the open latch: drctl's '1-2 minutes'."""
    check = _primary_check(twin)
    for outage_s, run in runs.items():
        assert run.returned_t is not None, f"{outage_s} s: DNS did not return after the hold was cleared"
        assert run.returned_t - run.cleared_t <= max(check.failure_threshold * check.request_interval,
                                                     60 + 60) + SLACK_S



def test_after_the_failback_payments_through_the_name_are_taken_by_the_primary(twin, runs):
    for outage_s, run in runs.items():
        status, region, _ = run.after
        assert (status, region) == (200, twin.region_of("primary")), (outage_s, run.after)
