"""A clock-driven model of a primary outage, Route 53, the DR probe's latch and the failback hold.

A model, not AWS. The latch decisions are the real code (`ops.latch.next_latch`, as
lambda/probe.py calls it); everything around it is simulated in whole seconds with stated
timings:
- Route 53 checks the primary's `/health` every `ROUTE53_INTERVAL_S` (at `checker_phase`) and
  flips its status after `ROUTE53_THRESHOLD` consecutive results that disagree with it (the
  deployed check: 10 s x 3, tests/test_dns.py). A result is healthy when the primary is up
  and, with the hold, the hold is not armed (its /health answers 503 while armed).
- The primary's routing health = primary check healthy AND gate healthy; the domain answers
  the PRIMARY record when it is healthy, else the SECONDARY (DR, always healthy here).
- Clients pay every `PAYMENT_INTERVAL_S` (at `payment_phase`) through the failover name; each
  client's resolver gives the answer Route 53 gave `lag` s earlier (0 <= lag <= the 60 s TTL),
  for each lag in `client_lags`. A payment that reaches DR is a DR-accepted write; with the
  hold (`hold=True`, lambda/ops/hold.py) the DR validator arms it before accepting, and the
  primary's next /health result sees it (the MRSC transactions table: a strongly consistent
  read in the primary returns DR's write; with EVENTUAL it may arrive later, not modelled).
- The DR probe runs every `PROBE_PERIOD_S` at `probe_phase`; its peer check fails while the
  primary is down; its domain check sees the answer Route 53 gave `resolver_lag` s earlier.
  A FailbackBlocked=1 datapoint closes the gate `gate_delay` s after the probe run that
  published it (CloudWatch ingestion plus Route 53 reading the alarm's data stream).
- Nothing opens the latch or clears the hold but an operator (not modelled: the run ends
  before anyone acts).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from ops import latch

ROUTE53_INTERVAL_S = 10
ROUTE53_THRESHOLD = 3
PROBE_PERIOD_S = 60
GATE_DELAY_S = 100  # stated assumption: period 60 s alarm data read by Route 53, ~1-2 min
FAILURES_TO_BLOCK = 2  # modules/probes.py PEER_FAILURES_TO_BLOCK
PAYMENT_INTERVAL_S = 10  # stated assumption: steady traffic, a payment every 10 s per client group
CLIENT_LAGS = (0, 30, 60)  # clients behind fresh, half-TTL and full-TTL resolver caches
AFTER_S = 600  # simulated after the outage ends: Route 53, the gate and the hold have settled


@dataclass(frozen=True)
class Outcome:
    failed_over: bool  # DR answered the domain at some point
    dr_write_at: int | None  # first payment DR accepted (seconds after the outage started)
    automatic_failback: bool  # the primary answered again after DR accepted a write (no operator)
    flapped: bool  # DR, then primary, then DR again
    blocked_at: int | None  # the latch blocked
    gate_closed_at: int | None
    hold_armed_at: int | None
    latch_blocked_at_end: bool


def run(outage_s: int, *, probe_phase: int, resolver_lag: int, checker_phase: int = 0,
        gate_delay: int = GATE_DELAY_S, hold: bool = True, payment_phase: int = 0,
        client_lags: Sequence[int] = CLIENT_LAGS, payment_interval: int = PAYMENT_INTERVAL_S) -> Outcome:
    state = latch.parse(None, now=0)
    gate_closed_at: int | None = None
    blocked_at: int | None = None
    hold_armed_at: int | None = None
    dr_write_at: int | None = None
    check_healthy, disagreeing = True, 0
    answers: list[str] = []  # Route 53's answer for the domain, per second

    for t in range(outage_s + AFTER_S):
        primary_up = not (0 <= t < outage_s)
        if t >= checker_phase and (t - checker_phase) % ROUTE53_INTERVAL_S == 0:
            result = primary_up and hold_armed_at is None
            disagreeing = disagreeing + 1 if result != check_healthy else 0
            if disagreeing >= ROUTE53_THRESHOLD:
                check_healthy, disagreeing = result, 0
        gate_ok = gate_closed_at is None or t < gate_closed_at
        answers.append("primary" if check_healthy and gate_ok else "dr")
        if t >= payment_phase and (t - payment_phase) % payment_interval == 0:
            for lag in client_lags:
                if answers[max(0, t - lag)] == "dr":  # this client's payment reaches DR
                    dr_write_at = t if dr_write_at is None else dr_write_at
                    if hold and hold_armed_at is None:
                        hold_armed_at = t  # armed before the payment is accepted
        if t >= probe_phase and (t - probe_phase) % PROBE_PERIOD_S == 0:
            seen = answers[max(0, t - resolver_lag)]
            new = latch.next_latch(state, peer_healthy=primary_up, threshold=FAILURES_TO_BLOCK,
                                   now=1_000_000 + t, peer="primary", failed_over=seen == "dr")
            if new is not None:
                state = new
            if state.blocked and blocked_at is None:
                blocked_at = t
                gate_closed_at = t + gate_delay
    changes = [a for i, a in enumerate(answers) if i == 0 or answers[i - 1] != a]
    failed_over = "dr" in changes
    automatic_failback = dr_write_at is not None and "primary" in answers[dr_write_at:]
    flapped = changes.count("dr") > 1
    return Outcome(failed_over, dr_write_at, automatic_failback, flapped, blocked_at, gate_closed_at,
                   hold_armed_at, state.blocked)


@functools.cache  # the tests ask for the same sweeps several times
def sweep(outage_s: int, *, gate_delay: int = GATE_DELAY_S, hold: bool = True,
          client_lags: tuple[int, ...] = CLIENT_LAGS,
          payment_interval: int = PAYMENT_INTERVAL_S) -> tuple[Outcome, ...]:
    """Every probe phase (5 s steps), probe resolver lag (0/30/60 s), checker phase (0/5 s) and
    payment phase (4 within the interval, 5 s apart at least)."""
    return tuple(run(outage_s, probe_phase=p, resolver_lag=r, checker_phase=c, gate_delay=gate_delay, hold=hold,
                     payment_phase=q, client_lags=client_lags, payment_interval=payment_interval)
                 for p in range(0, PROBE_PERIOD_S, 5) for r in (0, 30, 60) for c in (0, 5)
                 for q in range(0, payment_interval, max(5, payment_interval // 4)))


def figures(outage_s: int, *, gate_delay: int = GATE_DELAY_S, hold: bool = True,
            client_lags: tuple[int, ...] = CLIENT_LAGS, payment_interval: int = PAYMENT_INTERVAL_S) -> tuple[int, int]:
    """(% of failovers that fail back automatically after DR accepted a write, % that flap), over `sweep`."""
    runs = [o for o in sweep(outage_s, gate_delay=gate_delay, hold=hold, client_lags=client_lags,
                             payment_interval=payment_interval) if o.failed_over]
    return (round(100 * sum(o.automatic_failback for o in runs) / len(runs)),
            round(100 * sum(o.flapped for o in runs) / len(runs)))
