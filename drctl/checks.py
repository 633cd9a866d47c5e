"""A check result row, shared by status, pre-checks and post-checks, and its rendering."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drctl.gateways import NotFound, Unreachable, error_code, is_unreachable
from drctl.log import EventLog

OK, WARN, FAIL, UNREACHABLE, OVERRIDDEN = "OK", "WARN", "FAIL", "UNREACHABLE", "OVERRIDDEN"
ROUTE53_ENDPOINT = "route53"  # key in `down` for the (us-east-1) Route 53 control plane


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
        return self.state in (OK, WARN, OVERRIDDEN)

    @property
    def id(self) -> str:
        """Stable name for `--override`: component:name-in-kebab-case (e.g. alarms:dr-alarms)."""
        return f"{self.component}:{re.sub(r'[^a-z0-9]+', '-', self.name.lower()).strip('-')}"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, **asdict(self)}


class Down:
    """Endpoints (a region, or ROUTE53_ENDPOINT) found unreachable: later checks there are
    skipped instead of each waiting for its own timeout. Shared by parallel workers."""

    def __init__(self) -> None:
        self._down: set[str] = set()
        self._lock = threading.Lock()

    def add(self, endpoint: str) -> None:
        with self._lock:
            self._down.add(endpoint)

    def __contains__(self, endpoint: object) -> bool:
        with self._lock:
            return endpoint in self._down

    def sorted(self) -> list[str]:
        with self._lock:
            return sorted(self._down)


def guarded(component: str, name: str, region: str, fn: Callable[[], Check],
            down: Down | None = None, log: EventLog | None = None,
            endpoint: str | None = None) -> Check:
    """Runs one check; turns 'cannot reach' / 'not found' / API errors into a row, not a crash.

    `endpoint` (default: `region`) is what a connection failure marks as down in `down`.
    """
    endpoint = endpoint or region
    if down is not None and endpoint in down:
        return Check(component, name, region, UNREACHABLE, f"skipped: {endpoint} unreachable")
    try:
        return fn()
    except Exception as error:
        if is_unreachable(error):
            if down is not None:
                down.add(endpoint)
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


def render_table(checks: list[Check], title: str = "") -> str:
    headers = ("CHECK", "REGION", "STATE", "DETAIL")
    rows = [(c.id, c.region, c.state, c.detail) for c in checks]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers[:-1])]
    lines = [title] if title else []
    fmt = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    lines.append(fmt.format(*headers))
    lines += [fmt.format(*r) for r in rows]
    return "\n".join(lines)
