"""Scenario 2, us-east-1 dies, on the twin (issue 19), for each fault kind: hang (accepts and
never answers), refuse (connection refused), 5xx (every request 503).

The twin runs the JSON's EventBridge schedules (the probes, heartbeats, reconciles: their real
code), evaluates its CloudWatch alarms (twin/alarms.py) and Route 53 health checks and
failover records (twin/route53.py) on an accelerated scenario clock; the primary region's API
Gateway breaks. Clients sign payments as docs/calling-the-api.md says and retry a payment that
got no answer or a 5xx with the same transactionId, through the failover name. What is
simulated (one health checker, the clock, the gateway, replication) is in docs/twin.md.

The default synth plays every fault kind; the prod-like one plays `hang` (conftest.py keeps
the run within its time budget). Between two outages the twin is brought back as an operator
would: the fault ends, the failback latch is opened (what `drctl failback` writes), and the
clock runs until the name answers the primary again and no alarm is in ALARM.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

import pytest
from ops.signing import signed_headers
from twin_support import CLIENT_ID, operator_failback, warm_up

from twin.alarms import ALARM

pytestmark = pytest.mark.twin

FAULTS = ("hang", "refuse", "5xx")
STEP_S = 10.0
SLACK_S = 20.0  # one request interval of Route 53's own lag, plus one step of the twin's
CLIENT_TIMEOUT_S = 2.0
OUTAGE_S = 300.0  # scenario seconds the primary stays broken at most (less once the DR pages are in)
RECOVERY_LIMIT_S = 900.0


@dataclass
class Outage:
    kind: str
    primary: str
    dr: str
    name: str
    fault_t: float
    moved_t: float | None = None
    threshold_s: float = 0.0
    before: dict[str, str] = field(default_factory=dict)  # alarm states at the fault
    earlier: list[str] = field(default_factory=list)  # accepted by the primary before the fault
    during: list[tuple[str, int, str]] = field(default_factory=list)  # (txn, status, region) after the move
    failed: list[str] = field(default_factory=list)  # no answer or a 5xx before the move (retried)
    attempted: set[str] = field(default_factory=set)  # every transactionId a client sent
    accepted: dict[str, str] = field(default_factory=dict)  # txn -> region that answered 200
    answers_after_move: list[str] = field(default_factory=list)  # the name's answer at each step after


def _payment(key: str, transaction_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"transactionId": transaction_id, "customerId": "cust-outage", "amount": 42.0,
                       "currency": "USD"}).encode()
    return body, {"Content-Type": "application/json", **signed_headers(key_b64=key, client_id=CLIENT_ID, body=body)}


def _pay(twin, name: str, key: str, transaction_id: str):
    body, headers = _payment(key, transaction_id)
    return twin.request("POST", f"https://{name}/validate", headers=headers, body=body, timeout=CLIENT_TIMEOUT_S)


def _failover_name(twin) -> str:
    assert twin.route53 is not None
    return next(iter(twin.route53.records))


def _records(twin, region: str, transaction_id: str) -> list[dict]:
    fn = next(f for (r, _), f in twin.pool.functions.items() if r == region and f.handler == "validator.lambda_handler")
    return twin.client("dynamodb", region).query(
        TableName=fn.environment["TRANSACTIONS_TABLE"], KeyConditionExpression="transactionId = :t",
        ExpressionAttributeValues={":t": {"S": transaction_id}}, ConsistentRead=True)["Items"]


def _pages(twin, run: Outage) -> list:
    """Pages the outage caused: after the fault, on data, from an alarm not already in ALARM."""
    return [p for p in twin.alarms.pages if p.t > run.fault_t and p.from_data and run.before.get(p.alarm) != ALARM]


def _dr_pages_seen(twin, run: Outage) -> bool:
    """The DR region's PeerHealthy and FailbackBlocked alarms have both paged since the fault."""
    paged = {p.alarm for p in _pages(twin, run) if p.topic_region == run.dr}
    return all(any(a.name in paged for a in twin.alarms.alarms.values()
                   if a.region == run.dr and a.metric and a.metric[1] == metric)
               for metric in ("PeerHealthy", "FailbackBlocked"))


def _timeline(twin, run: Outage) -> str:
    lines = [f"outage timeline ({run.primary} {run.kind} at t=0, scenario seconds):"]
    for check in twin.route53.checks.values():
        lines += [f"  health check {check.name}: {'healthy' if h else 'UNHEALTHY'} at {t - run.fault_t:+.0f} ({why})"
                  for t, h, why in check.history if t >= run.fault_t]
    lines += [f"  DNS {name} -> {region} at {t - run.fault_t:+.0f}" for t, name, region in twin.route53.answers
              if t >= run.fault_t]
    lines += [f"  page {p.alarm} via {p.topic_region} topic at {p.t - run.fault_t:+.0f}"
              f"{' (region under fault)' if p.under_fault else ''}{'' if p.from_data else ' (missing data only)'}"
              for p in twin.alarms.pages if p.t > run.fault_t]
    lines.append(f"  payments failed before the move: {len(run.failed)}, then accepted: "
                 f"{sorted(set(run.accepted.values()))} x{len(run.accepted)}")
    return "\n".join(lines)


