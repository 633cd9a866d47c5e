"""One strategy per drill: its plan, its fault, the evidence it watches and its pass rule.

`DRILLS` is the one table of drills. The CLI's choices, the orchestrator (drctl/drill/run.py)
and docs/drills.md's table are checked against it, so a drill name is looked up here and only
here; adding a drill is one new strategy in this table (plus its FIS template in
modules/drills.py when it uses FIS). The names themselves are contract facts: modules/drills.py
tags the FIS templates with them.

Whatever a strategy cannot show goes to `broke`, never to a pass: an event never observed, a
figure not measured. The canary's RPO evidence is judged by the orchestrator for every drill
whose `rpo_is_verdict` is set.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from contract import (
    CANARY_STORES,
    DR,
    DRILL_DATABASE,
    DRILL_REGIONAL_FAILOVER,
    DRILL_REPLICATION,
    DRILL_TAG,
    HEALTH_PATH,
    PRIMARY,
    RTO_TARGET_S,
    other_role,
)
from drctl import exitcodes
from drctl.drill.models import ENDED, Aborted, Refused, UnknownDrill
from drctl.drill.report import LAST_REPORT

if TYPE_CHECKING:
    from drctl.drill.run import Drill


def _since(start: float | None, at: float | None) -> float | None:
    return None if at is None or start is None else round(at - start, 3)


class DrillStrategy(ABC):
    """A drill kind. `d` is the running drill: its config, ports, timeline, alarms and result."""

    name: ClassVar[str]
    uses_fis: ClassVar[bool] = False  # started from an FIS experiment template
    rpo_is_verdict: ClassVar[bool] = True  # the canary's RPO bounds decide pass/fail

    @abstractmethod
    def plan(self, d: Drill) -> list[str]:
        """The steps after preflight, for --dry-run and the report."""

    def refusals(self, d: Drill) -> list[str]:
        """Reasons not to start, checked after preflight passed (nothing started yet)."""
        return []

    @abstractmethod
    def inject(self, d: Drill) -> None:
        """Cause the fault, watch it, and wait (bounded) for recovery."""

    @abstractmethod
    def judge(self, d: Drill, canary_upper: float | None) -> None:
        """The drill's figures into `measured`; what missed or was never seen into `broke`."""


class FisDrill(DrillStrategy):
    """A fault from the region's FIS experiment template (found by its DrDrill tag)."""

    uses_fis = True

    def plan(self, d: Drill) -> list[str]:
        o, c = d.opts, d.cfg
        which = (f"FIS template {o.template_id}" if o.template_id else
                 f"the FIS template tagged {DRILL_TAG}={o.name}, Environment={c.environment_suffix}")
        return [f"fis:StartExperiment in {d.target} from {which}", *self.watch_plan(d),
                "read RPO canary delays (ObservedReplicationDelay) over the drill window",
                f"write the report to {o.report_dir}/ (markdown + JSON, {LAST_REPORT})",
                "on Ctrl-C, a stop condition or the timeout: fis:StopExperiment, then report"]

    @abstractmethod
    def watch_plan(self, d: Drill) -> list[str]:
        """The plan's steps between starting the experiment and reading the canary."""

    def inject(self, d: Drill) -> None:
        o, env = d.opts, d.cfg.environment_suffix or ""
        template = o.template_id or d.ports.fis.find_template(d.target, o.name, env)
        if template is None:
            raise Refused(f"no FIS experiment template tagged {DRILL_TAG}={o.name} for "
                          f"environment {env} in {d.target}: is RegionalDrills deployed there?")
        baseline = self.baseline(d)
        experiment = d.ports.fis.start(d.target, template,
                                       {"Name": f"drctl drill {o.name}", "Environment": env})
        d.experiment = (d.target, experiment)
        d.result.experiment = {"id": experiment, "region": d.target, "template_id": template}
        d.timeline.mark("experiment_started", experiment=experiment)
        d.start_deadline(o.timeout)
        self.watch(d, baseline)
        self.recover(d)

    def baseline(self, d: Drill) -> dict[str, Any]:
        """What to compare the fault against, read before it starts."""
        return {}

    @abstractmethod
    def watch(self, d: Drill, baseline: dict[str, Any]) -> None:
        """Poll until the fault has shown what it should (or abort), within --timeout."""

    @abstractmethod
    def recover(self, d: Drill) -> None:
        """After the watch: stop the fault if still running, wait (bounded) for recovery."""


