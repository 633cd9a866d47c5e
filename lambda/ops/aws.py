"""boto3 clients for the operational functions: own region, short timeouts, few attempts.

Handlers build them once per execution environment (module init), never per invocation.
A scheduled function must finish well inside its timeout even when a service is slow, so
every call is bounded: connect 1 s, read 2 s, 2 attempts (standard retry mode) by default.
"""

from __future__ import annotations

from typing import Any

from contract import aws_error_code


def client(service: str, region: str, *, connect_timeout: float = 1.0, read_timeout: float = 2.0,
           attempts: int = 2) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=connect_timeout, read_timeout=read_timeout,
                    retries={"total_max_attempts": attempts, "mode": "standard"})
    return boto3.session.Session().client(service, region_name=region, config=config)


def error_code(exc: BaseException) -> str:
    return aws_error_code(exc)
