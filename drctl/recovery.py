"""After an unplanned failover: `lost-writes` (preserve and report what the old primary held)
and `rejoin` (the procedure that brings the old primary back as a secondary).

Aurora takes a snapshot of the old primary, `rds:unplanned-global-failover-<cluster>-<time>`,
when its region recovers and before it resynchronises it from the new writer: the only copy of
writes that never replicated. It is an automated snapshot and expires with the cluster's
backup retention; `lost-writes` copies it to a manual snapshot (kept until deleted).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

import contract
from drctl import exitcodes
from drctl.checks import FAIL, OK, UNREACHABLE, WARN, Check, guarded, render_table
from drctl.clock import Clock
from drctl.command import Command, Context
from drctl.config import LOST_WRITES_REQUIRES, REJOIN_REQUIRES, DrConfig, other
from drctl.gateways import Event, Snapshot
from drctl.log import EventLog
from drctl.operations import rpo_estimate
from drctl.probes import read_global, writer_role

UNPLANNED_SNAPSHOT_PREFIX = "rds:unplanned-global-failover-"
EVENT_WINDOW = _dt.timedelta(days=14)  # the longest history RDS keeps
FENCING = re.compile(r"fenc", re.I)


@dataclass
class RecoveryResult:
    operation: str
    exit_code: int
    checks: list[Check] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"operation": self.operation, "exit_code": self.exit_code,
                "checks": [c.as_dict() for c in self.checks], "steps": self.steps, "data": self.data}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, default=str)

    def to_text(self) -> str:
        out = [render_table(self.checks, f"{self.operation} (exit {self.exit_code})")]
        if self.steps:
            out.append("Steps:")
            out += [f"  {i}. {s}" for i, s in enumerate(self.steps, 1)]
        return "\n".join(out)


def fencing_verdict(events: list[Event]) -> tuple[str, str]:
    """("succeeded" | "timed out" | "failed" | "unknown", evidence) from RDS event messages.

    Matched by wording ("fenc..." plus success/timeout/failure words) because drctl cannot
    verify AWS's exact event IDs offline; the evidence line quotes the message."""
    for e in reversed(events):
        if not FENCING.search(e.message):
            continue
        text = e.message.lower()
        verdict = ("timed out" if re.search(r"tim(ed|e) ?out", text) else
                   "failed" if re.search(r"\bfail(ed|ure|s)?\b|unable|could not", text) else
                   "succeeded" if re.search(r"succe|complet|fenced", text) else "unknown")
        return verdict, f"{e.date:%Y-%m-%d %H:%M:%S}Z {e.source}: {e.message}"
    return "unknown", "no write-fencing event in the last 14 days"


def manual_copy_id(snapshot: Snapshot) -> str:
    """A valid manual snapshot identifier derived from the automated one (idempotent)."""
    tail = snapshot.identifier[len(UNPLANNED_SNAPSHOT_PREFIX):] if snapshot.identifier.startswith(
        UNPLANNED_SNAPSHOT_PREFIX) else snapshot.identifier
    return re.sub(r"-+", "-", re.sub(r"[^A-Za-z0-9-]", "-", f"lost-writes-{tail}")).strip("-")[:255]


