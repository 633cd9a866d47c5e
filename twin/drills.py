"""`drctl drill` against the twin: drctl's own orchestrator (``run_drill``), unchanged, in-process,
with ports that read the twin instead of AWS (issue 19, scenario 5; docs/twin.md "Drills on
the twin").

    with Twin("cdktf.out") as twin:
        twin.evaluate()
        drill = TwinDrill(twin)
        result = run_drill(drill.cfg, drill.ports(), drill.clock, EventLog(), DrillOptions(...))

What each port reads (SIMULATED where AWS would answer):

* ``fis`` (:class:`TwinFis`): the ``aws_fis_experiment_template`` resources of the JSON, found
  by their ``DrDrill`` tag and the ``Environment`` tag their provider's default tags give (as
  drctl's FIS lookup does). Starting one resolves the template's targets from the JSON by
  resource tags (subnets, global tables and their replicas, buckets; no target = the
  experiment fails, ``empty_target_resolution_mode=fail``) and applies the fault:

  - ``aws:network:disrupt-connectivity`` with ``scope=dynamodb`` (regional-failover): every
    function of the JSON attached (``vpc_config.subnet_ids``) to a targeted subnet gets its
    DynamoDB endpoint replaced by a closed port (``AWS_ENDPOINT_URL_DYNAMODB``, fresh execution
    environments): its DynamoDB calls fail, the rest of its calls work. In AWS the network ACL
    drops the packets (the SDK's connect timeout runs first); here the connection is refused
    at once. Any other scope makes the experiment fail ("not simulated").
  - ``aws:dynamodb:global-table-pause-replication``: the targeted tables' replication is
    paused in the twin's replicator (both directions: the twin has two regions).
  - ``aws:s3:bucket-pause-replication``: replication from the targeted buckets to the
    action's ``region`` parameter is paused.

  Each action ends after its ``duration`` parameter (ISO 8601) on the SCENARIO clock; the
  experiment is ``running`` until every action ended (``completed``), ``stopped`` by
  :meth:`TwinFis.stop` or by a stop-condition alarm the twin evaluates in ALARM (FIS checks
  them while running), ``failed`` when a target or action cannot be resolved.
* ``healthy``: the twin's Route 53 evaluation (``twin.route53.checks[id].healthy``).
* ``alarms``: the twin's alarm states (``twin.alarms``) by region and name prefix.
* ``metric``: the twin's metric store, per-minute maxima of one ``PaymentsDR`` metric
  (what the real heartbeat function emits on the twin's schedule), on the scenario clock.
* ``resolve``: the twin's resolver (Route 53's answer while evaluating): the address of the
  port of the region that answers the name; no resolver cache, no TTL.
* ``fetch``: ``twin.request`` (plain HTTP to that port, the name as Host).
* ``preflight``: :func:`twin_preflight` (not drctl's account preflight: see its docstring).
* ``switchover`` (the database drill): with a rehearsal (:meth:`TwinDrill.rehearse`), drctl's
  own planned switchover against Aurora's SIMULATED role model (:func:`rehearsal_switchover`);
  without one, :func:`no_switchover` (the drill fails: nothing was switched).

The clock (:class:`TwinClock`) is drctl's ``Clock`` on the scenario clock: ``now()`` scenario
time, ``monotonic()`` scenario seconds, ``sleep(s)`` advances the twin by ``s``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from contract import DRILL_TAG, HEALTH_PATH, METRICS_NAMESPACE
from drctl.clock import Clock
from drctl.config import DrConfig, parse_outputs
from drctl.drill.models import DrillPorts, PreflightOutcome, SwitchoverOutcome
from drctl.log import EventLog
from twin.model import Platform, Resource

RUNNING, COMPLETED, STOPPED, FAILED = "running", "completed", "stopped", "failed"
FETCH_TIMEOUT_S = 5.0
_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$")
# FIS target resource types -> the JSON's resource type and the attribute that names one.
_TARGET_TYPES = {"aws:ec2:subnet": ("aws_subnet", "id"),
                 "aws:dynamodb:global-table": ("aws_dynamodb_table", "name"),
                 "aws:s3:bucket": ("aws_s3_bucket", "bucket")}


def iso_duration(text: str) -> float:
    """Seconds of an ISO 8601 duration as FIS takes them (PT10M, PT1H30M, PT90S)."""
    found = _DURATION.match(text.strip())
    if not found or not any(found.groups()):
        raise ValueError(f"not an ISO 8601 duration FIS takes: {text!r}")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in found.groups())
    return hours * 3600 + minutes * 60 + seconds


class TwinClock(Clock):
    """drctl's Clock on the twin's scenario clock; sleeping advances the twin (and ends FIS
    actions whose duration passed, through `after_step`)."""

    def __init__(self, twin: Any, *, step: float = 10.0, pace_s: float = 0.0,
                 advance: Callable[[float], None] | None = None):
        """`pace_s`: REAL seconds to wait per step at least, so that a scenario minute lasts at
        least 60 / step x pace_s real seconds: the functions' clocks (the canary's delays and
        intervals) are real time, and a drill can set how coarse the canary is (docs/twin.md)."""
        self.twin, self.step, self.pace_s = twin, step, pace_s
        self._advance = advance or (lambda seconds: twin.advance(seconds, step=min(step, seconds)))
        self.after_step: list[Callable[[], None]] = []

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.twin.clock.now(), dt.UTC)

    def monotonic(self) -> float:
        return float(self.twin.clock.now())

    def sleep(self, seconds: float) -> None:
        remaining = seconds
        while remaining > 1e-9:
            chunk = min(self.step, remaining)
            started = time.monotonic()
            self._advance(chunk)
            if self.pace_s > 0:
                time.sleep(max(0.0, self.pace_s * chunk / self.step - (time.monotonic() - started)))
            remaining -= chunk
            for hook in self.after_step:
                hook()


# -- FIS -----------------------------------------------------------------------------------------

@dataclass
class Template:
    id: str
    region: str
    tags: dict[str, str]
    resource: Resource


@dataclass
class Action:
    name: str
    action_id: str
    ends_at: float
    undo: Callable[[], None]
    detail: str
    ended: bool = False


@dataclass
class Experiment:
    id: str
    region: str
    template_id: str
    started_at: float
    status: str = RUNNING
    reason: str = ""
    actions: list[Action] = field(default_factory=list)
    stop_alarms: list[str] = field(default_factory=list)


class _Refused(OSError):
    """A closed port: DynamoDB's endpoint for functions cut off by a simulated network ACL."""


