"""The drill orchestrator: preflight, a quiet start, the strategy's fault, rollback, the RPO
canary and the verdict. Every wait has a deadline; an abort (Ctrl-C, an FIS stop condition,
--timeout) stops the experiment (FIS rolls back its fault) and still writes the report.

What differs per drill lives in its strategy (drctl/drill/strategies.py): nothing here asks
which drill it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from contract import (
    CANARY_DELAY,
    CANARY_DELAY_METRIC,
    CANARY_STORES,
    DEFAULT_REPLICATION_LAG_THRESHOLD_S,
    DYNAMODB_REPLICATION_LATENCY_THRESHOLD_S,
    ROUTE53_METRICS_REGION,
    RPO_TARGET_S,
    other_role,
)
from drctl import exitcodes
from drctl.clock import Clock
from drctl.config import DrConfig
from drctl.drill.models import (
    CANARY_INTERVAL_METRIC,
    CANARY_LOOKBACK,
    CANARY_VALUE_TO_SECONDS,
    ENDED,
    RUNNING,
    Aborted,
    DrillOptions,
    DrillPorts,
    DrillResult,
    Refused,
)
from drctl.drill.report import write_report
from drctl.drill.strategies import strategy_for
from drctl.drill.watch import AlarmWatch, Timeline
from drctl.log import EventLog


class Drill:
    def __init__(self, cfg: DrConfig, ports: DrillPorts, clock: Clock, log: EventLog,
                 opts: DrillOptions):
        self.strategy = strategy_for(opts.name)
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

    def plan(self) -> list[str]:
        return ["preflight (drctl/preflight.py): refuse on any failed check", *self.strategy.plan(self)]

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
            self.strategy.inject(self)
            outcome, code = self._verdict()
            return self._finish(outcome, code)
        except Refused as why:
            return self._finish("refused", exitcodes.REFUSED, [str(why)])
        except Aborted as why:
            self.rollback()
            return self._finish("aborted", exitcodes.FAILED, [str(why)])
        except KeyboardInterrupt:
            self.log.warning("drill_interrupted")
            self.rollback()
            return self._finish("aborted", exitcodes.INTERRUPTED, ["interrupted (Ctrl-C)"])
        except Exception as error:
            self.log.error("drill_error", error=repr(error))
            self.rollback()
            return self._finish("aborted", exitcodes.FAILED,
                                [f"drill stopped by an error: {type(error).__name__}: {error}"])

    def probe(self, what: str, fn: Callable[..., Any], *args: Any, default: Any = None) -> Any:
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
        return self.strategy.refusals(self)

    def start_deadline(self, seconds: float) -> None:
        self._deadline = self.clock.monotonic() + seconds

    def remaining(self) -> float:
        return self._deadline - self.clock.monotonic()

    def sleep(self) -> None:
        self.clock.sleep(max(0.0, min(self.opts.poll, self.remaining())))

    # -- shared steps the strategies use ------------------------------------------------------

    def experiment_state(self) -> str:
        """The running experiment's status; its first `running` marks the fault start."""
        assert self.experiment is not None, "polled without an experiment"
        region, experiment = self.experiment
        status, reason = self.probe("fis:GetExperiment", self.ports.fis.state, region, experiment,
                                    default=("unknown", ""))
        status, reason = str(status), str(reason)
        self.result.experiment["final_state"] = status
        if status == RUNNING:
            self.timeline.mark("fault_start")
        elif status in ENDED:
            self.result.experiment["reason"] = reason
        return status

    def recover_alarms(self) -> None:
        """After the fault: wait (bounded) for the alarms it raised to clear."""
        self.start_deadline(self.opts.recovery_timeout)
        while self.alarms.pending() and self.remaining() > 0:
            self.sleep()
            self.alarms.poll()
        if not self.alarms.pending():
            self.timeline.mark("alarms_cleared")

    def rollback(self) -> None:
        """Stop a running experiment (FIS removes the fault); bounded; never raises."""
        if self.experiment is None:
            return
        region, experiment = self.experiment
        try:
            self.ports.fis.stop(region, experiment)
            self.timeline.mark("experiment_stop_requested", experiment=experiment)
            deadline = self.clock.monotonic() + max(self.opts.poll * 6, 60.0)
            while self.clock.monotonic() < deadline:
                status, _ = self.probe("fis:GetExperiment", self.ports.fis.state, region,
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
            r.inconclusive.append(
                f"RPO between {lower or 0:.1f} and {upper:.1f} s: the canary's heartbeat interval "
                f"is coarser than the {RPO_TARGET_S:g} s target, so it shows replication stayed "
                f"within {upper:.1f} s but cannot show it stayed under {RPO_TARGET_S:g} s (the "
                f"DynamoDB replication-latency alarm fires above {DYNAMODB_REPLICATION_LATENCY_THRESHOLD_S:g} s "
                f"and Aurora's RPO-lag alarm above {DEFAULT_REPLICATION_LAG_THRESHOLD_S:g} s by default: "
                "neither shows a sub-second RPO)")

    def _verdict(self) -> tuple[str, int]:
        """The canary's RPO evidence, then the strategy's pass rule; anything in `broke` fails."""
        r = self.result
        r.canary, upper, lower = self._canary()
        if upper is None:
            r.broke.append(f"no {CANARY_DELAY_METRIC} datapoints in the drill window: RPO not "
                           "measured (is the RPO canary deployed and running?)")
        if self.strategy.rpo_is_verdict:
            self._rpo_verdict(upper, lower)
        self.strategy.judge(self, upper)
        r.notes += [f"alarms in {region}: {count} poll(s) failed; alarm times there may be late"
                    for region, count in sorted(self.alarms.errors.items())]
        r.notes += [f"{what}: {count} probe(s) failed and were retried"
                    for what, count in sorted(self.probe_errors.items())]
        if r.broke:
            return "failed", exitcodes.UNHEALTHY
        # Evidence that cannot show a target was met is not a pass (issue 19): same exit code
        # as a failure, its own outcome word, and the reason in the report.
        return ("inconclusive", exitcodes.UNHEALTHY) if r.inconclusive else ("passed", exitcodes.OK)

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