def lost_writes(cfg: DrConfig, gw: Any, clock: Clock, log: EventLog, *, old_role: str = contract.PRIMARY,
                dry_run: bool = False) -> RecoveryResult:
    """Finds and preserves the old primary's unplanned-failover snapshot, reports write
    fencing and the RPO estimate, and lists what to reconcile."""
    result = RecoveryResult("lost-writes", exitcodes.OK)
    old_region, new_role = cfg.region(old_role), other(old_role)
    new_region, old_id = cfg.region(new_role), cfg.cluster_id(old_role)
    now = clock.now()
    g, g_check = read_global(cfg, gw, new_region, None, log)
    result.checks.append(g_check)
    if g_check.state == FAIL:  # e.g. the old primary pending resync: expected here, informational
        g_check.state = WARN
    if g is not None and writer_role(cfg, g) != new_role:
        g_check.state, g_check.detail = WARN, (f"{g_check.detail}; the writer is not in {new_region}: "
                                               "was there a failover away from it?")
    result.checks.append(rpo_estimate(cfg, gw, clock, log) if new_role == contract.DR else
                         Check("aurora", "rpo estimate", new_region, WARN, "only estimated for DR"))

    holder: dict[str, list[Any]] = {}

    def snapshots() -> Check:
        found = gw.aurora(old_region).cluster_snapshots(old_id)
        holder["all"] = found
        unplanned = sorted((s for s in found if s.identifier.startswith(UNPLANNED_SNAPSHOT_PREFIX)),
                           key=lambda s: s.created or now)
        holder["unplanned"] = unplanned
        if not unplanned:
            return Check("aurora", "lost-writes snapshot", old_region, FAIL,
                         f"no {UNPLANNED_SNAPSHOT_PREFIX}* snapshot of {old_id} yet: Aurora takes it when "
                         f"{old_region} recovers, before resynchronising {old_id}; re-run later")
        s = unplanned[-1]
        return Check("aurora", "lost-writes snapshot", old_region, OK,
                     f"{s.identifier} ({s.status}, {s.snapshot_type})", {"snapshot": s.identifier})
    snap = guarded("aurora", "lost-writes snapshot", old_region, snapshots, None, log)
    result.checks.append(snap)

    if holder.get("unplanned"):
        source = holder["unplanned"][-1]
        target = manual_copy_id(source)
        existing = {s.identifier for s in holder["all"]}
        result.data.update(snapshot=source.identifier, manual_copy=target)

        def copy() -> Check:
            if target in existing:
                return Check("aurora", "manual copy", old_region, OK, f"{target} already exists (kept)")
            if dry_run:
                return Check("aurora", "manual copy", old_region, WARN,
                             f"dry-run: would copy {source.identifier} to manual snapshot {target}")
            if source.status != "available":
                return Check("aurora", "manual copy", old_region, FAIL,
                             f"{source.identifier} is {source.status}: re-run when it is available")
            copied = gw.aurora(old_region).copy_cluster_snapshot(source.identifier, target)
            log.warning("snapshot_copied", source=source.identifier, target=copied.identifier,
                        region=old_region)
            return Check("aurora", "manual copy", old_region, OK,
                         f"copied {source.identifier} -> {copied.identifier} ({copied.status}); kept "
                         "until you delete it")
        result.checks.append(guarded("aurora", "manual copy", old_region, copy, None, log))

    def fencing() -> Check:
        start = now - EVENT_WINDOW
        events = gw.aurora(old_region).events(old_id, "db-cluster", start, now)
        events += gw.aurora(new_region).events(cfg.cluster_id(new_role), "db-cluster", start, now)
        verdict, evidence = fencing_verdict(sorted(events, key=lambda e: e.date))
        result.data["fencing"] = verdict
        state = OK if verdict == "succeeded" else WARN
        meaning = {"succeeded": "the old primary stopped accepting writes when the failover began",
                   "timed out": "the old primary may have accepted writes AFTER the failover began",
                   "failed": "the old primary may have accepted writes AFTER the failover began",
                   "unknown": "assume the old primary may have accepted writes after the failover"}[verdict]
        return Check("aurora", "write fencing", old_region, state, f"{verdict}: {meaning} ({evidence})")
    result.checks.append(guarded("aurora", "write fencing", old_region, fencing, None, log))
    result.steps = reconcile_steps(cfg, old_role, result.data.get("manual_copy"))

    states = {c.state for c in result.checks}
    result.exit_code = (exitcodes.UNREACHABLE if UNREACHABLE in states else
                        exitcodes.UNHEALTHY if FAIL in states else exitcodes.OK)
    log.info("done", operation="lost-writes", exit_code=result.exit_code, **result.data)
    return result


def reconcile_steps(cfg: DrConfig, old_role: str, copy: str | None) -> list[str]:
    old_region, table = cfg.region(old_role), cfg.dynamodb_table_name
    snapshot = copy or "<manual copy made by `drctl lost-writes`>"
    return [
        f"Aurora: restore {snapshot} in {old_region} to a temporary cluster: aws rds "
        f"restore-db-cluster-from-snapshot --region {old_region} --db-cluster-identifier "
        f"{cfg.cluster_id(old_role)}-lost-writes --snapshot-identifier {snapshot} --engine aurora-postgresql "
        "(same subnet group and security groups), then aws rds create-db-instance for one instance",
        "compare the payments committed there after the failover window start (the RPO estimate "
        "before the failover time, widened when fencing did not succeed) with the new writer; "
        "re-submit the missing ones through the API with their original idempotency keys so "
        "retries cannot double-charge; record each decision in the incident",
        f"DynamoDB ({table}, {cfg.idempotency_table_name}): items written in {old_region} just before "
        "the outage replicate when it recovers and concurrent writes to one key resolve last-writer-"
        "wins: check items with a timestamp in the window in both regions",
        f"S3 ({cfg.bucket(old_role)}): objects written in the window replicate after recovery (the RTC "
        "15-minute promise does not hold during an outage): watch OperationsPendingReplication",
        "delete the temporary cluster when done; keep the manual snapshot as long as the incident "
        "record requires",
    ]


