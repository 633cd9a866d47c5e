#!/usr/bin/env python3
"""Security gate: runs checkov over every synthesized stack and fails on any unaccepted finding.

checkov's terraform_json runner ignores inline suppressions, so accepted findings live in one
file, `checkov-suppressions.yaml`: per check id, the resources (fnmatch patterns over
`<type>.<construct path>`, e.g. `aws_s3_bucket.payments-dr/storage/*-audit/bucket`), the
reason and, optionally, the `environments` it applies to (default: all of the file's
top-level `environments`). One run scans one or more environments' synth outputs. The gate
fails when:
- a finding is not accepted for its environment;
- a stack yields zero checks or any parsing error (checkov reports 0 checks and exits 0
  when it cannot parse its input, which would otherwise look like a pass);
- a suppression matches nothing in an environment it applies to (stale suppressions hide
  future regressions; an entry that only matches in some environments must list them);
- an environment is not declared in the file (a typo would otherwise skip its entries).

Usage: scripts/checkov_gate.py [--environment NAME] [DIR | NAME=DIR ...]   (exit 0 = pass)
  scripts/checkov_gate.py cdktf.out                      # the default synth (`default`)
  scripts/checkov_gate.py --environment prod cdktf.out   # CI: the prod plan job's synth
  scripts/checkov_gate.py default=out-a prod=out-b       # several at once (tests)
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
CHECKOV = ROOT / "tools" / "checkov" / ".venv" / "bin" / "checkov"
SUPPRESSIONS = ROOT / "checkov-suppressions.yaml"
DEFAULT_ENVIRONMENT = "default"  # the synth with no settings (`make synth`, `make test`)


class SuppressionError(ValueError):
    pass


@dataclass(frozen=True)
class Suppression:
    check: str
    resources: tuple[str, ...]
    reason: str
    environments: tuple[str, ...] | None = None  # None: every environment

    def applies_to(self, environment: str) -> bool:
        return self.environments is None or environment in self.environments

    def accepts(self, check_id: str, address: str) -> bool:
        return check_id == self.check and any(fnmatch.fnmatchcase(address, p) for p in self.resources)


@dataclass
class StackResult:
    stack: str
    environment: str = DEFAULT_ENVIRONMENT
    passed: int = 0
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (check, address, name)
    accepted: list[tuple[str, str]] = field(default_factory=list)
    parsing_errors: int = 0


def load_file(path: Path = SUPPRESSIONS) -> tuple[tuple[str, ...], list[Suppression]]:
    """(declared environments, suppressions); SuppressionError names the bad entry."""
    doc = yaml.safe_load(path.read_text())
    declared = tuple(doc.get("environments") or ())
    if not declared or not all(isinstance(e, str) and e for e in declared):
        raise SuppressionError(f"{path.name}: a top-level `environments` list of names is required")
    result = []
    for entry in doc["suppressions"]:
        reason = (entry.get("reason") or "").strip()
        resources = tuple(entry.get("resources") or ())
        if not reason or not resources or any(p.strip() in ("*", "") for p in resources):
            raise SuppressionError(f"suppression {entry.get('check')} needs named resources and a reason")
        environments = entry.get("environments")
        if environments is not None:
            environments = tuple(environments)
            unknown = sorted(set(environments) - set(declared))
            if not environments or unknown:
                raise SuppressionError(
                    f"suppression {entry.get('check')}: environments {list(environments)} must be a "
                    f"non-empty subset of the declared environments {list(declared)}")
        result.append(Suppression(entry["check"], resources, reason, environments))
    return declared, result


def load_suppressions(path: Path = SUPPRESSIONS) -> list[Suppression]:
    return load_file(path)[1]


def _addresses(stack_json: dict[str, Any], stack: str) -> dict[str, str]:
    """checkov's resource names ('resource.x', 'aws_t.x', 'data.x') -> '<type>.<construct path>'."""
    table = {}
    for kind in ("resource", "data"):
        for rtype, items in stack_json.get(kind, {}).items():
            for name, body in items.items():
                # A block may be a list of bodies in Terraform JSON; only ours carry metadata.
                meta = body.get("//", {}) if isinstance(body, dict) else {}
                path = meta.get("metadata", {}).get("path", f"{stack}/{name}")
                canonical = f"{'data.' if kind == 'data' else ''}{rtype}.{path}"
                for alias in (f"{kind}.{name}", f"{rtype}.{name}", f"data.{rtype}.{name}"):
                    table[alias] = canonical
    return table