class RegionalFailover(FisDrill):
    """FIS cuts the target region's private subnets off DynamoDB; measured as a client sees it:
    health check failing, the DNS answer changing, the other region answering /health (RTO)."""

    name = DRILL_REGIONAL_FAILOVER

    def watch_plan(self, d: Drill) -> list[str]:
        o = d.opts
        return [
            f"every {o.poll:g}s until DR serves (at most {o.timeout:g}s): experiment state, Route 53 "
            f"health check {d.cfg.health_check_id(o.target_role)}, DNS answer for {o.domain_name}, "
            f"GET https://{o.domain_name}/health (which region answers), alarms",
            "fis:StopExperiment as soon as the other region has served (FIS removes the fault)",
            f"wait up to {o.recovery_timeout:g}s for the {o.target_role} health check to pass again",
        ]

    def refusals(self, d: Drill) -> list[str]:
        if not d.opts.domain_name:
            return ["--domain-name (or DOMAIN_NAME) is required: the drill measures what a "
                    "client of the custom domain sees"]
        if not d.ports.healthy(d.cfg.health_check_id(d.peer_role)):
            return [f"the {d.peer_role} health check is not healthy: failing "
                    f"{d.opts.target_role} would leave no region to serve"]
        return []

    @staticmethod
    def _health_url(d: Drill) -> str:
        return f"https://{d.opts.domain_name}{HEALTH_PATH}"

    def baseline(self, d: Drill) -> dict[str, Any]:
        answers = d.probe("dns", d.ports.resolve, d.opts.domain_name, default=frozenset())
        status, body = d.probe("https", d.ports.fetch, self._health_url(d), default=(None, None))
        served = (body or {}).get("region") if status == 200 else None
        d.timeline.mark("baseline", dns=sorted(answers), served_by=served)
        if not answers or status != 200:
            raise Refused(f"before any fault, {self._health_url(d)} "
                          f"{'does not resolve' if not answers else f'answers {status}'}: "
                          "a drill needs a healthy starting point")
        if served == d.peer:
            raise Refused(f"{d.opts.domain_name} is already served by {d.peer}: nothing "
                          "to fail over")
        return {"answers": answers}

    def watch(self, d: Drill, baseline: dict[str, Any]) -> None:
        hc = d.cfg.health_check_id(d.opts.target_role)
        while True:
            state = d.experiment_state()
            if state in ENDED and not d.timeline.seen("dr_served"):
                d.experiment = None  # FIS ended it (stop condition): nothing to stop
                raise Aborted(f"FIS experiment {state} before {d.peer} served "
                              f"({d.result.experiment.get('reason') or 'no reason given'})")
            if d.timeline.seen("fault_start"):
                if d.probe("route53:GetHealthCheckStatus", d.ports.healthy, hc,
                           default=True) is False:
                    d.timeline.mark("health_check_failed", health_check=hc)
                answers = d.probe("dns", d.ports.resolve, d.opts.domain_name, default=frozenset())
                if answers and answers != baseline["answers"]:
                    d.timeline.mark("dns_answer_changed", answers=sorted(answers))
                status, body = d.probe("https", d.ports.fetch, self._health_url(d),
                                       default=(None, None))
                if status == 200 and (body or {}).get("region") == d.peer:
                    d.timeline.mark("dr_served", region=d.peer)
            d.alarms.poll()
            if d.timeline.seen("dr_served"):
                return
            if d.remaining() <= 0:
                raise Aborted(f"timeout: {d.peer} did not serve {d.opts.domain_name} "
                              f"within {d.opts.timeout:g}s of starting the experiment")
            d.sleep()

    def recover(self, d: Drill) -> None:
        """Stop the fault as soon as DR served; then the health check passes again and alarms
        clear (bounded)."""
        d.rollback()
        d.start_deadline(d.opts.recovery_timeout)
        hc = d.cfg.health_check_id(d.opts.target_role)
        while True:
            if d.probe("route53:GetHealthCheckStatus", d.ports.healthy, hc, default=False):
                d.timeline.mark("health_check_recovered", health_check=hc)
            d.alarms.poll()
            if d.timeline.seen("health_check_recovered") and not d.alarms.pending():
                return
            if d.remaining() <= 0:
                return
            d.sleep()

    def judge(self, d: Drill, canary_upper: float | None) -> None:
        r, t = d.result, d.timeline
        fault = t.at("fault_start")
        for event, key in (("health_check_failed", "detection_s"),
                           ("dns_answer_changed", "dns_change_s"), ("dr_served", "rto_s")):
            at = t.at(event)
            r.measured[key] = _since(fault, at)
            if at is None:
                r.broke.append(f"{event.replace('_', ' ')}: never observed")
        rec = t.at("health_check_recovered")
        r.measured["recovery_s"] = _since(fault, rec)
        if rec is None:
            # Not a drill failure: the failback gate (docs/failover.md) may hold the record
            # unhealthy on purpose until an operator lets traffic return.
            r.notes.append(f"{d.opts.target_role} health check still failing "
                           f"{d.opts.recovery_timeout:g}s after the fault stopped: if the "
                           "failback gate latched, traffic stays in "
                           f"{d.peer} until `drctl failback` opens it")
        rto = r.measured["rto_s"]
        if rto is not None and rto > RTO_TARGET_S:
            r.broke.append(f"RTO {rto:.1f} s exceeds the {RTO_TARGET_S:g} s target")


