"""The last DR drill's measured figures next to the targets (`drctl drill` writes the report)."""

from __future__ import annotations

import json
from pathlib import Path

from .budget import RPO_TARGET_S, RTO_TARGET_S
from .load import ROOT, fmt_s

LAST_DRILL_REPORT = ROOT / "drills" / "last-report.json"


def drill_lines(path: Path, budget_rto_s: float | None = None) -> list[str]:
    """The last drill's measured figures next to the targets (and the configured RTO budget).

    Self-contained on purpose: it reads only the report `drctl drill` writes (its JSON keys
    `drill`, `environment`, `outcome`, `ended_at`, `measured`, `broke`).
    """
    try:
        report = json.loads(Path(path).read_text())
        measured = report["measured"]
    except FileNotFoundError:
        return [f"Last drill: no report at {path} (run `drctl drill NAME`, see docs/drills.md)"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        return [f"Last drill: report {path} unreadable ({type(error).__name__}: {error})"]
    rto, rpo = measured.get("rto_s"), measured.get("rpo_s")
    budget = f", configured budget {fmt_s(budget_rto_s)}" if budget_rto_s is not None else ""

    def verdict(value: float | None, target: float) -> str:
        return "not measured" if value is None else (
            f"{fmt_s(value)} {'PASS' if value <= target else 'FAIL'}")

    rpo_text = verdict(rpo, RPO_TARGET_S)
    if rpo is None and measured.get("rpo_upper_s") is not None:  # canary bounds only
        rpo_text = (f"between {fmt_s(measured.get('rpo_lower_s') or 0)} and "
                    f"{fmt_s(measured['rpo_upper_s'])}: INCONCLUSIVE at the canary's resolution")
    lines = [f"Last drill: {report.get('drill')} ({report.get('environment')}), "
             f"{str(report.get('outcome', '?')).upper()} at {report.get('ended_at') or '?'} ({path})",
             f"  measured RTO {verdict(rto, RTO_TARGET_S)} (target {fmt_s(RTO_TARGET_S)}{budget})",
             f"  measured RPO {rpo_text} (target {fmt_s(RPO_TARGET_S)})"]
    for key, value in sorted(measured.items()):
        if key not in ("rto_s", "rpo_s", "rpo_upper_s", "rpo_lower_s") and value is not None:
            lines.append(f"  {key[:-2].replace('_', ' ') if key.endswith('_s') else key}: {fmt_s(value)}")
    lines += [f"  broke: {item}" for item in report.get("broke") or []]
    return lines