class TwinFis:
    """FIS on the twin (module doc): templates from the JSON, faults on the twin."""

    _ids = itertools.count(1)

    def __init__(self, twin: Any):
        self.twin = twin
        self.platform: Platform = twin.platform
        self.templates = [self._template(res) for res in self.platform.resources("aws_fis_experiment_template")]
        self.experiments: dict[str, Experiment] = {}
        self._blackhole: socket.socket | None = None

    # -- the JSON ---------------------------------------------------------------------------

    def tags_of(self, res: Resource) -> dict[str, str]:
        """The resource's tags over its provider's default tags (what AWS puts on it)."""
        tags: dict[str, str] = {}
        provider_ref = str(res.body.get("provider", "aws"))
        for provider in self.platform.stacks[res.stack].get("provider", {}).get("aws", []):
            ref = f"aws.{provider['alias']}" if "alias" in provider else "aws"
            if ref == provider_ref:
                for block in provider.get("default_tags") or []:
                    tags.update({str(k): str(v) for k, v in (block.get("tags") or {}).items()})
        tags.update({str(k): str(v) for k, v in (self.platform.get(res, "tags") or {}).items()})
        return tags

    def _template(self, res: Resource) -> Template:
        return Template(str(self.platform.attribute(res, "id")), res.region, self.tags_of(res), res)

    def _targets(self, region: str, target: dict[str, Any]) -> list[str]:
        """Names (subnet ids, table names, bucket names) of the resources a template target
        selects in `region` by its resource tags (FIS resolves targets in its own region; a
        global table's replicas carry its tags when `propagate_tags` is set)."""
        kind = str(target.get("resource_type"))
        if kind not in _TARGET_TYPES:
            raise LookupError(f"target type {kind} is not simulated by the twin")
        rtype, attr = _TARGET_TYPES[kind]
        wanted = {str(t["key"]): str(t["value"]) for t in target.get("resource_tag") or []}
        if target.get("resource_arns") or not wanted:
            raise LookupError("targets by ARN are not simulated by the twin (tags only)")
        found = []
        for res in self.platform.resources(rtype):
            replicas = [str(r.get("region_name")) for r in self.platform.get(res, "replica") or []
                        if r.get("propagate_tags")]
            if res.region != region and region not in replicas:
                continue
            tags = self.tags_of(res)
            if all(tags.get(k) == v for k, v in wanted.items()):
                found.append(str(self.platform.attribute(res, attr)))
        return found

    # -- the port ---------------------------------------------------------------------------

    def find_template(self, region: str, drill: str, env: str) -> str | None:
        found = [t.id for t in self.templates if t.region == region and t.tags.get(DRILL_TAG) == drill
                 and t.tags.get("Environment", env) == env]
        if len(found) > 1:
            raise LookupError(f"{len(found)} FIS templates tagged {DRILL_TAG}={drill} in {region}")
        return found[0] if found else None

    def start(self, region: str, template_id: str, tags: dict[str, str]) -> str:
        template = next((t for t in self.templates if t.id == template_id and t.region == region), None)
        if template is None:
            raise LookupError(f"ResourceNotFoundException: no experiment template {template_id} in {region}")
        p, res = self.platform, template.resource
        now = float(self.twin.clock.now())
        experiment = Experiment(f"EXPtwin{next(self._ids):06d}", region, template_id, now)
        self.experiments[experiment.id] = experiment
        experiment.stop_alarms = [str(c.get("value", "")).rsplit(":alarm:", 1)[-1]
                                  for c in p.get(res, "stop_condition") or []
                                  if c.get("source") == "aws:cloudwatch:alarm"]
        targets = {str(t["name"]): t for t in p.get(res, "target") or []}
        try:
            for action in p.get(res, "action") or []:
                params = {str(x["key"]): str(x["value"]) for x in action.get("parameter") or []}
                key = str((action.get("target") or {}).get("value", ""))
                if key not in targets:
                    raise LookupError(f"action {action.get('name')}: no target {key!r}")
                names = self._targets(region, targets[key])
                if not names:  # empty_target_resolution_mode=fail
                    raise LookupError(f"target {key} resolved to no resource in {region}")
                duration = iso_duration(params.get("duration", "PT1M"))
                undo, detail = self._inject(region, str(action["action_id"]), params, names)
                experiment.actions.append(Action(str(action.get("name")), str(action["action_id"]),
                                                 now + duration, undo, detail))
        except (LookupError, ValueError) as error:
            self._end(experiment, FAILED, str(error))
        self._check_stop_conditions(experiment)
        return experiment.id

    def state(self, region: str, experiment_id: str) -> tuple[str, str]:
        experiment = self.experiments[experiment_id]
        self.tick()
        return experiment.status, experiment.reason

    def stop(self, region: str, experiment_id: str) -> None:
        experiment = self.experiments[experiment_id]
        if experiment.status == RUNNING:
            self._end(experiment, STOPPED, "Experiment stopped by the user (StopExperiment).")

    def tick(self) -> None:
        """On the scenario clock: actions past their duration end; stop conditions stop."""
        now = float(self.twin.clock.now())
        for experiment in self.experiments.values():
            if experiment.status != RUNNING:
                continue
            for action in experiment.actions:
                if not action.ended and now >= action.ends_at:
                    action.ended = True
                    action.undo()
            if all(a.ended for a in experiment.actions):
                experiment.status, experiment.reason = COMPLETED, "Experiment completed."
                continue
            self._check_stop_conditions(experiment)

    def _check_stop_conditions(self, experiment: Experiment) -> None:
        if experiment.status != RUNNING or self.twin.alarms is None:
            return
        firing = [name for name in experiment.stop_alarms
                  if getattr(self.twin.alarms.alarms.get(name), "state", None) == "ALARM"]
        if firing:
            self._end(experiment, STOPPED, f"Experiment stopped by stop condition: {', '.join(firing)}")

    def _end(self, experiment: Experiment, status: str, reason: str) -> None:
        for action in experiment.actions:
            if not action.ended:
                action.ended = True
                action.undo()
        experiment.status, experiment.reason = status, reason

    # -- faults -----------------------------------------------------------------------------

    def _inject(self, region: str, action_id: str, params: dict[str, str],
                names: list[str]) -> tuple[Callable[[], None], str]:
        if action_id == "aws:network:disrupt-connectivity":
            if params.get("scope") != "dynamodb":
                raise LookupError(f"{action_id} scope={params.get('scope')} is not simulated by the twin")
            return self._cut_dynamodb(region, names)
        replication = self.twin.replication
        if action_id == "aws:dynamodb:global-table-pause-replication":
            replication.pause(*names)
            return (lambda: replication.resume(*names)), f"replication paused: tables {', '.join(names)}"
        if action_id == "aws:s3:bucket-pause-replication":
            to = params.get("region")
            dests = [dest for src_region, src, dest_region, dest in self.twin.inventory.bucket_replication
                     if src_region == region and src in names and (to is None or dest_region == to)]
            if not dests:
                raise LookupError(f"{action_id}: no replication rule from {', '.join(names)} to {to}")
            replication.pause(*dests)
            return (lambda: replication.resume(*dests)), f"replication paused: buckets {', '.join(names)} -> {to}"
        raise LookupError(f"action {action_id} is not simulated by the twin")

    def vpc_functions(self, region: str, subnets: Iterable[str]) -> list[Any]:
        """The twin's functions of `region` attached to any of `subnets` (vpc_config)."""
        wanted, found = set(subnets), []
        for res in self.platform.resources("aws_lambda_function"):
            vpc = self.platform.get(res, "vpc_config") or {}
            if isinstance(vpc, list):
                vpc = vpc[0] if vpc else {}
            if res.region == region and wanted & {str(s) for s in vpc.get("subnet_ids") or []}:
                found.append(self.twin.function(region, str(self.platform.get(res, "function_name"))))
        return found

    def _cut_dynamodb(self, region: str, subnets: list[str]) -> tuple[Callable[[], None], str]:
        if self._blackhole is None:  # bound, never listening: a connect is refused at once
            self._blackhole = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._blackhole.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{self._blackhole.getsockname()[1]}"
        functions = self.vpc_functions(region, subnets)
        if not functions:
            raise LookupError(f"no function of {region} is attached to the targeted subnets")
        pool = self.twin.pool

        def cut(on: bool) -> None:
            for fn in functions:
                if on:
                    fn.environment["AWS_ENDPOINT_URL_DYNAMODB"] = url
                else:
                    fn.environment.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
                pool.stop_function(fn)  # new execution environments see the change

        cut(True)
        return (lambda: cut(False)), (f"DynamoDB cut off in {region} for {len(subnets)} subnets: "
                                      + ", ".join(sorted(fn.name for fn in functions)))

    def close(self) -> None:
        for experiment in self.experiments.values():
            if experiment.status == RUNNING:
                self._end(experiment, STOPPED, "twin closed")
        if self._blackhole is not None:
            self._blackhole.close()
            self._blackhole = None


