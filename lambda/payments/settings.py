"""Runtime configuration, read from the environment once and validated.

Handlers call :func:`get_settings`; tests call :func:`reset` after changing the
environment.  No other module reads ``os.environ``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from decimal import Decimal

from contract import (
    ENV_AUDIT_BUCKET,
    ENV_FAILOVER_DOMAIN_NAME,
    ENV_HEALTH_SEARCH_STRING,
    ENV_IDEMPOTENCY_TABLE,
    ENV_IDEMPOTENCY_TTL_SECONDS,
    ENV_KMS_KEY_ARN,
    ENV_MAX_AMOUNT,
    ENV_METRICS_NAMESPACE,
    ENV_REGION_ROLE,
    ENV_TRANSACTIONS_CONSISTENCY_MODE,
    ENV_TRANSACTIONS_TABLE,
    METRICS_NAMESPACE,
)
from payments.core import parse_max_amount

REGION_ROLES = ("primary", "dr")
SEARCH_STRING_RE = re.compile(r"[A-Z][A-Z0-9_]{7,63}")


@dataclass(frozen=True)
class Settings:
    region: str
    region_role: str
    transactions_table: str
    idempotency_table: str
    audit_bucket: str
    max_amount: Decimal
    idempotency_ttl_seconds: int
    metrics_namespace: str
    kms_key_arn: str = ""
    #: ``EVENTUAL`` (default) or ``STRONG`` (the transactions table is an MRSC global table).
    transactions_consistency: str = "EVENTUAL"
    #: Route 53's search string; the health body carries it only when healthy.
    health_search_string: str = "PAYMENTS_HEALTHY"
    #: The failover name (``DOMAIN_NAME``): a payment reaching the DR region through it arms
    #: the failback hold (``ops.hold``). Empty: this validator never arms it.
    failover_domain_name: str = ""


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise RuntimeError(f"environment variable {name} is required")
    return value


#: Environment variables each function cannot run without (besides AWS_REGION and REGION_ROLE).
REQUIRED = {
    "validator": (ENV_TRANSACTIONS_TABLE, ENV_IDEMPOTENCY_TABLE, ENV_AUDIT_BUCKET),
    # The health probe exercises every dependency of a payment, the key included.
    "health": (ENV_TRANSACTIONS_TABLE, ENV_IDEMPOTENCY_TABLE, ENV_AUDIT_BUCKET, ENV_KMS_KEY_ARN),
    "reconcile": (ENV_TRANSACTIONS_TABLE, ENV_AUDIT_BUCKET),
    # The stream-triggered duplicate check (dupcheck.py): marks records of this table only.
    "dupcheck": (ENV_TRANSACTIONS_TABLE,),
}


def load_settings(function: str = "validator") -> Settings:
    """Build :class:`Settings` from the environment for ``function`` (a key of :data:`REQUIRED`)."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or ""
    if not region:
        raise RuntimeError("environment variable AWS_REGION is required")
    role = os.environ.get(ENV_REGION_ROLE, "").strip().lower()
    if role not in REGION_ROLES:
        raise RuntimeError(f"{ENV_REGION_ROLE} must be one of {REGION_ROLES}, got {role!r}")
    ttl = int(os.environ.get(ENV_IDEMPOTENCY_TTL_SECONDS, "86400"))
    if ttl < 60:
        raise RuntimeError(f"{ENV_IDEMPOTENCY_TTL_SECONDS} must be at least 60")
    required = REQUIRED[function]
    consistency = os.environ.get(ENV_TRANSACTIONS_CONSISTENCY_MODE, "EVENTUAL").strip().upper() or "EVENTUAL"
    if consistency not in ("EVENTUAL", "STRONG"):
        raise RuntimeError(f"{ENV_TRANSACTIONS_CONSISTENCY_MODE} must be EVENTUAL or STRONG, got {consistency!r}")

    def value(name: str) -> str:
        return _required(name) if name in required else os.environ.get(name, "").strip()

    search = os.environ.get(ENV_HEALTH_SEARCH_STRING, "PAYMENTS_HEALTHY").strip()
    if not SEARCH_STRING_RE.fullmatch(search):
        # Upper case and long enough that no unhealthy body (lower-case keys, AWS error codes,
        # PAYMENTS_UNAVAILABLE) can contain it by accident.
        raise RuntimeError(f"{ENV_HEALTH_SEARCH_STRING} must be 8-64 characters of A-Z, 0-9 and '_', starting "
                           f"with a letter, got {search!r}")
    return Settings(
        region=region,
        region_role=role,
        transactions_table=value(ENV_TRANSACTIONS_TABLE),
        idempotency_table=value(ENV_IDEMPOTENCY_TABLE),
        audit_bucket=value(ENV_AUDIT_BUCKET),
        max_amount=parse_max_amount(os.environ.get(ENV_MAX_AMOUNT, "1000000.00")),
        idempotency_ttl_seconds=ttl,
        metrics_namespace=os.environ.get(ENV_METRICS_NAMESPACE, METRICS_NAMESPACE),
        kms_key_arn=value(ENV_KMS_KEY_ARN),
        transactions_consistency=consistency,
        health_search_string=search,
        failover_domain_name=os.environ.get(ENV_FAILOVER_DOMAIN_NAME, "").strip(),
    )


_cache: dict[str, Settings] = {}


def get_settings(function: str = "validator") -> Settings:
    if function not in _cache:
        _cache[function] = load_settings(function)
    return _cache[function]


def reset() -> None:
    _cache.clear()
