#!/usr/bin/env python3
"""Converts a checkout of this project from cdktf to CDK Terrain (cdktn), into another folder.

    scripts/to_cdktn.py DEST [--source .]

Copies the files git tracks (or, outside git, every file but build outputs and environments)
and rewrites the Python sources (except this migration tooling, see VERBATIM):
- imports: `cdktf` -> `cdktn`, `cdktf_cdktf_provider_aws` -> `cdktn_provider_aws`;
- `App(...)` gets `context={"targetVersions": {"terraform": ">=1.11.0"}}`: the stacks use
  write-only arguments (the Aurora password), which cdktn only synthesizes when told the
  Terraform version supports them; cdktf.json's `context` gets the same for the CLI;
- the fast-import shim (`modules/fast_provider.install()` in main.py) is dropped: cdktn's
  provider package loads its submodules lazily by itself.
Prints what it changed; exits 1 when an expected rewrite found nothing to rewrite (the
project changed shape: fix this script rather than compare two different programs).
cdktf stays the default; docs/cdktn.md describes the migration.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_VERSIONS = {"terraform": ">=1.11.0"}
SKIP_PARTS = {".git", ".venv", "node_modules", "cdktf.out", "__pycache__", ".pytest_cache", "build",
              ".mypy_cache", ".ruff_cache", ".hypothesis"}

# The migration tooling itself names both spellings on purpose: copied as it is.
VERBATIM = {Path("scripts/to_cdktn.py"), Path("scripts/cdktn_compare.py"), Path("tests/test_cdktn.py")}

_IMPORTS = [
    (re.compile(r"\bcdktf_cdktf_provider_aws\b"), "cdktn_provider_aws"),
    # `cdktf` as a module name (import statements, `cdktf.X`), not inside other words such as
    # cdktf.json, cdktf.out or CDKTF_* variables.
    (re.compile(r"^(\s*)from cdktf(\s+import\b|\.)", re.M), r"\1from cdktn\2"),
    (re.compile(r"^(\s*)import cdktf\b(?!\.json|\.out)", re.M), r"\1import cdktn"),
]
_SHIM_LINES = re.compile(r"^[ \t]*(from modules import fast_provider|fast_provider\.install\(\))[ \t]*(#.*)?\n",
                         re.M)
_APP_CALL = re.compile(r"\bApp\((?!\s*context=)")


def tracked_files(source: Path) -> list[Path]:
    try:
        out = subprocess.run(["git", "-C", str(source), "ls-files", "-z"], capture_output=True,
                             check=True, text=True).stdout
        return [Path(p) for p in out.split("\0") if p and (source / p).is_file()]
    except (OSError, subprocess.CalledProcessError):
        return [p.relative_to(source) for p in source.rglob("*")
                if p.is_file() and not SKIP_PARTS & set(p.relative_to(source).parts)]


def convert_python(text: str) -> tuple[str, list[str]]:
    """(converted text, what changed) for one Python source."""
    changes = []
    for pattern, replacement in _IMPORTS:
        text, n = pattern.subn(replacement, text)
        if n:
            changes.append(f"{n} import rename(s) ({pattern.pattern})")
    text, n = _SHIM_LINES.subn("", text)
    if n:
        changes.append(f"fast-import shim removed ({n} line(s))")
    if re.search(r"^\s*from cdktn import[^\n]*\bApp\b", text, re.M):
        context = "context={'targetVersions': " + json.dumps(TARGET_VERSIONS).replace('"', "'") + "}, "
        text, n = _APP_CALL.subn("App(" + context, text)
        if n:
            changes.append(f"targetVersions context on {n} App(...) call(s)")
    return text, changes


def convert(source: Path, dest: Path) -> list[str]:
    """Writes the converted checkout to dest; returns a report; raises SystemExit on surprises."""
    if dest.exists() and any(dest.iterdir()):
        raise SystemExit(f"to_cdktn.py: {dest} exists and is not empty")
    report = []
    counts = {"imports": 0, "shim": 0, "context": 0}
    for rel in tracked_files(source):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel.suffix == ".py" and rel not in VERBATIM:
            text, changes = convert_python((source / rel).read_text())
            target.write_text(text)
            for change in changes:
                report.append(f"{rel}: {change}")
                key = "imports" if "import rename" in change else "shim" if "shim" in change else "context"
                counts[key] += 1
        elif rel.name == "cdktf.json" and rel.parent == Path("."):
            config = json.loads((source / rel).read_text())
            config.setdefault("context", {})["targetVersions"] = TARGET_VERSIONS
            target.write_text(json.dumps(config, indent=2) + "\n")
            report.append(f"{rel}: targetVersions context")
        else:
            shutil.copy2(source / rel, target)
    missing = [what for what, n in counts.items() if n == 0]
    if missing:
        raise SystemExit(f"to_cdktn.py: nothing to rewrite for {', '.join(missing)}: "
                         "the project changed shape; update scripts/to_cdktn.py")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--source", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    for line in convert(args.source.resolve(), args.dest):
        print(line)
    print(f"converted {args.source} -> {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
