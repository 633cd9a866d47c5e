"""Command line: scripts/review.py (see the package docstring)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __doc__ as USAGE
from .analyse import checkov_lines
from .budget import review
from .diagram import diagram_svg
from .drill import LAST_DRILL_REPORT, drill_lines
from .load import ROOT, load_stacks
from .render import render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(USAGE or "").split("\n")[0])
    parser.add_argument("path", nargs="?", default=str(ROOT / "cdktf.out"),
                        help="cdktf output folder, a stack folder or a cdk.tf.json (default cdktf.out)")
    parser.add_argument("--format", choices=("text", "markdown"), default="text")
    parser.add_argument("--diagram", metavar="SVG", help="write the architecture diagram here")
    parser.add_argument("--plan-dir", metavar="DIR", help="<stack>.json files from terraform show -json")
    parser.add_argument("--checkov", metavar="FILE", help="output of scripts/checkov_gate.py")
    parser.add_argument("--output", metavar="FILE", help="write the report here instead of stdout")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any budget line FAILs")
    parser.add_argument("--drill-report", metavar="FILE",
                        help="drctl drill report to show next to the budget "
                             "(default drills/last-report.json when present)")
    args = parser.parse_args(argv)

    stacks = load_stacks(Path(args.path))
    plans = {}
    if args.plan_dir:
        for name in stacks:
            path = Path(args.plan_dir) / f"{name}.json"
            if path.is_file():
                plans[name] = json.loads(path.read_text())
    checkov = checkov_lines(Path(args.checkov).read_text()) if args.checkov and Path(args.checkov).is_file() else None
    reviews = review(stacks, plans=plans)
    text = render(reviews, args.format, checkov)
    drill_report = Path(args.drill_report) if args.drill_report else LAST_DRILL_REPORT
    if args.drill_report or drill_report.is_file():
        traffic = [b.value_s for rv in reviews for b in rv.budget
                   if b.item.startswith("Traffic RTO") and b.value_s is not None]
        text += "\n" + "\n".join(drill_lines(drill_report, max(traffic) if traffic else None)) + "\n"
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    if args.diagram:
        main_review = max(reviews, key=lambda rv: (len(rv.replications) + len(rv.records),
                                                    sum(sum(c.values()) for c in rv.by_region.values())))
        Path(args.diagram).parent.mkdir(parents=True, exist_ok=True)
        Path(args.diagram).write_text(diagram_svg(main_review))
        print(f"diagram: {args.diagram} (stack {main_review.stack.name})", file=sys.stderr)
    failed = any(b.status == "FAIL" for rv in reviews for b in rv.budget)
    return 1 if args.strict and failed else 0

