#!/usr/bin/env python
"""What bundling Powertools into the signed package costs at cold start (import only).

Run after `make synth` (or anything that assembles build/lambda-package):
    .venv/bin/python scripts/bench_package.py [--runs 7]

Three ways to import `validator` in a fresh interpreter (median / max of --runs, ms):
- layer-like: lambda/ + Powertools from this venv's precompiled site-packages (what the
  public layer gives: it ships bytecode);
- bundled, no bytecode: build/lambda-package as zipped, Powertools compiled from source
  on every import (what Lambda would do: /var/task is read-only, nothing gets cached);
- bundled, precompiled: a copy compiled with this interpreter, unchecked-hash, as
  scripts/vendor_lambda_deps.py does for CPython 3.13.
This interpreter is not the Lambda runtime (3.13 on arm64): compare the rows, not the
absolute figures. VPC attachment cannot be measured here at all (see README).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "build" / "lambda-package"
ENV = {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "REGION_ROLE": "primary",
       "TRANSACTIONS_TABLE": "t", "IDEMPOTENCY_TABLE": "i", "AUDIT_BUCKET": "b",
       "MAX_AMOUNT": "1000000.00", "POWERTOOLS_LOG_LEVEL": "WARNING",
       "LAMBDA_TASK_ROOT": "/var/task", "AWS_LAMBDA_FUNCTION_NAME": "bench"}
CHILD = ("import sys, time; sys.path.insert(0, {path!r}); t = time.perf_counter(); "
         "import validator; print((time.perf_counter() - t) * 1000)")


def cold_import_ms(path: Path, runs: int) -> list[float]:
    env = {**os.environ, **ENV}
    env.pop("PYTHONPATH", None)
    return [float(subprocess.run([sys.executable, "-B", "-c", CHILD.format(path=str(path))],
                                 env=env, check=True, capture_output=True, text=True).stdout)
            for _ in range(runs)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    if not (PACKAGE / "aws_lambda_powertools").is_dir():
        print(f"{PACKAGE} is missing: run `make synth` first", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        compiled = Path(tmp) / "package"
        shutil.copytree(PACKAGE, compiled, ignore=shutil.ignore_patterns("__pycache__"))
        subprocess.run([sys.executable, "-m", "compileall", "-q", "--invalidation-mode",
                        "unchecked-hash", str(compiled)], check=True)
        # The no-bytecode row must not see bytecode: strip it from a second copy.
        plain = Path(tmp) / "plain"
        shutil.copytree(PACKAGE, plain, ignore=shutil.ignore_patterns("__pycache__"))
        rows = {"layer-like (precompiled site-packages)": ROOT / "lambda",
                "bundled, no bytecode": plain, "bundled, precompiled": compiled}
        print(f"cold `import validator`, {runs} runs, python {sys.version.split()[0]}")
        for label, path in rows.items():
            samples = cold_import_ms(path, runs)
            print(f"  {label:40s} median {statistics.median(samples):7.1f} ms"
                  f"   max {max(samples):7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
