"""The failback latch and hold over time, in a model of an outage (tests/lambda/latch_model.py).

A model: the latch decisions are lambda/ops/latch.py's; Route 53, the probe schedule, the
clients' and the DR probe's resolvers, the hold's arming and the gate's delay are simulated
with the timings stated in the model.
"""

from __future__ import annotations

import re
from pathlib import Path

import latch_model
import pytest

OUTAGES_S = (45, 90, 120, 180, 600)
FAILOVER_DOC = Path(__file__).resolve().parents[2] / "docs" / "failover.md"
SPARSE = {"client_lags": (60,), "payment_interval": 60}  # one client, 60 s cache, a payment a minute


@pytest.mark.parametrize("outage_s", OUTAGES_S)
def test_with_the_hold_no_failover_fails_back_or_flaps_by_itself(outage_s):
    """Issue 19 scenario 3: 0 % automatic failback after a DR-accepted write, 0 % flapping,
    the hold armed before the primary recovers, at every phase and resolver lag swept."""
    runs = [o for o in latch_model.sweep(outage_s) if o.failed_over]
    assert runs
    for outcome in runs:
        assert outcome.dr_write_at is not None and outcome.hold_armed_at == outcome.dr_write_at, outcome
        assert outcome.hold_armed_at < outage_s, outcome
        assert not outcome.automatic_failback and not outcome.flapped, outcome


@pytest.mark.parametrize("outage_s", (45, 90, 120))
def test_without_the_hold_short_outages_fail_back_by_themselves(outage_s):
    """The defect the hold fixes: the latch alone reaches Route 53 too late."""
    assert latch_model.figures(outage_s, hold=False)[0] == 100


def test_a_ten_minute_outage_is_held_by_the_latch_alone_too():
    for outcome in latch_model.sweep(600, hold=False):
        assert outcome.failed_over
        assert outcome.blocked_at is not None and outcome.blocked_at <= 180, outcome
        assert not outcome.automatic_failback and not outcome.flapped, outcome


@pytest.mark.parametrize("outage_s", OUTAGES_S)
def test_once_blocked_the_latch_never_opens_by_itself(outage_s):
    for outcome in latch_model.sweep(outage_s):
        if outcome.blocked_at is not None:
            assert outcome.latch_blocked_at_end, outcome


def test_failover_doc_states_the_modelled_figures():
    """docs/failover.md says how often short outages fail back by themselves, before and with
    the hold, and with sparse traffic; the numbers must be the model's."""
    text = FAILOVER_DOC.read_text()
    rows = {int(m.group(1)): tuple(int(g) for g in m.groups()[1:])
            for m in re.finditer(r"^\| (\d+) s \| (\d+) % \| (\d+) % \| (\d+) % \| (\d+) % \| (\d+) % \| (\d+) % \|",
                                 text, re.MULTILINE)}
    assert set(rows) == set(OUTAGES_S), rows
    for outage_s in OUTAGES_S:
        expected = (latch_model.figures(outage_s, hold=False) + latch_model.figures(outage_s)
                    + latch_model.figures(outage_s, **SPARSE))
        assert rows[outage_s] == expected, outage_s