# -- the other ports -----------------------------------------------------------------------------

def twin_config(twin: Any) -> DrConfig:
    """drctl's configuration from the stacks' outputs as the twin resolves them (what
    `terraform output -json` would print: twin/rehearsal.py writes the same values)."""
    p, merged = twin.platform, {}
    for stack, doc in p.stacks.items():
        values = {k: {"value": p.resolve(stack, v["value"])} for k, v in (doc.get("output") or {}).items()
                  if not k.startswith("cross-stack-output")}
        merged.update(parse_outputs(values) if values else {})
    return DrConfig.build(outputs=merged)


def metric_maxima(twin: Any, region: str, name: str, dims: dict[str, str], start: dt.datetime,
                  end: dt.datetime) -> list[tuple[dt.datetime, float]]:
    """Per-minute Maximum of one PaymentsDR metric in the twin's store (GetMetricData's
    answer for Period=60, Stat=Maximum), minutes without data left out."""
    first = int(start.timestamp()) // 60 * 60
    out = []
    for minute in range(first, int(end.timestamp()) + 1, 60):
        values = twin.metrics.values(region, METRICS_NAMESPACE, name, dims, float(minute), float(minute + 60))
        if values:
            out.append((dt.datetime.fromtimestamp(minute, dt.UTC), max(values)))
    return out


