"""`switchover`, `failback` (planned, no data loss) and `failover` (unplanned, DR region only).

Each operation reads like the runbook: named steps (read, check, confirm, act, wait, verify).
Every operation is safe to re-run: it first reads where the global cluster is, then
* the target is already the writer            -> "already done", post-checks only;
* an operation toward the target is under way -> wait for it, never start a second one;
* otherwise                                   -> pre-checks, confirmation, the request, wait,
                                                 post-checks.
A state-changing request is sent once; a lost response is resolved by re-reading the state,
and when that cannot tell, the outcome is "unknown" (exit 6): re-run the same command.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

import contract
from drctl import exitcodes
from drctl.checks import FAIL, OK, OVERRIDDEN, UNREACHABLE, WARN, Check, Down, guarded, render_table
from drctl.clock import Clock
from drctl.command import Command, Context
from drctl.config import FAILBACK_REQUIRES, FAILOVER_REQUIRES, SWITCHOVER_REQUIRES, DrConfig, other
from drctl.gateways import GlobalClusterState, Latch, Member, error_code, is_unreachable
from drctl.log import EventLog
from drctl.probes import (
    RPO_LAG_NAME,
    alarm_check,
    alarm_state,
    cluster_check,
    ddb_latency_check,
    describe_global,
    health_check,
    held_health_check,
    hold_armed,
    lag_check,
    latch_name,
    s3_metrics_check,
    s3_rules_check,
    table_check,
)

REJOIN_HELP = (
    "After an unplanned failover the old primary cluster must rejoin the global database as a "
    "secondary before it can take the writer role back: when its region recovers Aurora adds it "
    "back and resynchronises it (member SynchronizationStatus 'pending-resync' until done). If "
    "it was detached instead, it cannot simply be re-applied: run `drctl rejoin` for the "
    "procedure (preserve lost writes, delete the detached cluster, re-create it as a secondary "
    "without master user or database name), then re-run `drctl failback`.")

Confirm = Callable[[str], bool]
GATE_CLEAR_NOTE = "about 1-2 minutes: gate alarm evaluation plus Route 53 health checking"


@dataclass(frozen=True)
class Overrides:
    """`--override CHECK --reason TEXT`: failed pre-checks the operator accepts, audited."""
    checks: tuple[str, ...] = ()
    reason: str = ""
    by: str = ""

    def apply(self, op: str, checks: list[Check], log: EventLog) -> tuple[list[dict[str, str]], list[str]]:
        """Marks overridden failed checks OVERRIDDEN; returns (applied, problems)."""
        applied: list[dict[str, str]] = []
        problems: list[str] = []
        known = {c.id: c for c in checks}
        for check_id in self.checks:
            c = known.get(check_id)
            if c is None:
                problems.append(f"--override {check_id} matches no pre-check of {op} (pre-checks: "
                                f"{', '.join(sorted(known))}); nothing was overridden")
                continue
            if c.ok:
                log.info("override_not_needed", check=check_id, state=c.state)
                continue
            entry = {"check": check_id, "was": c.state, "detail": c.detail, "reason": self.reason,
                     "by": self.by}
            c.data["overridden"] = entry
            c.state, c.detail = OVERRIDDEN, f"{c.detail} [OVERRIDDEN by {self.by}: {self.reason}]"
            log.warning("override", operation=op, **entry)
            applied.append(entry)
        return applied, problems


@dataclass
class OperationResult:
    operation: str
    outcome: str  # completed | already-done | dry-run | refused | timeout | failed | unknown
    exit_code: int
    reasons: list[str] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)  # pre-checks
    post_checks: list[Check] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    overrides: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"operation": self.operation, "outcome": self.outcome, "exit_code": self.exit_code,
                "reasons": self.reasons, "plan": self.plan, "overrides": self.overrides,
                "pre_checks": [c.as_dict() for c in self.checks],
                "post_checks": [c.as_dict() for c in self.post_checks], "data": self.data}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, default=str)

    def to_text(self) -> str:
        out = [f"{self.operation}: {self.outcome.upper()} (exit {self.exit_code})"]
        if self.reasons:
            out.append("Reasons:")
            out += [f"  - {r}" for r in self.reasons]
        if self.overrides:
            out.append("Overrides (audited):")
            out += [f"  - {o['check']} (was {o['was']}) by {o['by']}: {o['reason']}" for o in self.overrides]
        if self.plan:
            out.append("Plan:")
            out += [f"  {i}. {p}" for i, p in enumerate(self.plan, 1)]
        if self.checks:
            out.append(render_table(self.checks, "Pre-checks:"))
        if self.post_checks:
            out.append(render_table(self.post_checks, "Post-checks:"))
        for key in ("possible_data_loss", "primary_reachability", "gate", "next_steps"):
            if self.data.get(key):
                value = self.data[key]
                out.append(f"{key.replace('_', ' ').capitalize()}:")
                out += [f"  - {v}" for v in (value if isinstance(value, list) else [value])]
        return "\n".join(out)


class _Waiter:
    """Polls the global cluster until `target` is the writer and nothing is in progress."""

    def __init__(self, cfg: DrConfig, gw: Any, region: str, clock: Clock, log: EventLog,
                 timeout: float, poll: float):
        self.cfg, self.gw, self.region, self.clock, self.log = cfg, gw, region, clock, log
        self.timeout, self.poll = timeout, poll
        self.started = clock.monotonic()

    def remaining(self) -> float:
        return self.timeout - (self.clock.monotonic() - self.started)

    def until(self, done: Callable[[GlobalClusterState], bool], target: Member
              ) -> GlobalClusterState | None:
        while True:
            elapsed = self.clock.monotonic() - self.started
            g = self._read(elapsed)
            if g is not None:
                writer = g.writer
                self.log.info("waiting", target=target.arn, global_status=g.status,
                              operation_state=g.failover_status,
                              writer=writer.arn if writer else None, elapsed_s=round(elapsed, 1),
                              timeout_s=self.timeout)
                if done(g):
                    return g
            if self.remaining() <= 0:
                return None
            self.clock.sleep(min(self.poll, max(self.remaining(), 0.0)))

    def until_writer(self, target: Member) -> GlobalClusterState | None:
        return self.until(lambda g: _is_writer(g, target) and g.status == "available", target)

    def _read(self, elapsed: float) -> GlobalClusterState | None:
        try:
            return self.gw.aurora(self.region).global_cluster(self.cfg.global_cluster_id)  # type: ignore[no-any-return]
        except Exception as error:
            if not (is_unreachable(error) or isinstance(error, ClientError)):
                raise
            self.log.warning("wait_poll_failed", region=self.region, error=str(error),
                             elapsed_s=round(elapsed, 1))
            return None


def _is_writer(g: GlobalClusterState, target: Member) -> bool:
    return g.writer is not None and g.writer.arn == target.arn and not g.in_progress


def _toward(g: GlobalClusterState, target: Member) -> bool:
    return g.in_progress and g.failover_to == target.arn


def _refused(op: str, reasons: list[str], checks: list[Check], log: EventLog, **data: Any) -> OperationResult:
    log.error("refused", operation=op, reasons=reasons)
    return OperationResult(op, "refused", exitcodes.REFUSED, reasons=reasons, checks=checks, data=data)


def _now_iso(clock: Clock) -> str:
    return clock.now().astimezone(_dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# -- steps shared by every operation ----------------------------------------------------------------

def send_once(op: str, api: str, region: str, request: Callable[[], None],
              reread: Callable[[], GlobalClusterState], target: Member, clock: Clock,
              log: EventLog, poll: float, *, failover_only: bool = False) -> tuple[str, str]:
    """Sends a state-changing request once. Returns (outcome, detail):
    "sent" | "in-progress" (already under way or done, e.g. after a lost response) |
    "failed" (AWS said no) | "unknown" (no response, and the re-read could not tell)."""
    try:
        request()
        return "sent", ""
    except ClientError as error:
        cause, lost = f"{error_code(error)}: {error}", False
    except Exception as error:
        if not is_unreachable(error):
            raise
        cause, lost = f"no response ({error})", True
        log.error("request_outcome_unknown", operation=op, api=api, region=region, error=str(error))
    seen = "not readable"
    for attempt in range(3):  # AWS may take a moment to show the operation
        try:
            g = reread()
        except Exception as error:
            if not (is_unreachable(error) or isinstance(error, ClientError)):
                raise
            seen = f"re-read failed: {error}"
        else:
            under_way = _toward(g, target) and (g.data_loss_allowed or not failover_only)
            if under_way or _is_writer(g, target):
                log.info("already_in_progress" if not lost else "request_took_effect", operation=op,
                         api=api, state=g.failover_status, writer=g.writer.arn if g.writer else None)
                return "in-progress", cause
            seen = (f"global cluster {g.status}, writer "
                    f"{g.writer.cluster_id if g.writer else 'unknown'}, no operation toward "
                    f"{target.cluster_id}")
        if not lost:
            break
        if attempt < 2:
            clock.sleep(min(poll, 10))
    if not lost:
        return "failed", cause
    return "unknown", (f"{api} was sent to {region} but no response came back ({cause}); re-read: "
                       f"{seen}. The request may still take effect. Re-run the same command: it "
                       "reads the state first and waits for an operation under way instead of "
                       "sending another")


def ask(confirm: Confirm | None, question: str, op: str, log: EventLog) -> OperationResult | None:
    """Refusal unless the operator confirms (interactively, or with --yes)."""
    if confirm is not None and confirm(question):
        log.info("confirmed", operation=op, question=question)
        return None
    return _refused(op, [f"not confirmed: {question} Answer 'yes' at the prompt, or pass --yes "
                         "(required when not on a terminal)"], [], log)


def set_gate(cfg: DrConfig, gw: Any, clock: Clock, log: EventLog, peer: str, state: str,
             by: str, reason: str) -> Check:
    """Writes the failback latch for `peer` in the region that watches it (never `peer`'s)."""
    region, name = cfg.region(other(peer)), latch_name(cfg, peer)

    def write() -> Check:
        current = gw.parameters(region).latch(name)
        if current is not None and current.state == state:
            return Check("gate", f"failback gate {peer}", region, OK,
                         f"{name} already {state} (since {current.since} by {current.by})",
                         {"parameter": name, "state": state, "unchanged": True})
        latch = Latch(state=state, since=_now_iso(clock), by=by, reason=reason,
                      extra=current.extra if current is not None else {})
        gw.parameters(region).set_latch(name, latch)
        log.warning("gate_set", parameter=name, region=region, state=state, by=by, reason=reason)
        return Check("gate", f"failback gate {peer}", region, OK, f"{name} set to {state} by {by}",
                     {"parameter": name, "state": state, "since": latch.since})
    return guarded("gate", f"failback gate {peer}", region, write, None, log)


def clear_hold(cfg: DrConfig, gw: Any, clock: Clock, log: EventLog, by: str, reason: str) -> Check:
    """Clears the failback hold (lambda/ops/hold.py) in the primary region's transactions table,
    the replica the primary's /health reads. Called only after the replication evidence passed."""
    region, table = cfg.region(contract.PRIMARY), cfg.dynamodb_table_name or ""

    def write() -> Check:
        gw.dynamo(region).put_item(table, {
            "transactionId": contract.FAILBACK_HOLD_ID, "timestamp": 0, "state": contract.FAILBACK_HOLD_CLEARED,
            "clearedAt": int(clock.now().timestamp()), "clearedBy": by, "reason": reason})
        log.warning("hold_cleared", table=table, region=region, by=by)
        return Check("gate", "failback hold", region, OK,
                     f"{contract.FAILBACK_HOLD_ID} in {table} cleared by {by}: the primary's /health "
                     "answers healthy again", {"table": table, "state": contract.FAILBACK_HOLD_CLEARED})
    return guarded("gate", "failback hold", region, write, None, log)


def operator_identity(gw: Any, region: str, operator: str, log: EventLog) -> str:
    """`operator` plus the IAM principal (regional STS), for the audit trail."""
    try:
        principal = gw.identity(region).caller_arn()
    except Exception as error:
        log.warning("identity_unknown", region=region, error=str(error))
        return operator
    return f"{operator} ({principal})"


# -- planned switchover / failback ----------------------------------------------------------------

def planned_switchover(cfg: DrConfig, gw: Any, clock: Clock, log: EventLog, *, to_role: str,
                       dry_run: bool = False, timeout: float = 1800, poll: float = 15,
                       operation: str = "switchover", confirm: Confirm | None = None,
                       overrides: Overrides = Overrides(), operator: str = "drctl") -> OperationResult:
    """Moves the writer to `to_role` with rds:SwitchoverGlobalCluster (no data loss).

    As `failback` (to the primary) it also requires DynamoDB and S3 to have caught up from DR
    and, once the primary writes, opens the failback gate so Route 53 returns traffic."""
    failback = operation == "failback"
    target_region, source_region = cfg.region(to_role), cfg.region(other(to_role))
    log.info("start", operation=operation, to_role=to_role, target_cluster=cfg.cluster_id(to_role),
             target_region=target_region, dry_run=dry_run)
    down = Down()

    g, g_check = describe_global(cfg, gw, [target_region, source_region], down, log)
    if g is None:
        code = exitcodes.UNREACHABLE if g_check.state == UNREACHABLE else exitcodes.REFUSED
        return OperationResult(operation, "refused", code, [g_check.detail], checks=[g_check])
    target, refusal = _switchover_target(cfg, g, g_check, to_role, operation, log)
    if refusal is not None:
        return refusal
    assert target is not None

    audit: dict[str, str] = {}

    def finish(outcome: str, waiter: _Waiter | None = None) -> OperationResult:
        evidence: list[Check] = []
        if failback and "reason" not in audit:
            # No pre-checks ran in this invocation (a re-run after the writer moved, or one
            # that waited for a switchover under way): the gate opens only on fresh evidence.
            evidence = replication_evidence(cfg, gw, clock, log, other(to_role), down)
            applied, refusal = judge_pre_checks(operation, evidence, overrides, log)
            if refusal is not None:
                refusal.reasons.insert(0, f"{target.cluster_id} is the writer; the failback gate "
                                          "stays closed until replication from DR is shown")
                return refusal
            audit["reason"] = failback_audit(to_role, evidence, applied, _now_iso(clock))
        result = finish_switchover(cfg, gw, clock, log, operation, to_role, target, outcome, waiter,
                                   open_gate=failback, operator=operator,
                                   reason=audit.get("reason", overrides.reason))
        result.checks = evidence + result.checks
        return result

    if _is_writer(g, target):
        log.info("already_done", operation=operation, writer=target.arn)
        if dry_run:
            return OperationResult(operation, "dry-run", exitcodes.OK, plan=[
                f"nothing to switch: {target.cluster_id} in {target_region} is already the writer"]
                + (["check replication from DR, then open the failback gate (if still blocked)"]
                   if failback else []))
        return finish("already-done")

    plan = switchover_plan(cfg, to_role, target, poll, timeout, failback)
    if g.in_progress:
        if _toward(g, target):
            log.info("resume_wait", operation=operation, state=g.failover_status, target=target.arn)
            if dry_run:
                return OperationResult(operation, "dry-run", exitcodes.OK, plan=[
                    f"a {g.failover_status} toward {target.cluster_id} is already under way: would wait "
                    "for it (no new request)"] + plan[1:])
            return wait_and_finish(cfg, gw, clock, log, operation, target, target_region, timeout,
                                   poll, finish)
        return _refused(operation, [f"another operation is in progress on {cfg.global_cluster_id}: "
                                    f"{g.failover_status} {g.failover_from} -> {g.failover_to}"],
                        [g_check], log)

    checks = [g_check] + pre_checks(cfg, gw, clock, log, g, to_role, down, failback=failback)
    extra = [REJOIN_HELP] if to_role == contract.PRIMARY and target.sync_status == "pending-resync" else []
    applied, refusal = judge_pre_checks(operation, checks, overrides, log, extra)
    if refusal is not None:
        refusal.plan = plan if dry_run else []
        return refusal
    if failback:
        audit["reason"] = failback_audit(to_role, checks, applied, _now_iso(clock))
    if dry_run:
        log.info("dry_run", operation=operation, plan=plan)
        return OperationResult(operation, "dry-run", exitcodes.OK, plan=plan, checks=checks,
                               overrides=applied)
    refusal = ask(confirm, f"{operation}: move the Aurora writer to {target.cluster_id} "
                  f"({target_region})? Writes pause for about a minute.", operation, log)
    if refusal is not None:
        refusal.checks, refusal.overrides = checks, applied
        return refusal

    result = request_switchover(cfg, gw, clock, log, operation, target, target_region, timeout,
                                poll, finish)
    result.checks, result.overrides = checks, applied
    return result


def judge_pre_checks(op: str, checks: list[Check], overrides: Overrides, log: EventLog,
                     extra: list[str] | None = None, **data: Any
                     ) -> tuple[list[dict[str, str]], OperationResult | None]:
    """Applies the overrides; a refusal listing every failed check (exit 3 when all of them
    failed only because a region could not be reached), or None to proceed."""
    applied, problems = overrides.apply(op, checks, log)
    failed = [c for c in checks if not c.ok]
    reasons = problems + [f"{c.id} ({c.region}): {c.state}: {c.detail}" for c in failed] + (extra or [])
    if not reasons:
        return applied, None
    result = _refused(op, reasons + [
        "to proceed anyway after review: --override CHECK --reason TEXT (audited)"], checks, log, **data)
    result.overrides = applied
    if failed and not problems and not extra and all(c.state == UNREACHABLE for c in failed):
        result.exit_code = exitcodes.UNREACHABLE
    return applied, result


def finish_switchover(cfg: DrConfig, gw: Any, clock: Clock, log: EventLog, operation: str,
                      to_role: str, target: Member, outcome: str, waiter: _Waiter | None, *,
                      open_gate: bool, operator: str, reason: str) -> OperationResult:
    """Post-checks; for failback, then opens the gate (the primary writes again)."""
    # Failback with the hold armed: Route 53 sees the hold's 503 until the hold is cleared
    # below, so the primary is judged by the DR probe's deep check, as in the pre-checks.
    held = open_gate and to_role == contract.PRIMARY and _hold_armed(cfg, gw, log)
    posts = post_checks(cfg, gw, log, to_role, waiter, target, health=(
        (lambda: held_health_check(cfg, gw, clock, max_age_s=contract.FAILBACK_EVIDENCE_MAX_AGE_S))
        if held else None))
    data: dict[str, Any] = {"writer_region": cfg.region(to_role)}
    if open_gate:
        watcher = cfg.region(other(to_role))
        by = operator_identity(gw, watcher, operator, log)
        posts.append(set_gate(cfg, gw, clock, log, to_role, contract.FAILBACK_OPEN, by, reason))
        if to_role == contract.PRIMARY:
            posts.append(clear_hold(cfg, gw, clock, log, by, reason))
        data["gate"] = (f"failback gate {latch_name(cfg, to_role)} ({watcher}) open: Route 53 "
                        f"returns traffic to the {to_role} region once the alarm "
                        f"{cfg.names.failback_gate_alarm(to_role)} ({watcher}) clears, "
                        f"{GATE_CLEAR_NOTE}; watch with `drctl status`")
        if to_role == contract.PRIMARY:
            data["gate"] += ("; failback hold cleared: the primary's /health answers healthy again "
                             "(Route 53 needs its failure-threshold of healthy checks)")
    code = exitcodes.OK if all(c.ok for c in posts) else exitcodes.UNHEALTHY
    log.info("done", operation=operation, outcome=outcome, exit_code=code)
    return OperationResult(operation, outcome, code, post_checks=posts, data=data)


def _switchover_target(cfg: DrConfig, g: GlobalClusterState, g_check: Check, to_role: str,
                       operation: str, log: EventLog) -> tuple[Member | None, OperationResult | None]:
    target_id, target_region = cfg.cluster_id(to_role), cfg.region(to_role)
    target = g.member(target_id, target_region)
    if target is None:
        reasons = [f"{target_id} ({target_region}) is not a member of global cluster "
                   f"{cfg.global_cluster_id}"]
        if to_role == contract.PRIMARY:
            reasons.append(REJOIN_HELP)
        return None, _refused(operation, reasons, [g_check], log)
    arn = cfg.cluster_arn(to_role)
    if arn and arn != target.arn:
        return None, _refused(operation, [f"{to_role}_cluster_arn {arn} does not match the member "
                                          f"ARN {target.arn}"], [g_check], log)
    return target, None


def switchover_plan(cfg: DrConfig, to_role: str, target: Member, poll: float, timeout: float,
                    failback: bool) -> list[str]:
    region = cfg.region(to_role)
    plan = [f"ask for confirmation (or --yes), then call rds:SwitchoverGlobalCluster("
            f"GlobalClusterIdentifier={cfg.global_cluster_id}, TargetDbClusterIdentifier={target.arn}) "
            f"in {region}, once",
            f"poll describe_global_clusters every {poll:g}s until {target.cluster_id} is writer and the "
            f"global cluster is available (timeout {timeout:g}s)",
            f"wait (db_cluster_available) for {cfg.cluster_id(to_role)} and {cfg.cluster_id(other(to_role))}",
            f"post-checks: writer in {region}, both clusters available, {to_role} health check healthy"]
    if failback:
        plan.append(f"open the failback gate: ssm:PutParameter {latch_name(cfg, to_role)} = "
                    f"{{\"state\": \"{contract.FAILBACK_OPEN}\", ...}} in {cfg.region(other(to_role))}; "
                    f"Route 53 returns traffic to {region} when the gate alarm clears ({GATE_CLEAR_NOTE})")
        if to_role == contract.PRIMARY:
            plan.append(f"clear the failback hold: dynamodb:PutItem {contract.FAILBACK_HOLD_ID} "
                        f"(state {contract.FAILBACK_HOLD_CLEARED}) in {cfg.dynamodb_table_name} ({region}); "
                        "the primary's /health then answers healthy")
    return plan


def request_switchover(cfg: DrConfig, gw: Any, clock: Clock, log: EventLog, operation: str,
                       target: Member, region: str, timeout: float, poll: float,
                       finish: Callable[[str, _Waiter | None], OperationResult]) -> OperationResult:
    log.info("switchover_request", global_cluster=cfg.global_cluster_id, target=target.arn, region=region)
    aurora = gw.aurora(region)
    outcome, detail = send_once(
        operation, "SwitchoverGlobalCluster", region,
        lambda: aurora.switchover(cfg.global_cluster_id, target.arn),
        lambda: aurora.global_cluster(cfg.global_cluster_id), target, clock, log, poll)
    if outcome == "failed":
        log.error("switchover_failed", error=detail)
        return OperationResult(operation, "failed", exitcodes.FAILED,
                               [f"SwitchoverGlobalCluster failed: {detail}"])
    if outcome == "unknown":
        return OperationResult(operation, "unknown", exitcodes.UNKNOWN, [detail])
    return wait_and_finish(cfg, gw, clock, log, operation, target, region, timeout, poll, finish)


def wait_and_finish(cfg: DrConfig, gw: Any, clock: Clock, log: EventLog, operation: str,
                    target: Member, region: str, timeout: float, poll: float,
                    finish: Callable[[str, _Waiter | None], OperationResult]) -> OperationResult:
    waiter = _Waiter(cfg, gw, region, clock, log, timeout, poll)
    if waiter.until_writer(target) is None:
        log.error("timeout", operation=operation, timeout_s=timeout)
        return OperationResult(operation, "timeout", exitcodes.FAILED, [
            f"{target.cluster_id} did not become the writer within {timeout:g}s; the operation may "
            "still be running: re-run the same command to keep waiting (it will not start another)"])
    return finish("completed", waiter)


def pre_checks(cfg: DrConfig, gw: Any, clock: Clock, log: EventLog, g: GlobalClusterState,
               to_role: str, down: Down, *, failback: bool = False) -> list[Check]:
    """What must hold before the writer moves to `to_role` (the current secondary)."""
    source = other(to_role)
    checks = []
    if g.writer is None:
        checks.append(Check("aurora", "writer", "-", FAIL, "global cluster has no single writer"))
    writer = cfg.role_of_region(g.writer.region) if g.writer else None
    for role in contract.ROLES:
        checks.append(guarded("aurora", f"{role} cluster", cfg.region(role),
                              partial(cluster_check, cfg, gw, role), down, log))
    # the target is the current secondary: its RPO lag is what a switchover must drain
    max_age = contract.FAILBACK_EVIDENCE_MAX_AGE_S
    checks.append(guarded("aurora", "replication lag", cfg.region(to_role),
                          lambda: lag_check(cfg, gw, to_role, clock, missing_state=FAIL,
                                            max_age_s=max_age), down, log))
    # Failback after DR took payments through the failover name: the hold keeps the primary's
    # /health (so its Route 53 check and alarm) unhealthy until this command clears it.
    held = failback and to_role == contract.PRIMARY and _hold_armed(cfg, gw, log)
    checks.append(guarded("route53", f"{to_role} health check", cfg.region(to_role),
                          (lambda: held_health_check(cfg, gw, clock, max_age_s=max_age)) if held else
                          (lambda: health_check(cfg, gw, to_role)), None, log))
    if failback:  # writes accepted in DR while it served must have reached the primary
        checks += replication_evidence(cfg, gw, clock, log, source, down)
    for role in contract.ROLES:
        checks.append(guarded("alarms", f"{role} alarms", cfg.region(role),
                              partial(alarm_check, cfg, gw, role, writer,
                                      failback_to=to_role if failback else None,
                                      insufficient_state=FAIL if failback else WARN, held=held),
                              down, log))
    for c in checks:
        log.info("pre_check", check=c.id, region=c.region, state=c.state, detail=c.detail)
    return checks


def _hold_armed(cfg: DrConfig, gw: Any, log: EventLog) -> bool:
    """Whether the failback hold is armed; an unreadable hold counts as not armed, so the
    primary's health check is judged as Route 53 sees it (and a held primary FAILs)."""
    try:
        return hold_armed(cfg, gw)
    except Exception as error:  # as `guarded` turns any error into a row: unknown is not armed
        log.warning("hold_unreadable", region=cfg.region(contract.PRIMARY), error=str(error))
        return False


def replication_evidence(cfg: DrConfig, gw: Any, clock: Clock, log: EventLog, source: str,
                         down: Down) -> list[Check]:
    """DynamoDB (both tables) and S3 replication from `source` to the other region, from fresh
    datapoints only (contract.FAILBACK_EVIDENCE_MAX_AGE_S): missing or stale evidence FAILs."""
    region, to_role = cfg.region(source), other(source)
    checks = []
    for table in cfg.tables:
        checks.append(guarded("dynamodb", f"replica {table}", region,
                              partial(table_check, cfg, gw, source, table), down, log))
        name = f"ddb latency {source}->{to_role} {table}"

        def latency(table: str = table, name: str = name) -> Check:
            return _named(ddb_latency_check(cfg, gw, source, clock, table, missing_state=FAIL,
                                            max_age_s=contract.FAILBACK_EVIDENCE_MAX_AGE_S), name)
        checks.append(guarded("dynamodb", name, region, latency, down, log))
    return checks + _s3_caught_up(cfg, gw, clock, log, source, down)


def failback_audit(to_role: str, checks: list[Check], applied: list[dict[str, str]], at: str) -> str:
    """What the latch records when failback opens it: what was checked, not a conclusion."""
    evidence = [c.id for c in checks if c.state == OK and (
        c.name == "replication lag" or c.name.startswith(("ddb latency", "s3 metrics")))]
    text = (f"drctl failback at {at}: {to_role} is the writer; replication evidence passed: "
            f"{', '.join(evidence) or 'none'}")
    if applied:
        text += "; OVERRIDDEN: " + "; ".join(f"{o['check']} ({o['was']}): {o['reason']}" for o in applied)
    return text


def _named(check: Check, name: str) -> Check:
    check.name = name
    return check


def _s3_caught_up(cfg: DrConfig, gw: Any, clock: Clock, log: EventLog, source: str,
                  down: Down) -> list[Check]:
    region = cfg.region(source)
    holder: dict[str, str | None] = {}

    def rules() -> Check:
        check, holder["rule"] = s3_rules_check(cfg, gw, source)
        return check
    checks = [guarded("s3", f"replication {source}->{other(source)}", region, rules, down, log)]
    rule = holder.get("rule")
    if rule:
        def metrics() -> Check:
            # OperationsPendingReplication is not a refusal: while DR takes payments its receipts
            # are always in flight; a fresh, young latency bounds them (contract).
            return s3_metrics_check(cfg, gw, source, rule, clock, missing_state=FAIL,
                                    max_age_s=contract.FAILBACK_EVIDENCE_MAX_AGE_S,
                                    latency_limit_s=contract.S3_FAILBACK_LATENCY_MAX_S, down=down)
        checks.append(guarded("s3", f"s3 metrics {source}->{other(source)}", region, metrics, down, log))
    return checks


def post_checks(cfg: DrConfig, gw: Any, log: EventLog, to_role: str, waiter: _Waiter | None,
                target: Member, health: Callable[[], Check] | None = None) -> list[Check]:
    region = cfg.region(to_role)
    checks: list[Check] = []
    remaining = max(waiter.remaining(), 60) if waiter else 60
    for role in (to_role, other(to_role)):
        def wait_available(role: str = role) -> Check:
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
                          health or (lambda: health_check(cfg, gw, to_role)), None, log))
    for c in checks:
        log.info("post_check", check=c.id, region=c.region, state=c.state, detail=c.detail)
    return checks


