"""The RTO/RPO budget that follows from the configuration, and the per-stack review.

Things shown next to the budget (e.g. the last DR drill's measured figures) register a
function in BUDGET_ANNEXES: render.py prints what each returns under the budget table.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from .analyse import (
    FailoverRecord,
    Replication,
    aurora_replication,
    dynamodb_replication,
    failover_records,
    plan_summary,
    s3_replication,
)
from .load import JSON, PLATFORM, ROOT, Stack, fmt_s, num, platform_view

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from contract import PLATFORM_STACKS

# Re-exported: render, drill and diagram print the targets next to the budget.
from contract import RPO_TARGET_S as RPO_TARGET_S
from contract import RTO_TARGET_S as RTO_TARGET_S


@dataclass
class BudgetLine:
    objective: str  # RTO / RPO
    item: str
    value_s: float | None
    target_s: float
    detail: str
    status: str  # PASS / FAIL / not configured


def budget(stack: Stack, replications: list[Replication], records: list[FailoverRecord],
           rto_target: float = RTO_TARGET_S, rpo_target: float = RPO_TARGET_S) -> list[BudgetLine]:
    lines: list[BudgetLine] = []

    def add(objective: str, item: str, value: float | None, target: float, detail: str,
            configured: bool = True) -> None:
        status = "not configured" if not configured else (
            "PASS" if value is not None and value <= target else "FAIL")
        lines.append(BudgetLine(objective, item, value, target, detail, status))

    checked = [r for r in records if r.detection_s is not None]
    if not records:
        add("RTO", "Failure detection (Route 53 health checks)", None, rto_target,
            "no failover records", configured=False)
        add("RTO", "DNS failover (TTL of failover records)", None, rto_target,
            "no failover records", configured=False)
    else:
        detection = max((r.detection_s for r in checked if r.detection_s is not None), default=None)
        hc = stack.get(checked[0].health_check) if checked and checked[0].health_check else None
        add("RTO", "Failure detection (Route 53 health checks)", detection, rto_target,
            f"request_interval {fmt_s(num(hc.get('request_interval', 30)))} x failure_threshold "
            f"{num(hc.get('failure_threshold', 3)):g}" if hc else "NO HEALTH CHECK on failover records")
        ttl = max((r.ttl_s for r in records if r.ttl_s is not None), default=None)
        add("RTO", "DNS failover (TTL of failover records)", ttl, rto_target,
            "; ".join(sorted({f'{r.ttl_basis} = {fmt_s(r.ttl_s)}' for r in records})))
        total = detection + ttl if detection is not None and ttl is not None else None
        add("RTO", "Traffic RTO = detection + DNS TTL", total, rto_target,
            f"{fmt_s(detection)} + {fmt_s(ttl)}")
        alerting = [a for r in records for a in r.alarms]
        watched = {r.health_check for r in records if r.alarms and r.health_check}
        unwatched = sorted({r.health_check for r in checked if r.health_check} - watched)
        window = max((a.window_s for a in alerting if a.window_s is not None), default=None)
        add("RTO", "Alerting (HealthCheckStatus alarms)", window if not unwatched else None, rto_target,
            (f"alarm after period x evaluation_periods = {fmt_s(window)}" if not unwatched
             else f"NOT MONITORED: {', '.join(unwatched)}"))

    kinds = ("Aurora global database", "DynamoDB global table", "S3 replication")
    for kind in kinds:
        edges = [r for r in replications if r.kind == kind]
        if not edges:
            add("RPO", kind, None, rpo_target, "no replication of this kind", configured=False)
            continue
        for r in edges:
            detail = (f"{r.target}; " + (f"{r.rpo_basis} {fmt_s(r.rpo_s)}" if r.rpo_s is not None
                                          else "replication NOT MONITORED"))
            if kind == "S3 replication" and r.rpo_s is not None and r.rpo_s > rpo_target:
                detail += " (S3 RTC cannot promise less than 15 min)"
            add("RPO", f"{kind} {r.name} {r.source} -> {r.destination}", r.rpo_s, rpo_target, detail)
    return lines



@dataclass
class StackReview:
    stack: Stack
    by_region: dict[str, Counter[str]]
    replications: list[Replication]
    records: list[FailoverRecord]
    budget: list[BudgetLine]
    plan: dict[str, Counter[str]] | None = None


BUILTIN_REGION = "(terraform)"


def review_stack(stack: Stack, *, rto_target: float = RTO_TARGET_S, rpo_target: float = RPO_TARGET_S,
                 plan: JSON | None = None) -> StackReview:
    by_region: dict[str, Counter[str]] = defaultdict(Counter)
    for rtype, _, body in stack.resources():
        # Terraform's built-ins (terraform_data: the apply-time master password step) have no
        # AWS provider, hence no region.
        region = BUILTIN_REGION if rtype.startswith("terraform_") else stack.region_of(body)
        by_region[region][rtype] += 1
    replications = aurora_replication(stack) + dynamodb_replication(stack) + s3_replication(stack)
    records = failover_records(stack)
    lines = budget(stack, replications, records, rto_target, rpo_target)
    return StackReview(stack, dict(by_region), replications, records, lines,
                       plan_summary(stack, plan) if plan is not None else None)


def review(stacks: dict[str, JSON], *, plans: dict[str, JSON] | None = None,
           rto_target: float = RTO_TARGET_S, rpo_target: float = RPO_TARGET_S) -> list[StackReview]:
    """One review per stack (resources per region, plan changes), then, when the platform's
    stacks are there, one of them together: replication, failover and the budget span stacks."""
    plans = plans or {}
    reviews = [review_stack(Stack(name, doc), plan=plans.get(name), rto_target=rto_target,
                            rpo_target=rpo_target) for name, doc in stacks.items()]
    if sum(1 for name in PLATFORM_STACKS if name in stacks) > 1:
        reviews.append(review_stack(Stack(PLATFORM, platform_view(stacks, PLATFORM_STACKS)),
                                    rto_target=rto_target, rpo_target=rpo_target))
    return reviews


# Extra lines shown under a stack's budget table: f(review, markdown) -> lines (empty: nothing).
# The place for measured figures next to the configured ones, such as the last drill report.
BUDGET_ANNEXES: list[Callable[[StackReview, bool], list[str]]] = []