def fetch_json(twin: Any, url: str) -> tuple[int | None, dict[str, Any] | None]:
    try:
        response = twin.request("GET", url, headers={"Cache-Control": "no-cache", "User-Agent": "drctl-drill"},
                                timeout=FETCH_TIMEOUT_S)
    except (OSError, LookupError):
        return None, None
    try:
        data = json.loads(response.body or b"null")
    except ValueError:
        return response.status, None
    return response.status, data if isinstance(data, dict) else None


def twin_preflight(twin: Any) -> PreflightOutcome:
    """What the twin can vouch for before a drill: evaluation on (alarms, health checks,
    schedules), no region fault, nothing paused in replication, each region's own name
    answering /health 200. drctl's account preflight (CloudTrail, Config, GuardDuty, quotas,
    name servers: drctl/preflight.py) is NOT run: the twin provisions none of the account
    baseline it checks, so it would refuse every drill here; only AWS can answer it."""
    reasons = []
    if not twin.evaluating or twin.alarms is None or twin.route53 is None:
        reasons.append("the twin is not evaluating alarms and health checks (call twin.evaluate())")
    reasons += [f"{region}: region fault {kind!r} active" for region, kind in sorted(twin.faults.items())]
    if twin.replication is not None and twin.replication.paused:
        reasons.append(f"replication paused: {', '.join(sorted(twin.replication.paused))}")
    for region, gateway in sorted(twin.gateways.items()):
        failover = set(twin.route53.records) if twin.route53 is not None else set()
        name = next((n for n, r in sorted(twin.names.items())
                     if r == region and n in gateway.domains and n not in failover), None)
        if name is None:
            reasons.append(f"{region}: no regional name served")
            continue
        status, _ = fetch_json(twin, f"https://{name}{HEALTH_PATH}")
        if status != 200:
            reasons.append(f"{region}: GET https://{name}{HEALTH_PATH} answered {status}")
    return PreflightOutcome(not reasons, reasons)


