"""`drctl status`: every replication channel and failover control, in one report.

Bounded during an outage: the regions, Route 53 and DNS are probed in parallel (one worker
each), every read is a single attempt with short timeouts (gateways.AwsGateways), and an
endpoint that failed once is skipped for the rest of the run. A hanging region therefore
costs one read timeout, not one per check; progress goes to stderr (the event log).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import contract
from drctl import exitcodes
from drctl.checks import FAIL, ROUTE53_ENDPOINT, UNREACHABLE, Check, Down, guarded, render_table
from drctl.clock import Clock
from drctl.command import Command, no_arguments
from drctl.config import STATUS_REQUIRES, DrConfig, other
from drctl.log import EventLog
from drctl.probes import (
    alarm_check,
    cluster_check,
    ddb_latency_check,
    guarded_dns,
    health_check,
    lag_check,
    latch_check,
    read_global,
    s3_metrics_check,
    s3_rules_check,
    table_check,
    writer_role,
)


@dataclass
class StatusReport:
    checks: list[Check] = field(default_factory=list)
    writer_region: str | None = None
    unreachable: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        states = {c.state for c in self.checks}
        if UNREACHABLE in states:
            return exitcodes.UNREACHABLE
        if FAIL in states:
            return exitcodes.UNHEALTHY
        return exitcodes.OK

    @property
    def overall(self) -> str:
        return {exitcodes.OK: "healthy", exitcodes.UNHEALTHY: "unhealthy",
                exitcodes.UNREACHABLE: "unreachable"}[self.exit_code]

    def as_dict(self) -> dict[str, Any]:
        return {"overall": self.overall, "exit_code": self.exit_code,
                "writer_region": self.writer_region, "unreachable": self.unreachable,
                "checks": [c.as_dict() for c in self.checks]}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, default=str)

    def to_table(self) -> str:
        return render_table(self.checks, title=(
            f"DR status: {self.overall.upper()} (exit {self.exit_code}); "
            f"Aurora writer region: {self.writer_region or 'unknown'}"))


@dataclass
class _RegionView:
    checks: list[Check]
    global_check: Check
    writer: str | None  # writer role as seen from this region (None: unknown)
    s3_rule: str | None = None  # the rule to the other region: its metrics row comes later
    s3_at: int = 0  # where that row goes in `checks`


def region_checks(cfg: DrConfig, gw: Any, role: str, clock: Clock, log: EventLog,
                  down: Down) -> _RegionView:
    """Everything one region can tell, in order; stops calling it after its first failure."""
    region = cfg.region(role)
    g, g_check = read_global(cfg, gw, region, down, log)
    writer = writer_role(cfg, g)
    rows: list[Check] = []

    def add(component: str, name: str, fn: Callable[[], Check]) -> None:
        rows.append(guarded(component, name, region, fn, down, log))

    add("aurora", f"{role} cluster", lambda: cluster_check(cfg, gw, role))
    if writer != role:  # this cluster is a secondary (or unknown): its RPO lag is the one to read
        add("aurora", "replication lag", lambda: lag_check(cfg, gw, role, clock))
    for table in cfg.tables:
        add("dynamodb", f"replica {table}", partial(table_check, cfg, gw, role, table))
    for table in cfg.tables:  # both tables: a lagging idempotency replica re-accepts retries
        name = f"ddb latency {role}->{other(role)}"
        add("dynamodb", name if table == cfg.dynamodb_table_name else f"{name} {table}",
            partial(ddb_latency_check, cfg, gw, role, clock, table))
    holder: dict[str, str | None] = {}

    def rules() -> Check:
        check, holder["rule"] = s3_rules_check(cfg, gw, role)
        return check
    add("s3", f"replication {role}->{other(role)}", rules)
    s3_at = len(rows)
    add("alarms", f"{role} alarms", lambda: alarm_check(cfg, gw, role, writer))
    if other(role) == contract.PRIMARY:
        # Only the primary fails back (it is the PRIMARY record): only the region that
        # watches it, the DR region, keeps a latch (modules/probes.py).
        add("gate", f"failback gate {other(role)}", lambda: latch_check(cfg, gw, other(role), writer))
    log.info("progress", done=f"{role} region", region=region,
             unreachable=region in down, rows=len(rows) + 1)
    return _RegionView(rows, g_check, writer, holder.get("rule"), s3_at)


def s3_metrics_rows(cfg: DrConfig, gw: Any, seen: dict[str, _RegionView], clock: Clock, log: EventLog,
                    down: Down) -> None:
    """S3 metrics of each direction, once both regions have been tried: latency and pending are
    read in the destination's region (where AWS publishes them), so a direction's row calls
    both regions; after the parallel region workers, `down` says which to skip."""
    for role, view in seen.items():
        rule = view.s3_rule
        if rule:
            view.checks.insert(view.s3_at, guarded(
                "s3", f"s3 metrics {role}->{other(role)}", cfg.region(role),
                partial(s3_metrics_check, cfg, gw, role, rule, clock, down=down), down, log))


def route53_checks(cfg: DrConfig, gw: Any, log: EventLog, down: Down) -> list[Check]:
    """Route 53's control plane is in us-east-1: its own endpoint, skipped after one failure."""
    rows = [guarded("route53", f"{role} health check", cfg.region(role),
                    partial(health_check, cfg, gw, role), down, log,
                    endpoint=ROUTE53_ENDPOINT) for role in contract.ROLES]
    log.info("progress", done="route53", unreachable=ROUTE53_ENDPOINT in down)
    return rows


def collect_status(cfg: DrConfig, gw: Any, clock: Clock, log: EventLog) -> StatusReport:
    down = Down()
    log.info("progress", started=[f"{r} region" for r in contract.ROLES] + ["route53"] +
             (["dns"] if cfg.domain_name else []))
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="drctl-status") as pool:
        views = {role: pool.submit(region_checks, cfg, gw, role, clock, log, down)
                 for role in contract.ROLES}
        r53 = pool.submit(route53_checks, cfg, gw, log, down)
        dns = pool.submit(guarded_dns, cfg, gw, log) if cfg.domain_name else None
        seen = {role: f.result() for role, f in views.items()}
        s3_metrics_rows(cfg, gw, seen, clock, log, down)
        route53_rows = r53.result()
        dns_row = dns.result() if dns is not None else None

    report = StatusReport()
    # One global-cluster row: the first region that could read it (primary first).
    readable = [v.global_check for v in seen.values() if v.global_check.state != UNREACHABLE]
    report.checks += readable[:1] or [v.global_check for v in seen.values()]
    writers = {v.writer for v in seen.values() if v.writer}
    writer = next(iter(writers)) if len(writers) == 1 else None
    report.writer_region = cfg.region(writer) if writer else None
    for role in contract.ROLES:
        report.checks += seen[role].checks
    report.checks += route53_rows
    if dns_row is not None:
        report.checks.append(dns_row)
    report.unreachable = down.sorted()

    for c in report.checks:
        log.info("check", check=c.id, region=c.region, state=c.state, detail=c.detail)
    log.info("status_done", overall=report.overall, exit_code=report.exit_code,
             writer_region=report.writer_region, unreachable=report.unreachable)
    return report


COMMAND = Command(
    "status", "report every replication channel, failover control and the failback gate",
    no_arguments, lambda ctx: collect_status(ctx.config, ctx.gw, ctx.clock, ctx.log),
    requires=STATUS_REQUIRES)