# checkov 3.3's terraform_json parser rejects a `terraform.required_version` string (one
# parsing error, zero checks). It is no security property, so the scanned copy drops it and
# nothing else; the gate still refuses any other parsing error or a scan with zero checks.
CHECKOV_UNPARSEABLE = (("terraform", "required_version"),)


def checkov_input(stack_json: dict[str, Any]) -> dict[str, Any]:
    """The stack as checkov can parse it (see CHECKOV_UNPARSEABLE); the original is untouched."""
    copy: dict[str, Any] = json.loads(json.dumps(stack_json))
    for block, key in CHECKOV_UNPARSEABLE:
        copy.get(block, {}).pop(key, None)
    return copy


# (scratch folder, files relative to it) -> checkov's JSON report on stdout. The live one runs
# checkov; tests pass a replay of recorded output (tests/checkov_recording.py).
Checkov = Callable[[Path, list[str]], str]


def run_checkov(root: Path, files: list[str]) -> str:
    """One checkov process over every file: its start (seconds) is paid once, not per stack."""
    command = [str(CHECKOV)]
    for name in files:
        command += ["-f", name]
    proc = subprocess.run(
        command + ["--framework", "terraform_json", "--skip-download", "-o", "json", "--compact"],
        cwd=root, capture_output=True, text=True, check=False)
    if not proc.stdout.strip():
        raise RuntimeError(f"checkov printed no report: {proc.stderr[-2000:]}")
    return proc.stdout


@dataclass
class FileReport:
    passed: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    parsing_errors: int = 0


def report_by_file(stdout: str, root: Path, files: list[str]) -> dict[str, FileReport]:
    """checkov's report over several files, split per file (keys as in `files`).

    checkov names a file three ways (`/a/b.json`, `a/b.json`, `<root>/a/b.json`); a name that
    is none of ours, or totals that do not add up, fail loudly rather than lose a finding."""
    try:
        report = json.loads(stdout) if stdout.strip() else {}
    except json.JSONDecodeError as error:
        raise RuntimeError(f"checkov printed no JSON: {stdout[-2000:]}") from error
    real_root = os.path.realpath(root)
    alias = {}
    for name in files:
        for form in (name, "/" + name, str(root / name), os.path.join(real_root, name)):
            alias[form] = name
    by_file = {name: FileReport() for name in files}

    def of(path: str) -> FileReport:
        if path not in alias:
            raise RuntimeError(f"checkov reported on {path!r}, which it was not given")
        return by_file[alias[path]]

    for rep in report if isinstance(report, list) else [report]:
        if not rep:
            continue
        results = rep.get("results", {})
        for check in results.get("passed_checks", []):
            of(check["file_path"]).passed += 1
        for check in results.get("failed_checks", []):
            of(check["file_path"]).failed.append(check)
        for path in results.get("parsing_errors", []):
            of(path).parsing_errors += 1
        summary = rep.get("summary", {})
        counted = (len(results.get("passed_checks", [])), len(results.get("failed_checks", [])),
                   len(results.get("parsing_errors", [])))
        totals = (int(summary.get("passed", 0)), int(summary.get("failed", 0)),
                  int(summary.get("parsing_errors", 0)))
        if counted != totals:
            raise RuntimeError(f"checkov's per-file results {counted} do not add up to its summary "
                               f"{totals} (passed, failed, parsing errors)")
    return by_file


def scan(jobs: list[tuple[str, Path]], suppressions: list[Suppression],
         checkov: Checkov = run_checkov) -> list[StackResult]:
    """Every (environment, stack folder) in one checkov run over scanned copies of the stacks."""
    originals = [json.loads((stack_dir / "cdk.tf.json").read_text()) for _, stack_dir in jobs]
    # By position: an environment name need not be a safe folder name.
    files = [f"{i}/{stack_dir.name}/cdk.tf.json" for i, (_, stack_dir) in enumerate(jobs)]
    with tempfile.TemporaryDirectory(prefix="checkov-gate-") as scratch:
        root = Path(scratch)
        for name, original in zip(files, originals, strict=True):
            (root / name).parent.mkdir(parents=True)
            (root / name).write_text(json.dumps(checkov_input(original)))
        by_file = report_by_file(checkov(root, files), root, files) if jobs else {}
    return [_result(stack_dir.name, original, by_file[name], suppressions, env)
            for (env, stack_dir), original, name in zip(jobs, originals, files, strict=True)]