# -- unplanned failover: DR region only -------------------------------------------------------------

def failover(cfg: DrConfig, gw: Any, clock: Clock, log: EventLog, *, confirm_data_loss: bool,
             dry_run: bool = False, timeout: float = 1800, poll: float = 15,
             overrides: Overrides = Overrides(), operator: str = "drctl",
             escalate_after: float = 120) -> OperationResult:
    """Promotes the DR cluster with AllowDataLoss. Every call goes to the DR region only."""
    op, region, dr_id = "failover", cfg.region(contract.DR), cfg.cluster_id(contract.DR)
    log.info("start", operation=op, target_cluster=dr_id, region=region, dry_run=dry_run,
             confirm_data_loss=confirm_data_loss)
    if not confirm_data_loss and not dry_run:
        return _refused(op, [
            "an unplanned failover can lose the writes not yet replicated to the DR region; "
            "re-run with --confirm-data-loss to proceed (or --dry-run to see the plan and last lag). "
            "If the primary region is healthy use `drctl switchover` (no data loss) instead"], [], log)

    g, read_check = _read_from(cfg, gw, region, log)
    if g is None:
        code = exitcodes.UNREACHABLE if read_check.state == UNREACHABLE else exitcodes.REFUSED
        log.error("refused", operation=op, reasons=[read_check.detail])
        return OperationResult(op, "refused", code, [read_check.detail], checks=[read_check])
    target = g.member(dr_id, region)
    if target is None:
        return _refused(op, [f"{dr_id} ({region}) is not a member of global cluster "
                             f"{cfg.global_cluster_id}; nothing to fail over to"], [], log)
    data: dict[str, Any] = {"next_steps": failover_next_steps(cfg)}
    by = operator

    def finish(outcome: str, waiter: _Waiter | None = None) -> OperationResult:
        posts = failover_post_checks(cfg, gw, log, target, waiter)
        if not dry_run:
            posts.append(close_gate(cfg, gw, clock, log, by, overrides.reason))
        code = exitcodes.OK if all(c.ok for c in posts) else exitcodes.UNHEALTHY
        log.info("done", operation=op, outcome=outcome, exit_code=code)
        return OperationResult(op, outcome, code, post_checks=posts, data=data)

    if _is_writer(g, target):
        log.info("already_done", operation=op, writer=target.arn)
        if dry_run:
            return OperationResult(op, "dry-run", exitcodes.OK,
                                   plan=[f"nothing to do: {dr_id} is already the writer"], data=data)
        by = operator_identity(gw, region, operator, log)
        return finish("already-done")
    if g.in_progress:
        return _in_progress(cfg, gw, clock, log, g, target, data, finish, dry_run=dry_run,
                            timeout=timeout, poll=poll, escalate_after=escalate_after)

    checks = failover_pre_checks(cfg, gw, clock, log, data)
    plan = failover_plan(cfg, target, timeout)
    applied, refusal = judge_pre_checks(op, checks, overrides, log, **data)
    if refusal is not None:
        refusal.plan = plan if dry_run else []
        return refusal
    if dry_run:
        return OperationResult(op, "dry-run", exitcodes.OK, plan=plan, checks=checks, data=data,
                               overrides=applied)

    by = operator_identity(gw, region, operator, log)
    gate = close_gate(cfg, gw, clock, log, by, overrides.reason)
    result = request_failover(cfg, gw, clock, log, target, timeout, poll, finish)
    result.checks, result.overrides = checks + [gate], applied
    result.data = {**data, **result.data}
    return result


