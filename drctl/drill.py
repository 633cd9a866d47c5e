"""`drctl drill NAME`: run a DR drill against a deployed environment; measure RTO and RPO.

Drills (contract.DRILLS, docs/drills.md):
* regional-failover - FIS cuts the target region's private subnets off DynamoDB (a temporary
  network ACL), so its health check and payment path fail; data untouched. Measured: fault
  start, first failed Route 53 health check, the DNS answer for DOMAIN_NAME changing
  (resolved as a client would), the first request through the custom domain answered by the
  other region (RTO = that instant - fault start).
* replication - FIS pauses DynamoDB and S3 replication of the target region. Measured: when
  each store's replication alarms were raised and cleared (detection), canary delays.
* database - planned Aurora switchover to DR and back, through drctl's own switchover.

Every drill: preflight first (refuses on failure), alarms raised/cleared and the RPO canary's
ObservedReplicationDelay over the drill window, a report (markdown + JSON) in --report-dir,
`last-report.json` there for `make review`. Every wait has a deadline; the clock, AWS, DNS and
HTTP are injected (`DrillPorts`), so the timeline is tested on fakes with a simulated clock.
An abort (Ctrl-C, an FIS stop condition, --timeout) stops the experiment (FIS rolls back its
fault) and still writes the report.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from contract import (
    CANARY_DELAY,
    CANARY_DELAY_METRIC,
    CANARY_HEARTBEAT_AGE_METRIC,
    CANARY_STORES,
    DR,
    DRILL_DATABASE,
    DRILL_REGIONAL_FAILOVER,
    DRILL_REPLICATION,
    DRILL_TAG,
    DRILLS,
    HEALTH_PATH,
    METRICS_NAMESPACE,
    PRIMARY,
    ROUTE53_METRICS_REGION,
    RPO_TARGET_S,
    RTO_TARGET_S,
    other_role,
)
from drctl import exitcodes
from drctl.clock import Clock
from drctl.command import Command
from drctl.config import SWITCHOVER_REQUIRES, DrConfig
from drctl.log import EventLog

DEFAULT_REPORT_DIR = "drills"
LAST_REPORT = "last-report.json"
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

# What `drctl drill` needs from the outputs: the database drill runs drctl's own switchover.
REQUIRES = tuple(dict.fromkeys(("environment_suffix", *SWITCHOVER_REQUIRES)))


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
    outcome: str  # passed | failed | aborted | refused | dry-run
    exit_code: int
    started_at: str
    ended_at: str = ""
    plan: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    measured: dict[str, Any] = field(default_factory=dict)
    alarms: list[dict[str, Any]] = field(default_factory=list)
    canary: list[dict[str, Any]] = field(default_factory=list)
    broke: list[str] = field(default_factory=list)  # decides the verdict
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
                "canary": self.canary, "broke": self.broke, "notes": self.notes,
                "experiment": self.experiment,
                "plan": self.plan}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, default=str)

    def to_text(self) -> str:
        return render_markdown(self.as_dict()) + (
            "\nReport: " + ", ".join(self.report_files) if self.report_files else "")


def _fmt(seconds: float | None) -> str:
    return "not measured" if seconds is None else f"{seconds:.1f} s"


def render_markdown(r: dict[str, Any]) -> str:
    m, t = r["measured"], r["targets"]
    out = [f"# Drill `{r['drill']}` ({r['environment']}, fault in {r['target_role']}): "
           f"{r['outcome'].upper()} (exit {r['exit_code']})", "",
           f"Started {r['started_at']}, ended {r['ended_at'] or '-'}.", ""]
    if r["plan"]:
        out += ["## Plan", *[f"{i}. {step}" for i, step in enumerate(r["plan"], 1)], ""]
    if r["outcome"] == "dry-run":
        return "\n".join(out)
    out += ["## Measured vs target", "", "| objective | measured | target | result |",
            "|---|---|---|---|"]
    for key, label in (("rto_s", "RTO"), ("rpo_s", "RPO")):
        value = m.get(key)
        verdict = "-" if value is None else ("PASS" if value <= t[key] else "FAIL")
        shown = _fmt(value)
        if key == "rpo_s" and value is None and m.get("rpo_upper_s") is not None:
            shown = f"{m.get('rpo_lower_s') or 0:.1f}-{m['rpo_upper_s']:.1f} s (canary bounds)"
            verdict = "INCONCLUSIVE"
        out.append(f"| {label} | {shown} | {t[key]:g} s | {verdict} |")
    for key, value in m.items():
        if key not in ("rto_s", "rpo_s", "rpo_upper_s", "rpo_lower_s") and key.endswith("_s"):
            out.append(f"| {key[:-2].replace('_', ' ')} | {_fmt(value)} | | |")
    if r["events"]:
        out += ["", "## Timeline", "", "| t (s) | event | detail |", "|---|---|---|"]
        for e in r["events"]:
            detail = {k: v for k, v in e.items() if k not in ("event", "at", "t_s")}
            t_s = "" if e.get("t_s") is None else f"{e['t_s']:.1f}"
            out.append(f"| {t_s} | {e['event']} | {json.dumps(detail) if detail else ''} |")
    if r["alarms"]:
        out += ["", "## Alarms", "", "| alarm | region | raised (s) | cleared (s) |",
                "|---|---|---|---|"]
        for a in r["alarms"]:
            out.append(f"| {a['name']} | {a['region']} | {_fmt(a.get('raised_t_s'))} | "
                       f"{_fmt(a.get('cleared_t_s'))} |")
    if r["canary"]:
        out += ["", "## RPO canary (ObservedReplicationDelay)", "",
                "| store | seen in | from | max delay (upper bound) | writer interval | "
                "lag at least | datapoints |", "|---|---|---|---|---|---|---|"]
        for c in r["canary"]:
            out.append(f"| {c['store']} | {c['region']} | {c['from']} | {_fmt(c['max_s'])} | "
                       f"{_fmt(c.get('writer_interval_s'))} | {_fmt(c.get('lag_at_least_s'))} | "
                       f"{c['datapoints']} |")
    out += ["", "## What broke", ""]
    out += [f"- {b}" for b in r["broke"]] or ["- nothing"]
    if r.get("notes"):
        out += ["", "## Notes", "", *[f"- {n}" for n in r["notes"]]]
    return "\n".join(out) + "\n"


def write_report(result: DrillResult, report_dir: str | Path, clock: Clock) -> list[str]:
    """`<drill>-<UTC time>.{json,md}` plus `last-report.json` (what `make review` reads)."""
    folder = Path(report_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = clock.now().strftime("%Y%m%dT%H%M%SZ")
    base = folder / f"{result.drill}-{stamp}"
    result.report_files = [str(base.with_suffix(".json")), str(base.with_suffix(".md"))]
    data = result.to_json()
    base.with_suffix(".json").write_text(data + "\n")
    base.with_suffix(".md").write_text(render_markdown(result.as_dict()))
    (folder / LAST_REPORT).write_text(data + "\n")
    return result.report_files


# -- the timeline --------------------------------------------------------------------------------

class Timeline:
    """First occurrence of each event, with seconds since the fault started."""

    def __init__(self, clock: Clock, log: EventLog):
        self.clock, self.log = clock, log
        self.events: list[dict[str, Any]] = []
        self._first: dict[str, float] = {}
        self.fault_start: float | None = None

    def mark(self, event: str, **detail: Any) -> bool:
        if event in self._first:
            return False
        now = self.clock.monotonic()
        self._first[event] = now
        if event == "fault_start":
            self.fault_start = now
        record = {"event": event, "at": self.clock.now().isoformat(timespec="seconds"),
                  "t_s": self.since_fault(now), **detail}
        self.events.append(record)
        self.log.info("drill_event", **{("drill_" + k if k == "event" else k): v
                                        for k, v in record.items()})
        return True

    def since_fault(self, mono: float | None) -> float | None:
        if mono is None or self.fault_start is None:
            return None
        return round(mono - self.fault_start, 3)

    def at(self, event: str) -> float | None:
        return self._first.get(event)

    def finished_events(self) -> list[dict[str, Any]]:
        """Events with their offsets, the ones before the fault negative."""
        return [{**e, "t_s": self.since_fault(self._first[e["event"]])} for e in self.events]

    def seen(self, event: str) -> bool:
        return event in self._first


class AlarmWatch:
    """Alarms raised (-> ALARM) and cleared (ALARM -> OK) during the drill, per region."""

    def __init__(self, ports: DrillPorts, regions: Iterable[str], prefix: str, timeline: Timeline,
                 log: EventLog):
        self.ports, self.prefix, self.timeline, self.log = ports, prefix, timeline, log
        self.regions = list(dict.fromkeys(regions))
        self.baseline: dict[tuple[str, str], str] = {}
        self.raised: dict[tuple[str, str], float] = {}
        self.cleared: dict[tuple[str, str], float] = {}
        self.errors: dict[str, int] = {}  # region -> failed polls

    def poll(self, *, baseline: bool = False) -> None:
        now = self.timeline.clock.monotonic()
        for region in self.regions:
            try:
                states = self.ports.alarms(region, self.prefix)
            except Exception as error:
                self.errors[region] = self.errors.get(region, 0) + 1
                self.log.warning("alarm_poll_failed", region=region, error=str(error))
                continue
            for name, state in states.items():
                key = (region, name)
                if baseline:
                    self.baseline[key] = state
                elif state == "ALARM" and key not in self.raised and self.baseline.get(key) != "ALARM":
                    self.raised[key] = now
                    self.log.info("alarm_raised", alarm=name, region=region)
                elif state == "OK" and key in self.raised and key not in self.cleared:
                    self.cleared[key] = now
                    self.log.info("alarm_cleared", alarm=name, region=region)

    def pending(self) -> list[tuple[str, str]]:
        return [k for k in self.raised if k not in self.cleared]

    def rows(self) -> list[dict[str, Any]]:
        return [{"name": name, "region": region,
                 "raised_t_s": self.timeline.since_fault(at),
                 "cleared_t_s": self.timeline.since_fault(self.cleared.get((region, name)))}
                for (region, name), at in sorted(self.raised.items(), key=lambda kv: kv[1])]


# -- the drill -----------------------------------------------------------------------------------

class Aborted(Exception):
    """The drill stopped before its measurement finished (stop condition, timeout)."""


class _Refused(Exception):
    """Raised before any fault was started: nothing to roll back."""


class Drill:
    def __init__(self, cfg: DrConfig, ports: DrillPorts, clock: Clock, log: EventLog,
                 opts: DrillOptions):
        if opts.name not in DRILLS:
            raise ValueError(f"unknown drill {opts.name!r}: use one of {', '.join(DRILLS)}")
        self.cfg, self.ports, self.clock, self.log, self.opts = cfg, ports, clock, log, opts
        self.target = cfg.region(opts.target_role)
        self.peer_role = other_role(opts.target_role)
        self.peer = cfg.region(self.peer_role)
        self.timeline = Timeline(clock, log)
        self.started_wall = clock.now()
        self.result = DrillResult(opts.name, cfg.environment_suffix or "", opts.target_role,
                                  "failed", exitcodes.UNHEALTHY,
                                  started_at=self.started_wall.isoformat(timespec="seconds"))
        # Route 53 health-check alarms live where Route 53 publishes its metrics (the contract).
        metrics_region = ROUTE53_METRICS_REGION
        self.alarms = AlarmWatch(ports, [self.target, self.peer, metrics_region],
                                 cfg.alarm_name_prefix or "", self.timeline, log)
        self.experiment: tuple[str, str] | None = None  # (region, id) while a fault may run
        self._deadline = 0.0
        self.probe_errors: dict[str, int] = {}

    # -- plan ---------------------------------------------------------------------------------

    def plan(self) -> list[str]:
        o, c = self.opts, self.cfg
        steps = ["preflight (drctl/preflight.py): refuse on any failed check"]
        if o.name == DRILL_DATABASE:
            return steps + [
                f"planned switchover of the Aurora writer to {c.region(other_role(PRIMARY))} "
                "(drctl switchover, no data loss)",
                "planned switchover back to the primary region (drctl failback)",
                "read alarms and RPO canary delays over the drill window; write the report"]
        which = (f"FIS template {o.template_id}" if o.template_id else
                 f"the FIS template tagged {DRILL_TAG}={o.name}, Environment={c.environment_suffix}")
        steps += [f"fis:StartExperiment in {self.target} from {which}"]
        if o.name == DRILL_REGIONAL_FAILOVER:
            steps += [
                f"every {o.poll:g}s until DR serves (at most {o.timeout:g}s): experiment state, Route 53 "
                f"health check {c.health_check_id(o.target_role)}, DNS answer for {o.domain_name}, "
                f"GET https://{o.domain_name}/health (which region answers), alarms",
                "fis:StopExperiment as soon as the other region has served (FIS removes the fault)",
                f"wait up to {o.recovery_timeout:g}s for the {o.target_role} health check to pass again",
            ]
        else:
            steps += [
                f"every {o.poll:g}s until the experiment ends (at most {o.timeout:g}s): experiment "
                "state and alarms; each store's replication alarms must be raised",
                f"wait up to {o.recovery_timeout:g}s for those alarms to clear",
            ]
        return steps + ["read RPO canary delays (ObservedReplicationDelay) over the drill window",
                        f"write the report to {o.report_dir}/ (markdown + JSON, {LAST_REPORT})",
                        "on Ctrl-C, a stop condition or the timeout: fis:StopExperiment, then report"]

    # -- run ----------------------------------------------------------------------------------

    def run(self) -> DrillResult:
        r = self.result
        r.plan = self.plan()
        if self.opts.dry_run:
            r.outcome, r.exit_code = "dry-run", exitcodes.OK
            return r
        try:
            refused = self._preflight()
            if refused:
                return self._finish("refused", exitcodes.REFUSED, refused)
            self.alarms.poll(baseline=True)
            firing = sorted(f"{name} ({region})" for (region, name), state
                            in self.alarms.baseline.items() if state == "ALARM")
            if firing:
                return self._finish("refused", exitcodes.REFUSED, [
                    "alarms already in ALARM before the fault (a drill needs a quiet start, and "
                    f"a firing stop-condition alarm would end it at once): {', '.join(firing)}"])
            if self.opts.name == DRILL_DATABASE:
                self._database()
            else:
                self._fis_drill()
            outcome, code = self._verdict()
            return self._finish(outcome, code)
        except _Refused as why:
            return self._finish("refused", exitcodes.REFUSED, [str(why)])
        except Aborted as why:
            self._rollback()
            return self._finish("aborted", exitcodes.FAILED, [str(why)])
        except KeyboardInterrupt:
            self.log.warning("drill_interrupted")
            self._rollback()
            return self._finish("aborted", exitcodes.INTERRUPTED, ["interrupted (Ctrl-C)"])
        except Exception as error:
            self.log.error("drill_error", error=repr(error))
            self._rollback()
            return self._finish("aborted", exitcodes.FAILED,
                                [f"drill stopped by an error: {type(error).__name__}: {error}"])

    def _try(self, what: str, fn: Callable[..., Any], *args: Any, default: Any = None) -> Any:
        """One probe during the fault; a failing probe is counted and retried next poll."""
        try:
            return fn(*args)
        except Exception as error:
            self.probe_errors[what] = self.probe_errors.get(what, 0) + 1
            self.log.warning("probe_failed", probe=what, error=str(error))
            return default

    def _preflight(self) -> list[str]:
        try:
            outcome = self.ports.preflight()
        except Exception as error:
            return [f"preflight could not run: {type(error).__name__}: {error}"]
        self.timeline.mark("preflight", ok=outcome.ok)
        if not outcome.ok:
            return [f"preflight: {reason}" for reason in outcome.reasons] or ["preflight failed"]
        if self.opts.name == DRILL_REGIONAL_FAILOVER:
            if not self.opts.domain_name:
                return ["--domain-name (or DOMAIN_NAME) is required: the drill measures what a "
                        "client of the custom domain sees"]
            if not self.ports.healthy(self.cfg.health_check_id(self.peer_role)):
                return [f"the {self.peer_role} health check is not healthy: failing "
                        f"{self.opts.target_role} would leave no region to serve"]
        return []

    def _remaining(self) -> float:
        return self._deadline - self.clock.monotonic()

    def _sleep(self) -> None:
        self.clock.sleep(max(0.0, min(self.opts.poll, self._remaining())))

    # -- FIS drills ---------------------------------------------------------------------------

    def _fis_drill(self) -> None:
        o, env = self.opts, self.cfg.environment_suffix or ""
        template = o.template_id or self.ports.fis.find_template(self.target, o.name, env)
        if template is None:
            raise _Refused(f"no FIS experiment template tagged {DRILL_TAG}={o.name} for "
                           f"environment {env} in {self.target}: is RegionalDrills deployed there?")
        baseline = self._failover_baseline() if o.name == DRILL_REGIONAL_FAILOVER else {}
        experiment = self.ports.fis.start(self.target, template,
                                          {"Name": f"drctl drill {o.name}", "Environment": env})
        self.experiment = (self.target, experiment)
        self.result.experiment = {"id": experiment, "region": self.target, "template_id": template}
        self.timeline.mark("experiment_started", experiment=experiment)
        self._deadline = self.clock.monotonic() + o.timeout
        if o.name == DRILL_REGIONAL_FAILOVER:
            self._watch_failover(baseline)
            self._rollback()
            self._recover_failover()
        else:
            self._watch_replication()
            self._recover_alarms()

    def _experiment_state(self) -> str:
        assert self.experiment is not None, "polled without an experiment"
        region, experiment = self.experiment
        status, reason = self._try("fis:GetExperiment", self.ports.fis.state, region, experiment,
                                   default=("unknown", ""))
        status, reason = str(status), str(reason)
        self.result.experiment["final_state"] = status
        if status == RUNNING:
            self.timeline.mark("fault_start")
        elif status in ENDED:
            self.result.experiment["reason"] = reason
        return status

    def _failover_baseline(self) -> dict[str, Any]:
        answers = self._try("dns", self.ports.resolve, self.opts.domain_name, default=frozenset())
        status, body = self._try("https", self.ports.fetch, self._health_url(),
                                 default=(None, None))
        served = (body or {}).get("region") if status == 200 else None
        self.timeline.mark("baseline", dns=sorted(answers), served_by=served)
        if not answers or status != 200:
            raise _Refused(f"before any fault, {self._health_url()} "
                           f"{'does not resolve' if not answers else f'answers {status}'}: "
                           "a drill needs a healthy starting point")
        if served == self.peer:
            raise _Refused(f"{self.opts.domain_name} is already served by {self.peer}: nothing "
                           "to fail over")
        return {"answers": answers}

    def _health_url(self) -> str:
        return f"https://{self.opts.domain_name}{HEALTH_PATH}"

    def _watch_failover(self, baseline: dict[str, Any]) -> None:
        hc = self.cfg.health_check_id(self.opts.target_role)
        while True:
            state = self._experiment_state()
            if state in ENDED and not self.timeline.seen("dr_served"):
                self.experiment = None  # FIS ended it (stop condition): nothing to stop
                raise Aborted(f"FIS experiment {state} before {self.peer} served "
                              f"({self.result.experiment.get('reason') or 'no reason given'})")
            if self.timeline.seen("fault_start"):
                if self._try("route53:GetHealthCheckStatus", self.ports.healthy, hc,
                             default=True) is False:
                    self.timeline.mark("health_check_failed", health_check=hc)
                answers = self._try("dns", self.ports.resolve, self.opts.domain_name,
                                    default=frozenset())
                if answers and answers != baseline["answers"]:
                    self.timeline.mark("dns_answer_changed", answers=sorted(answers))
                status, body = self._try("https", self.ports.fetch, self._health_url(),
                                         default=(None, None))
                if status == 200 and (body or {}).get("region") == self.peer:
                    self.timeline.mark("dr_served", region=self.peer)
            self.alarms.poll()
            if self.timeline.seen("dr_served"):
                return
            if self._remaining() <= 0:
                raise Aborted(f"timeout: {self.peer} did not serve {self.opts.domain_name} "
                              f"within {self.opts.timeout:g}s of starting the experiment")
            self._sleep()

    def _recover_failover(self) -> None:
        """After the fault: the health check passes again; alarms clear (bounded)."""
        self._deadline = self.clock.monotonic() + self.opts.recovery_timeout
        hc = self.cfg.health_check_id(self.opts.target_role)
        while True:
            if self._try("route53:GetHealthCheckStatus", self.ports.healthy, hc, default=False):
                self.timeline.mark("health_check_recovered", health_check=hc)
            self.alarms.poll()
            if self.timeline.seen("health_check_recovered") and not self.alarms.pending():
                return
            if self._remaining() <= 0:
                return
            self._sleep()

    def _watch_replication(self) -> None:
        while True:
            state = self._experiment_state()
            self.alarms.poll()
            for store in CANARY_STORES:
                if any(store in name for (_, name) in self.alarms.raised):
                    self.timeline.mark(f"{store}_alarm_raised")
            if state == "completed":
                self.timeline.mark("fault_end")
                self.experiment = None  # nothing left to roll back
                return
            if state in ENDED:
                self.experiment = None
                raise Aborted(f"FIS experiment {state} before the pause ended "
                              f"({self.result.experiment.get('reason') or 'no reason given'})")
            if self._remaining() <= 0:
                raise Aborted(f"timeout: the experiment did not end within {self.opts.timeout:g}s")
            self._sleep()

    def _recover_alarms(self) -> None:
        self._deadline = self.clock.monotonic() + self.opts.recovery_timeout
        while self.alarms.pending() and self._remaining() > 0:
            self._sleep()
            self.alarms.poll()
        if not self.alarms.pending():
            self.timeline.mark("alarms_cleared")

    def _rollback(self) -> None:
        """Stop a running experiment (FIS removes the fault); bounded; never raises."""
        if self.experiment is None:
            return
        region, experiment = self.experiment
        try:
            self.ports.fis.stop(region, experiment)
            self.timeline.mark("experiment_stop_requested", experiment=experiment)
            deadline = self.clock.monotonic() + max(self.opts.poll * 6, 60.0)
            while self.clock.monotonic() < deadline:
                status, _ = self._try("fis:GetExperiment", self.ports.fis.state, region,
                                      experiment, default=("unknown", ""))
                self.result.experiment["final_state"] = status
                if status in ENDED:
                    self.timeline.mark("fault_end", state=status)
                    self.experiment = None
                    return
                self.clock.sleep(min(self.opts.poll, 10.0))
            self.result.broke.append(
                f"experiment {experiment} still not ended a minute after fis:StopExperiment: check "
                f"`aws fis get-experiment --id {experiment} --region {region}`")
        except KeyboardInterrupt:  # a second Ctrl-C: report what is known, do not wait
            self.result.broke.append(
                f"interrupted while stopping experiment {experiment}: check "
                f"`aws fis get-experiment --id {experiment} --region {region}` and stop it with "
                f"`aws fis stop-experiment --id {experiment} --region {region}` if still running")
        except Exception as error:
            self.result.broke.append(
                f"could not stop experiment {experiment} ({error}): the fault may still be active; "
                f"run `aws fis stop-experiment --id {experiment} --region {region}` now")

    # -- database drill -----------------------------------------------------------------------

    def _database(self) -> None:
        self.timeline.mark("fault_start", action=f"switchover to {DR}")
        first = self.ports.switchover(DR)
        self.alarms.poll()
        if first.exit_code != exitcodes.OK:
            self.result.broke += [f"switchover to {DR}: {first.outcome}"] + first.reasons
            return
        self.timeline.mark("dr_writer")
        self.timeline.mark("failback_started")
        back = self.ports.switchover(PRIMARY)
        self.alarms.poll()
        if back.exit_code != exitcodes.OK:
            self.result.broke += [f"failback to {PRIMARY}: {back.outcome}; the writer may still "
                                  "be in the DR region: run `drctl status`, then `drctl failback`"]
            self.result.broke += back.reasons
            return
        self.timeline.mark("primary_writer")
        self._recover_alarms()

    # -- verdict ------------------------------------------------------------------------------

    def _series(self, region: str, metric: str, dims: dict[str, str]) -> list[float] | None:
        start, end = self.started_wall - CANARY_LOOKBACK, self.clock.now()
        try:
            points = self.ports.metric(region, metric, dims, start, end)
        except Exception as error:
            self.result.broke.append(f"{metric} in {region}: {error}")
            return None
        return [v * CANARY_VALUE_TO_SECONDS for _, v in points]

    def _canary(self) -> tuple[list[dict[str, Any]], float | None, float | None]:
        """Rows per store and direction; the largest upper and lower bounds on replication lag."""
        rows, upper, lower = [], None, None
        for region, source in ((self.target, self.peer), (self.peer, self.target)):
            intervals = self._series(source, CANARY_INTERVAL_METRIC,
                                     {"Store": "dynamodb", "Region": source})
            interval = max(intervals) if intervals else None
            for store in CANARY_STORES:
                delays = self._series(region, CANARY_DELAY_METRIC, CANARY_DELAY.dims(store, source))
                if delays is None:
                    continue
                top = max(delays) if delays else None
                floor = None if top is None or interval is None else max(0.0, top - interval)
                rows.append({"store": store, "region": region, "from": source, "max_s": top,
                             "writer_interval_s": interval, "lag_at_least_s": floor,
                             "datapoints": len(delays)})
                if top is not None:
                    upper = top if upper is None else max(upper, top)
                if floor is not None:
                    lower = floor if lower is None else max(lower, floor)
        return rows, upper, lower

    def _rpo_verdict(self, upper: float | None, lower: float | None) -> None:
        """RPO against the target from the canary's bounds: pass, fail or say it cannot tell."""
        r = self.result
        r.measured.update(rpo_upper_s=upper, rpo_lower_s=lower)
        if upper is None:
            r.measured["rpo_s"] = None
            return
        if upper <= RPO_TARGET_S:
            r.measured["rpo_s"] = upper
        elif lower is not None and lower > RPO_TARGET_S:
            r.measured["rpo_s"] = lower
            r.broke.append(f"RPO at least {lower:.1f} s (canary delay {upper:.1f} s minus the "
                           f"writer's heartbeat interval) exceeds the {RPO_TARGET_S:g} s target "
                           "while data should have stayed intact")
        else:
            r.measured["rpo_s"] = None
            r.notes.append(
                f"RPO between {lower or 0:.1f} and {upper:.1f} s: the canary's heartbeat interval "
                f"is coarser than the {RPO_TARGET_S:g} s target, so it shows replication stayed "
                f"within {upper:.1f} s but cannot show it stayed under {RPO_TARGET_S:g} s (the "
                "DynamoDB replication-latency and Aurora RPO-lag alarms watch that)")

    def _verdict(self) -> tuple[str, int]:
        r, t = self.result, self.timeline
        r.canary, upper, lower = self._canary()
        if upper is None:
            r.broke.append(f"no {CANARY_DELAY_METRIC} datapoints in the drill window: RPO not "
                           "measured (is the RPO canary deployed and running?)")
        name = self.opts.name
        if name != DRILL_REPLICATION:
            self._rpo_verdict(upper, lower)
        if name == DRILL_REGIONAL_FAILOVER:
            fault = t.at("fault_start")
            for event, key in (("health_check_failed", "detection_s"),
                               ("dns_answer_changed", "dns_change_s"), ("dr_served", "rto_s")):
                at = t.at(event)
                r.measured[key] = None if at is None or fault is None else round(at - fault, 3)
                if at is None:
                    r.broke.append(f"{event.replace('_', ' ')}: never observed")
            rec = t.at("health_check_recovered")
            r.measured["recovery_s"] = None if rec is None or fault is None else round(rec - fault, 3)
            if rec is None:
                # Not a drill failure: the failback gate (docs/failover.md) may hold the record
                # unhealthy on purpose until an operator lets traffic return.
                r.notes.append(f"{self.opts.target_role} health check still failing "
                               f"{self.opts.recovery_timeout:g}s after the fault stopped: if the "
                               "failback gate latched, traffic stays in "
                               f"{self.peer} until `drctl failback` opens it")
            rto = r.measured["rto_s"]
            if rto is not None and rto > RTO_TARGET_S:
                r.broke.append(f"RTO {rto:.1f} s exceeds the {RTO_TARGET_S:g} s target")
        elif name == DRILL_REPLICATION:
            for store in CANARY_STORES:
                at = t.at(f"{store}_alarm_raised")
                fault = t.at("fault_start")
                r.measured[f"{store}_detection_s"] = (None if at is None or fault is None
                                                      else round(at - fault, 3))
                if at is None:
                    r.broke.append(f"no {store} replication alarm was raised while its "
                                   "replication was paused")
            for region, name_ in self.alarms.pending():
                r.broke.append(f"alarm {name_} ({region}) still in ALARM "
                               f"{self.opts.recovery_timeout:g}s after the pause ended")
            # During a pause the delay is the pause: RPO here is informational, not a verdict.
            r.measured["rpo_s"] = None
            r.measured["max_canary_delay_s"] = upper
        else:  # database
            start, done = t.at("fault_start"), t.at("dr_writer")
            r.measured["rto_s"] = None if done is None or start is None else round(done - start, 3)
            back, back_start = t.at("primary_writer"), t.at("failback_started")
            r.measured["failback_s"] = (None if back is None or back_start is None
                                        else round(back - back_start, 3))
            if r.measured["rto_s"] is not None and r.measured["rto_s"] > RTO_TARGET_S:
                r.broke.append(f"switchover took {r.measured['rto_s']:.1f} s, beyond the "
                               f"{RTO_TARGET_S:g} s RTO target")
        r.notes += [f"alarms in {region}: {count} poll(s) failed; alarm times there may be late"
                    for region, count in sorted(self.alarms.errors.items())]
        r.notes += [f"{what}: {count} probe(s) failed and were retried"
                    for what, count in sorted(self.probe_errors.items())]
        return ("passed", exitcodes.OK) if not r.broke else ("failed", exitcodes.UNHEALTHY)

    def _finish(self, outcome: str, code: int, reasons: Iterable[str] = ()) -> DrillResult:
        r = self.result
        r.broke = list(reasons) + r.broke
        if outcome == "aborted":
            r.canary, upper, lower = self._canary()
            r.measured.update(rpo_upper_s=upper, rpo_lower_s=lower)
        r.outcome, r.exit_code = outcome, code
        r.events = self.timeline.finished_events()
        r.alarms = self.alarms.rows()
        r.ended_at = self.clock.now().isoformat(timespec="seconds")
        self.log.info("drill_done", drill=r.drill, outcome=outcome, exit_code=code,
                      measured=r.measured)
        return r


