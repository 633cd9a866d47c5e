"""Bounded HTTPS checks: "does this URL answer 200 with the health search string, now?".

A check never raises: a refused connection, a TLS failure, a timeout or a wrong answer is
the signal, returned as a :class:`CheckResult`. Every check is bounded twice:

* socket level: connect timeout and a read timeout per receive (urllib3), plus a deadline
  checked between receives, so a peer that trickles bytes cannot stretch a check;
* wall clock: :func:`run_checks` runs the checks in threads and stops waiting at the
  deadline, which also bounds what sockets cannot (a slow DNS resolution). A check still
  running then is reported as ``timeout``; its thread ends at its own socket timeouts.

Each check opens a fresh connection (``Connection: close``): DNS, TCP and TLS are part of
what a client would go through, so they are part of the check.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_BODY_BYTES = 64 * 1024
USER_AGENT = "payments-dr-probe/1"


@dataclass(frozen=True)
class CheckResult:
    url: str
    healthy: bool
    outcome: str  # ok | http_status | no_match | timeout | connection_error | tls_error | error
    status: int | None = None
    latency_ms: int | None = None  # time to the end of the answer; None when nothing came back
    detail: str = ""
    served_by: str | None = None  # the "region" field of a healthy JSON answer (which region served it)

    def as_log(self) -> dict[str, Any]:
        return {"url": self.url, "healthy": self.healthy, "outcome": self.outcome, "status": self.status,
                "latencyMs": self.latency_ms, "detail": self.detail[:200], "servedBy": self.served_by}


def _served_by(body: bytes) -> str | None:
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    region = doc.get("region") if isinstance(doc, dict) else None
    return region if isinstance(region, str) else None


def new_pool(connect_timeout: float, read_timeout: float) -> Any:
    """One PoolManager per execution environment (its TLS context loads the CA store once)."""
    import urllib3

    return urllib3.PoolManager(num_pools=4, maxsize=1, retries=False,
                               timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout))


BASE_HEADERS = {"User-Agent": USER_AGENT, "Connection": "close", "Cache-Control": "no-cache"}


@dataclass(frozen=True)
class Target:
    """One URL to check; `sign_region`: sign the GET with SigV4 for that region's execute-api."""

    url: str
    sign_region: str | None = None


def check_url(pool: Any, url: str, search: str, *, deadline: float,
              clock: Callable[[], float] = time.monotonic,
              headers: dict[str, str] | None = None) -> CheckResult:
    """GET ``url``; healthy when it answers 200 and the body's first 64 KiB contain ``search``.
    `headers`: what to send instead of BASE_HEADERS (a signed request's)."""
    import urllib3.exceptions as ux

    started = clock()
    response = None
    try:
        response = pool.request("GET", url, preload_content=False, redirect=False, retries=False,
                                headers=headers or dict(BASE_HEADERS))
        # read1 (urllib3 2.x) returns after one receive; the 1.26 fallback may wait for 4 KiB,
        # which the wall-clock deadline in run_checks still bounds.
        read = getattr(response, "read1", None) or response.read
        body = bytearray()
        while len(body) < MAX_BODY_BYTES:
            if clock() > deadline:
                return CheckResult(url, False, "timeout", response.status, None, "answer not complete by deadline")
            chunk = read(4096)
            if not chunk:
                break
            body.extend(chunk)
        latency = int((clock() - started) * 1000)
        if response.status != 200:
            return CheckResult(url, False, "http_status", response.status, latency, f"HTTP {response.status}")
        if search.encode("utf-8") not in bytes(body):
            return CheckResult(url, False, "no_match", response.status, latency, "search string not in the answer")
        return CheckResult(url, True, "ok", response.status, latency, served_by=_served_by(bytes(body)))
    except ux.NewConnectionError as exc:  # before TimeoutError: urllib3 makes it a ConnectTimeoutError
        return CheckResult(url, False, "connection_error", None, None, str(exc))
    except (ux.TimeoutError, TimeoutError) as exc:
        return CheckResult(url, False, "timeout", None, None, type(exc).__name__)
    except ux.SSLError as exc:
        return CheckResult(url, False, "tls_error", None, None, str(exc))
    except ux.MaxRetryError as exc:  # retries=False still wraps some failures
        reason = exc.reason
        outcome = "connection_error" if isinstance(reason, ux.NewConnectionError) else \
            "timeout" if isinstance(reason, (ux.TimeoutError, TimeoutError)) else \
            "tls_error" if isinstance(reason, ux.SSLError) else "connection_error"
        return CheckResult(url, False, outcome, None, None, str(reason))
    except (ux.HTTPError, OSError) as exc:
        outcome = "timeout" if "timed out" in str(exc).lower() else "connection_error"
        return CheckResult(url, False, outcome, None, None, f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # the probe must never crash on what the network does
        return CheckResult(url, False, "error", None, None, f"{type(exc).__name__}: {exc}")
    finally:
        if response is not None:
            response.release_conn()
            response.close()


def signed_headers(url: str, region: str, credentials: Any = None) -> dict[str, str]:
    """BASE_HEADERS plus a SigV4 signature of ``GET url`` for execute-api in ``region``
    (the function's own credentials by default)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    if credentials is None:
        import botocore.session

        credentials = botocore.session.get_session().get_credentials().get_frozen_credentials()
    request = AWSRequest(method="GET", url=url, headers=dict(BASE_HEADERS))
    SigV4Auth(credentials, "execute-api", region).add_auth(request)
    return dict(request.headers.items())


def run_checks(pool: Any, urls: dict[str, str | Target], search: str, *, budget_seconds: float,
               clock: Callable[[], float] = time.monotonic,
               credentials: Any = None) -> dict[str, CheckResult]:
    """Run one check per name concurrently; every name has a result within ``budget_seconds``.
    A `Target` with `sign_region` is sent signed (SigV4) for that region."""
    deadline = clock() + budget_seconds
    targets = {name: t if isinstance(t, Target) else Target(t) for name, t in urls.items()}
    urls = {name: t.url for name, t in targets.items()}
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(urls)),
                                                     thread_name_prefix="probe")
    try:
        futures = {}
        for name, target in targets.items():
            headers = None
            if target.sign_region:
                try:
                    headers = signed_headers(target.url, target.sign_region, credentials)
                except Exception as exc:  # no credentials: report, never crash the probe
                    futures[name] = executor.submit(
                        CheckResult, target.url, False, "error", None, None,
                        f"cannot sign the request: {type(exc).__name__}: {exc}")
                    continue
            futures[name] = executor.submit(check_url, pool, target.url, search, deadline=deadline,
                                            clock=clock, headers=headers)
        concurrent.futures.wait(futures.values(), timeout=max(0.0, budget_seconds + 0.25))
        results = {}
        for name, future in futures.items():
            if future.done() and future.exception() is None:
                results[name] = future.result()
            else:
                results[name] = CheckResult(urls[name], False, "timeout", None, None,
                                            f"no answer within {budget_seconds:.1f} s")
        return results
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
