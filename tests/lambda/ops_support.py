"""Helpers for the tests of the operational functions (probe, heartbeat, authorizer).

Network tests only ever use 127.0.0.1: small HTTP servers that answer like the health
function, fail, never answer, or trickle bytes. Nothing here reaches AWS: moto stands in
(in-process ``mock_aws``, or ``ThreadedMotoServer`` on 127.0.0.1 for subprocess runs).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import lambda_support  # noqa: F401  # puts lambda/ on sys.path and sets fake credentials

HEALTHY_BODY = json.dumps({"checks": {}, "elapsedMs": 3, "region": "us-east-2", "regionRole": "dr",
                           "status": "healthy"}, separators=(",", ":"), sort_keys=True).encode()
UNHEALTHY_BODY = HEALTHY_BODY.replace(b'"healthy"', b'"unhealthy"')


class SimClock:
    """A wall clock the test moves by hand."""

    def __init__(self, start: float = 1_790_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextmanager
def http_server(status: int = 200, body: bytes = HEALTHY_BODY) -> Iterator[dict[str, Any]]:
    """An HTTP server on 127.0.0.1 answering every GET/POST with ``status``/``body``.

    Yields ``{"url": ..., "requests": [...]}``; each request is recorded as
    ``{"method", "path", "headers", "body"}`` (for the client-example tests).
    """
    state: dict[str, Any] = {"requests": [], "status": status, "body": body}

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length) if length else b""
            state["requests"].append({"method": self.command, "path": self.path,
                                      "headers": dict(self.headers.items()), "body": data})
            self.send_response(state["status"])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state["body"])))
            self.end_headers()
            self.wfile.write(state["body"])

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def tcp_server(behaviour: Callable[[socket.socket, threading.Event], None]) -> Iterator[str]:
    """A raw TCP server on 127.0.0.1; ``behaviour(conn, stop)`` runs per accepted connection."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    stop = threading.Event()
    conns: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            conns.append(conn)
            threading.Thread(target=behaviour, args=(conn, stop), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        for conn in conns:
            conn.close()
        listener.close()


def never_answers(conn: socket.socket, stop: threading.Event) -> None:
    """Accept, read the request, and never send a byte."""
    stop.wait(30)


def trickles(conn: socket.socket, stop: threading.Event) -> None:
    """Send a valid status line and headers, then one body byte every 0.1 s, forever."""
    try:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        while not stop.is_set():
            conn.sendall(b" ")
            time.sleep(0.1)
    except OSError:
        pass


def closed_port() -> str:
    """A 127.0.0.1 URL nobody listens on (connection refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


class Recorder:
    """Records the parameters of every call of one operation on a boto3 client, as passed.
    botocore validates them against the service model right after: an invalid call fails
    (the functions report that as metricsPublished=False, which the tests check)."""

    def __init__(self, client: Any, operation: str):
        self.calls: list[dict[str, Any]] = []
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(f"provide-client-params.{service}.{operation}", self._record)

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        self.calls.append(json.loads(json.dumps(params, default=str)))


def datums(recorder: Recorder) -> list[dict[str, Any]]:
    return [d for call in recorder.calls for d in call["MetricData"]]


def metric(recorder: Recorder, name: str, **dimensions: str) -> list[float]:
    """Values of ``name`` with exactly ``dimensions`` over every recorded PutMetricData call."""
    wanted = sorted(dimensions.items())
    return [d["Value"] for d in datums(recorder) if d["MetricName"] == name
            and sorted((x["Name"], x["Value"]) for x in d.get("Dimensions", [])) == wanted]


class CallCounter:
    """Every AWS API call the given boto3 clients make (one per operation call, retries not
    counted): what a function's run costs in calls, for its timeout (test_ops_sizing.py)."""

    def __init__(self, *clients: Any):
        self.calls: list[str] = []
        for client in clients:
            client.meta.events.register("before-parameter-build", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)