def run_drill(cfg: DrConfig, ports: DrillPorts, clock: Clock, log: EventLog,
              opts: DrillOptions) -> DrillResult:
    result = Drill(cfg, ports, clock, log, opts).run()
    if result.outcome != "dry-run":
        write_report(result, opts.report_dir, clock)
    return result


# -- real ports (boto3, DNS, HTTPS) ---------------------------------------------------------------

class AwsFis:
    """FIS through the gateways' boto3 clients (one per region)."""

    def __init__(self, gw: Any):
        self.gw = gw

    def find_template(self, region: str, drill: str, env: str) -> str | None:
        client = self.gw.client("fis", region)
        found = []
        for page in client.get_paginator("list_experiment_templates").paginate():
            for t in page.get("experimentTemplates", []):
                tags = t.get("tags") or {}
                if tags.get(DRILL_TAG) == drill and tags.get("Environment", env) == env:
                    found.append(t["id"])
        if len(found) > 1:
            raise _Refused(f"{len(found)} FIS templates tagged {DRILL_TAG}={drill} in {region} "
                           f"({', '.join(found)}): remove the stale ones")
        return found[0] if found else None

    def start(self, region: str, template_id: str, tags: dict[str, str]) -> str:
        found = self.gw.client("fis", region).start_experiment(
            clientToken=str(uuid.uuid4()), experimentTemplateId=template_id, tags=tags)
        return str(found["experiment"]["id"])

    def state(self, region: str, experiment_id: str) -> tuple[str, str]:
        state = self.gw.client("fis", region).get_experiment(id=experiment_id)["experiment"]["state"]
        return state.get("status", "unknown"), state.get("reason", "")

    def stop(self, region: str, experiment_id: str) -> None:
        self.gw.client("fis", region).stop_experiment(id=experiment_id)


