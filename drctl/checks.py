"""A check result row, shared by status, pre-checks and post-checks."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

from drctl.gateways import NotFound, Unreachable, error_code, is_unreachable

OK, WARN, FAIL, UNREACHABLE = "OK", "WARN", "FAIL", "UNREACHABLE"


@dataclass
class Check:
    component: str
    name: str
    region: str
    state: str
    detail: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.state in (OK, WARN)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def guarded(component: str, name: str, region: str, fn: Callable[[], Check],
            down: set[str] | None = None, log=None) -> Check:
    """Runs one check; turns 'cannot reach' / 'not found' / API errors into a row, not a crash.

    `down` collects regions found unreachable so later checks there are skipped quickly
    instead of each waiting for its own connect timeout.
    """
    if down is not None and region in down:
        return Check(component, name, region, UNREACHABLE, f"skipped: {region} unreachable")
    try:
        return fn()
    except Exception as error:  # noqa: BLE001 - every failure becomes a reported row
        if is_unreachable(error):
            if down is not None:
                down.add(region)
            where = error.region if isinstance(error, Unreachable) else region
            check = Check(component, name, region, UNREACHABLE, f"cannot reach {where}: {error}")
        elif isinstance(error, NotFound):
            check = Check(component, name, region, FAIL, str(error))
        elif isinstance(error, ClientError):
            check = Check(component, name, region, FAIL,
                          f"{error_code(error)}: {error.response.get('Error', {}).get('Message', '')}")
        elif isinstance(error, BotoCoreError):
            check = Check(component, name, region, FAIL, f"{type(error).__name__}: {error}")
        else:
            raise
        if log is not None:
            log.warning("check_error", component=component, check=name, region=region,
                        state=check.state, detail=check.detail)
        return check
