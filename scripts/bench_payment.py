"""Latency of one ``POST /validate`` payment against moto, and the AWS calls it makes.

    .venv/bin/python scripts/bench_payment.py [--payments 300]

Runs the validator handler in a child interpreter (moto in-process, both regions' resources
as in tests/lambda) for ``--payments`` new transaction ids, then prints p50 / p99 / max of
the handler's wall time and the DynamoDB / S3 calls per payment by operation.  moto answers
in-process, so the figures are the code's own cost plus moto's; AWS adds a network round
trip per call (and, on the MRSC transactions table, a cross-region one per write: see
docs/payment-validator.md).  The machine's load average is printed: wall times scale with it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import collections, json, statistics, sys, time
sys.path.insert(0, "tests/lambda")
import lambda_support as ls
from moto import mock_aws

N = int(sys.argv[1])
with mock_aws():
    for region in ls.REGIONS:
        ls.create_resources(region)
    ls.use_region(ls.PRIMARY)
    import validator
    calls = collections.Counter()
    runtime = validator._get_runtime()
    for client in (runtime.store.dynamodb, runtime.store.s3):
        client.meta.events.register(
            "before-send", lambda request, event_name, **_: calls.update([event_name.split(".", 1)[1]]))
    ms = []
    for i in range(N + 20):
        body = json.dumps({"transactionId": f"bench-{i}", "customerId": "c-1", "amount": "10.00"})
        start = time.perf_counter()
        status, _, _ = ls.invoke(validator, ls.api_event(body))
        elapsed = (time.perf_counter() - start) * 1000
        assert status == 200, status
        if i >= 20:  # warm-up: first requests build clients and the idempotency layer
            ms.append(elapsed)
        else:
            calls.clear()
    ms.sort()
    print(json.dumps({"p50": statistics.median(ms), "p99": ms[int(len(ms) * 0.99) - 1], "max": ms[-1],
                      "calls_per_payment": {k: v / N for k, v in sorted(calls.items())}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=300)
    args = parser.parse_args()
    env = {**os.environ, "POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true",
           "PYTHONPATH": str(ROOT / "lambda")}
    out = subprocess.run([sys.executable, "-c", CHILD, str(args.payments)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=900, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"load average: {os.getloadavg()[0]:.1f}; payments: {args.payments}")
    print(f"handler wall time: p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms, max {result['max']:.1f} ms")
    for operation, count in result["calls_per_payment"].items():
        print(f"  {operation}: {count:.2f} per payment")


if __name__ == "__main__":
    main()
