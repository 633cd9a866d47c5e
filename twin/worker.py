"""One Lambda execution environment: a process that imports one handler and serves invocations.

Started by :mod:`twin.functions` as ``python -I -S worker.py <address> <code dir> <handler>``
with the function's environment. ``-I -S``: no site-packages, no current directory; the
import path is the unzipped package first, then a directory of the few libraries the Lambda
Python runtime provides itself (boto3, botocore and their dependencies), so a function that
imports anything else its package lacks fails here as it would in Lambda.

Protocol over a ``multiprocessing.connection`` socket (authkey from TWIN_WORKER_AUTHKEY):
the worker sends ``("ready", init_error)`` once the handler module is imported (its init
phase), then answers each ``(event, context fields)`` with ``("ok", result)`` or
``("error", {"errorType", "errorMessage", "stackTrace"})``. The parent enforces the timeout
by killing this process; nothing here measures time except ``get_remaining_time_in_millis``.

Names (SIMULATED): with ``TWIN_HOSTS_FILE`` set, the function's own HTTP calls through
urllib3's PoolManager (the probe's ops.httpcheck) to a name the twin serves go to the
127.0.0.1 port of the region that answers that name now, as plain HTTP with the name kept
in the Host header (what SigV4 signs). The file maps name -> port; the twin rewrites it
before scheduled runs (Route 53's current answer for the failover name). The function's
code is not changed; TLS is not simulated. Other hosts (moto, via AWS_ENDPOINT_URL) pass.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    """The fields of Lambda's context object the functions (and Powertools) read."""

    def __init__(self, fields: dict[str, Any]):
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.invoked_function_arn = fields["invoked_function_arn"]
        self.aws_request_id = fields["aws_request_id"]
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + fields["remaining_ms"] / 1000.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(exc: BaseException) -> dict[str, Any]:
    return {"errorType": type(exc).__name__, "errorMessage": str(exc),
            "stackTrace": traceback.format_exception(exc)[-8:]}


def install_resolver(hosts_file: str) -> None:
    """Send urllib3 requests for the twin's names to their local port (see the module doc)."""
    import json
    from urllib.parse import urlsplit, urlunsplit

    import urllib3

    original = urllib3.PoolManager.urlopen

    def urlopen(self: Any, method: str, url: str, redirect: bool = True, **kw: Any) -> Any:
        parts = urlsplit(url)
        try:
            with open(hosts_file) as handle:
                hosts = json.load(handle)
        except (OSError, ValueError):
            hosts = {}
        port = hosts.get((parts.hostname or "").lower())
        if port is not None:
            headers = dict(kw.get("headers") or self.headers)
            if not any(k.lower() == "host" for k in headers):
                headers["Host"] = parts.netloc
            kw["headers"] = headers
            url = urlunsplit(("http", f"127.0.0.1:{port}", parts.path, parts.query, ""))
        return original(self, method, url, redirect, **kw)

    urllib3.PoolManager.urlopen = urlopen  # type: ignore[method-assign]


def main(address: str, code_dir: str, handler: str) -> None:
    from multiprocessing.connection import Client

    sys.path[:0] = [code_dir, os.environ.pop("TWIN_RUNTIME_PATH", "")]
    hosts_file = os.environ.pop("TWIN_HOSTS_FILE", "")
    if hosts_file:
        install_resolver(hosts_file)
    os.chdir(code_dir)
    conn = Client(address, authkey=bytes.fromhex(os.environ.pop("TWIN_WORKER_AUTHKEY")))
    module_name, _, function_name = handler.rpartition(".")
    function: Any = None
    init_error: dict[str, Any] | None = None
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:  # Lambda reports an init failure on every invocation
        kind = "ImportModuleError" if isinstance(exc, ImportError) else "Unknown"
        init_error = {**_error(exc), "errorType": f"Runtime.{kind}"}
    conn.send(("ready", init_error))
    while True:
        try:
            event, fields = conn.recv()
        except EOFError:
            return
        if init_error is not None:
            conn.send(("error", init_error))
            continue
        try:
            result = function(event, LambdaContext(fields))
        except Exception as exc:
            sys.stdout.flush()
            conn.send(("error", _error(exc)))
            continue
        sys.stdout.flush()
        conn.send(("ok", result))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
