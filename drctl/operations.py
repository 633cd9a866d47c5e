"""`switchover`, `failback` (planned, no data loss) and `failover` (unplanned, DR region only).

Every operation is safe to re-run: it first reads where the global cluster is, then
* the target is already the writer            -> "already done", post-checks only;
* an operation toward the target is under way -> wait for it, never start a second one;
* otherwise                                   -> pre-checks, then the operation, wait, post-checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from drctl import exitcodes
from drctl.checks import FAIL, OK, UNREACHABLE, Check, guarded
from drctl.clock import Clock
from drctl.config import DrConfig, other
from drctl.gateways import GlobalClusterState, Member, error_code, is_unreachable
from drctl.log import EventLog
from drctl.status import (alarm_check, cluster_check, describe_global, health_check,
                          lag_check, render_table)

REJOIN_HELP = (
    "After an unplanned failover the old primary cluster must rejoin the global database as a "
    "secondary before it can take the writer role back: when its region recovers Aurora adds it "
    "back and resynchronises it (member SynchronizationStatus 'pending-resync' until done); if it "
    "was detached or deleted instead, re-create it as a secondary of the global cluster by "
    "re-applying the infrastructure (cdktf deploy). Re-run `drctl failback` once `drctl status` "
    "shows both clusters as members with the primary replicating.")


@dataclass
class OperationResult:
    operation: str
    outcome: str  # completed | already-done | dry-run | refused | timeout | failed
    exit_code: int
    reasons: list[str] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)  # pre-checks
    post_checks: list[Check] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"operation": self.operation, "outcome": self.outcome, "exit_code": self.exit_code,
                "reasons": self.reasons, "plan": self.plan,
                "pre_checks": [c.as_dict() for c in self.checks],
                "post_checks": [c.as_dict() for c in self.post_checks], "data": self.data}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, default=str)

    def to_text(self) -> str:
        out = [f"{self.operation}: {self.outcome.upper()} (exit {self.exit_code})"]
        if self.reasons:
            out.append("Reasons:")
            out += [f"  - {r}" for r in self.reasons]
        if self.plan:
            out.append("Plan:")
            out += [f"  {i}. {p}" for i, p in enumerate(self.plan, 1)]
        if self.checks:
            out.append(render_table(self.checks, "Pre-checks:"))
        if self.post_checks:
            out.append(render_table(self.post_checks, "Post-checks:"))
        for key in ("possible_data_loss", "next_steps"):
            if self.data.get(key):
                value = self.data[key]
                out.append(f"{key.replace('_', ' ').capitalize()}:")
                out += [f"  - {v}" for v in (value if isinstance(value, list) else [value])]
        return "\n".join(out)


class _Waiter:
    """Polls the global cluster until `target` is the writer and nothing is in progress."""

    def __init__(self, cfg: DrConfig, gw, region: str, clock: Clock, log: EventLog,
                 timeout: float, poll: float):
        self.cfg, self.gw, self.region, self.clock, self.log = cfg, gw, region, clock, log
        self.timeout, self.poll = timeout, poll
        self.started = clock.monotonic()

    def remaining(self) -> float:
        return self.timeout - (self.clock.monotonic() - self.started)

    def until_writer(self, target: Member) -> GlobalClusterState | None:
        while True:
            elapsed = self.clock.monotonic() - self.started
            try:
                g = self.gw.aurora(self.region).global_cluster(self.cfg.global_cluster_id)
            except Exception as error:  # noqa: BLE001 - transient errors are retried until timeout
                if not (is_unreachable(error) or isinstance(error, ClientError)):
                    raise
                self.log.warning("wait_poll_failed", region=self.region, error=str(error),
                                 elapsed_s=round(elapsed, 1))
                g = None
            if g is not None:
                writer = g.writer
                self.log.info("waiting", target=target.arn, global_status=g.status,
                              operation_state=g.failover_status,
                              writer=writer.arn if writer else None, elapsed_s=round(elapsed, 1),
                              timeout_s=self.timeout)
                if writer and writer.arn == target.arn and not g.in_progress and g.status == "available":
                    return g
            if self.remaining() <= 0:
                return None
            self.clock.sleep(min(self.poll, max(self.remaining(), 0.0)))


def _refused(op: str, reasons: list[str], checks: list[Check], log: EventLog, **data) -> OperationResult:
    log.error("refused", operation=op, reasons=reasons)
    return OperationResult(op, "refused", exitcodes.REFUSED, reasons=reasons, checks=checks, data=data)


# -- planned switchover / failback ----------------------------------------------------------------

def planned_switchover(cfg: DrConfig, gw, clock: Clock, log: EventLog, *, to_role: str,
                       dry_run: bool = False, timeout: float = 1800, poll: float = 15,
                       operation: str = "switchover") -> OperationResult:
    from_role = other(to_role)
    target_region, source_region = cfg.region(to_role), cfg.region(from_role)
    target_id = cfg.cluster_id(to_role)
    log.info("start", operation=operation, to_role=to_role, target_cluster=target_id,
             target_region=target_region, dry_run=dry_run)
    down: set[str] = set()

    g, g_check = describe_global(cfg, gw, [target_region, source_region], down, log)
    if g is None:
        code = exitcodes.UNREACHABLE if g_check.state == UNREACHABLE else exitcodes.REFUSED
        return OperationResult(operation, "refused", code, [g_check.detail], checks=[g_check])
    target = g.member(target_id, target_region)
    if target is None:
        reasons = [f"{target_id} ({target_region}) is not a member of global cluster "
                   f"{cfg.global_cluster_id}"]
        if to_role == "primary":
            reasons.append(REJOIN_HELP)
        return _refused(operation, reasons, [g_check], log)
    if cfg.cluster_arn(to_role) and cfg.cluster_arn(to_role) != target.arn:
        return _refused(operation, [f"{to_role}_cluster_arn {cfg.cluster_arn(to_role)} does not match "
                                    f"the member ARN {target.arn}"], [g_check], log)
    writer = g.writer

    def finish(outcome: str, waiter: _Waiter | None = None) -> OperationResult:
        posts = post_checks(cfg, gw, clock, log, to_role, waiter, target)
        code = exitcodes.OK if all(c.ok for c in posts) else exitcodes.UNHEALTHY
        log.info("done", operation=operation, outcome=outcome, exit_code=code)
        return OperationResult(operation, outcome, code, post_checks=posts,
                               data={"writer_region": target_region})

    if writer is not None and writer.arn == target.arn and not g.in_progress:
        log.info("already_done", operation=operation, writer=writer.arn)
        if dry_run:
            return OperationResult(operation, "dry-run", exitcodes.OK,
                                   plan=[f"nothing to do: {target_id} in {target_region} is already the writer"])
        return finish("already-done")

    plan = [f"call rds:SwitchoverGlobalCluster(GlobalClusterIdentifier={cfg.global_cluster_id}, "
            f"TargetDbClusterIdentifier={target.arn}) in {target_region}",
            f"poll describe_global_clusters every {poll:g}s until {target_id} is writer and the "
            f"global cluster is available (timeout {timeout:g}s)",
            f"wait (db_cluster_available) for {cfg.cluster_id(to_role)} and {cfg.cluster_id(from_role)}",
            f"post-checks: writer in {target_region}, both clusters available, "
            f"{to_role} health check healthy"]

    if g.in_progress:
        if g.failover_to == target.arn:
            log.info("resume_wait", operation=operation, state=g.failover_status, target=target.arn)
            if dry_run:
                return OperationResult(operation, "dry-run", exitcodes.OK, plan=[
                    f"a {g.failover_status} toward {target_id} is already under way: would wait for it "
                    "(no new request)"] + plan[1:])
            return _wait_and_finish(cfg, gw, clock, log, operation, target, target_region, timeout,
                                    poll, finish)
        return _refused(operation, [f"another operation is in progress on {cfg.global_cluster_id}: "
                                    f"{g.failover_status} {g.failover_from} -> {g.failover_to}"],
                        [g_check], log)

    checks = [g_check] + pre_checks(cfg, gw, clock, log, g, to_role, down)
    reasons = [f"{c.component} {c.name} ({c.region}): {c.state}: {c.detail}"
               for c in checks if not c.ok]
    if to_role == "primary" and target.sync_status == "pending-resync":
        reasons.append(REJOIN_HELP)
    if reasons:
        result = _refused(operation, reasons, checks, log)
        if dry_run:
            result.plan = plan
        if all(c.state != FAIL for c in checks if not c.ok):
            result.exit_code = exitcodes.UNREACHABLE if any(
                c.state == UNREACHABLE for c in checks) else result.exit_code
        return result
    if dry_run:
        log.info("dry_run", operation=operation, plan=plan)
        return OperationResult(operation, "dry-run", exitcodes.OK, plan=plan, checks=checks)

    log.info("switchover_request", global_cluster=cfg.global_cluster_id, target=target.arn,
             region=target_region)
    try:
        gw.aurora(target_region).switchover(cfg.global_cluster_id, target.arn)
    except ClientError as error:
        # A concurrent/earlier request may have started it: if so, wait on that one.
        again = gw.aurora(target_region).global_cluster(cfg.global_cluster_id)
        if not (again.in_progress and again.failover_to == target.arn):
            log.error("switchover_failed", error=str(error), code=error_code(error))
            return OperationResult(operation, "failed", exitcodes.FAILED,
                                   [f"SwitchoverGlobalCluster failed: {error}"], checks=checks)
        log.info("already_in_progress", error_code=error_code(error))
    result = _wait_and_finish(cfg, gw, clock, log, operation, target, target_region, timeout, poll,
                              finish)
    result.checks = checks
    return result


def _wait_and_finish(cfg, gw, clock, log, operation, target, region, timeout, poll, finish):
    waiter = _Waiter(cfg, gw, region, clock, log, timeout, poll)
    if waiter.until_writer(target) is None:
        log.error("timeout", operation=operation, timeout_s=timeout)
        return OperationResult(operation, "timeout", exitcodes.FAILED, [
            f"{target.cluster_id} did not become the writer within {timeout:g}s; the operation may "
            "still be running: re-run the same command to keep waiting (it will not start another)"])
    return finish("completed", waiter)


def pre_checks(cfg: DrConfig, gw, clock: Clock, log: EventLog, g: GlobalClusterState,
               to_role: str, down: set[str]) -> list[Check]:
    checks = []
    if g.writer is None:
        checks.append(Check("aurora", "writer", "-", FAIL, "global cluster has no single writer"))
    for role in ("primary", "dr"):
        checks.append(guarded("aurora", f"{role} cluster", cfg.region(role),
                              lambda role=role: cluster_check(cfg, gw, role), down, log))
    # the target is the current secondary: its lag is what a switchover must drain
    checks.append(guarded("aurora", "replication lag", cfg.region(to_role),
                          lambda: lag_check(cfg, gw, to_role, clock, missing_state=FAIL), down, log))
    checks.append(guarded("route53", f"{to_role} health check", cfg.region(to_role),
                          lambda: health_check(cfg, gw, to_role), None, log))
    for role in ("primary", "dr"):
        checks.append(guarded("alarms", f"{role} alarms", cfg.region(role),
                              lambda role=role: alarm_check(cfg, gw, role), down, log))
    for c in checks:
        log.info("pre_check", component=c.component, check=c.name, region=c.region, state=c.state,
                 detail=c.detail)
    return checks


def post_checks(cfg: DrConfig, gw, clock: Clock, log: EventLog, to_role: str,
                waiter: _Waiter | None, target: Member) -> list[Check]:
    region = cfg.region(to_role)
    checks: list[Check] = []
    remaining = max(waiter.remaining(), 60) if waiter else 60
    for role in (to_role, other(to_role)):
        def wait_available(role=role) -> Check:
            gw.aurora(cfg.region(role)).wait_cluster_available(cfg.cluster_id(role), remaining)
            return cluster_check(cfg, gw, role)
        checks.append(guarded("aurora", f"{role} cluster", cfg.region(role), wait_available, None, log))

    def writer_check() -> Check:
        g = gw.aurora(region).global_cluster(cfg.global_cluster_id)
        w = g.writer
        old = g.member(cfg.cluster_id(other(to_role)), cfg.region(other(to_role)))
        problems = []
        if not w or w.arn != target.arn:
            problems.append(f"writer is {w.arn if w else 'unknown'}, expected {target.arn}")
        if old is None:
            problems.append(f"{cfg.cluster_id(other(to_role))} is no longer a member")
        elif old.is_writer:
            problems.append(f"{old.cluster_id} is still a writer")
        if g.status != "available":
            problems.append(f"global cluster status {g.status}")
        return Check("aurora", "writer", region, FAIL if problems else OK,
                     "; ".join(problems) or f"{target.cluster_id} ({region}) is the writer, "
                     f"{cfg.cluster_id(other(to_role))} replicates from it")
    checks.append(guarded("aurora", "writer", region, writer_check, None, log))
    checks.append(guarded("route53", f"{to_role} health check", region,
                          lambda: health_check(cfg, gw, to_role), None, log))
    for c in checks:
        log.info("post_check", component=c.component, check=c.name, region=c.region, state=c.state,
                 detail=c.detail)
    return checks


# -- unplanned failover: DR region only -------------------------------------------------------------

def failover(cfg: DrConfig, gw, clock: Clock, log: EventLog, *, confirm_data_loss: bool,
             dry_run: bool = False, timeout: float = 1800, poll: float = 15) -> OperationResult:
    """Promotes the DR cluster with AllowDataLoss. Every call goes to the DR region only."""
    op, region, dr_id = "failover", cfg.dr_region, cfg.dr_cluster_id
    log.info("start", operation=op, target_cluster=dr_id, region=region, dry_run=dry_run,
             confirm_data_loss=confirm_data_loss)
    if not confirm_data_loss and not dry_run:
        return _refused(op, [
            "an unplanned failover can lose the writes not yet replicated to the DR region; "
            "re-run with --confirm-data-loss to proceed (or --dry-run to see the plan and last lag). "
            "If the primary region is healthy use `drctl switchover` (no data loss) instead"], [], log)

    aurora = gw.aurora(region)
    holder: dict[str, GlobalClusterState] = {}

    def read() -> Check:
        holder["g"] = aurora.global_cluster(cfg.global_cluster_id)
        return Check("aurora", "global cluster", region, OK, holder["g"].status)
    read_check = guarded("aurora", "global cluster", region, read, None, log)
    if "g" not in holder:
        code = exitcodes.UNREACHABLE if read_check.state == UNREACHABLE else exitcodes.REFUSED
        log.error("refused", operation=op, reasons=[read_check.detail])
        return OperationResult(op, "refused", code, [read_check.detail], checks=[read_check])
    g = holder["g"]
    target = g.member(dr_id, region)
    if target is None:
        return _refused(op, [f"{dr_id} ({region}) is not a member of global cluster "
                             f"{cfg.global_cluster_id}; nothing to fail over to"], [], log)
    data: dict[str, Any] = {"next_steps": _failover_next_steps(cfg)}

    def finish(outcome: str, waiter: _Waiter | None = None) -> OperationResult:
        posts = []
        remaining = max(waiter.remaining(), 60) if waiter else 60

        def available() -> Check:
            aurora.wait_cluster_available(dr_id, remaining)
            return cluster_check(cfg, gw, "dr")
        posts.append(guarded("aurora", "dr cluster", region, available, None, log))

        def writer_check() -> Check:
            now = aurora.global_cluster(cfg.global_cluster_id)
            ok = now.writer is not None and now.writer.arn == target.arn
            return Check("aurora", "writer", region, OK if ok else FAIL,
                         f"{dr_id} is the writer" if ok else
                         f"writer is {now.writer.arn if now.writer else 'unknown'}")
        posts.append(guarded("aurora", "writer", region, writer_check, None, log))
        for c in posts:
            log.info("post_check", component=c.component, check=c.name, region=c.region,
                     state=c.state, detail=c.detail)
        code = exitcodes.OK if all(c.ok for c in posts) else exitcodes.UNHEALTHY
        log.info("done", operation=op, outcome=outcome, exit_code=code)
        return OperationResult(op, outcome, code, post_checks=posts, data=data)

    if g.writer is not None and g.writer.arn == target.arn and not g.in_progress:
        log.info("already_done", operation=op, writer=target.arn)
        if dry_run:
            return OperationResult(op, "dry-run", exitcodes.OK,
                                   plan=[f"nothing to do: {dr_id} is already the writer"], data=data)
        return finish("already-done")
    if g.in_progress:
        if g.failover_to == target.arn:
            log.info("resume_wait", operation=op, state=g.failover_status)
            if dry_run:
                return OperationResult(op, "dry-run", exitcodes.OK, plan=[
                    f"a {g.failover_status} toward {dr_id} is already under way: would wait for it"])
            return _wait_and_finish(cfg, gw, clock, log, op, target, region, timeout, poll, finish)
        return _refused(op, [f"another operation is in progress: {g.failover_status} "
                             f"{g.failover_from} -> {g.failover_to}"], [], log)

    checks = [guarded("aurora", "dr cluster", region, lambda: cluster_check(cfg, gw, "dr"), None, log)]
    lag = guarded("aurora", "last replication lag", region,
                  lambda: lag_check(cfg, gw, "dr", clock, minutes=180), None, log)
    lag.name = "last replication lag"
    lag.state = OK if lag.state in (OK, FAIL) else lag.state  # informational here: it is the loss estimate
    checks.append(lag)
    lag_ms = lag.data.get("lag_ms")
    data["last_lag_ms"] = lag_ms
    data["last_lag_at"] = lag.data.get("at")
    data["possible_data_loss"] = (
        f"up to ~{lag_ms:.0f} ms of writes committed on the primary before the outage (last "
        f"AuroraGlobalDBReplicationLag {lag_ms:.0f} ms at {lag.data['at']:%Y-%m-%d %H:%M:%S}Z); "
        "lag may have grown after that datapoint" if lag_ms is not None else
        "unknown: no AuroraGlobalDBReplicationLag datapoint in the DR region in the last 3 h")
    log.warning("possible_data_loss", last_lag_ms=lag_ms, at=data["last_lag_at"])
    if cfg.alarm_name_prefix:
        checks.append(guarded("alarms", "dr alarms", region, lambda: alarm_check(cfg, gw, "dr"),
                              None, log))
    if checks[0].state != OK:
        return _refused(op, [f"DR cluster not ready: {checks[0].detail}"], checks, log, **data)

    plan = [f"call rds:FailoverGlobalCluster(GlobalClusterIdentifier={cfg.global_cluster_id}, "
            f"TargetDbClusterIdentifier={target.arn}, AllowDataLoss=True) in {region}",
            f"poll describe_global_clusters in {region} until {dr_id} is the writer (timeout {timeout:g}s)",
            f"wait (db_cluster_available) for {dr_id}",
            f"no API call is made to the primary region ({cfg.primary_region or 'unknown'})"]
    if dry_run:
        return OperationResult(op, "dry-run", exitcodes.OK, plan=plan, checks=checks, data=data)

    log.warning("failover_request", global_cluster=cfg.global_cluster_id, target=target.arn,
                region=region, allow_data_loss=True)
    try:
        aurora.failover(cfg.global_cluster_id, target.arn)
    except ClientError as error:
        again = aurora.global_cluster(cfg.global_cluster_id)
        if not (again.in_progress and again.failover_to == target.arn):
            log.error("failover_failed", error=str(error))
            return OperationResult(op, "failed", exitcodes.FAILED,
                                   [f"FailoverGlobalCluster failed: {error}"], checks=checks, data=data)
    result = _wait_and_finish(cfg, gw, clock, log, op, target, region, timeout, poll, finish)
    result.checks = checks
    result.data = {**data, **result.data}
    return result


def _failover_next_steps(cfg: DrConfig) -> list[str]:
    return [
        "Route 53 already sends API traffic to the SECONDARY (DR) record on its own once the primary "
        "health check fails; nothing to change in DNS",
        f"applications in {cfg.dr_region} write through the DR cluster endpoint "
        f"{cfg.dr_aurora_endpoint or '(dr_aurora_endpoint)'} or the global writer endpoint",
        "run `drctl status` (expect the primary region to show UNREACHABLE until it recovers)",
        "when the primary region is back and its cluster has rejoined as a secondary, "
        "run `drctl failback --dry-run`, then `drctl failback`",
    ]
