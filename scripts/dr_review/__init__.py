"""DR review of the synthesized stacks: what runs where, what replicates where, how it is
monitored, and the RTO/RPO budget that follows from the configuration.

    scripts/review.py [cdktf.out] [--format text|markdown] [--diagram docs/architecture.svg]
                      [--plan-dir plans/] [--checkov checkov.txt] [--strict]

Reads only the synthesized JSON (a cdktf output folder, one stack folder, or one
cdk.tf.json), so it works on whatever the stacks contain; what is absent is reported as "not
configured". Optional inputs for CI: `--plan-dir` holds `<stack>.json` from
`terraform show -json <plan>` (resources to add/change/destroy per region), `--checkov` the
output of scripts/checkov_gate.py. `--strict` exits 1 when a budget line FAILs.

Budget rules (targets from the seed: RTO 5 min, RPO 1 s):
- Traffic RTO = Route 53 detection (request_interval x failure_threshold) + the DNS TTL of
  the failover records (an alias to an API Gateway regional domain answers with 60 s).
- Alerting: the HealthCheckStatus alarm fires after period x evaluation_periods.
- RPO per replicated store = the lag its alarm tolerates (AuroraGlobalDBReplicationLag and
  DynamoDB ReplicationLatency in ms, S3 ReplicationLatency in s) or, for S3, the RTC target;
  a store whose replication no alarm watches is NOT MONITORED and fails.

Package layout: load (JSON + stack model), analyse (replication, alarms, failover, plan and
checkov inputs), budget (RTO/RPO lines, the per-stack review), render (text/markdown),
diagram (SVG), cli (argument parsing). scripts/review.py is the command.
"""

from __future__ import annotations

from .analyse import (
    API_GATEWAY_ALIAS_TTL_S,
    Alarm,
    FailoverRecord,
    Replication,
    alarm_metrics,
    aurora_replication,
    checkov_lines,
    dynamodb_replication,
    failover_records,
    matching_alarms,
    plan_summary,
    s3_replication,
)
from .budget import BUDGET_ANNEXES, RPO_TARGET_S, RTO_TARGET_S, BudgetLine, StackReview, budget, review, review_stack
from .diagram import TIERS, diagram_svg
from .drill import LAST_DRILL_REPORT, drill_lines
from .load import GLOBAL_PREFIXES, PLATFORM, ROOT, Stack, blocks, fmt_s, load_stacks, num, platform_view, refs, short
from .render import render

__all__ = [
    "API_GATEWAY_ALIAS_TTL_S",
    "BUDGET_ANNEXES",
    "GLOBAL_PREFIXES",
    "LAST_DRILL_REPORT",
    "PLATFORM",
    "ROOT",
    "RPO_TARGET_S",
    "RTO_TARGET_S",
    "TIERS",
    "Alarm",
    "BudgetLine",
    "FailoverRecord",
    "Replication",
    "Stack",
    "StackReview",
    "alarm_metrics",
    "aurora_replication",
    "blocks",
    "budget",
    "checkov_lines",
    "diagram_svg",
    "drill_lines",
    "dynamodb_replication",
    "failover_records",
    "fmt_s",
    "load_stacks",
    "matching_alarms",
    "num",
    "plan_summary",
    "platform_view",
    "refs",
    "render",
    "review",
    "review_stack",
    "s3_replication",
    "short",
]
