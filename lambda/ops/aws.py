"""boto3 clients for the operational functions: own region, short timeouts, few attempts.

Handlers build them once per execution environment (module init), never per invocation.
A scheduled function must finish well inside its timeout even when a service is slow, so
every call is bounded: connect 1 s, read 2 s, 2 attempts (standard retry mode) by default.
`call_worst_case_seconds` is what one call may take at most, retries included: a function's
timeout covers its calls per run times that (tests/lambda/test_ops_sizing.py).
"""

from __future__ import annotations

from typing import Any

from contract import aws_error_code

CONNECT_TIMEOUT_S = 1.0
READ_TIMEOUT_S = 2.0
ATTEMPTS = 2
# botocore's standard retry mode (botocore/retries/standard.py ExponentialBackoff): before retry
# i (1-based) it sleeps rand(0, 1) x min(scale x 2 ** (i - 1), 20 s), scale 1 s for a throttling
# error (50 ms otherwise), raised to a server-sent x-amz-retry-after of at most that + 5 s.
BACKOFF_MAX_S = 20.0
RETRY_AFTER_EXTRA_S = 5.0


def call_worst_case_seconds(*, connect_timeout: float = CONNECT_TIMEOUT_S,
                            read_timeout: float = READ_TIMEOUT_S, attempts: int = ATTEMPTS) -> float:
    """One call, every attempt timing out and every retry waiting its longest: 2 attempts of
    1 s + 2 s and one 6 s wait (1 s throttling backoff + 5 s retry-after) = 12 s by default.
    (A read timeout bounds each wait for a byte, not a whole body: the functions' bodies are a
    few hundred bytes, one read.)"""
    waits = sum(min(2.0 ** (i - 1), BACKOFF_MAX_S) + RETRY_AFTER_EXTRA_S for i in range(1, attempts))
    return attempts * (connect_timeout + read_timeout) + waits


def client(service: str, region: str, *, connect_timeout: float = CONNECT_TIMEOUT_S,
           read_timeout: float = READ_TIMEOUT_S, attempts: int = ATTEMPTS) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=connect_timeout, read_timeout=read_timeout,
                    retries={"total_max_attempts": attempts, "mode": "standard"})
    return boto3.session.Session().client(service, region_name=region, config=config)


def error_code(exc: BaseException) -> str:
    return aws_error_code(exc)
