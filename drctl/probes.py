"""Probes: read one fact from AWS and judge it into a `Check` row.

Used by `status` (the report) and by the operations' pre- and post-checks, so operations do
not depend on the report module. Thresholds and alarm names come from `contract.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import contract
from drctl.checks import FAIL, OK, WARN, Check, Down, guarded
from drctl.clock import Clock
from drctl.config import DrConfig, other
from drctl.gateways import Datapoint, GlobalClusterState, Latch, is_unreachable
from drctl.log import EventLog

# AWS documents AuroraGlobalDBRPOLag (milliseconds, published by each SECONDARY cluster) as
# the recovery point metric of Aurora PostgreSQL global databases; the writer publishes none.
RPO_LAG_METRIC = (contract.AURORA_RPO_LAG.namespace, contract.AURORA_RPO_LAG.name)
RPO_LAG_NAME = RPO_LAG_METRIC[1]
STALE_AFTER_S = contract.FAILBACK_EVIDENCE_MAX_AGE_S  # older says little about the lag now


# -- Aurora ------------------------------------------------------------------------------------

def describe_global(cfg: DrConfig, gw: Any, regions: list[str], down: Down, log: EventLog
                    ) -> tuple[GlobalClusterState | None, Check]:
    """The global cluster as seen from the first reachable region in `regions`."""
    last: Check | None = None
    for region in regions:
        g, last = read_global(cfg, gw, region, down, log)
        if g is not None:
            return g, last
    assert last is not None
    return None, last


def read_global(cfg: DrConfig, gw: Any, region: str, down: Down | None, log: EventLog | None
                ) -> tuple[GlobalClusterState | None, Check]:
    holder: dict[str, GlobalClusterState] = {}

    def read() -> Check:
        g = gw.aurora(region).global_cluster(cfg.global_cluster_id)
        holder["g"] = g
        return global_cluster_check(cfg, g, region)

    check = guarded("aurora", "global cluster", region, read, down, log)
    return holder.get("g"), check


def writer_role(cfg: DrConfig, g: GlobalClusterState | None) -> str | None:
    return cfg.role_of_region(g.writer.region) if g is not None and g.writer else None


def global_cluster_check(cfg: DrConfig, g: GlobalClusterState, seen_from: str) -> Check:
    problems, notes = [], []
    for role in contract.ROLES:
        m = g.member(cfg.cluster_id(role), cfg.region(role))
        if m is None:
            problems.append(f"{cfg.cluster_id(role)} ({cfg.region(role)}) is not a member")
        elif not m.is_writer and m.sync_status == "pending-resync":
            problems.append(f"{cfg.cluster_id(role)} is pending resync (not replicating yet)")
    writer = g.writer
    if writer is None:
        problems.append("no single writer cluster")
    if g.in_progress:
        kind = "failover" if g.data_loss_allowed else "switchover"
        notes.append(f"{kind} {g.failover_status} in progress: {g.failover_from} -> {g.failover_to}")
    elif g.status != "available":
        problems.append(f"status {g.status}")
    w_role = cfg.role_of_region(writer.region) if writer else None
    detail = (f"status {g.status}; writer {writer.cluster_id} ({writer.region})" if writer
              else f"status {g.status}; writer unknown")
    if w_role == contract.DR:
        notes.append("writer is in the DR region")
    detail = "; ".join([detail, *problems, *notes])
    state = FAIL if problems else (WARN if notes else OK)
    return Check("aurora", "global cluster", seen_from, state, detail, {
        "status": g.status, "writer_region": writer.region if writer else None,
        "writer_role": w_role, "members": [m.__dict__ | {"region": m.region} for m in g.members],
        "failover_state": g.failover_status, "failover_to": g.failover_to})


def cluster_check(cfg: DrConfig, gw: Any, role: str) -> Check:
    c = gw.aurora(cfg.region(role)).cluster(cfg.cluster_id(role))
    state = OK if c.status == "available" else FAIL
    return Check("aurora", f"{role} cluster", cfg.region(role), state,
                 f"{c.identifier}: {c.status}", {"status": c.status, "arn": c.arn})


def lag_check(cfg: DrConfig, gw: Any, secondary_role: str, clock: Clock, *,
              missing_state: str = WARN, minutes: int = 15, max_age_s: float = STALE_AFTER_S
              ) -> Check:
    """AuroraGlobalDBRPOLag of the SECONDARY cluster, with the datapoint's age.

    A missing or stale (older than `max_age_s`) datapoint gets `missing_state`: pre-checks
    pass FAIL (no evidence the secondary caught up), status WARN."""
    region, cluster = cfg.region(secondary_role), cfg.cluster_id(secondary_role)
    now = clock.now()
    point = gw.metrics(region).latest(*RPO_LAG_METRIC, contract.AURORA_RPO_LAG.dims(cluster),
                                      statistic=contract.AURORA_RPO_LAG.statistic, minutes=minutes, now=now)
    threshold = cfg.replication_lag_threshold_seconds
    limit_ms = threshold * 1000 if threshold else None
    if point is None:
        return Check("aurora", "replication lag", region, missing_state,
                     f"no {RPO_LAG_NAME} datapoint for {cluster} in the last {minutes} min",
                     {"lag_ms": None, "threshold_ms": limit_ms, "age_s": None, "at": None})
    age = max(0.0, (now - point.timestamp).total_seconds())
    data = {"lag_ms": point.value, "threshold_ms": limit_ms, "at": point.timestamp,
            "age_s": round(age, 1)}
    limit_text = f" (threshold {limit_ms:.0f} ms)" if limit_ms is not None else ""
    detail = (f"{RPO_LAG_NAME} {point.value:.0f} ms into {cluster}{limit_text} at "
              f"{point.timestamp:%H:%M:%S}Z ({age:.0f} s ago)")
    if limit_ms is not None and point.value > limit_ms:
        return Check("aurora", "replication lag", region, FAIL, detail, data)
    if age > max_age_s:
        return Check("aurora", "replication lag", region, missing_state,
                     f"{detail}: older than {max_age_s:.0f} s, says little about the lag now", data)
    return Check("aurora", "replication lag", region, OK, detail, data)


# -- Route 53 and DNS --------------------------------------------------------------------------

def health_check(cfg: DrConfig, gw: Any, role: str) -> Check:
    h = gw.health().status(cfg.health_check_id(role))
    share = f"{h.success}/{h.total} checkers report Success"
    rule = f"healthy above {contract.ROUTE53_HEALTHY_CHECKER_FRACTION:.0%} (Route 53's rule)"
    return Check("route53", f"{role} health check", cfg.region(role), OK if h.healthy else FAIL,
                 f"{'healthy' if h.healthy else 'UNHEALTHY'}: {share}; {rule}",
                 {"healthy": h.healthy, "success": h.success, "total": h.total})


def hold_armed(cfg: DrConfig, gw: Any) -> bool:
    """Whether the failback hold (lambda/ops/hold.py) is armed, read where the primary's
    /health reads it (the primary region's transactions table)."""
    item = gw.dynamo(cfg.region(contract.PRIMARY)).get_item(
        cfg.dynamodb_table_name or "", {"transactionId": contract.FAILBACK_HOLD_ID, "timestamp": 0})
    state = (item or {}).get("state", {})
    return isinstance(state, dict) and state.get("S") == contract.FAILBACK_HOLD_ARMED


def held_health_check(cfg: DrConfig, gw: Any, clock: Any, *, max_age_s: float) -> Check:
    """The primary's health check while the failback hold is armed: Route 53 sees the 503 the
    hold causes, so the evidence that the primary is otherwise healthy is the DR probe's
    `GET /probe` of it (the same deep check; /probe ignores the hold): PeerHealthy, fresh, 1.
    Missing or stale evidence FAILs."""
    check = health_check(cfg, gw, contract.PRIMARY)
    if check.state == OK:
        return check
    region = cfg.region(contract.DR)
    spec = contract.PEER_HEALTHY  # what the DR probe publishes and its alarm reads
    point = gw.metrics(region).latest(spec.namespace, spec.name, spec.dims(contract.PRIMARY),
                                      statistic=spec.statistic, now=clock.now())
    data = dict(check.data or {}) | {"held": True}
    if point is None:
        return Check("route53", check.name, check.region, FAIL,
                     f"{check.detail}; the failback hold is armed, and the DR probe published no "
                     "PeerHealthy for the primary in 15 min: no evidence the primary is healthy", data)
    age = _age_s(clock, point)
    detail = (f"{check.detail}, because the failback hold is armed (this command clears it last); "
              f"the DR probe's GET /probe of the primary: PeerHealthy {point.value:.0f} at "
              f"{point.timestamp:%H:%M:%S}Z ({age:.0f} s ago)")
    state = OK if point.value >= 1 and age <= max_age_s else FAIL
    return Check("route53", check.name, check.region, state, detail, data | {"peer_healthy": point.value})


def dns_check(cfg: DrConfig, gw: Any) -> Check:
    """What DNS answers for the custom domain, and which region's API host that matches.

    Informational (OK/WARN): the answer comes from the local resolver (cached up to the
    record's TTL), and an alias to a regional custom-domain endpoint may resolve to other
    addresses than the execute-api host it fronts."""
    domain = cfg.domain_name or ""
    dns = gw.dns()
    answer = dns.addresses(domain)
    matches = []
    for role in contract.ROLES:
        host = cfg.api_host(role)
        if host:
            try:
                if set(dns.addresses(host)) & set(answer):
                    matches.append(role)
            except OSError:
                continue
    where = (f"serves the {' and '.join(matches)} API" if matches else
             "matches neither region's API host")
    return Check("dns", "domain answer", "-", OK if len(matches) == 1 else WARN,
                 f"{domain} -> {', '.join(answer) or 'no address'}: {where}",
                 {"domain": domain, "addresses": answer, "serving_roles": matches})


def guarded_dns(cfg: DrConfig, gw: Any, log: EventLog) -> Check:
    try:
        return dns_check(cfg, gw)
    except OSError as error:  # NXDOMAIN, no resolver
        check = Check("dns", "domain answer", "-", WARN, f"{cfg.domain_name}: no answer ({error})")
    except Exception as error:
        check = Check("dns", "domain answer", "-", WARN, f"{cfg.domain_name}: {error}")
    log.warning("check_error", component="dns", check="domain answer", detail=check.detail)
    return check


# -- alarms: judged by the current roles -----------------------------------------------------

def alarm_verdict(cfg: DrConfig, name: str, writer: str | None, *, failback_to: str | None = None,
                  held: bool = False) -> tuple[str, str]:
    """("fail" | "expected" | "ignored", why) for one alarm in ALARM.

    * the RPO-lag alarm of the current writer: ignored (a writer publishes no RPO lag; the
      alarm treats missing data as not breaching, but a stale state must not block anything);
    * the failback gate `failback-blocked-{role}`: expected while the latch is blocked
      (`drctl failback` is what opens it);
    * anything else: a failure."""
    names = cfg.names
    if held and failback_to == contract.PRIMARY and name == names.alarm(contract.ALARM_HEALTH_CHECK,
                                                                         contract.PRIMARY):
        return "ignored", (f"{name}: the failback hold keeps the primary's /health at 503 until "
                           "this command clears it (its deep check: the 'primary health check' row)")
    if writer is not None and name == names.alarm(contract.ALARM_AURORA_RPO_LAG, writer):
        return "ignored", f"{name}: the writer ({writer}) publishes no RPO lag"
    for peer in contract.ROLES:
        if name == names.failback_gate_alarm(peer):
            if failback_to == peer:
                return "ignored", f"{name}: failback opens this gate"
            return "expected", f"{name}: failback gate of the {peer} region closed"
    return "fail", name


def alarm_check(cfg: DrConfig, gw: Any, role: str, writer: str | None, *,
                failback_to: str | None = None, insufficient_state: str = WARN,
                held: bool = False) -> Check:
    """Alarms of `role`'s region judged by the current roles. An alarm in INSUFFICIENT_DATA
    (never evaluated, or its metric stopped: the alarms here treat missing data explicitly)
    gets `insufficient_state` unless it is not applicable: failback passes FAIL, since such
    an alarm cannot say whether what it watches is fine."""
    alarms = gw.alarms(cfg.region(role)).alarms(cfg.alarm_name_prefix)
    verdicts = {a.name: alarm_verdict(cfg, a.name, writer, failback_to=failback_to, held=held)
                for a in alarms if a.state == "ALARM"}
    firing = sorted(n for n, (v, _) in verdicts.items() if v == "fail")
    expected = sorted(why for v, why in verdicts.values() if v == "expected")
    ignored = sorted(why for v, why in verdicts.values() if v == "ignored")
    insufficient = sorted(a.name for a in alarms if a.state == "INSUFFICIENT_DATA"
                          and alarm_verdict(cfg, a.name, writer, failback_to=failback_to,
                                            held=held)[0] == "fail")
    parts = [f"{len(alarms)} alarms with prefix {cfg.alarm_name_prefix!r}"]
    if firing:
        parts.append(f"in ALARM: {', '.join(firing)}")
    if insufficient:
        parts.append(f"INSUFFICIENT_DATA (no evidence either way): {', '.join(insufficient)}")
    if expected:
        parts.append(f"expected: {'; '.join(expected)}")
    if ignored:
        parts.append(f"not applicable: {'; '.join(ignored)}")
    if not alarms:
        parts.append("none found: wrong prefix?")
    state = FAIL if firing else (insufficient_state if insufficient and insufficient_state != OK else
                                 (WARN if expected or not alarms else OK))
    return Check("alarms", f"{role} alarms", cfg.region(role), state, "; ".join(parts),
                 {"in_alarm": firing, "expected": expected, "ignored": ignored,
                  "insufficient_data": insufficient, "total": len(alarms)})


def alarm_state(gw: Any, region: str, name: str) -> str | None:
    """State of one alarm (None when it does not exist)."""
    for a in gw.alarms(region).alarms(name):
        if a.name == name:
            return str(a.state)
    return None


# -- the failback latch --------------------------------------------------------------------------

def latch_name(cfg: DrConfig, peer: str) -> str:
    return cfg.names.failback_parameter(peer)


def read_latch(cfg: DrConfig, gw: Any, peer: str) -> Latch | None:
    """The latch for `peer`, held in the region that watches it (the other region)."""
    return gw.parameters(cfg.region(other(peer))).latch(latch_name(cfg, peer))  # type: ignore[no-any-return]


def latch_check(cfg: DrConfig, gw: Any, peer: str, writer: str | None) -> Check:
    region, name = cfg.region(other(peer)), latch_name(cfg, peer)
    latch = read_latch(cfg, gw, peer)
    row = f"failback gate {peer}"
    if latch is None:
        return Check("gate", row, region, WARN, f"no parameter {name} in {region} (gate not deployed?)")
    data = {"parameter": name, "state": latch.state, "since": latch.since, "by": latch.by,
            "reason": latch.reason}
    audit = f"since {latch.since or '?'} by {latch.by or '?'}" + (f": {latch.reason}" if latch.reason else "")
    if latch.state == contract.FAILBACK_OPEN:
        return Check("gate", row, region, OK, f"open ({audit})", data)
    if latch.state == contract.FAILBACK_BLOCKED:
        if writer == peer:
            return Check("gate", row, region, FAIL,
                         f"BLOCKED ({audit}) while the {peer} cluster is the Aurora writer: Route 53 "
                         f"keeps traffic away from the writer's region; run `drctl failback`", data)
        return Check("gate", row, region, WARN,
                     f"BLOCKED ({audit}): Route 53 keeps traffic off the {peer} region until "
                     "`drctl failback` opens it", data)
    return Check("gate", row, region, FAIL, f"unknown state {latch.state!r} in {name}", data)


# -- DynamoDB / S3 --------------------------------------------------------------------------------

def table_check(cfg: DrConfig, gw: Any, role: str, table: str) -> Check:
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


def _age_s(clock: Clock, point: Datapoint) -> float:
    return max(0.0, (clock.now() - point.timestamp).total_seconds())


def ddb_latency_check(cfg: DrConfig, gw: Any, role: str, clock: Clock, table: str | None = None, *,
                      missing_state: str = WARN, max_age_s: float | None = None) -> Check:
    """ReplicationLatency from `role`'s region to the other, against the alarm's threshold.

    No datapoint, or one older than `max_age_s`, gets `missing_state` (failback: FAIL)."""
    table = table or cfg.dynamodb_table_name
    region, peer = cfg.region(role), cfg.region(other(role))
    spec = contract.DYNAMODB_REPLICATION_LATENCY  # the alarm's statistic (issue 23: was Maximum)
    point = gw.metrics(region).latest(spec.namespace, spec.name, spec.dims(table or "", peer),
                                      statistic=spec.statistic, now=clock.now())
    name = f"ddb latency {role}->{other(role)}"
    if table != cfg.dynamodb_table_name:
        name += f" {table}"
    limit_ms = cfg.dynamodb_latency_threshold_seconds * 1000
    if point is None:
        return Check("dynamodb", name, region, missing_state,
                     f"no ReplicationLatency datapoint for {table} -> {peer} in the last 15 min: "
                     "no evidence that writes accepted here reached the other region",
                     {"latency_ms": None, "age_s": None})
    age = _age_s(clock, point)
    detail = (f"{table}: {point.value:.0f} ms (threshold {limit_ms:.0f} ms) at "
              f"{point.timestamp:%H:%M:%S}Z ({age:.0f} s ago)")
    data = {"latency_ms": point.value, "age_s": round(age, 1)}
    if point.value > limit_ms:
        return Check("dynamodb", name, region, FAIL, detail, data)
    if max_age_s is not None and age > max_age_s:
        return Check("dynamodb", name, region, missing_state,
                     f"{detail}: older than {max_age_s:.0f} s, no evidence about the writes since", data)
    return Check("dynamodb", name, region, OK, detail, data)


def s3_rules_check(cfg: DrConfig, gw: Any, role: str) -> tuple[Check, str | None]:
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


def s3_metrics_check(cfg: DrConfig, gw: Any, role: str, rule_id: str, clock: Clock, *,
                     missing_state: str | None = None, max_age_s: float | None = None,
                     latency_limit_s: float | None = None, down: Down | None = None) -> Check:
    """Latency against `latency_limit_s` (default: the RTC threshold), failed and pending
    operations (newest datapoint of the last hour).

    With `missing_state` (failback: FAIL), no latency or failed-operations datapoint, or one
    older than `max_age_s`, gets that state: without them nothing shows that DR's objects reach
    the other region in bounded time and none failed. Pending operations are reported, never a
    refusal: while the source takes writes some are always pending; the latency bounds them.

    Latency and pending are read in the destination's region (where AWS publishes them):
    with that region unreachable (or in `down`) they are missing, and the detail says why."""
    region, dest_region = cfg.region(role), cfg.region(other(role))
    dims: Mapping[str, str] = contract.S3_REPLICATION_LATENCY.dims(cfg.bucket(role), cfg.bucket(other(role)), rule_id)
    # AWS publishes latency and pending operations in the destination bucket's Region, failed
    # operations in the source's (contract.s3_metric_region).
    unreadable: list[str] = []

    def read(spec: contract.MetricSpec) -> Datapoint | None:
        where = contract.s3_metric_region(spec, source=region, destination=dest_region)
        if where != region and down is not None and where in down:
            unreadable.append(where)
            return None
        try:
            point: Datapoint | None = gw.metrics(where).latest(
                spec.namespace, spec.name, dims, statistic=spec.statistic, minutes=60, now=clock.now())
            return point
        except Exception as error:
            # An unreachable source region is the caller's (guarded) concern: the whole row.
            if where == region or not is_unreachable(error):
                raise
            if down is not None:
                down.add(where)
            unreadable.append(where)
            return None
    latency, failed, pending = (read(spec) for spec in (
        contract.S3_REPLICATION_LATENCY, contract.S3_REPLICATION_FAILED, contract.S3_REPLICATION_PENDING))
    problems, parts = [], []
    limit = cfg.s3_latency_threshold_seconds if latency_limit_s is None else latency_limit_s
    limit_name = "RTC" if latency_limit_s is None else "failback bound"
    if latency is None:
        parts.append(f"latency ({dest_region}): " + ("unreachable" if unreadable else "no data"))
    else:
        parts.append(f"latency {latency.value:.0f} s in {dest_region}")
        if latency.value > limit:
            problems.append(f"latency {latency.value:.0f} s over {limit:.0f} s ({limit_name}), "
                            f"read in {dest_region}")
    if failed is None:
        parts.append(f"failed ops ({region}): no data")
    else:
        parts.append(f"failed ops {failed.value:.0f}")
        if failed.value > 0:
            problems.append(f"{failed.value:.0f} operations failed replication, read in {region}")
    if pending is not None:
        parts.append(f"pending ops {pending.value:.0f}")
    state = FAIL if problems else (WARN if latency is None and failed is None else OK)
    age = failed_age = None
    if latency is not None:
        age = _age_s(clock, latency)
        parts[0] += f" at {latency.timestamp:%H:%M:%S}Z ({age:.0f} s ago)"
    if failed is not None:
        failed_age = _age_s(clock, failed)
    if not problems and missing_state is not None:
        gaps = []
        if latency is None:
            gaps.append(f"no ReplicationLatency datapoint in {dest_region} (the destination's "
                        f"Region{', unreachable' if unreadable else ''}) in the last hour: no "
                        "evidence that objects written here reach the other region")
        elif max_age_s is not None and age is not None and age > max_age_s:
            gaps.append(f"newest ReplicationLatency datapoint in {dest_region} is {age:.0f} s old (over "
                        f"{max_age_s:.0f} s): no evidence about the objects written since")
        if failed is None:
            gaps.append(f"no OperationsFailedReplication datapoint in {region} (the source's "
                        "Region) in the last hour: no evidence that none failed")
        elif max_age_s is not None and failed_age is not None and failed_age > max_age_s:
            gaps.append(f"newest OperationsFailedReplication datapoint in {region} is {failed_age:.0f} s old "
                        f"(over {max_age_s:.0f} s): no evidence about failures since")
        if gaps:
            state = missing_state
            parts[:0] = gaps
    return Check("s3", f"s3 metrics {role}->{other(role)}", region, state,
                 "; ".join(problems or parts),
                 {"latency_s": latency.value if latency else None, "age_s": age,
                  "latency_limit_s": limit,
                  "failed_operations": failed.value if failed else None,
                  "failed_age_s": failed_age,
                  "pending_operations": pending.value if pending else None,
                  "latency_region": dest_region, "failed_region": region})