def _read_from(cfg: DrConfig, gw: Any, region: str, log: EventLog
               ) -> tuple[GlobalClusterState | None, Check]:
    holder: dict[str, GlobalClusterState] = {}

    def read() -> Check:
        holder["g"] = gw.aurora(region).global_cluster(cfg.global_cluster_id)
        return Check("aurora", "global cluster", region, OK, holder["g"].status)
    check = guarded("aurora", "global cluster", region, read, None, log)
    return holder.get("g"), check


def _in_progress(cfg: DrConfig, gw: Any, clock: Clock, log: EventLog, g: GlobalClusterState,
                 target: Member, data: dict[str, Any],
                 finish: Callable[[str, _Waiter | None], OperationResult], *, dry_run: bool,
                 timeout: float, poll: float, escalate_after: float) -> OperationResult:
    """An operation is under way: a failover toward DR is waited on; a SWITCHOVER toward DR
    (the primary died during it) is given `escalate_after` seconds, then escalated to a
    failover; anything else refuses."""
    op, region = "failover", cfg.region(contract.DR)
    if not _toward(g, target):
        return _refused(op, [f"another operation is in progress: {g.failover_status} "
                             f"{g.failover_from} -> {g.failover_to}"], [], log)
    if g.data_loss_allowed is not False:
        log.info("resume_wait", operation=op, state=g.failover_status)
        if dry_run:
            return OperationResult(op, "dry-run", exitcodes.OK, plan=[
                f"a failover ({g.failover_status}) toward {target.cluster_id} is already under way: "
                "would wait for it"], data=data)
        return wait_and_finish(cfg, gw, clock, log, op, target, region, timeout, poll, finish)
    plan = [f"a switchover toward {target.cluster_id} is under way ({g.failover_status}); wait up to "
            f"{escalate_after:g}s for it to finish, then escalate: rds:FailoverGlobalCluster("
            f"AllowDataLoss=True) in {region}"]
    if dry_run:
        return OperationResult(op, "dry-run", exitcodes.OK, plan=plan, data=data)
    log.warning("switchover_in_progress", state=g.failover_status, escalate_after_s=escalate_after)
    waiter = _Waiter(cfg, gw, region, clock, log, escalate_after, min(poll, escalate_after))
    if waiter.until_writer(target) is not None:
        return finish("completed", waiter)
    log.warning("escalate", reason=f"switchover toward {target.cluster_id} not finished after "
                f"{escalate_after:g}s (primary unreachable?): failing over with data loss allowed")
    data["escalated"] = (f"switchover stuck for {escalate_after:g}s; escalated to a failover "
                         "(AllowDataLoss): writes not yet replicated may be lost")
    return request_failover(cfg, gw, clock, log, target, timeout, poll, finish, escalation=True)


