"""The failback latch over time, in a model of an outage (tests/lambda/latch_model.py).

A model: the latch decisions are lambda/ops/latch.py's; Route 53, the probe schedule, the DR
probe's resolver and the gate's delay are simulated with the timings stated in the model.
"""

from __future__ import annotations

import re
from pathlib import Path

import latch_model
import pytest

OUTAGES_S = (45, 90, 120, 180, 600)
FAILOVER_DOC = Path(__file__).resolve().parents[2] / "docs" / "failover.md"


def test_a_ten_minute_outage_holds_traffic_on_dr_until_the_operator():
    for outcome in latch_model.sweep(600):
        assert outcome.failed_over
        assert outcome.blocked_at is not None and outcome.blocked_at <= 180, outcome
        assert not outcome.automatic_failback and not outcome.flapped, outcome


@pytest.mark.parametrize("outage_s", OUTAGES_S)
def test_once_blocked_the_latch_never_opens_by_itself(outage_s):
    for outcome in latch_model.sweep(outage_s):
        if outcome.blocked_at is not None:
            assert outcome.latch_blocked_at_end, outcome


def test_failover_doc_states_the_modelled_figures_for_short_outages():
    """docs/failover.md says how often short outages fail back by themselves; the numbers
    must be the model's, so the doc changes when the latch or the gate does."""
    text = FAILOVER_DOC.read_text()
    rows = {int(m.group(1)): (int(m.group(2)), int(m.group(3)))
            for m in re.finditer(r"^\| (\d+) s \| (\d+) % \| (\d+) % \|", text, re.MULTILINE)}
    assert set(rows) == set(OUTAGES_S), rows
    for outage_s in OUTAGES_S:
        assert rows[outage_s] == latch_model.figures(outage_s), outage_s