def rehearsal_switchover(cfg: DrConfig, rehearsal: Any, clock: Clock, log: EventLog, *, timeout: float = 600.0,
                         poll: float = 10.0) -> Callable[[str], SwitchoverOutcome]:
    """The database drill's step: drctl's own planned switchover (`drctl switchover` to DR,
    `drctl failback` back; pre-checks, Aurora's SwitchoverGlobalCluster, the wait, the audit)
    in-process against a rehearsal (twin/rehearsal.py: Aurora's SIMULATED role model, what
    drctl reads from AWS, the twin's names through DRCTL_RESOLVE). Confirmation is given (the
    drill's --yes)."""
    import os

    import boto3

    from drctl import operations
    from drctl.gateways import AwsGateways
    from twin.provision import FAKE_CREDENTIALS

    session = boto3.Session(aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
                            region_name=str(cfg.primary_region))
    gw = AwsGateways(session, endpoint_url=rehearsal.proxy.url if rehearsal.proxy else rehearsal.twin.endpoint)

    class WallNow(Clock):
        """drctl judges the age of what AWS publishes by the wall clock, and the rehearsal
        stamps those datapoints with the real time (twin/observed.py): real now() and
        deadlines; a wait advances the scenario (the drill's clock)."""

        def sleep(self, seconds: float) -> None:
            clock.sleep(seconds)

    wall = WallNow()

    def switchover(to_role: str) -> SwitchoverOutcome:
        before = os.environ.get("DRCTL_RESOLVE")
        os.environ["DRCTL_RESOLVE"] = f"@{rehearsal.names_file}"
        try:
            op = operations.planned_switchover(
                cfg, gw, wall, log, to_role=to_role, timeout=timeout, poll=poll,
                operation="failback" if to_role == "primary" else "switchover",
                confirm=lambda _question: True, operator="twin-drill")
        finally:
            if before is None:
                os.environ.pop("DRCTL_RESOLVE", None)
            else:
                os.environ["DRCTL_RESOLVE"] = before
        return SwitchoverOutcome(op.exit_code, op.outcome, list(op.reasons))

    return switchover


def no_switchover(to_role: str) -> SwitchoverOutcome:
    """No rehearsal, no Aurora role model: nothing to switch (docs/twin.md)."""
    return SwitchoverOutcome(1, "not simulated", [
        "the twin runs no Aurora role model without a rehearsal (TwinDrill.rehearse)"])