def failover_pre_checks(cfg: DrConfig, gw: Any, clock: Clock, log: EventLog,
                        data: dict[str, Any]) -> list[Check]:
    """DR cluster ready; the RPO estimate (informational); evidence the primary is down."""
    region = cfg.region(contract.DR)
    checks = [guarded("aurora", "dr cluster", region,
                      lambda: cluster_check(cfg, gw, contract.DR), None, log)]
    rpo = rpo_estimate(cfg, gw, clock, log)
    data.update({k: v for k, v in rpo.data.items() if k in ("lag_ms", "age_s", "at")})
    data["last_lag_ms"], data["possible_data_loss"] = rpo.data.get("lag_ms"), rpo.detail
    checks.append(rpo)
    reach = guarded("failover", "primary unreachable", region,
                    lambda: primary_unreachable_check(cfg, gw), None, log)
    data["primary_reachability"] = reach.detail
    checks.append(reach)
    if cfg.alarm_name_prefix:
        checks.append(guarded("alarms", "dr alarms", region,
                              lambda: _informational(alarm_check(cfg, gw, contract.DR, contract.PRIMARY)),
                              None, log))
    for c in checks:
        log.info("pre_check", check=c.id, region=c.region, state=c.state, detail=c.detail)
    return checks


def _informational(check: Check) -> Check:
    if check.state == FAIL:
        check.state = WARN
    return check


