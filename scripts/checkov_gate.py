#!/usr/bin/env python3
"""Security gate: runs checkov over every synthesized stack and fails on any unaccepted finding.

checkov's terraform_json runner ignores inline suppressions, so accepted findings live in one
file, `checkov-suppressions.yaml`: per check id, the resources (fnmatch patterns over
`<type>.<construct path>`, e.g. `aws_s3_bucket.payments-dr/storage/*-audit/bucket`) and the
reason. The gate fails when:
- a finding is not accepted there;
- a stack yields zero checks or any parsing error (checkov reports 0 checks and exits 0
  when it cannot parse its input, which would otherwise look like a pass);
- an accepted finding matches nothing any more (stale suppressions hide future regressions).

Usage: scripts/checkov_gate.py [cdktf.out]   (exit 0 = pass)
"""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CHECKOV = ROOT / "tools" / "checkov" / ".venv" / "bin" / "checkov"
SUPPRESSIONS = ROOT / "checkov-suppressions.yaml"


@dataclass(frozen=True)
class Suppression:
    check: str
    resources: tuple[str, ...]
    reason: str

    def accepts(self, check_id: str, address: str) -> bool:
        return check_id == self.check and any(fnmatch.fnmatchcase(address, p) for p in self.resources)


@dataclass
class StackResult:
    stack: str
    passed: int = 0
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (check, address, name)
    accepted: list[tuple[str, str]] = field(default_factory=list)
    parsing_errors: int = 0


def load_suppressions(path: Path = SUPPRESSIONS) -> list[Suppression]:
    entries = yaml.safe_load(path.read_text())["suppressions"]
    result = []
    for entry in entries:
        reason = (entry.get("reason") or "").strip()
        resources = tuple(entry.get("resources") or ())
        if not reason or not resources or any(p.strip() in ("*", "") for p in resources):
            raise ValueError(f"suppression {entry.get('check')} needs named resources and a reason")
        result.append(Suppression(entry["check"], resources, reason))
    return result


def _addresses(stack_json: dict, stack: str) -> dict[str, str]:
    """checkov's resource names ('resource.x', 'aws_t.x', 'data.x') -> '<type>.<construct path>'."""
    table = {}
    for kind in ("resource", "data"):
        for rtype, items in stack_json.get(kind, {}).items():
            for name, body in items.items():
                path = body.get("//", {}).get("metadata", {}).get("path", f"{stack}/{name}")
                canonical = f"{'data.' if kind == 'data' else ''}{rtype}.{path}"
                for alias in (f"{kind}.{name}", f"{rtype}.{name}", f"data.{rtype}.{name}"):
                    table[alias] = canonical
    return table


# checkov 3.3's terraform_json parser rejects a `terraform.required_version` string (one
# parsing error, zero checks). It is no security property, so the scanned copy drops it and
# nothing else; the gate still refuses any other parsing error or a scan with zero checks.
CHECKOV_UNPARSEABLE = (("terraform", "required_version"),)


def checkov_input(stack_json: dict) -> dict:
    """The stack as checkov can parse it (see CHECKOV_UNPARSEABLE); the original is untouched."""
    copy = json.loads(json.dumps(stack_json))
    for block, key in CHECKOV_UNPARSEABLE:
        copy.get(block, {}).pop(key, None)
    return copy


def scan_stack(stack_dir: Path, suppressions: list[Suppression]) -> StackResult:
    original = json.loads((stack_dir / "cdk.tf.json").read_text())
    with tempfile.TemporaryDirectory() as scratch:
        stack_file = Path(scratch) / "cdk.tf.json"
        stack_file.write_text(json.dumps(checkov_input(original)))
        proc = _run_checkov(stack_file)
    return _result(stack_dir.name, original, proc, suppressions)


def _run_checkov(stack_file: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CHECKOV), "-f", str(stack_file), "--framework", "terraform_json",
         "--skip-download", "-o", "json", "--quiet", "--compact"],
        capture_output=True, text=True, check=False,
    )


def _result(stack: str, stack_json: dict, proc: subprocess.CompletedProcess,
            suppressions: list[Suppression]) -> StackResult:
    try:
        report = json.loads(proc.stdout) if proc.stdout.strip() else {}
    except json.JSONDecodeError as error:
        raise RuntimeError(f"checkov printed no JSON for {stack}: {proc.stderr[-2000:]}") from error
    reports = report if isinstance(report, list) else [report]
    addresses = _addresses(stack_json, stack)
    result = StackResult(stack)
    for rep in reports:
        if not rep:
            continue
        summary = rep.get("summary", {})
        result.parsing_errors += int(summary.get("parsing_errors", 0))
        result.passed += int(summary.get("passed", 0))
        for finding in rep.get("results", {}).get("failed_checks", []):
            address = addresses.get(finding["resource"], finding["resource"])
            check_id = finding["check_id"]
            if any(s.accepts(check_id, address) for s in suppressions):
                result.accepted.append((check_id, address))
            else:
                result.failed.append((check_id, address, finding.get("check_name", "")))
    return result


def run_gate(outdir: Path, suppressions: list[Suppression] | None = None) -> tuple[bool, list[str], list[StackResult]]:
    """Scan every stack under outdir/stacks; returns (ok, problems, per-stack results)."""
    suppressions = load_suppressions() if suppressions is None else suppressions
    results = [scan_stack(d, suppressions) for d in sorted((outdir / "stacks").iterdir()) if d.is_dir()]
    problems = []
    if not results:
        problems.append(f"no synthesized stacks under {outdir}/stacks")
    for r in results:
        if r.parsing_errors:
            problems.append(f"{r.stack}: checkov reported {r.parsing_errors} parsing error(s)")
        if r.passed + len(r.failed) + len(r.accepted) == 0:
            problems.append(f"{r.stack}: checkov ran zero checks (unparsed input?)")
        for check_id, address, name in r.failed:
            problems.append(f"{r.stack}: {check_id} failed on {address}: {name}")
    used = {(c, a) for r in results for c, a in r.accepted}
    for s in suppressions:
        if not any(s.accepts(c, a) for c, a in used):
            problems.append(f"stale suppression: {s.check} {list(s.resources)} matches no finding")
    return not problems, problems, results


def main(argv: list[str]) -> int:
    outdir = Path(argv[1]) if len(argv) > 1 else ROOT / "cdktf.out"
    ok, problems, results = run_gate(outdir)
    for r in results:
        print(f"checkov {r.stack}: {r.passed} passed, {len(r.failed)} failed, "
              f"{len(r.accepted)} accepted (checkov-suppressions.yaml)")
    for problem in problems:
        print(f"  FAIL {problem}")
    print("checkov gate:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