class Replication(FisDrill):
    """FIS pauses DynamoDB and S3 replication of the target region; each store's replication
    alarm must be raised during the pause (detection) and clear after it."""

    name = DRILL_REPLICATION
    rpo_is_verdict = False  # during a pause the delay is the pause: informational

    def watch_plan(self, d: Drill) -> list[str]:
        o = d.opts
        return [
            f"every {o.poll:g}s until the experiment ends (at most {o.timeout:g}s): experiment "
            "state and alarms; each store's replication alarms must be raised",
            f"wait up to {o.recovery_timeout:g}s for those alarms to clear",
        ]

    def watch(self, d: Drill, baseline: dict[str, Any]) -> None:
        while True:
            state = d.experiment_state()
            d.alarms.poll()
            for store in CANARY_STORES:
                if any(store in name for (_, name) in d.alarms.raised):
                    d.timeline.mark(f"{store}_alarm_raised")
            if state == "completed":
                d.timeline.mark("fault_end")
                d.experiment = None  # nothing left to roll back
                return
            if state in ENDED:
                d.experiment = None
                raise Aborted(f"FIS experiment {state} before the pause ended "
                              f"({d.result.experiment.get('reason') or 'no reason given'})")
            if d.remaining() <= 0:
                raise Aborted(f"timeout: the experiment did not end within {d.opts.timeout:g}s")
            d.sleep()

    def recover(self, d: Drill) -> None:
        d.recover_alarms()

    def judge(self, d: Drill, canary_upper: float | None) -> None:
        r, t = d.result, d.timeline
        for store in CANARY_STORES:
            at = t.at(f"{store}_alarm_raised")
            r.measured[f"{store}_detection_s"] = _since(t.at("fault_start"), at)
            if at is None:
                r.broke.append(f"no {store} replication alarm was raised while its "
                               "replication was paused")
        for region, name in d.alarms.pending():
            r.broke.append(f"alarm {name} ({region}) still in ALARM "
                           f"{d.opts.recovery_timeout:g}s after the pause ended")
        r.measured["rpo_s"] = None
        r.measured["max_canary_delay_s"] = canary_upper


class Database(DrillStrategy):
    """A planned Aurora switchover to DR and back, through drctl's own switchover/failback."""

    name = DRILL_DATABASE

    def plan(self, d: Drill) -> list[str]:
        return [f"planned switchover of the Aurora writer to {d.cfg.region(other_role(PRIMARY))} "
                "(drctl switchover, no data loss)",
                "planned switchover back to the primary region (drctl failback)",
                "read alarms and RPO canary delays over the drill window; write the report"]

    def inject(self, d: Drill) -> None:
        d.timeline.mark("fault_start", action=f"switchover to {DR}")
        first = d.ports.switchover(DR)
        d.alarms.poll()
        if first.exit_code != exitcodes.OK:
            d.result.broke += [f"switchover to {DR}: {first.outcome}"] + first.reasons
            return
        d.timeline.mark("dr_writer")
        d.timeline.mark("failback_started")
        back = d.ports.switchover(PRIMARY)
        d.alarms.poll()
        if back.exit_code != exitcodes.OK:
            d.result.broke += [f"failback to {PRIMARY}: {back.outcome}; the writer may still "
                               "be in the DR region: run `drctl status`, then `drctl failback`"]
            d.result.broke += back.reasons
            return
        d.timeline.mark("primary_writer")
        d.recover_alarms()

    def judge(self, d: Drill, canary_upper: float | None) -> None:
        r, t = d.result, d.timeline
        r.measured["rto_s"] = _since(t.at("fault_start"), t.at("dr_writer"))
        r.measured["failback_s"] = _since(t.at("failback_started"), t.at("primary_writer"))
        if r.measured["rto_s"] is not None and r.measured["rto_s"] > RTO_TARGET_S:
            r.broke.append(f"switchover took {r.measured['rto_s']:.1f} s, beyond the "
                           f"{RTO_TARGET_S:g} s RTO target")


# The one table of drills, in `--help` order.
DRILLS: dict[str, DrillStrategy] = {s.name: s for s in (RegionalFailover(), Replication(), Database())}


def strategy_for(name: str) -> DrillStrategy:
    try:
        return DRILLS[name]
    except KeyError:
        raise UnknownDrill(f"unknown drill {name!r}: use one of {', '.join(DRILLS)}") from None
