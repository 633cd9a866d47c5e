#!/usr/bin/env python3
"""Downloads Powertools and its runtime dependencies for the Lambda platform into
build/lambda-vendor, bundled into the signed function package (modules/compute.py).

Why not the public Powertools layer: with code signing enforced, Lambda rejects any layer
not signed by an allowed profile, and the public layer is not signed by ours.

Exact versions and sha256 hashes come from Pipfile.lock (the same releases the tests run
against); wheels are for the functions' platform (arm64, CPython 3.13), never this
machine's. boto3/botocore are not bundled: the python3.13 runtime provides them (botocore
is pulled in by the X-Ray SDK's metadata only). Idempotent: skips the download when the
vendor directory already holds exactly these versions.

Bytecode: /var/task is read-only in Lambda, so modules without a matching `__pycache__`
are compiled from source at every cold start (scripts/bench_package.py: about twice the
import time of precompiled Powertools). With a CPython 3.13 interpreter available
(`LAMBDA_PYTHON`, `python3.13` on PATH, or pyenv's 3.13) the vendored tree is compiled
with `--invalidation-mode unchecked-hash`: deterministic files (no timestamps, so the asset
hash is stable) that the runtime uses without checking the source. Without one, a warning
says so and the package still works, only with slower cold starts.

Usage: scripts/vendor_lambda_deps.py [--force]
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "Pipfile.lock"
VENDOR = ROOT / "build" / "lambda-vendor"
STAMP = VENDOR / ".vendored"
# Powertools (tracer extra) and what it imports at runtime, minus the runtime's boto stack.
PACKAGES = ("aws-lambda-powertools", "aws-xray-sdk", "wrapt", "jmespath", "typing-extensions")
PLATFORM = ("--platform", "manylinux2014_aarch64", "--python-version", "3.13",
            "--implementation", "cp", "--only-binary=:all:")


def requirements(lock: dict[str, Any]) -> list[str]:
    locked = {**lock.get("default", {}), **lock.get("develop", {})}
    lines = []
    for name in PACKAGES:
        entry = locked.get(name)
        if not entry or "version" not in entry:
            raise SystemExit(f"vendor: {name} is not pinned in Pipfile.lock")
        hashes = " ".join(f"--hash={h}" for h in entry["hashes"])
        lines.append(f"{name}{entry['version']} {hashes}")
    return lines


def lambda_python() -> str | None:
    """A CPython 3.13 to precompile with (the runtime's bytecode format), if any."""
    candidates = [os.environ.get("LAMBDA_PYTHON"), shutil.which("python3.13"),
                  *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.13.*/bin/python3.13")))]
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                               capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() == "(3, 13)":
            return candidate
    return None


def precompile(target: Path) -> str:
    python = lambda_python()
    if python is None:
        print("vendor: WARNING no CPython 3.13 found (set LAMBDA_PYTHON): the package ships "
              "without bytecode and Lambda compiles Powertools at every cold start",
              file=sys.stderr)
        return "bytecode: none"
    # -s/-p: record /var/task paths (where Lambda unpacks the zip), not this temp dir, so
    # tracebacks are right and the bytes do not change from one run to the next. -j 1:
    # parallel workers can intern differently and change the bytes.
    subprocess.run([python, "-m", "compileall", "-q", "-j", "1", "-s", str(target),
                    "-p", "/var/task", "--invalidation-mode", "unchecked-hash", str(target)],
                   check=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    return "bytecode: cpython-313 unchecked-hash"


def main(argv: list[str]) -> int:
    wanted = requirements(json.loads(LOCK.read_text()))
    if "--force" not in argv and STAMP.exists() and STAMP.read_text().splitlines()[:-1] == wanted:
        print(f"vendor: {VENDOR.relative_to(ROOT)} is current")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        req = Path(tmp) / "requirements.txt"
        req.write_text("\n".join(wanted) + "\n")
        target = Path(tmp) / "out"
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", "--no-deps", "--no-compile",
                        "--require-hashes", "--target", str(target), *PLATFORM,
                        "-r", str(req)], check=True)
        shutil.rmtree(target / "bin", ignore_errors=True)
        compiled = precompile(target)
        if VENDOR.exists():
            shutil.rmtree(VENDOR)
        VENDOR.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(target), VENDOR)
    STAMP.write_text("\n".join([*wanted, compiled]) + "\n")
    print(f"vendor: {', '.join(PACKAGES)} -> {VENDOR.relative_to(ROOT)} ({compiled})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