def _result(stack: str, stack_json: dict[str, Any], report: FileReport,
            suppressions: list[Suppression], environment: str = DEFAULT_ENVIRONMENT) -> StackResult:
    addresses = _addresses(stack_json, stack)
    result = StackResult(stack, environment, passed=report.passed,
                         parsing_errors=report.parsing_errors)
    suppressions = [s for s in suppressions if s.applies_to(environment)]
    for finding in report.failed:
        address = addresses.get(finding["resource"], finding["resource"])
        check_id = finding["check_id"]
        if any(s.accepts(check_id, address) for s in suppressions):
            result.accepted.append((check_id, address))
        else:
            result.failed.append((check_id, address, finding.get("check_name", "")))
    return result


def run_gate(outdirs: Path | dict[str, Path], suppressions: list[Suppression] | None = None,
             declared: tuple[str, ...] | None = None,
             checkov: Checkov = run_checkov) -> tuple[bool, list[str], list[StackResult]]:
    """Scan every stack under <outdir>/stacks of each environment; (ok, problems, results).

    `outdirs` is {environment: synth output folder}; a bare folder is the default synth. All
    of it is one checkov run (`checkov`: tests replay recorded output through the same logic).
    """
    if isinstance(outdirs, (str, Path)):
        outdirs = {DEFAULT_ENVIRONMENT: Path(outdirs)}
    if suppressions is None:
        declared, suppressions = load_file()
    problems = []
    if declared is not None:
        problems += [f"environment {env!r} is not declared in {SUPPRESSIONS.name} (declared: {list(declared)})"
                     for env in outdirs if env not in declared]
    jobs: list[tuple[str, Path]] = []
    for env, outdir in outdirs.items():
        stack_dirs = sorted(d for d in (Path(outdir) / "stacks").iterdir() if d.is_dir()) \
            if (Path(outdir) / "stacks").is_dir() else []
        if not stack_dirs:
            problems.append(f"{env}: no synthesized stacks under {outdir}/stacks")
        jobs += [(env, d) for d in stack_dirs]
    results = scan(jobs, suppressions, checkov)
    label = (lambda r: f"{r.stack} [{r.environment}]") if len(outdirs) > 1 else (lambda r: r.stack)
    for r in results:
        if r.parsing_errors:
            problems.append(f"{label(r)}: checkov reported {r.parsing_errors} parsing error(s)")
        if r.passed + len(r.failed) + len(r.accepted) == 0:
            problems.append(f"{label(r)}: checkov ran zero checks (unparsed input?)")
        for check_id, address, name in r.failed:
            problems.append(f"{label(r)}: {check_id} failed on {address}: {name}")
    for env in outdirs:
        used = {(c, a) for r in results if r.environment == env for c, a in r.accepted}
        for s in suppressions:
            if s.applies_to(env) and not any(s.accepts(c, a) for c, a in used):
                problems.append(f"stale suppression: {s.check} {list(s.resources)} matches no finding "
                                f"in environment {env!r} (list the environments it applies to)")
    return not problems, problems, results


def parse_targets(targets: list[str], environment: str) -> dict[str, Path]:
    """['cdktf.out'] or ['dev=out-a', 'prod=out-b'] -> {environment: folder}."""
    result: dict[str, Path] = {}
    for target in targets or [str(ROOT / "cdktf.out")]:
        env, sep, folder = target.partition("=")
        env, folder = (env, folder) if sep else (environment, target)
        if env in result:
            raise SystemExit(f"checkov_gate.py: environment {env!r} given twice")
        result[env] = Path(folder)
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("targets", nargs="*", metavar="DIR|NAME=DIR",
                        help="synth output folders (default cdktf.out)")
    parser.add_argument("--environment", default=DEFAULT_ENVIRONMENT,
                        help=f"environment of a bare DIR (default {DEFAULT_ENVIRONMENT})")
    args = parser.parse_args(argv[1:])
    try:
        ok, problems, results = run_gate(parse_targets(args.targets, args.environment))
    except SuppressionError as error:
        print(f"checkov gate: FAIL: {error}")
        return 1
    for r in results:
        print(f"checkov {r.stack}: {r.passed} passed, {len(r.failed)} failed, "
              f"{len(r.accepted)} accepted (checkov-suppressions.yaml) [environment {r.environment}]")
    for problem in problems:
        print(f"  FAIL {problem}")
    print("checkov gate:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
