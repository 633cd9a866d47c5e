"""EventBridge schedules of the JSON, run on the scenario clock.

SIMULATED (the twin's reading of EventBridge's documentation, not AWS):

* Rules: every ``aws_cloudwatch_event_rule`` with a ``schedule_expression`` (and any
  ``aws_scheduler_schedule``), with its targets (``aws_cloudwatch_event_target`` naming the
  rule; a scheduler schedule's ``target``). A target that is a Lambda function of the JSON is
  invoked through :class:`twin.functions.FunctionPool`: its real package, environment and
  timeout. A rule whose state is DISABLED does not run.
* Expressions: ``rate(N minute|minutes|hour|hours|day|days)``. Anything else (``cron(...)``,
  ``at(...)``) is listed in :attr:`Scheduler.unsupported` and never run (not silently).
* Timing: a rule first runs at the first twin step once schedules start
  (:meth:`Twin.evaluate`), then every rate period of scenario time. AWS starts the rate
  timer when the rule is created and runs it at some second within the minute; the twin runs
  it at the step boundary. A step longer than the period runs the rule once, not once per
  missed period (EventBridge does not back-fill).
* Invocation: EventBridge invokes asynchronously; the JSON sets no retries and a short
  maximum event age, so the twin invokes each due target once, concurrently with the other
  due targets, and waits for all of them (their function timeout bounds that) before the
  step's metrics are collected. Errors are recorded in :attr:`Scheduler.runs`, not retried.
  Lambda's own metrics (AWS/Lambda Errors, Invocations, Duration) are not emitted.
* Event: the "Scheduled Event" envelope EventBridge sends (``source`` aws.events, the rule's
  ARN in ``resources``, ``time`` = the scenario time).
"""

from __future__ import annotations

import datetime
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from twin.alarms import ScenarioClock
from twin.functions import Function, FunctionPool, Outcome
from twin.model import Platform, Resource

_RATE = re.compile(r"rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> int:
    """Seconds between runs of a ``rate(...)`` expression; ValueError for anything else. The
    singular unit goes with 1 only, as EventBridge requires (``rate(1 minutes)`` is refused)."""
    match = _RATE.fullmatch(expression.strip())
    if not match:
        raise ValueError(f"not a rate expression the twin runs: {expression!r}")
    value, unit = int(match.group(1)), match.group(2)
    if value < 1 or (value == 1) != (not unit.endswith("s")):
        raise ValueError(f"EventBridge refuses {expression!r} (1 takes the singular unit, >1 the plural)")
    return value * _UNIT_S[unit.rstrip("s")]


@dataclass
class Run:
    """One scheduled invocation."""

    rule: str
    region: str
    function: str
    t: float  # scenario time
    outcome: Outcome

    @property
    def ok(self) -> bool:
        return self.outcome.ok


@dataclass
class Schedule:
    name: str
    region: str
    arn: str
    expression: str
    period_s: int
    targets: list[Function] = field(default_factory=list)
    next_t: float | None = None  # None: runs at the first step


class Scheduler:
    def __init__(self, platform: Platform, pool: FunctionPool, clock: ScenarioClock, *,
                 before_run: Callable[[], None] = lambda: None):
        """`before_run`: called once before the due targets of a step are invoked (the twin
        writes its resolver's current answers there, for the functions' own HTTP calls)."""
        self.platform, self.pool, self.clock, self.before_run = platform, pool, clock, before_run
        self.schedules: dict[tuple[str, str], Schedule] = {}  # (region, rule name) -> schedule
        self.unsupported: dict[str, str] = {}
        self.runs: list[Run] = []
        self._lock = threading.Lock()
        p = platform
        for res in p.resources("aws_cloudwatch_event_rule"):
            if not p.get(res, "schedule_expression"):
                continue  # an event-pattern rule: no schedule
            self._add(res, str(p.get(res, "name")), str(p.get(res, "schedule_expression")),
                      enabled=str(p.get(res, "state") or "ENABLED") == "ENABLED"
                      and p.get(res, "is_enabled", True) not in (False, "false"))
        for res in p.resources("aws_cloudwatch_event_target"):
            rule = str(p.get(res, "rule"))
            schedule = next((s for (region, name), s in self.schedules.items()
                             if region == res.region and name == rule), None)
            if schedule is not None:
                self._target(schedule, str(p.get(res, "arn")))
        for res in p.resources("aws_scheduler_schedule"):
            schedule = self._add(res, str(p.get(res, "name")), str(p.get(res, "schedule_expression")),
                                 enabled=str(p.get(res, "state") or "ENABLED") == "ENABLED")
            if schedule is not None:
                self._target(schedule, str((p.get(res, "target") or {}).get("arn", "")))

    def _add(self, res: Resource, name: str, expression: str, *, enabled: bool) -> Schedule | None:
        if not enabled:
            self.unsupported[name] = "DISABLED"
            return None
        try:
            period = rate_seconds(expression)
        except ValueError as exc:
            self.unsupported[name] = str(exc)
            return None
        arn = f"arn:aws:events:{res.region}:{self.platform.account_id}:rule/{name}"
        schedule = Schedule(name, res.region, arn, expression, period)
        self.schedules[(res.region, name)] = schedule
        return schedule

    def _target(self, schedule: Schedule, arn: str) -> None:
        try:
            schedule.targets.append(self.pool.by_arn(arn))
        except (LookupError, KeyError):
            self.unsupported[schedule.name] = f"target {arn!r} is not a function of the JSON"

    # -- running ----------------------------------------------------------------------------

    def due(self) -> list[Schedule]:
        now = self.clock.now()
        return [s for s in self.schedules.values() if s.targets and (s.next_t is None or now >= s.next_t - 1e-6)]

    def tick(self) -> list[Run]:
        """Invoke the targets of every schedule due at the current scenario time; wait for them."""
        now = self.clock.now()
        due = self.due()
        if not due:
            return []
        self.before_run()
        runs: list[Run] = []
        threads = []
        for schedule in due:
            # next run: one period after this one, skipping periods a long step jumped over
            start = now if schedule.next_t is None else schedule.next_t
            schedule.next_t = start + schedule.period_s * (1 + int((now - start) // schedule.period_s))
            for fn in schedule.targets:
                thread = threading.Thread(target=self._invoke, args=(schedule, fn, now, runs), daemon=True,
                                          name=f"schedule-{schedule.name}")
                threads.append(thread)
                thread.start()
        for thread in threads:
            thread.join()
        with self._lock:
            self.runs.extend(sorted(runs, key=lambda r: (r.rule, r.function)))
        return runs

    def _invoke(self, schedule: Schedule, fn: Function, now: float, runs: list[Run]) -> None:
        outcome = self.pool.invoke(fn, self.event(schedule, now))
        with self._lock:
            runs.append(Run(schedule.name, schedule.region, fn.name, now, outcome))

    def event(self, schedule: Schedule, t: float) -> dict[str, Any]:
        """The event EventBridge sends a target of a scheduled rule."""
        stamp = datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
                "account": self.platform.account_id, "time": stamp, "region": schedule.region,
                "resources": [schedule.arn], "detail": {}}

    def runs_of(self, handler: str, region: str | None = None) -> list[Run]:
        """The runs of the functions with this handler (e.g. ``probe.lambda_handler``)."""
        names = {fn.name for fn in self.pool.functions.values() if fn.handler == handler}
        return [r for r in self.runs if r.function in names and (region is None or r.region == region)]
