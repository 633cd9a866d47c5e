"""Lazily created boto3 clients pinned to the function's own region.

Clients are created on first use (not at import) so that moto's ``mock_aws`` can
be activated before them in tests, and so that an import never does network or
credential work.  :func:`reset` drops the cache (tests, or a region change).

Timeouts and retries are explicit: API Gateway gives the integration ~29 s, so the
write path uses short timeouts and a small, bounded retry budget; the health path
uses one attempt per call and does its own single retry within a deadline.
"""

from __future__ import annotations

from typing import Any

_clients: dict[tuple[str, str, str], Any] = {}

#: Write path: standard retry mode (exponential backoff with jitter), 3 attempts in total.
WRITE_PATH = "write"
#: Health path: a single attempt with tight timeouts.
HEALTH_PATH = "health"


def _config(profile: str):
    from botocore.config import Config

    if profile == HEALTH_PATH:
        return Config(connect_timeout=0.5, read_timeout=1.0, retries={"total_max_attempts": 1, "mode": "standard"})
    return Config(connect_timeout=1.0, read_timeout=2.0, retries={"total_max_attempts": 3, "mode": "standard"})


def client(service: str, region: str, profile: str = WRITE_PATH) -> Any:
    key = (service, region, profile)
    found = _clients.get(key)
    if found is None:
        import boto3

        found = boto3.session.Session().client(service, region_name=region, config=_config(profile))
        _clients[key] = found
    return found


def reset() -> None:
    _clients.clear()