def _recover(twin, run: Outage) -> None:
    """The operator's side after the outage: the fault ends, the failback latch is opened, and
    the clock runs until the name answers the primary again and no alarm is in ALARM."""
    twin.fault(run.primary, None)
    operator_failback(twin, "failback after the outage scenario")
    until = twin.clock.now() + RECOVERY_LIMIT_S
    while twin.clock.now() < until:
        twin.advance(60)
        if (twin.region_for(run.name) == run.primary
                and all(state != ALARM for state in twin.alarms.states().values())):
            return
    firing = sorted(n for n, s in twin.alarms.states().items() if s == ALARM)
    raise AssertionError(f"not recovered in {RECOVERY_LIMIT_S} s: {run.name} -> {twin.region_for(run.name)}, "
                         f"in ALARM: {firing}")


@pytest.fixture(scope="module", params=FAULTS)
def outage(request, twin, client_key):
    """Play one outage: warm-up, the fault, DNS moves, payments continue in DR, the alarms run
    on until the DR pages are in and 2 minutes after the move (at most OUTAGE_S); then the twin
    is recovered for the next fault kind."""
    kind = request.param
    warm_up(twin)
    primary, dr = twin.region_of("primary"), twin.region_of("dr")
    name = _failover_name(twin)
    assert twin.region_for(name) == primary, "the previous scenario left the name on DR"
    firing = sorted(n for n, s in twin.alarms.states().items() if s == ALARM)
    assert firing == [], f"alarms in ALARM before the fault: {firing}"
    earlier = []
    for _ in range(2):  # normal traffic
        txn = f"txn-{uuid.uuid4().hex[:16]}"
        response = _pay(twin, name, client_key, txn)
        assert response.status == 200 and response.region == primary, response.body
        earlier.append(txn)
        twin.advance(2 * STEP_S)
    primary_check = next(c for c in twin.route53.checks.values() if c.fqdn.startswith(primary + "."))
    run = Outage(kind, primary, dr, name, fault_t=twin.clock.now(), before=twin.alarms.states(), earlier=earlier,
                 threshold_s=primary_check.failure_threshold * primary_check.request_interval)
    twin.fault(primary, kind)
    try:
        while twin.clock.now() - run.fault_t < run.threshold_s + 6 * STEP_S:
            if twin.region_for(name) == dr:
                run.moved_t = twin.clock.now()
                break
            txn = f"txn-{uuid.uuid4().hex[:16]}"
            run.attempted.add(txn)
            try:
                response = _pay(twin, name, client_key, txn)
                assert response.status >= 500, f"the broken region answered {response.status}"
            except OSError:
                pass
            run.failed.append(txn)
            twin.advance(STEP_S)
        # Through the failover name: the clients' retries (same transactionId) and new ones.
        for txn in run.failed + [f"txn-{uuid.uuid4().hex[:16]}" for _ in range(3)]:
            run.attempted.add(txn)
            for _ in range(3):
                try:
                    response = _pay(twin, name, client_key, txn)
                except OSError:
                    run.during.append((txn, 0, twin.region_for(name)))
                    continue
                run.during.append((txn, response.status, response.region))
                if response.status == 200:
                    run.accepted[txn] = response.region
                    break
        while twin.clock.now() - run.fault_t < OUTAGE_S:  # the alarms evaluate the outage
            twin.advance(STEP_S)
            run.answers_after_move.append(twin.region_for(name))
            if _dr_pages_seen(twin, run) and twin.clock.now() - (run.moved_t or run.fault_t) >= 120:
                break  # what the tests read has happened (each hung minute costs real seconds)
        assert twin.replication.wait_caught_up(20), "replication did not catch up"
        print(_timeline(twin, run))  # the figures (make twin-test with PYTEST_ADDOPTS=-s shows them)
        yield run
    finally:
        _recover(twin, run)
        twin.evaluate(False)


def test_primary_health_check_goes_unhealthy_within_its_threshold(twin, outage):
    check = next(c for c in twin.route53.checks.values() if c.fqdn.startswith(outage.primary + "."))
    went = [t for t, healthy, _ in check.history if not healthy and t >= outage.fault_t]
    assert went, f"{check.name} never went unhealthy: {check.history}"
    assert went[0] - outage.fault_t <= outage.threshold_s + SLACK_S, (went[0] - outage.fault_t, check.history)


