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

Usage: scripts/vendor_lambda_deps.py [--force]
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "Pipfile.lock"
VENDOR = ROOT / "build" / "lambda-vendor"
STAMP = VENDOR / ".vendored"
# Powertools (tracer extra) and what it imports at runtime, minus the runtime's boto stack.
PACKAGES = ("aws-lambda-powertools", "aws-xray-sdk", "wrapt", "jmespath", "typing-extensions")
PLATFORM = ("--platform", "manylinux2014_aarch64", "--python-version", "3.13",
            "--implementation", "cp", "--only-binary=:all:")


def requirements(lock: dict) -> list[str]:
    locked = {**lock.get("default", {}), **lock.get("develop", {})}
    lines = []
    for name in PACKAGES:
        entry = locked.get(name)
        if not entry or "version" not in entry:
            raise SystemExit(f"vendor: {name} is not pinned in Pipfile.lock")
        hashes = " ".join(f"--hash={h}" for h in entry["hashes"])
        lines.append(f"{name}{entry['version']} {hashes}")
    return lines


def main(argv: list[str]) -> int:
    wanted = requirements(json.loads(LOCK.read_text()))
    if "--force" not in argv and STAMP.exists() and STAMP.read_text().splitlines() == wanted:
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
        if VENDOR.exists():
            shutil.rmtree(VENDOR)
        VENDOR.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(target), VENDOR)
    STAMP.write_text("\n".join(wanted) + "\n")
    print(f"vendor: {', '.join(PACKAGES)} -> {VENDOR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