def rpo_estimate(cfg: DrConfig, gw: Any, clock: Clock, log: EventLog) -> Check:
    """The last AuroraGlobalDBRPOLag of the DR cluster and how old it is: the loss estimate."""
    region = cfg.region(contract.DR)
    lag = guarded("aurora", "rpo estimate", region,
                  lambda: lag_check(cfg, gw, contract.DR, clock, minutes=180), None, log)
    lag.name = "rpo estimate"
    value, age, at = lag.data.get("lag_ms"), lag.data.get("age_s"), lag.data.get("at")
    if lag.state == UNREACHABLE:
        return lag
    if value is None:
        lag.state, lag.detail = WARN, (f"unknown: no {RPO_LAG_NAME} datapoint for "
                                       f"{cfg.cluster_id(contract.DR)} in the last 3 h")
    else:
        lag.state = OK if age is not None and age <= 300 else WARN
        lag.detail = (f"writes committed on the primary in roughly the last {value:.0f} ms before "
                      f"{at:%Y-%m-%d %H:%M:%S}Z may be missing in DR ({RPO_LAG_NAME} {value:.0f} ms; "
                      f"datapoint {age:.0f} s old"
                      + ("; the lag may have grown since: treat as a lower bound)" if age and age > 60
                         else ")"))
    log.warning("possible_data_loss", last_lag_ms=value, age_s=age, at=at)
    return lag


