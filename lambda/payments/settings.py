"""Runtime configuration, read from the environment once and validated.

Handlers call :func:`get_settings`; tests call :func:`reset` after changing the
environment.  No other module reads ``os.environ``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal

from payments.core import parse_max_amount

REGION_ROLES = ("primary", "dr")


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


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise RuntimeError(f"environment variable {name} is required")
    return value


def load_settings(*, need_write_path: bool = True) -> Settings:
    """Build :class:`Settings` from the environment.

    ``need_write_path=False`` is used by the health function, which only needs
    the region and the transactions table.
    """
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or ""
    if not region:
        raise RuntimeError("environment variable AWS_REGION is required")
    role = os.environ.get("REGION_ROLE", "").strip().lower()
    if role not in REGION_ROLES:
        raise RuntimeError(f"REGION_ROLE must be one of {REGION_ROLES}, got {role!r}")
    ttl = int(os.environ.get("IDEMPOTENCY_TTL_SECONDS", "86400"))
    if ttl < 60:
        raise RuntimeError("IDEMPOTENCY_TTL_SECONDS must be at least 60")
    return Settings(
        region=region,
        region_role=role,
        transactions_table=_required("TRANSACTIONS_TABLE"),
        idempotency_table=_required("IDEMPOTENCY_TABLE") if need_write_path else "",
        audit_bucket=_required("AUDIT_BUCKET") if need_write_path else "",
        max_amount=parse_max_amount(os.environ.get("MAX_AMOUNT", "1000000.00")),
        idempotency_ttl_seconds=ttl,
        metrics_namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "PaymentsDR"),
    )


_cache: dict[bool, Settings] = {}


def get_settings(*, need_write_path: bool = True) -> Settings:
    if need_write_path not in _cache:
        _cache[need_write_path] = load_settings(need_write_path=need_write_path)
    return _cache[need_write_path]


def reset() -> None:
    _cache.clear()
