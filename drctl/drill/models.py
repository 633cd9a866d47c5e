"""What a drill is given (options, ports) and what it produces (the result), plus the constants
the orchestrator, the strategies and the report share."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from contract import CANARY_HEARTBEAT_AGE_METRIC, PRIMARY, RPO_TARGET_S, RTO_TARGET_S
from drctl.drill.report import DEFAULT_REPORT_DIR, render_markdown

# FIS experiment states (botocore fis model, ExperimentStatus).
RUNNING = "running"
ENDED = ("completed", "stopped", "failed", "cancelled")
# The RPO canary (lambda/heartbeat.py) publishes, in seconds: ObservedReplicationDelay {Store,
# From} = now - the peer's last heartbeat, an UPPER bound on replication lag that includes up
# to one of the peer's write intervals; HeartbeatAge {Store=dynamodb, Region} = that interval,
# in the writer's region. delay - interval is a LOWER bound: lag the canary proves.
CANARY_VALUE_TO_SECONDS = 1.0
CANARY_INTERVAL_METRIC = CANARY_HEARTBEAT_AGE_METRIC
CANARY_LOOKBACK = dt.timedelta(minutes=5)  # before the fault: the steady state to compare to


class Aborted(Exception):
    """The drill stopped before its measurement finished (stop condition, timeout)."""


class Refused(Exception):
    """Raised before any fault was started: nothing to roll back."""


class UnknownDrill(ValueError):
    """A drill name no strategy is registered for (drctl/drill/strategies.py)."""


# -- ports: everything that talks to the world ---------------------------------------------------

class FisPort(Protocol):
    def find_template(self, region: str, drill: str, env: str) -> str | None: ...
    def start(self, region: str, template_id: str, tags: dict[str, str]) -> str: ...
    def state(self, region: str, experiment_id: str) -> tuple[str, str]: ...
    def stop(self, region: str, experiment_id: str) -> None: ...


@dataclass
class PreflightOutcome:
    ok: bool
    reasons: list[str] = field(default_factory=list)


@dataclass
class SwitchoverOutcome:
    exit_code: int
    outcome: str
    reasons: list[str] = field(default_factory=list)


@dataclass
class DrillPorts:
    fis: FisPort
    healthy: Callable[[str], bool]  # Route 53 health check id -> healthy?
    alarms: Callable[[str, str], dict[str, str]]  # (region, name prefix) -> {name: state}
    # (region, metric name in PaymentsDR, dimensions, start, end) -> [(timestamp, value)]
    metric: Callable[[str, str, dict[str, str], dt.datetime, dt.datetime],
                     list[tuple[dt.datetime, float]]]
    resolve: Callable[[str], frozenset[str]]  # host -> addresses, as a client resolves it
    fetch: Callable[[str], tuple[int | None, dict[str, Any] | None]]  # URL -> (status, JSON body)
    preflight: Callable[[], PreflightOutcome]
    switchover: Callable[[str], SwitchoverOutcome]  # to_role -> outcome (database drill)


@dataclass
class DrillOptions:
    name: str
    target_role: str = PRIMARY  # region whose fault is injected (or switched away from)
    domain_name: str | None = None
    timeout: float = 1800.0  # the whole fault phase
    recovery_timeout: float = 900.0  # after the fault stops: alarms clear, primary healthy
    poll: float = 10.0
    dry_run: bool = False
    report_dir: str = DEFAULT_REPORT_DIR
    template_id: str | None = None  # skip the lookup by tag


# -- result ---------------------------------------------------------------------------------------

@dataclass
class DrillResult:
    drill: str
    environment: str
    target_role: str
    outcome: str  # passed | failed | inconclusive | aborted | refused | dry-run
    exit_code: int
    started_at: str
    ended_at: str = ""
    plan: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    measured: dict[str, Any] = field(default_factory=dict)
    alarms: list[dict[str, Any]] = field(default_factory=list)
    canary: list[dict[str, Any]] = field(default_factory=list)
    broke: list[str] = field(default_factory=list)  # decides the verdict
    # evidence that cannot show a target was met (nothing broke): the drill does not pass
    inconclusive: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # worth knowing; no effect on the verdict
    experiment: dict[str, Any] = field(default_factory=dict)
    report_files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"drill": self.drill, "environment": self.environment,
                "target_role": self.target_role, "outcome": self.outcome,
                "exit_code": self.exit_code, "started_at": self.started_at,
                "ended_at": self.ended_at,
                "targets": {"rto_s": RTO_TARGET_S, "rpo_s": RPO_TARGET_S},
                "measured": self.measured, "events": self.events, "alarms": self.alarms,
                "canary": self.canary, "broke": self.broke, "inconclusive": self.inconclusive,
                "notes": self.notes,
                "experiment": self.experiment,
                "plan": self.plan}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, default=str)

    def to_text(self) -> str:
        return render_markdown(self.as_dict()) + (
            "\nReport: " + ", ".join(self.report_files) if self.report_files else "")