def primary_unreachable_check(cfg: DrConfig, gw: Any) -> Check:
    """Evidence from the DR region only: its probe's peer-unreachable alarm."""
    region = cfg.region(contract.DR)
    name = cfg.names.alarm(contract.ALARM_PEER_UNREACHABLE, contract.DR)
    state = alarm_state(gw, region, name)
    if state == "ALARM":
        return Check("failover", "primary unreachable", region, OK,
                     f"confirmed: the DR region's probe cannot reach the primary ({name} in ALARM)")
    if state == "OK":
        return Check("failover", "primary unreachable", region, FAIL,
                     f"the DR region's probe still reaches the primary ({name} is OK): if the primary "
                     "can serve, use `drctl switchover` (no data loss); if it answers but cannot "
                     "serve (e.g. its database is impaired) use --override failover:primary-unreachable "
                     "--reason TEXT")
    return Check("failover", "primary unreachable", region, WARN,
                 f"cannot confirm: {name} is {state or 'missing'}; proceeding because "
                 "--confirm-data-loss was given (drctl does not call the primary region)")


def failover_plan(cfg: DrConfig, target: Member, timeout: float) -> list[str]:
    region = cfg.region(contract.DR)
    return [f"set the failback gate: ssm:PutParameter {latch_name(cfg, contract.PRIMARY)} = "
            f"{{\"state\": \"{contract.FAILBACK_BLOCKED}\", ...}} in {region} (traffic stays off the "
            "primary region after it recovers, until `drctl failback`)",
            f"call rds:FailoverGlobalCluster(GlobalClusterIdentifier={cfg.global_cluster_id}, "
            f"TargetDbClusterIdentifier={target.arn}, AllowDataLoss=True) in {region}, once",
            f"poll describe_global_clusters in {region} until {target.cluster_id} is the writer "
            f"(timeout {timeout:g}s)",
            f"wait (db_cluster_available) for {target.cluster_id}",
            f"no API call is made to the primary region ({cfg.primary_region or 'unknown'})"]