def metric_points(gw: Any, region: str, metric: str, dimensions: dict[str, str],
                  start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, float]]:
    """One PaymentsDR metric's per-minute maxima (GetMetricData) in `region`."""
    found = gw.client("cloudwatch", region).get_metric_data(
        MetricDataQueries=[{"Id": "m", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": METRICS_NAMESPACE, "MetricName": metric,
                       "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()]},
            "Period": 60, "Stat": "Maximum"}}],
        StartTime=start, EndTime=end)
    result: dict[str, Any] = next(iter(found.get("MetricDataResults", [])), {})
    return list(zip(result.get("Timestamps", []), result.get("Values", []), strict=True))


def resolve_like_a_client(host: str) -> frozenset[str]:
    """The addresses the system resolver returns (its cache and TTLs included), or none; bounded
    by gateways.DnsGateway's timeout, so a hung resolver cannot stall the drill's watchers
    (DRCTL_RESOLVE's answer for an overridden name: drctl/resolve.py)."""
    from drctl import resolve
    from drctl.gateways import DnsGateway, Unreachable  # boto3: only when a drill runs

    endpoint = resolve.lookup(host)
    if endpoint is not None:
        return frozenset({endpoint.answer})
    try:
        return frozenset(DnsGateway().addresses(host))
    except (OSError, Unreachable):
        return frozenset()


