"""scripts/review.py shows the last drill's measured figures next to the targets and budget."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import review

REPORT = {"drill": "regional-failover", "environment": "dev", "outcome": "failed",
          "ended_at": "2026-11-26T04:00:00+00:00",
          "measured": {"rto_s": 400.0, "rpo_s": 0.6, "detection_s": 40.0, "dns_change_s": None},
          "broke": ["RTO 400.0 s exceeds the 300 s target"]}


def test_measured_figures_sit_next_to_targets_and_budget(tmp_path):
    path = tmp_path / "last-report.json"
    path.write_text(json.dumps(REPORT))
    lines = review.drill_lines(path, budget_rto_s=130.0)
    assert lines[0].startswith("Last drill: regional-failover (dev), FAILED at 2026-11-26T04:00:00")
    assert lines[1] == "  measured RTO 400 s FAIL (target 5 min, configured budget 130 s)"
    assert lines[2] == "  measured RPO 0.6 s PASS (target 1 s)"
    assert "  detection: 40 s" in lines
    assert not any("dns change" in line for line in lines)  # not measured: not shown as a figure
    assert lines[-1] == "  broke: RTO 400.0 s exceeds the 300 s target"


def test_absent_or_broken_report_is_a_line_not_a_crash(tmp_path):
    assert review.drill_lines(tmp_path / "none.json")[0].startswith("Last drill: no report at")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert "unreadable (JSONDecodeError" in review.drill_lines(bad)[0]


def test_review_main_appends_the_drill_lines(tmp_path, capsys, synth_stacks):
    synth_stacks()
    outdir = synth_stacks.outdir_of()
    path = tmp_path / "last-report.json"
    path.write_text(json.dumps({**REPORT, "outcome": "passed",
                                "measured": {"rto_s": 130.0, "rpo_s": 0.6}, "broke": []}))
    assert review.main([str(outdir), "--drill-report", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Last drill: regional-failover (dev), PASSED" in out
    assert "measured RTO 130 s PASS (target 5 min, configured budget" in out


def test_canary_bounds_without_a_verdict_are_shown_as_inconclusive(tmp_path):
    path = tmp_path / "last-report.json"
    path.write_text(json.dumps({**REPORT, "measured": {"rto_s": 130.0, "rpo_s": None,
                                                       "rpo_upper_s": 60.5, "rpo_lower_s": 0.5}}))
    lines = review.drill_lines(path)
    assert lines[2] == "  measured RPO between 0.5 s and 60.5 s: INCONCLUSIVE at the canary's resolution (target 1 s)"
    assert not any("rpo upper" in line for line in lines)
