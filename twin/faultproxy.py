"""A region's AWS APIs broken for drctl: a proxy in front of the twin's moto server.

The twin has one moto server for every region, so a region fault (:meth:`Twin.fault`) breaks
only that region's API Gateway. drctl, though, is what an operator runs during the outage,
and what it meets is the region's AWS APIs. This proxy (SIMULATED) forwards every request to
moto unless the region it is signed for (SigV4 credential scope) is faulted:

* ``hang``: the connection is accepted and never answered (the client's read timeout fires);
* ``refuse``: the connection is closed without an answer (a connection error: a shared port
  cannot refuse one region only);
* ``5xx``: HTTP 503 with an empty body, as an overloaded front end answers: botocore reads
  that as a generic server error (code ``503``) for every protocol, where a JSON error body
  would be unparseable to the XML and CBOR services (S3, RDS, CloudWatch) and crash the client.

Route 53's API is signed for us-east-1 (its control plane lives there), so it breaks with
us-east-1. The twin's own calls (replication, alarms, functions) do not go through it.
"""

from __future__ import annotations

import http.client
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/")
HANG_LIMIT_S = 120.0


class RegionFaultProxy:
    def __init__(self, upstream: str):
        parts = urlsplit(upstream)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.faults: dict[str, str] = {}
        self.requests: dict[str, int] = {}  # region -> requests seen (answered or not)
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> RegionFaultProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                proxy.handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True, name="twin-fault-proxy").start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        found = SCOPE.search(request.headers.get("Authorization") or "")
        region = found.group(1) if found else ""
        self.requests[region] = self.requests.get(region, 0) + 1
        fault = self.faults.get(region)
        if fault == "hang":
            self._stop.wait(HANG_LIMIT_S)
            request.close_connection = True
            return
        if fault == "refuse":
            request.close_connection = True
            return
        if fault == "5xx":
            request.send_response(503)
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in ("connection",)}
            conn.request(request.command, request.path, body=body or None, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
            request.send_response(answer.status, answer.reason)
            for key, value in answer.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                    request.send_header(key, value)
            request.send_header("Content-Length", str(len(data)))
            request.end_headers()
            if request.command != "HEAD":
                request.wfile.write(data)
        finally:
            conn.close()