def fetch_json(url: str, timeout: float = 5.0) -> tuple[int | None, dict[str, Any] | None]:
    from drctl import resolve
    url, host = resolve.rewrite(url)  # DRCTL_RESOLVE (inert when unset)
    request = urllib.request.Request(url, headers={"Cache-Control": "no-cache",
                                                   "User-Agent": "drctl-drill", **host})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    except (urllib.error.URLError, OSError):
        return None, None
    try:
        data = json.loads(body or b"null")
    except ValueError:
        return status, None
    return status, data if isinstance(data, dict) else None


def default_preflight(cfg: DrConfig, gw: Any, clock: Clock, log: EventLog) -> PreflightOutcome:
    """drctl preflight (drctl/preflight.py): the account checks run before an apply.

    Refuses when the module is absent. PASS, SKIP and WARN let the drill go on; FAIL or
    UNKNOWN (a question left unanswered) stop it. Settings come from the environment, as for
    `drctl preflight` itself.
    """
    try:
        from drctl import preflight as pf  # the preflight work (issue 13)
    except ImportError:
        return PreflightOutcome(False, ["drctl/preflight.py is not installed: a drill never "
                                        "starts without preflight"])
    try:
        target = pf.Target.from_env()
    except Exception as error:
        return PreflightOutcome(False, [f"preflight settings: {error}"])
    endpoint = getattr(gw, "_endpoint_url", None)
    clients = pf.Clients(gw.session, endpoint_url=endpoint if isinstance(endpoint, str) else None)
    report = pf.preflight(target, clients, pf.public_name_servers, log)
    blocking = [r for r in report.results if r.status.value in ("FAIL", "UNKNOWN")]
    return PreflightOutcome(not blocking, [
        f"{r.check}{f' ({r.region})' if r.region else ''}: {r.status.value}: {r.detail}"
        + (f"; fix: {r.fix}" if r.fix else "") for r in blocking])