def close_gate(cfg: DrConfig, gw: Any, clock: Clock, log: EventLog, by: str, reason: str) -> Check:
    return set_gate(cfg, gw, clock, log, contract.PRIMARY, contract.FAILBACK_BLOCKED, by,
                    reason or "drctl failover: primary region failed over")


def request_failover(cfg: DrConfig, gw: Any, clock: Clock, log: EventLog, target: Member,
                     timeout: float, poll: float,
                     finish: Callable[[str, _Waiter | None], OperationResult], *,
                     escalation: bool = False) -> OperationResult:
    """FailoverGlobalCluster(AllowDataLoss) once. As an escalation, a switchover still under
    way does not count as success: AWS refusing the failover is reported, not waited on."""
    op, region = "failover", cfg.region(contract.DR)
    aurora = gw.aurora(region)
    log.warning("failover_request", global_cluster=cfg.global_cluster_id, target=target.arn,
                region=region, allow_data_loss=True)
    outcome, detail = send_once(
        op, "FailoverGlobalCluster", region,
        lambda: aurora.failover(cfg.global_cluster_id, target.arn),
        lambda: aurora.global_cluster(cfg.global_cluster_id), target, clock, log, poll,
        failover_only=escalation)
    if outcome == "failed":
        log.error("failover_failed", error=detail)
        return OperationResult(op, "failed", exitcodes.FAILED, [f"FailoverGlobalCluster failed: {detail}"])
    if outcome == "unknown":
        return OperationResult(op, "unknown", exitcodes.UNKNOWN, [detail])
    return wait_and_finish(cfg, gw, clock, log, op, target, region, timeout, poll, finish)