def test_the_failover_name_moves_to_dr_and_stays(twin, outage):
    assert outage.moved_t is not None, f"{outage.name} still answers {twin.region_for(outage.name)}"
    assert outage.moved_t - outage.fault_t <= outage.threshold_s + SLACK_S
    assert (outage.moved_t, outage.name, outage.dr) in [(t, n, r) for t, n, r in twin.route53.answers]
    assert set(outage.answers_after_move) == {outage.dr}, "the name went back while the primary was broken"


def test_payments_through_the_failover_name_succeed_in_dr(outage):
    assert outage.failed, "no payment was sent while the primary was broken"
    accepted = [(txn, status, region) for txn, status, region in outage.during if status == 200]
    assert accepted and all(region == outage.dr for _, _, region in accepted), outage.during
    assert all(status == 200 for _, status, _ in outage.during), outage.during  # no retry needed after the move


def test_zero_lost_and_zero_duplicates_after_replication(twin, outage):
    """Every payment a client sent is accepted once, and is ONE record (transactionId +
    timestamp) in both regions; the payments the primary took before the fault are in DR."""
    assert set(outage.accepted) == outage.attempted, outage.attempted - set(outage.accepted)
    for txn in [*outage.accepted, *outage.earlier]:
        per_region = {region: {item["timestamp"]["N"] for item in _records(twin, region, txn)
                               if item["status"]["S"] == "VALIDATED"}
                      for region in (outage.primary, outage.dr)}
        both = per_region[outage.primary] | per_region[outage.dr]
        assert len(both) == 1, f"{txn}: {per_region}"
        assert per_region[outage.primary] == per_region[outage.dr], f"{txn} not replicated: {per_region}"


def test_the_primary_health_check_alarm_pages_through_the_primarys_topic(twin, outage):
    """The routing stack's alarm on the primary's health check pages after the fault, through
    us-east-1's topic (Route 53's metrics are published in us-east-1 only): in a real us-east-1
    outage that page may not leave the region; the next test's page does."""
    pages = [p for p in _pages(twin, outage) if p.alarm.endswith("health-check-primary")]
    assert pages, [(p.alarm, p.topic_region, p.t - outage.fault_t) for p in twin.alarms.pages]
    assert pages[0].t - outage.fault_t <= outage.threshold_s + SLACK_S + 60 + 60
    assert {p.topic_region for p in pages} == {outage.primary}


def test_a_page_goes_out_through_the_surviving_region_within_the_alarms_window(twin, outage):
    """The DR probe (its schedule, its real code) finds the primary unreachable; the DR region's
    peer-unreachable alarm pages through the DR topic within one probe period plus
    datapoints_to_alarm periods of the fault (the alarm's window)."""
    surviving = [p for p in _pages(twin, outage) if p.topic_region != outage.primary]
    assert surviving, [(p.alarm, p.topic_region, p.t - outage.fault_t) for p in twin.alarms.pages]
    alarm = next(a for a in twin.alarms.alarms.values()
                 if a.region == outage.dr and a.metric and a.metric[1] == "PeerHealthy")
    probe = next(s for s in twin.schedules.schedules.values()
                 if s.region == outage.dr and any(fn.handler == "probe.lambda_handler" for fn in s.targets))
    pages = [p for p in surviving if p.alarm == alarm.name]
    assert pages, [(p.alarm, p.topic_region) for p in surviving]
    assert pages[0].topic_region == outage.dr and not pages[0].under_fault
    window = probe.period_s + alarm.datapoints_to_alarm * alarm.period
    assert pages[0].t - outage.fault_t <= window, (pages[0].t - outage.fault_t, window)


def test_the_failback_latch_blocks_in_dr_and_pages_there(twin, outage):
    """Traffic on DR and the primary failing: the DR probe blocks the latch (FailbackBlocked 1),
    the gate's alarm pages through the DR topic, and Route 53's gate check goes unhealthy."""
    blocked = twin.metrics.values(outage.dr, "PaymentsDR", "FailbackBlocked", {"Peer": "primary"},
                                  outage.fault_t, twin.clock.now())
    assert blocked and blocked[-1] == 1.0, blocked
    gate_alarm = next(a for a in twin.alarms.alarms.values()
                      if a.region == outage.dr and a.metric and a.metric[1] == "FailbackBlocked")
    assert gate_alarm.state == ALARM
    assert [p.topic_region for p in _pages(twin, outage) if p.alarm == gate_alarm.name] == [outage.dr]
    gate = next(c for c in twin.route53.checks.values() if c.type == "CLOUDWATCH_METRIC")
    assert not gate.healthy and twin.alarms.data_state(gate.alarm_name, gate.alarm_region) == ALARM
