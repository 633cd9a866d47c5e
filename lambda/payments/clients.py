"""boto3 clients pinned to the function's own region, with explicit time budgets.

Clients are cached per ``(service, region, profile)``.  In Lambda (``AWS_EXECUTION_ENV``)
the validator, like the health function and the authorizer, creates its clients at init, so
no request pays for them; elsewhere (tests) on first use, so that ``import validator`` stays
cheap and moto's ``mock_aws`` can start first.  :func:`reset` drops
the cache (tests, or a region change).

Every profile has a *worst case*: attempts x (connect + read timeout) plus the backoff
before a retry.  The validator never starts a call whose worst case does not fit in the
time it has left (:func:`profile_for_budget`), so a request always ends before the
function's timeout, and the function's timeout is below API Gateway's 29 s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # typing only: botocore is imported on first use, not at cold start
    from botocore.config import Config

_clients: dict[tuple[str, str, str], Any] = {}

#: Write path, normal case: standard retry mode, 2 attempts in total.
WRITE_PATH = "write"
#: Write path with less time left: one attempt, same timeouts.
WRITE_SINGLE = "write-single"
#: Write path with little time left: one attempt, short timeouts.
WRITE_SHORT = "write-short"
#: Health probe: one attempt, tight timeouts (the probe may retry once itself within its deadline).
HEALTH_PATH = "health"
#: Reconciliation job: standard retries, it has minutes.
BATCH_PATH = "batch"

#: Upper bound of the standard-mode backoff before the second attempt (base 1 s x random()).
FIRST_RETRY_BACKOFF_S = 1.0

# profile -> (connect timeout s, read timeout s, total attempts)
PROFILES: dict[str, tuple[float, float, int]] = {
    WRITE_PATH: (0.5, 1.0, 2),
    WRITE_SINGLE: (0.5, 1.0, 1),
    WRITE_SHORT: (0.25, 0.5, 1),
    HEALTH_PATH: (0.3, 0.6, 1),
    BATCH_PATH: (1.0, 3.0, 3),
}

#: Write profiles from the most to the least generous: the first that fits is used.
WRITE_TIERS = (WRITE_PATH, WRITE_SINGLE, WRITE_SHORT)


def worst_case_seconds(profile: str) -> float:
    """Longest one call with ``profile`` can take (timeouts of every attempt plus backoff)."""
    connect, read, attempts = PROFILES[profile]
    backoff = FIRST_RETRY_BACKOFF_S * (2.0 ** (attempts - 1) - 1)  # 1 s before 2nd, 2 s before 3rd, ...
    return attempts * (connect + read) + backoff


def profile_for_budget(budget_seconds: float) -> str | None:
    """The most generous write profile whose worst case fits in ``budget_seconds`` (``None``: none fits)."""
    for profile in WRITE_TIERS:
        if worst_case_seconds(profile) <= budget_seconds:
            return profile
    return None


def _config(profile: str) -> Config:
    from botocore.config import Config

    connect, read, attempts = PROFILES[profile]
    # The batch path (reconcile) calls from up to 64 threads: one connection each, not botocore's 10.
    return Config(connect_timeout=connect, read_timeout=read,
                  retries={"total_max_attempts": attempts, "mode": "standard"},
                  max_pool_connections=64 if profile == BATCH_PATH else 10)


def client(service: str, region: str, profile: str = WRITE_PATH) -> Any:
    key = (service, region, profile)
    found = _clients.get(key)
    if found is None:
        import boto3

        found = boto3.session.Session().client(service, region_name=region, config=_config(profile))
        if service == "s3":
            without_expect_continue(found)
        _clients[key] = found
    return found


def without_expect_continue(s3: Any) -> Any:
    """Stop botocore sending ``Expect: 100-continue`` on this S3 client's PUTs.

    botocore (``handlers.add_expect_header``, registered on ``before-call.s3``) adds it to every
    PUT whose body is file-like, and bytes become a file-like body, so a 300-byte receipt
    waits for S3's ``100 Continue`` - up to 1 s per attempt, outside the timeouts that
    :func:`worst_case_seconds` counts.  Our bodies are small: send them at once.
    """
    from botocore import handlers

    s3.meta.events.unregister("before-call.s3", handlers.add_expect_header)
    return s3


def for_budget(service: str, region: str, budget_seconds: float) -> Any | None:
    """A write-path client whose worst case fits in ``budget_seconds``, or ``None``."""
    profile = profile_for_budget(budget_seconds)
    return None if profile is None else client(service, region, profile)


def reset() -> None:
    _clients.clear()
