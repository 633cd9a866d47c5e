#!/usr/bin/env python
"""Benchmark `drctl status` during an outage: us-east-1 accepts connections and never answers.

Run: ``.venv/bin/python scripts/bench_status.py [--runs 3]``

* us-east-2 (DR) is a moto server on 127.0.0.1 holding the platform's resources;
* us-east-1 (primary region AND Route 53's control plane) is a local TCP server that accepts
  every connection and never sends a byte: the case where each request waits its full read
  timeout.

It runs `drctl status` through its real entry point (`drctl.cli.main`) with the default
gateways (real boto3 clients, drctl's default timeouts and attempts) and prints the wall time
of each run, and how many connections the dark region received. Target (issue 11): <= 15 s
with one region hanging (before: about 240 s). No request leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "drctl"))

P, D = "us-east-1", "us-east-2"


class HangingServer:
    """Accepts connections on 127.0.0.1 and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        for conn in self.accepted:
            conn.close()
        self.sock.close()


def default_gateways(session: Any, endpoints: dict[str, str], args: Any) -> Any:
    """drctl's gateways with its default timeouts and attempts, endpoints on 127.0.0.1."""
    from drctl.gateways import AwsGateways
    return AwsGateways(session, endpoint_url=endpoints)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(var, None)
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                      AWS_DEFAULT_REGION=D)

    import logging

    import boto3
    from moto.server import ThreadedMotoServer
    from test_drctl_moto import (  # type: ignore[import-not-found]  # tests/drctl, on sys.path at run time
        add_moto_gaps,
        make_platform,
    )

    from drctl.cli import main as drctl

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    moto_url = f"http://{host}:{port}"
    session = boto3.Session(region_name=D)
    outputs = make_platform(session, moto_url)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"payments-dr-primary": outputs}, f)
    try:
        def timed(label: str) -> list[float]:
            times = []
            for _ in range(args.runs):
                dark = HangingServer()
                run_session = boto3.Session(region_name=D)
                add_moto_gaps(run_session)
                endpoints = {P: dark.url, "*": moto_url}
                out, err = io.StringIO(), io.StringIO()
                start = time.monotonic()
                code = drctl(["status", "--outputs", f.name, "--json"], stdout=out, stderr=err,
                             gateways=partial(default_gateways, run_session, endpoints))
                elapsed = time.monotonic() - start
                times.append(elapsed)
                doc = json.loads(out.getvalue())
                print(f"  {label}: {elapsed:6.2f} s  exit {code}  unreachable {doc['unreachable']}  "
                      f"connections to the dark region: {len(dark.accepted)}", flush=True)
                dark.close()
            return times

        print(f"drctl status, {P} hanging (accepts, never answers), {D} on moto; {args.runs} runs")
        current = timed("status")
        print(f"RESULT drctl status with one region hanging: median {statistics.median(current):.1f} s, "
              f"max {max(current):.1f} s (target <= 15 s)")
    finally:
        moto.stop()
        os.unlink(f.name)
    return 0 if max(current) <= 15 else 1


if __name__ == "__main__":
    sys.exit(main())
