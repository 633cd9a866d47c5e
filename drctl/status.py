"""`drctl status`: every replication channel and failover control, in one report."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from drctl import exitcodes
from drctl.checks import FAIL, OK, UNREACHABLE, WARN, Check, guarded
from drctl.clock import Clock
from drctl.config import ROLES, DrConfig, other
from drctl.gateways import GlobalClusterState
from drctl.log import EventLog

LAG_METRIC = ("AWS/RDS", "AuroraGlobalDBReplicationLag")  # milliseconds


@dataclass
class StatusReport:
    checks: list[Check] = field(default_factory=list)
    writer_region: str | None = None

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
                "writer_region": self.writer_region, "checks": [c.as_dict() for c in self.checks]}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, default=str)

    def to_table(self) -> str:
        return render_table(self.checks, title=(
            f"DR status: {self.overall.upper()} (exit {self.exit_code}); "
            f"Aurora writer region: {self.writer_region or 'unknown'}"))


def render_table(checks: list[Check], title: str = "") -> str:
    headers = ("COMPONENT", "CHECK", "REGION", "STATE", "DETAIL")
    rows = [(c.component, c.name, c.region, c.state, c.detail) for c in checks]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers[:-1])]
    lines = [title] if title else []
    fmt = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    lines.append(fmt.format(*headers))
    lines += [fmt.format(*r) for r in rows]
    return "\n".join(lines)


# -- Aurora checks (shared with switchover pre/post-checks) ------------------------------------

def describe_global(cfg: DrConfig, gw, regions: list[str], down: set[str], log: EventLog
                    ) -> tuple[GlobalClusterState | None, Check]:
    """The global cluster as seen from the first reachable region in `regions`."""
    last: Check | None = None
    for region in regions:
        holder: dict[str, GlobalClusterState] = {}

        def read(region=region) -> Check:
            g = gw.aurora(region).global_cluster(cfg.global_cluster_id)
            holder["g"] = g
            return global_cluster_check(cfg, g, region)

        last = guarded("aurora", "global cluster", region, read, down, log)
        if "g" in holder:
            return holder["g"], last
    assert last is not None
    return None, last


def global_cluster_check(cfg: DrConfig, g: GlobalClusterState, seen_from: str) -> Check:
    problems, notes = [], []
    members = {}
    for role in ROLES:
        m = g.member(cfg.cluster_id(role), cfg.region(role))
        members[role] = m
        if m is None:
            problems.append(f"{cfg.cluster_id(role)} ({cfg.region(role)}) is not a member")
        elif not m.is_writer and m.sync_status == "pending-resync":
            problems.append(f"{cfg.cluster_id(role)} is pending resync (not replicating yet)")
    writer = g.writer
    if writer is None:
        problems.append("no single writer cluster")
    if g.in_progress:
        notes.append(f"{g.failover_status} in progress: {g.failover_from} -> {g.failover_to}")
    elif g.status != "available":
        problems.append(f"status {g.status}")
    writer_role = cfg.role_of_region(writer.region) if writer else None
    detail = (f"status {g.status}; writer {writer.cluster_id} ({writer.region})" if writer
              else f"status {g.status}; writer unknown")
    if writer_role == "dr":
        notes.append("writer is in the DR region")
    detail = "; ".join([detail, *problems, *notes])
    state = FAIL if problems else (WARN if notes else OK)
    return Check("aurora", "global cluster", seen_from, state, detail, {
        "status": g.status, "writer_region": writer.region if writer else None,
        "writer_role": writer_role, "members": [m.__dict__ | {"region": m.region} for m in g.members],
        "failover_state": g.failover_status, "failover_to": g.failover_to})


def cluster_check(cfg: DrConfig, gw, role: str) -> Check:
    c = gw.aurora(cfg.region(role)).cluster(cfg.cluster_id(role))
    state = OK if c.status == "available" else FAIL
    return Check("aurora", f"{role} cluster", cfg.region(role), state,
                 f"{c.identifier}: {c.status}", {"status": c.status, "arn": c.arn})


def lag_check(cfg: DrConfig, gw, secondary_role: str, clock: Clock, *, missing_state: str = WARN,
              minutes: int = 15) -> Check:
    region, cluster = cfg.region(secondary_role), cfg.cluster_id(secondary_role)
    point = gw.metrics(region).latest(*LAG_METRIC, {"DBClusterIdentifier": cluster},
                                      statistic="Maximum", minutes=minutes, now=clock.now())
    threshold = cfg.replication_lag_threshold_seconds
    limit_ms = threshold * 1000 if threshold else float("inf")
    if point is None:
        return Check("aurora", "replication lag", region, missing_state,
                     f"no AuroraGlobalDBReplicationLag datapoint for {cluster} in the last {minutes} min",
                     {"lag_ms": None, "threshold_ms": limit_ms if threshold else None})
    state = OK if point.value <= limit_ms else FAIL
    limit_text = f" (threshold {limit_ms:.0f} ms)" if threshold else ""
    return Check("aurora", "replication lag", region, state,
                 f"{point.value:.0f} ms into {cluster}{limit_text} at {point.timestamp:%H:%M:%S}Z",
                 {"lag_ms": point.value, "threshold_ms": limit_ms if threshold else None,
                  "at": point.timestamp})


def health_check(cfg: DrConfig, gw, role: str) -> Check:
    h = gw.health().status(cfg.health_check_id(role))
    return Check("route53", f"{role} health check", cfg.region(role), OK if h.healthy else FAIL,
                 f"{'healthy' if h.healthy else 'UNHEALTHY'}: {h.success}/{h.total} checkers report Success",
                 {"healthy": h.healthy, "success": h.success, "total": h.total})


def alarm_check(cfg: DrConfig, gw, role: str) -> Check:
    alarms = gw.alarms(cfg.region(role)).alarms(cfg.alarm_name_prefix)
    firing = sorted(a.name for a in alarms if a.state == "ALARM")
    insufficient = sum(1 for a in alarms if a.state == "INSUFFICIENT_DATA")
    detail = f"{len(alarms)} alarms with prefix {cfg.alarm_name_prefix!r}"
    if firing:
        detail += f"; in ALARM: {', '.join(firing)}"
    if insufficient:
        detail += f"; {insufficient} INSUFFICIENT_DATA"
    state = FAIL if firing else (OK if alarms else WARN)
    if not alarms:
        detail += " (none found: wrong prefix?)"
    return Check("alarms", f"{role} alarms", cfg.region(role), state, detail,
                 {"in_alarm": firing, "total": len(alarms)})


# -- DynamoDB / S3 ------------------------------------------------------------------------------

def table_check(cfg: DrConfig, gw, role: str, table: str) -> Check:
    region, peer = cfg.region(role), cfg.region(other(role))
    t = gw.dynamo(region).table(table)
    problems = []
    if t.status != "ACTIVE":
        problems.append(f"table {t.status}")
    replica = t.replicas.get(peer)
    if replica is None:
        problems.append(f"no replica in {peer}")
    elif replica != "ACTIVE":
        problems.append(f"replica in {peer} is {replica}")
    detail = f"{table}: {t.status}, replica {peer}: {replica or 'missing'}"
    return Check("dynamodb", f"replica {table}", region, FAIL if problems else OK,
                 detail if not problems else f"{table}: " + "; ".join(problems),
                 {"table_status": t.status, "replicas": dict(t.replicas)})


def ddb_latency_check(cfg: DrConfig, gw, role: str, clock: Clock) -> Check:
    region, peer, table = cfg.region(role), cfg.region(other(role)), cfg.dynamodb_table_name
    point = gw.metrics(region).latest("AWS/DynamoDB", "ReplicationLatency",
                                      {"TableName": table, "ReceivingRegion": peer},
                                      statistic="Maximum", now=clock.now())
    name = f"ddb latency {role}->{other(role)}"
    limit_ms = cfg.dynamodb_latency_threshold_seconds * 1000
    if point is None:
        return Check("dynamodb", name, region, WARN,
                     f"no ReplicationLatency datapoint for {table} -> {peer} (no recent writes?)")
    return Check("dynamodb", name, region, OK if point.value <= limit_ms else FAIL,
                 f"{point.value:.0f} ms (threshold {limit_ms:.0f} ms)", {"latency_ms": point.value})


def s3_rules_check(cfg: DrConfig, gw, role: str) -> tuple[Check, str | None]:
    region, bucket, dest = cfg.region(role), cfg.bucket(role), cfg.bucket(other(role))
    rules = gw.s3(region).replication_rules(bucket)
    to_dest = [r for r in rules if r.destination_bucket == dest]
    good = [r for r in to_dest if r.status == "Enabled" and r.rtc_enabled and r.metrics_enabled]
    if good:
        return Check("s3", f"replication {role}->{other(role)}", region, OK,
                     f"{bucket} -> {dest}: rule {good[0].rule_id} enabled, RTC on, metrics on",
                     {"rule_id": good[0].rule_id}), good[0].rule_id
    if not rules:
        why = "no replication configuration"
    elif not to_dest:
        why = f"no rule replicates to {dest}"
    else:
        r = to_dest[0]
        why = ", ".join(p for p, bad in (("rule disabled", r.status != "Enabled"),
                                         ("Replication Time Control off", not r.rtc_enabled),
                                         ("replication metrics off", not r.metrics_enabled)) if bad)
    return Check("s3", f"replication {role}->{other(role)}", region, FAIL, f"{bucket}: {why}"), (
        to_dest[0].rule_id if to_dest else None)


def s3_metrics_check(cfg: DrConfig, gw, role: str, rule_id: str, clock: Clock) -> Check:
    region = cfg.region(role)
    dims = {"SourceBucket": cfg.bucket(role), "DestinationBucket": cfg.bucket(other(role)),
            "RuleId": rule_id}
    m = gw.metrics(region)
    latency = m.latest("AWS/S3", "ReplicationLatency", dims, statistic="Maximum", minutes=60,
                       now=clock.now())
    failed = m.latest("AWS/S3", "OperationsFailedReplication", dims, statistic="Sum", minutes=60,
                      now=clock.now())
    problems, parts = [], []
    limit = cfg.s3_latency_threshold_seconds
    if latency is None:
        parts.append("latency: no data")
    else:
        parts.append(f"latency {latency.value:.0f} s")
        if latency.value > limit:
            problems.append(f"latency {latency.value:.0f} s over {limit:.0f} s (RTC)")
    if failed is None:
        parts.append("failed ops: no data")
    else:
        parts.append(f"failed ops {failed.value:.0f}")
        if failed.value > 0:
            problems.append(f"{failed.value:.0f} operations failed replication")
    state = FAIL if problems else (WARN if latency is None and failed is None else OK)
    return Check("s3", f"s3 metrics {role}->{other(role)}", region, state,
                 "; ".join(problems or parts),
                 {"latency_s": latency.value if latency else None,
                  "failed_operations": failed.value if failed else None})


# -- the report ---------------------------------------------------------------------------------

def collect_status(cfg: DrConfig, gw, clock: Clock, log: EventLog) -> StatusReport:
    down: set[str] = set()
    report = StatusReport()
    add = report.checks.append

    g, g_check = describe_global(cfg, gw, [cfg.primary_region, cfg.dr_region], down, log)
    add(g_check)
    writer_role = g_check.data.get("writer_role") if g else None
    report.writer_region = cfg.region(writer_role) if writer_role else None
    for role in ROLES:
        add(guarded("aurora", f"{role} cluster", cfg.region(role),
                    lambda role=role: cluster_check(cfg, gw, role), down, log))
    secondary = other(writer_role) if writer_role else "dr"
    add(guarded("aurora", "replication lag", cfg.region(secondary),
                lambda: lag_check(cfg, gw, secondary, clock), down, log))

    for role in ROLES:
        for table in cfg.tables:
            add(guarded("dynamodb", f"replica {table}", cfg.region(role),
                        lambda role=role, table=table: table_check(cfg, gw, role, table), down, log))
        add(guarded("dynamodb", f"ddb latency {role}->{other(role)}", cfg.region(role),
                    lambda role=role: ddb_latency_check(cfg, gw, role, clock), down, log))

    for role in ROLES:
        holder: dict[str, str | None] = {}

        def rules(role=role) -> Check:
            check, holder["rule"] = s3_rules_check(cfg, gw, role)
            return check

        add(guarded("s3", f"replication {role}->{other(role)}", cfg.region(role), rules, down, log))
        if holder.get("rule"):
            add(guarded("s3", f"s3 metrics {role}->{other(role)}", cfg.region(role),
                        lambda role=role: s3_metrics_check(cfg, gw, role, holder["rule"], clock),
                        down, log))

    for role in ROLES:  # Route 53 is global: not skipped when a region is down
        add(guarded("route53", f"{role} health check", cfg.region(role),
                    lambda role=role: health_check(cfg, gw, role), None, log))
    for role in ROLES:
        add(guarded("alarms", f"{role} alarms", cfg.region(role),
                    lambda role=role: alarm_check(cfg, gw, role), down, log))

    for c in report.checks:
        log.info("check", component=c.component, check=c.name, region=c.region, state=c.state,
                 detail=c.detail)
    log.info("status_done", overall=report.overall, exit_code=report.exit_code,
             writer_region=report.writer_region, unreachable_regions=sorted(down))
    return report