def failover_post_checks(cfg: DrConfig, gw: Any, log: EventLog, target: Member,
                         waiter: _Waiter | None) -> list[Check]:
    region, dr_id = cfg.region(contract.DR), cfg.cluster_id(contract.DR)
    aurora = gw.aurora(region)
    remaining = max(waiter.remaining(), 60) if waiter else 60

    def available() -> Check:
        aurora.wait_cluster_available(dr_id, remaining)
        return cluster_check(cfg, gw, contract.DR)

    def writer_check() -> Check:
        now = aurora.global_cluster(cfg.global_cluster_id)
        ok = now.writer is not None and now.writer.arn == target.arn
        return Check("aurora", "writer", region, OK if ok else FAIL,
                     f"{dr_id} is the writer" if ok else
                     f"writer is {now.writer.arn if now.writer else 'unknown'}")
    posts = [guarded("aurora", "dr cluster", region, available, None, log),
             guarded("aurora", "writer", region, writer_check, None, log)]
    for c in posts:
        log.info("post_check", check=c.id, region=c.region, state=c.state, detail=c.detail)
    return posts


def failover_next_steps(cfg: DrConfig) -> list[str]:
    return [
        "STOP APPLICATION WRITES in the primary region if anything there can still write "
        "(batch jobs, consoles): they would diverge from the new writer",
        "Route 53 sends API traffic to the SECONDARY (DR) record on its own once the primary "
        "health check fails; the failback gate keeps it there after the primary recovers",
        f"applications in {cfg.dr_region} write through the DR cluster endpoint "
        f"{cfg.dr_aurora_endpoint or '(dr_aurora_endpoint)'} or the global writer endpoint",
        "run `drctl status` (expect the primary region to show UNREACHABLE until it recovers)",
        "when the primary region answers again: `drctl lost-writes` (preserve the old primary's "
        "unreplicated writes and see what to reconcile), then `drctl rejoin` (read-only: prints the "
        "procedure that brings the old primary back as a secondary)",
        "once the old primary replicates again: `drctl failback --dry-run`, then `drctl failback`",
    ]


# -- command line ---------------------------------------------------------------------------------

def _arguments(name: str) -> Callable[[argparse.ArgumentParser], None]:
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("--dry-run", action="store_true", help="run the checks, print the plan, change nothing")
        p.add_argument("--timeout", type=float, default=1800, help="max seconds to wait (default 1800)")
        p.add_argument("--poll-interval", type=float, default=15, help="seconds between polls (default 15)")
        p.add_argument("--override", action="append", default=[], metavar="CHECK",
                       help="proceed although pre-check CHECK (its id, e.g. alarms:dr-alarms) failed; "
                            "needs --reason; logged and printed in the summary")
        p.add_argument("--reason", default="", help="why (required with --override; recorded)")
        p.add_argument("--operator", default=os.environ.get("DRCTL_OPERATOR"),
                       help="who runs this, for the audit trail (default: env DRCTL_OPERATOR or login)")
        if name == "failover":
            p.add_argument("--confirm-data-loss", action="store_true",
                           help="required: accept losing writes not yet replicated to the DR region")
            p.add_argument("--escalate-after", type=float, default=120,
                           help="a switchover toward DR stuck this long is escalated to a failover "
                                "(default 120 s)")
        else:
            p.add_argument("--yes", action="store_true",
                           help="do not ask for confirmation (required when not on a terminal)")
    return add_arguments


def _overrides(ctx: Context) -> Overrides:
    return Overrides(tuple(ctx.args.override), ctx.args.reason, ctx.operator)


def _run_switchover(ctx: Context) -> OperationResult:
    a = ctx.args
    return planned_switchover(
        ctx.config, ctx.gw, ctx.clock, ctx.log, to_role="dr" if a.command == "switchover" else "primary",
        dry_run=a.dry_run, timeout=a.timeout, poll=a.poll_interval, operation=a.command,
        confirm=ctx.confirm, overrides=_overrides(ctx), operator=ctx.operator)


def _run_failover(ctx: Context) -> OperationResult:
    a = ctx.args
    return failover(ctx.config, ctx.gw, ctx.clock, ctx.log, confirm_data_loss=a.confirm_data_loss,
                    dry_run=a.dry_run, timeout=a.timeout, poll=a.poll_interval,
                    overrides=_overrides(ctx), operator=ctx.operator, escalate_after=a.escalate_after)


COMMANDS = (
    Command("switchover", "planned switchover of the Aurora writer to the DR region "
                          "(no data loss; asks for confirmation)",
            _arguments("switchover"), _run_switchover, requires=SWITCHOVER_REQUIRES),
    Command("failback", "back to the primary region: switchover once replication from DR "
                        "caught up, then open the failback gate (asks for confirmation)",
            _arguments("failback"), _run_switchover, requires=FAILBACK_REQUIRES),
    Command("failover", "UNPLANNED failover to the DR region (primary region down; may "
                        "lose unreplicated writes); calls the DR region only",
            _arguments("failover"), _run_failover, requires=FAILOVER_REQUIRES),
)
