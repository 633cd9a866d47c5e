"""A clock-driven model of a primary outage, Route 53, the DR probe and the failback latch.

A model, not AWS. The latch decisions are the real code (`ops.latch.next_latch`, as
lambda/probe.py calls it); everything around it is simulated in whole seconds with stated
timings:
- Route 53 marks the primary unhealthy `threshold` x `interval` s after the outage starts
  (+ `checker_phase` s: the outage starts inside an interval) and healthy again the same
  time after it ends (the deployed check: 10 s x 3, tests/test_dns.py).
- The primary's routing health = primary check healthy AND gate healthy; the domain answers
  the PRIMARY record when it is healthy, else the SECONDARY (DR).
- The DR probe runs every `probe_period` s at `probe_phase`. Its peer check fails while the
  primary is down; its domain check sees the answer Route 53 gave `resolver_lag` s earlier
  (a resolver cache, at most the 60 s TTL).
- A FailbackBlocked=1 datapoint closes the gate `gate_delay` s after the probe run that
  published it (CloudWatch ingestion plus Route 53 reading the alarm's data stream); nothing
  opens it again but an operator (not modelled: the run ends before anyone acts).
"""

from __future__ import annotations

from dataclasses import dataclass

from ops import latch

ROUTE53_INTERVAL_S = 10
ROUTE53_THRESHOLD = 3
PROBE_PERIOD_S = 60
GATE_DELAY_S = 100  # stated assumption: period 60 s alarm data read by Route 53, ~1-2 min
FAILURES_TO_BLOCK = 2  # modules/probes.py PEER_FAILURES_TO_BLOCK
HORIZON_S = 1800


@dataclass(frozen=True)
class Outcome:
    failed_over: bool  # DR answered the domain at some point
    automatic_failback: bool  # after DR answered, the primary answered again (no operator)
    flapped: bool  # DR, then primary, then DR again
    blocked_at: int | None  # seconds after the outage started
    gate_closed_at: int | None
    latch_blocked_at_end: bool


def run(outage_s: int, *, probe_phase: int, resolver_lag: int, checker_phase: int = 0,
        gate_delay: int = GATE_DELAY_S) -> Outcome:
    detect = ROUTE53_INTERVAL_S * ROUTE53_THRESHOLD + checker_phase
    primary_check_down = (detect, outage_s + detect)  # [start, end) in which Route 53 sees it down
    state = latch.parse(None, now=0)
    gate_closed_at: int | None = None
    blocked_at: int | None = None
    answers: list[str] = []  # Route 53's answer for the domain, per second

    def answer(t: int) -> str:
        check_ok = not (primary_check_down[0] <= t < primary_check_down[1])
        gate_ok = gate_closed_at is None or t < gate_closed_at
        return "primary" if check_ok and gate_ok else "dr"

    for t in range(HORIZON_S):
        answers.append(answer(t))
        if t >= probe_phase and (t - probe_phase) % PROBE_PERIOD_S == 0:
            peer_healthy = not (0 <= t < outage_s)
            seen = answers[max(0, t - resolver_lag)]
            new = latch.next_latch(state, peer_healthy=peer_healthy, threshold=FAILURES_TO_BLOCK,
                                   now=1_000_000 + t, peer="primary", failed_over=seen == "dr")
            if new is not None:
                state = new
            if state.blocked and blocked_at is None:
                blocked_at = t
                gate_closed_at = t + gate_delay
    changes = [a for i, a in enumerate(answers) if i == 0 or answers[i - 1] != a]
    failed_over = "dr" in changes
    automatic_failback = failed_over and changes[changes.index("dr"):].count("primary") > 0
    flapped = changes.count("dr") > 1
    return Outcome(failed_over, automatic_failback, flapped, blocked_at, gate_closed_at, state.blocked)


def sweep(outage_s: int, *, gate_delay: int = GATE_DELAY_S) -> list[Outcome]:
    """Every probe phase (5 s steps), resolver lag (0/30/60 s) and checker phase (0/5 s)."""
    return [run(outage_s, probe_phase=p, resolver_lag=r, checker_phase=c, gate_delay=gate_delay)
            for p in range(0, PROBE_PERIOD_S, 5) for r in (0, 30, 60) for c in (0, 5)]


def figures(outage_s: int, *, gate_delay: int = GATE_DELAY_S) -> tuple[int, int]:
    """(% of failovers that fail back automatically, % that flap), over `sweep`."""
    runs = [o for o in sweep(outage_s, gate_delay=gate_delay) if o.failed_over]
    return (round(100 * sum(o.automatic_failback for o in runs) / len(runs)),
            round(100 * sum(o.flapped for o in runs) / len(runs)))
