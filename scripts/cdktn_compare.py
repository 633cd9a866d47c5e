#!/usr/bin/env python3
"""Synthesizes the project with CDK Terrain (cdktn) and compares the JSON with cdktf's.

    scripts/cdktn_compare.py [--cdktf-out cdktf.out] [--work build/cdktn]
                             [--python tools/cdktn/.venv/bin/python]

1. scripts/to_cdktn.py converts this checkout into <work>/src;
2. cdktn synthesizes it into <work>/cdktf.out with the same environment (settings variables
   included), using the cdktn environment's interpreter (tools/cdktn/Pipfile.lock);
3. every stack's cdk.tf.json is compared with the cdktf synth in --cdktf-out (run `make synth`
   first, with the same settings), key by key, and the stack assets byte by byte.
The only differences allowed are the provider's version and source in
`terraform.required_providers` and the generator version in the `//` metadata. Anything else
is printed with both values and the exit code is 1. `make cdktn-compare` runs all of it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import to_cdktn  # noqa: E402

ALLOWED = (
    re.compile(r"^terraform\.required_providers\.[^.]+\.(version|source)$"),
    re.compile(r"^//\.metadata\.version$"),  # the generator's own version (0.21.0 vs 0.24.x)
)
ABSENT = "<absent>"
BUILD_INPUTS = (Path("build") / "lambda-vendor",)


def flatten(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        if not value:
            yield path, {}
        for key, item in value.items():
            yield from flatten(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        if not value:
            yield path, []
        for i, item in enumerate(value):
            yield from flatten(item, f"{path}[{i}]")
    else:
        yield path, value


def _digest(path: Path) -> str:
    """sha256 of a file; for a zip, of its files (names and contents): timestamps and directory
    entries differ between generators and do not change what Lambda runs."""
    if path.suffix == ".zip":
        digest = hashlib.sha256()
        with zipfile.ZipFile(path) as archive:
            for info in sorted(archive.infolist(), key=lambda i: i.filename):
                if info.is_dir():  # cdktf 0.21 writes directory entries, cdktn does not
                    continue
                digest.update(info.filename.encode() + b"\0" + archive.read(info) + b"\0")
        return digest.hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assets(stack_dir: Path) -> dict[str, str]:
    return {str(p.relative_to(stack_dir)): _digest(p)
            for p in sorted(stack_dir.rglob("*")) if p.is_file() and p.name != "cdk.tf.json"
            and ".terraform" not in p.parts and p.name not in ("tfplan", "metadata.json")}


def _dependencies(outdir: Path) -> dict[str, list[str]]:
    stacks = json.loads((outdir / "manifest.json").read_text())["stacks"]
    return {name: entry.get("dependencies", []) for name, entry in stacks.items()}


def compare(cdktf_out: Path, cdktn_out: Path) -> tuple[list[str], list[str]]:
    """(allowed differences, other differences) between two synth output folders."""
    allowed: list[str] = []
    other: list[str] = []
    a_stacks = {d.name for d in (cdktf_out / "stacks").iterdir() if d.is_dir()}
    b_stacks = {d.name for d in (cdktn_out / "stacks").iterdir() if d.is_dir()}
    for name in sorted(a_stacks ^ b_stacks):
        other.append(f"stack {name}: only in {'cdktf' if name in a_stacks else 'cdktn'}")
    for name in sorted(a_stacks & b_stacks):
        a = dict(flatten(json.loads((cdktf_out / "stacks" / name / "cdk.tf.json").read_text())))
        b = dict(flatten(json.loads((cdktn_out / "stacks" / name / "cdk.tf.json").read_text())))
        for key in sorted(set(a) | set(b)):
            left, right = a.get(key, ABSENT), b.get(key, ABSENT)
            if left != right:
                line = f"{name}: {key}: cdktf {json.dumps(left)} / cdktn {json.dumps(right)}"
                (allowed if any(p.match(key) for p in ALLOWED) else other).append(line)
        a_assets, b_assets = _assets(cdktf_out / "stacks" / name), _assets(cdktn_out / "stacks" / name)
        for path in sorted(set(a_assets) | set(b_assets)):
            if a_assets.get(path) != b_assets.get(path):
                other.append(f"{name}: asset {path} differs or is missing on one side")
    a_deps, b_deps = _dependencies(cdktf_out), _dependencies(cdktn_out)
    if a_deps != b_deps:
        other.append(f"manifest.json stack dependencies: cdktf {a_deps} / cdktn {b_deps}")
    return allowed, other


def synthesize(work: Path, python: Path) -> Path:
    src, out = work / "src", work / "cdktf.out"
    if work.exists():
        shutil.rmtree(work)
    report = to_cdktn.convert(ROOT, src)
    print(f"converted into {src}: {len(report)} file change(s)")
    # Build inputs git does not track but synth reads: the vendored Powertools for the signed
    # function package (`make setup-synth` creates it; scripts/vendor_lambda_deps.py).
    for rel in BUILD_INPUTS:
        if (ROOT / rel).is_dir():
            shutil.copytree(ROOT / rel, src / rel, symlinks=True)
    env = {**os.environ, "CDKTF_OUTDIR": str(out), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([str(python), "main.py"], cwd=src, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"cdktn synth failed (exit {proc.returncode})")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cdktf-out", type=Path, default=ROOT / "cdktf.out")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "cdktn")
    parser.add_argument("--python", type=Path, default=ROOT / "tools" / "cdktn" / ".venv" / "bin" / "python")
    args = parser.parse_args(argv)
    if not (args.cdktf_out / "manifest.json").is_file():
        print(f"cdktn_compare.py: {args.cdktf_out}/manifest.json not found (run `make synth` first)",
              file=sys.stderr)
        return 2
    cdktn_out = synthesize(args.work.resolve(), args.python)
    allowed, other = compare(args.cdktf_out, cdktn_out)
    for line in allowed:
        print(f"  allowed  {line}")
    for line in other:
        print(f"  DIFFERS  {line}")
    verdict = "PASS" if not other else "FAIL"
    print(f"cdktn compare: {verdict} ({len(allowed)} allowed, {len(other)} other difference(s))")
    return 0 if not other else 1


if __name__ == "__main__":
    sys.exit(main())
