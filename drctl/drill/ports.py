"""The drill's real ports, all over drctl/gateways.py (AWS, DNS, HTTPS): the tests' fake
gateways stand in for every call, and nothing here builds a client of its own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from contract import DR, DRILL_TAG, METRICS_NAMESPACE
from drctl.clock import Clock
from drctl.config import DrConfig
from drctl.drill.models import DrillOptions, DrillPorts, PreflightOutcome, Refused, SwitchoverOutcome
from drctl.gateways import DnsGateway, Unreachable
from drctl.log import EventLog


class GatewayFis:
    """FisPort over the gateways' per-region FIS gateway; the template is found by its tags."""

    def __init__(self, gw: Any):
        self.gw = gw

    def find_template(self, region: str, drill: str, env: str) -> str | None:
        found = [t.id for t in self.gw.fis(region).templates()
                 if t.tags.get(DRILL_TAG) == drill and t.tags.get("Environment", env) == env]
        if len(found) > 1:
            raise Refused(f"{len(found)} FIS templates tagged {DRILL_TAG}={drill} in {region} "
                          f"({', '.join(found)}): remove the stale ones")
        return found[0] if found else None

    def start(self, region: str, template_id: str, tags: dict[str, str]) -> str:
        return str(self.gw.fis(region).start(template_id, tags))

    def state(self, region: str, experiment_id: str) -> tuple[str, str]:
        status, reason = self.gw.fis(region).state(experiment_id)
        return str(status), str(reason)

    def stop(self, region: str, experiment_id: str) -> None:
        self.gw.fis(region).stop(experiment_id)


def metric_points(gw: Any, region: str, metric: str, dimensions: dict[str, str],
                  start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, float]]:
    """One PaymentsDR metric's per-minute maxima in `region`."""
    return [(p.timestamp, p.value)
            for p in gw.metrics(region).series(METRICS_NAMESPACE, metric, dimensions, start, end)]


def resolve_like_a_client(host: str, dns: DnsGateway | None = None) -> frozenset[str]:
    """The addresses the system resolver returns (its cache and TTLs included), or none; bounded
    by DnsGateway's timeout, so a hung resolver cannot stall the drill's watchers (DRCTL_RESOLVE's
    answer for an overridden name: drctl/resolve.py)."""
    try:
        return frozenset((dns or DnsGateway()).addresses(host))
    except (OSError, Unreachable):
        return frozenset()


def default_preflight(cfg: DrConfig, gw: Any, clock: Clock, log: EventLog) -> PreflightOutcome:
    """drctl preflight (drctl/preflight.py): the account checks run before an apply.

    Refuses when the module is absent. PASS, SKIP and WARN let the drill go on; FAIL or
    UNKNOWN (a question left unanswered) stop it. Settings come from the environment, as for
    `drctl preflight` itself, and its clients from the same session and endpoint as the drill's.
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
    clients = pf.Clients(gw.session, endpoint_url=gw.endpoint_url)
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
        fis=GatewayFis(gw),
        healthy=lambda hc: gw.health().status(hc).healthy,
        alarms=lambda region, prefix: {a.name: a.state for a in gw.alarms(region).alarms(prefix)},
        metric=lambda region, name, dims, start, end: metric_points(
            gw, region, name, dims, start, end),
        resolve=lambda host: resolve_like_a_client(host, gw.dns()),
        fetch=lambda url: gw.http(user_agent="drctl-drill").get_json(url),
        preflight=lambda: default_preflight(cfg, gw, clock, log),
        switchover=switchover)