def aws_ports(cfg: DrConfig, gw: Any, clock: Clock, log: EventLog, opts: DrillOptions, *,
              confirm: Callable[[str], bool] | None = None, operator: str = "drctl") -> DrillPorts:
    from drctl import operations

    def switchover(to_role: str) -> SwitchoverOutcome:
        """drctl switchover / failback, with their pre-checks, confirmation and audit trail."""
        op = operations.planned_switchover(
            cfg, gw, clock, log, to_role=to_role, timeout=opts.timeout, poll=opts.poll,
            operation="switchover" if to_role == DR else "failback", confirm=confirm,
            operator=operator)
        return SwitchoverOutcome(op.exit_code, op.outcome, list(op.reasons))

    return DrillPorts(
        fis=AwsFis(gw),
        healthy=lambda hc: gw.health().status(hc).healthy,
        alarms=lambda region, prefix: {a.name: a.state for a in gw.alarms(region).alarms(prefix)},
        metric=lambda region, name, dims, start, end: metric_points(
            gw, region, name, dims, start, end),
        resolve=resolve_like_a_client, fetch=fetch_json,
        preflight=lambda: default_preflight(cfg, gw, clock, log),
        switchover=switchover)


# -- command line ---------------------------------------------------------------------------------

def add_arguments(p: argparse.ArgumentParser) -> None:
    """`drctl drill NAME` (the common flags come from cli.py)."""
    p.add_argument("name", choices=DRILLS, help="which drill")
    p.add_argument("--target", choices=(PRIMARY, DR), default=PRIMARY,
                   help="region role that receives the fault (default primary)")
    p.add_argument("--domain-name", default=os.environ.get("DOMAIN_NAME"),
                   help="custom domain clients use (env DOMAIN_NAME); regional-failover needs it")
    p.add_argument("--dry-run", action="store_true", help="print the plan; start nothing")
    p.add_argument("--timeout", type=float, default=1800,
                   help="max seconds for the fault phase (default 1800)")
    p.add_argument("--recovery-timeout", type=float, default=900,
                   help="max seconds to wait for recovery after the fault (default 900)")
    p.add_argument("--poll-interval", type=float, default=10, help="seconds between polls (default 10)")
    p.add_argument("--yes", action="store_true",
                   help="database drill: do not ask before each switchover (required when not on "
                        "a terminal)")
    p.add_argument("--operator", default=os.environ.get("DRCTL_OPERATOR"),
                   help="who runs this, for the audit trail (default: env DRCTL_OPERATOR or login)")
    p.add_argument("--template-id", help="FIS experiment template id (default: found by its "
                                         f"{DRILL_TAG} and Environment tags)")
    p.add_argument("--report-dir", default=DEFAULT_REPORT_DIR,
                   help=f"where reports go (default {DEFAULT_REPORT_DIR}/, gitignored)")


def run_from_args(args: Any, cfg: DrConfig, gw: Any, clock: Clock, log: EventLog, *,
                  confirm: Callable[[str], bool] | None = None, operator: str = "drctl",
                  ports: DrillPorts | None = None) -> DrillResult:
    # --domain-name / DOMAIN_NAME, else the `domain_name` output once drctl's config reads it.
    domain = args.domain_name or getattr(cfg, "domain_name", None)
    opts = DrillOptions(name=args.name, target_role=args.target, domain_name=domain,
                        timeout=args.timeout, recovery_timeout=args.recovery_timeout,
                        poll=args.poll_interval, dry_run=args.dry_run, report_dir=args.report_dir,
                        template_id=args.template_id)
    ports = ports or aws_ports(cfg, gw, clock, log, opts, confirm=confirm, operator=operator)
    return run_drill(cfg, ports, clock, log, opts)


COMMAND = Command("drill", "run a DR drill (FIS fault or planned switchover) and measure RTO/RPO; "
                           "see docs/drills.md",
                  add_arguments, lambda ctx: run_from_args(ctx.args, ctx.config, ctx.gw, ctx.clock, ctx.log,
                                                           confirm=ctx.confirm, operator=ctx.operator),
                  requires=REQUIRES)
