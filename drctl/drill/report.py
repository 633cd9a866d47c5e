"""The drill report: markdown for people, JSON for `make review` (scripts/dr_review/drill.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drctl.clock import Clock

if TYPE_CHECKING:
    from drctl.drill.models import DrillResult

DEFAULT_REPORT_DIR = "drills"
LAST_REPORT = "last-report.json"  # the newest report, what `make review` reads


def _fmt(seconds: float | None) -> str:
    return "not measured" if seconds is None else f"{seconds:.1f} s"


def render_markdown(r: dict[str, Any]) -> str:
    m, t = r["measured"], r["targets"]
    out = [f"# Drill `{r['drill']}` ({r['environment']}, fault in {r['target_role']}): "
           f"{r['outcome'].upper()} (exit {r['exit_code']})", "",
           f"Started {r['started_at']}, ended {r['ended_at'] or '-'}.", ""]
    if r["plan"]:
        out += ["## Plan", *[f"{i}. {step}" for i, step in enumerate(r["plan"], 1)], ""]
    if r["outcome"] == "dry-run":
        return "\n".join(out)
    out += ["## Measured vs target", "", "| objective | measured | target | result |",
            "|---|---|---|---|"]
    for key, label in (("rto_s", "RTO"), ("rpo_s", "RPO")):
        value = m.get(key)
        verdict = "-" if value is None else ("PASS" if value <= t[key] else "FAIL")
        shown = _fmt(value)
        if key == "rpo_s" and value is None and m.get("rpo_upper_s") is not None:
            shown = f"{m.get('rpo_lower_s') or 0:.1f}-{m['rpo_upper_s']:.1f} s (canary bounds)"
            verdict = "INCONCLUSIVE"
        out.append(f"| {label} | {shown} | {t[key]:g} s | {verdict} |")
    for key, value in m.items():
        if key not in ("rto_s", "rpo_s", "rpo_upper_s", "rpo_lower_s") and key.endswith("_s"):
            out.append(f"| {key[:-2].replace('_', ' ')} | {_fmt(value)} | | |")
    if r["events"]:
        out += ["", "## Timeline", "", "| t (s) | event | detail |", "|---|---|---|"]
        for e in r["events"]:
            detail = {k: v for k, v in e.items() if k not in ("event", "at", "t_s")}
            t_s = "" if e.get("t_s") is None else f"{e['t_s']:.1f}"
            out.append(f"| {t_s} | {e['event']} | {json.dumps(detail) if detail else ''} |")
    if r["alarms"]:
        out += ["", "## Alarms", "", "| alarm | region | raised (s) | cleared (s) |",
                "|---|---|---|---|"]
        for a in r["alarms"]:
            out.append(f"| {a['name']} | {a['region']} | {_fmt(a.get('raised_t_s'))} | "
                       f"{_fmt(a.get('cleared_t_s'))} |")
    if r["canary"]:
        out += ["", "## RPO canary (ObservedReplicationDelay)", "",
                "| store | seen in | from | max delay (upper bound) | writer interval | "
                "lag at least | datapoints |", "|---|---|---|---|---|---|---|"]
        for c in r["canary"]:
            out.append(f"| {c['store']} | {c['region']} | {c['from']} | {_fmt(c['max_s'])} | "
                       f"{_fmt(c.get('writer_interval_s'))} | {_fmt(c.get('lag_at_least_s'))} | "
                       f"{c['datapoints']} |")
    out += ["", "## What broke", ""]
    out += [f"- {b}" for b in r["broke"]] or ["- nothing"]
    if r.get("inconclusive"):
        out += ["", "## Not shown (the drill does not pass)", "", *[f"- {n}" for n in r["inconclusive"]]]
    if r.get("notes"):
        out += ["", "## Notes", "", *[f"- {n}" for n in r["notes"]]]
    return "\n".join(out) + "\n"


def write_report(result: DrillResult, report_dir: str | Path, clock: Clock) -> list[str]:
    """`<drill>-<UTC time>.{json,md}` plus `last-report.json` (what `make review` reads)."""
    folder = Path(report_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = clock.now().strftime("%Y%m%dT%H%M%SZ")
    base = folder / f"{result.drill}-{stamp}"
    result.report_files = [str(base.with_suffix(".json")), str(base.with_suffix(".md"))]
    data = result.to_json()
    base.with_suffix(".json").write_text(data + "\n")
    base.with_suffix(".md").write_text(render_markdown(result.as_dict()))
    (folder / LAST_REPORT).write_text(data + "\n")
    return result.report_files