def rejoin(cfg: DrConfig, gw: Any, clock: Clock, log: EventLog, *, old_role: str = contract.PRIMARY
           ) -> RecoveryResult:
    """Read-only: where the old primary stands and the exact steps that bring it back as a
    secondary. drctl performs none of them (each deletes or creates a database cluster)."""
    result = RecoveryResult("rejoin", exitcodes.OK)
    old_region, new_role = cfg.region(old_role), other(old_role)
    new_region, old_id = cfg.region(new_role), cfg.cluster_id(old_role)
    g, g_check = read_global(cfg, gw, new_region, None, log)
    result.checks.append(g_check)
    member = g.member(old_id, old_region) if g is not None else None
    holder: dict[str, Any] = {}

    def old_cluster() -> Check:
        c = gw.aurora(old_region).cluster(old_id)
        holder["c"] = c
        attached = c.global_cluster_id == cfg.global_cluster_id
        return Check("aurora", "old primary", old_region, OK if attached else WARN,
                     f"{old_id}: {c.status}; " + ("member of the global cluster" if attached else
                                                  "DETACHED (standalone cluster)"))
    result.checks.append(guarded("aurora", "old primary", old_region, old_cluster, None, log))
    new = guarded("aurora", "new writer", new_region,
                  lambda: _remember(holder, "n", new_region,
                                    gw.aurora(new_region).cluster(cfg.cluster_id(new_role))),
                  None, log)
    result.checks.append(new)
    c, n = holder.get("c"), holder.get("n")
    stack = contract.REGIONAL_STACKS[old_role]
    if member is not None:
        result.steps = [f"{old_id} is already a member ({member.sync_status or 'writer'}): nothing to "
                        "rejoin; wait for `drctl status` to show it replicating, then `drctl failback`"]
    else:
        engine = (n.engine if n else None) or "aurora-postgresql"
        version = (n.engine_version if n else None) or "<engine version of the global cluster>"
        subnet = (c.subnet_group if c else None) or "<db subnet group in " + old_region + ">"
        sgs = " ".join(c.security_groups) if c and c.security_groups else "<security group ids>"
        kms = (c.kms_key_id if c else None) or f"<KMS key ARN in {old_region}, {cfg.names.key_alias(old_role)}>"
        instances = (c.instances if c and c.instances else (cfg.names.cluster_instance(old_role, 1),))
        result.steps = [
            "run `drctl lost-writes` first: it copies the old primary's unreplicated writes to a manual "
            "snapshot; deleting the cluster without it loses them",
            f"stop every writer in {old_region}; confirm nothing connects to {old_id}",
            *(f"aws rds delete-db-instance --region {old_region} --db-instance-identifier {i}"
              for i in instances),
            f"aws rds modify-db-cluster --region {old_region} --db-cluster-identifier {old_id} "
            "--no-deletion-protection --apply-immediately",
            f"aws rds delete-db-cluster --region {old_region} --db-cluster-identifier {old_id} "
            f"--final-db-snapshot-identifier {old_id}-before-rejoin",
            f"aws rds create-db-cluster --region {old_region} --db-cluster-identifier {old_id} "
            f"--global-cluster-identifier {cfg.global_cluster_id} --engine {engine} --engine-version "
            f"{version} --db-subnet-group-name {subnet} --vpc-security-group-ids {sgs} "
            f"--storage-encrypted --kms-key-id {kms}   (a SECONDARY: no --master-username, no "
            "--database-name; it takes both from the global cluster)",
            *(f"aws rds create-db-instance --region {old_region} --db-cluster-identifier {old_id} "
              f"--db-instance-identifier {i} --engine {engine} --db-instance-class <same class as before>"
              for i in instances),
            f"wait until `drctl status` shows {old_id} as a member, replicating (not pending-resync)",
            f"Terraform, stack {stack}: `terraform state rm` the old cluster and instances, then "
            "`terraform import` the new ones, then `terraform plan` and READ it: the stack declares "
            "this cluster as the global cluster's source with a master user and database name; if "
            "the plan replaces or modifies the cluster, do not apply (drctl cannot check this "
            "offline); fail back first and resolve the plan with the platform owners",
            "`drctl failback --dry-run`, then `drctl failback` (switchover back: after it the cluster "
            f"in {old_region} is the writer again, and the stack's plan is clean)",
        ]
    result.exit_code = (exitcodes.UNREACHABLE if any(ch.state == UNREACHABLE for ch in result.checks)
                        else exitcodes.OK)
    log.info("done", operation="rejoin", exit_code=result.exit_code, member=member is not None)
    return result


def _remember(holder: dict[str, Any], key: str, region: str, cluster: Any) -> Check:
    holder[key] = cluster
    return Check("aurora", "new writer", region, OK, f"{cluster.identifier}: {cluster.status}, "
                 f"{cluster.engine} {cluster.engine_version}")


# -- command line ---------------------------------------------------------------------------------

def _lost_writes_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", action="store_true", help="find and report; copy nothing")
    p.add_argument("--old-primary", choices=("primary", "dr"), default="primary",
                   help="role of the cluster that was failed away from (default primary)")


def _run_lost_writes(ctx: Context) -> RecoveryResult:
    return lost_writes(ctx.config, ctx.gw, ctx.clock, ctx.log, old_role=ctx.args.old_primary,
                       dry_run=ctx.args.dry_run)


def _rejoin_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--old-primary", choices=("primary", "dr"), default="primary")


def _run_rejoin(ctx: Context) -> RecoveryResult:
    return rejoin(ctx.config, ctx.gw, ctx.clock, ctx.log, old_role=ctx.args.old_primary)


COMMANDS = (
    Command("lost-writes", "after a failover, once the old primary's region answers: preserve its "
                           "unplanned-failover snapshot, report write fencing and what to reconcile",
            _lost_writes_arguments, _run_lost_writes, requires=LOST_WRITES_REQUIRES),
    Command("rejoin", "read-only: the exact procedure that brings the old primary back as a secondary",
            _rejoin_arguments, _run_rejoin, requires=REJOIN_REQUIRES),
)