class TwinDrill:
    """The twin's side of one or more drills: the config, the clock and the ports."""

    def __init__(self, twin: Any, *, step: float = 10.0, pace_s: float = 0.0):
        self.twin = twin
        self.cfg = twin_config(twin)
        self.fis = TwinFis(twin)
        self.clock = TwinClock(twin, step=step, pace_s=pace_s)
        self.clock.after_step.append(self.fis.tick)
        self.rehearsal: Any = None

    def rehearse(self, rehearsal: Any) -> None:
        """For the database drill: a started twin/rehearsal.py Rehearsal. The drill's waits then
        go through its step (what drctl reads from AWS stays current) and the switchover port
        is drctl's planned switchover (:func:`rehearsal_switchover`)."""
        self.rehearsal = rehearsal
        self.clock = TwinClock(self.twin, step=self.clock.step, pace_s=self.clock.pace_s,
                               advance=lambda seconds: rehearsal.step(seconds, step=seconds))
        self.clock.after_step.append(self.fis.tick)

    def domain_name(self) -> str:
        """The failover name clients use (the routing stack's failover records)."""
        assert self.twin.route53 is not None, "call twin.evaluate() first"
        return str(next(iter(self.twin.route53.records)))

    def ports(self, *, preflight: Callable[[], PreflightOutcome] | None = None,
              metric: Callable[[str, str, dict[str, str], dt.datetime, dt.datetime],
                               list[tuple[dt.datetime, float]]] | None = None) -> DrillPorts:
        twin = self.twin
        return DrillPorts(
            fis=self.fis,
            healthy=lambda hc: bool(twin.route53.checks[hc].healthy),
            alarms=lambda region, prefix: {name: a.state for name, a in twin.alarms.alarms.items()
                                           if a.region == region and name.startswith(prefix)},
            metric=metric or (lambda region, name, dims, start, end: metric_maxima(
                twin, region, name, dims, start, end)),
            resolve=lambda host: frozenset({f"127.0.0.1:{twin.ports[twin.region_for(host)]}"}),
            fetch=lambda url: fetch_json(twin, url),
            preflight=preflight or (lambda: twin_preflight(twin)),
            switchover=no_switchover if self.rehearsal is None else rehearsal_switchover(
                self.cfg, self.rehearsal, self.clock, EventLog()))

    def close(self) -> None:
        self.fis.close()


# -- operators: python -m twin drill NAME -----------------------------------------------------

WARM_UP_S = 330.0  # the canary's alarms need 3 minutes of data; the drill's lookback is 5


def main(argv: list[str] | None = None) -> int:
    """``python -m twin drill NAME``: stand the twin up, warm it up, run `drctl drill NAME`'s
    orchestrator on it and print drctl's report (written to --report-dir too). Every figure
    is the twin's simulation (docs/twin.md, "Drills on the twin")."""
    import argparse

    from contract import DR, DRILL_DATABASE, PRIMARY
    from drctl.drill.models import DrillOptions
    from drctl.drill.run import run_drill
    from drctl.drill.strategies import DRILLS
    from twin.core import Twin

    parser = argparse.ArgumentParser(prog="python -m twin drill", description=(main.__doc__ or "").splitlines()[0])
    parser.add_argument("name", choices=DRILLS)
    parser.add_argument("--target", choices=(PRIMARY, DR), default=PRIMARY)
    parser.add_argument("--outdir", default="cdktf.out", help="the synth output folder (default: cdktf.out)")
    parser.add_argument("--report-dir", default="build/drills", help="drctl's report (default build/drills)")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--recovery-timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    with Twin(args.outdir, lag_s=0.3) as twin:
        twin.evaluate()
        drill = TwinDrill(twin)
        rehearsal = None
        if args.name == DRILL_DATABASE:
            from twin.rehearsal import Rehearsal

            rehearsal = Rehearsal(twin, switch_s=2.0, resync_s=5.0).start()
            drill.rehearse(rehearsal)
        try:
            drill.clock.sleep(WARM_UP_S)
            result = run_drill(drill.cfg, drill.ports(), drill.clock, EventLog(), DrillOptions(
                name=args.name, target_role=args.target, domain_name=drill.domain_name(),
                timeout=args.timeout, recovery_timeout=args.recovery_timeout, report_dir=args.report_dir))
        finally:
            drill.close()
            if rehearsal is not None:
                rehearsal.stop()
    print(result.to_text())
    print("(the twin's simulation: docs/twin.md, \"Drills on the twin\")")
    return int(result.exit_code)
