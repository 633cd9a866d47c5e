#!/usr/bin/env python3
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
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from contract import RPO_TARGET_S, RTO_TARGET_S  # noqa: E402  # the one definition of the targets

API_GATEWAY_ALIAS_TTL_S = 60  # alias A records answer with the target's TTL: 60 s for API Gateway
# Services whose resources are global although a regional provider manages them.
GLOBAL_PREFIXES = ("aws_route53_", "aws_iam_", "aws_cloudfront_", "aws_organizations_")
_REF = re.compile(r"\b((?:data\.)?aws_[a-z0-9_]+\.[A-Za-z0-9_-]+)")


# -- loading ---------------------------------------------------------------------------------

def load_stacks(path: Path) -> dict[str, dict]:
    """{stack name: cdk.tf.json} from a cdktf.out folder, a stack folder or a JSON file."""
    path = Path(path)
    if path.is_file():
        return {path.parent.name or path.stem: json.loads(path.read_text())}
    if (path / "cdk.tf.json").is_file():
        return {path.name: json.loads((path / "cdk.tf.json").read_text())}
    stacks_dir = path / "stacks"
    if not stacks_dir.is_dir():
        raise SystemExit(f"no synthesized stacks under {path} (run `make synth` first)")
    return {d.name: json.loads((d / "cdk.tf.json").read_text())
            for d in sorted(stacks_dir.iterdir()) if (d / "cdk.tf.json").is_file()}


def _blocks(value: Any) -> list[dict]:
    """Terraform JSON accepts a nested block as an object or a list of objects."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    return [v for v in value if isinstance(v, dict)]


def refs(value: Any) -> set[str]:
    """Resource addresses referenced anywhere in a value (inside ${...} interpolations)."""
    found: set[str] = set()
    for text in re.findall(r"\$\{(.*?)\}", json.dumps(value)):
        found.update(_REF.findall(text))
    return found


def short(value: Any) -> str:
    """A name for people: ${data.aws_caller_identity.x.account_id} -> <account_id>."""
    return re.sub(r"\$\{[^}]*?([A-Za-z0-9_]+)\}", r"<\1>", str(value))


def _num(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds >= 120 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


# -- model -----------------------------------------------------------------------------------

@dataclass
class Stack:
    name: str
    doc: dict
    regions: dict[str | None, str] = field(default_factory=dict)  # provider alias -> region

    def __post_init__(self) -> None:
        for p in _blocks(self.doc.get("provider", {}).get("aws")):
            self.regions[p.get("alias")] = str(p.get("region", "?"))

    def resources(self, rtype: str | None = None) -> Iterable[tuple[str, str, dict]]:
        for t, items in sorted(self.doc.get("resource", {}).items()):
            if rtype is None or t == rtype:
                for name, body in sorted(items.items()):
                    yield t, name, body

    def get(self, address: str) -> dict | None:
        rtype, _, name = address.partition(".")
        return self.doc.get("resource", {}).get(rtype, {}).get(name)

    def alias_of(self, body: dict) -> str | None:
        provider = body.get("provider")
        if isinstance(provider, str) and provider.startswith("aws."):
            return provider[4:]
        return None

    def region_of(self, body: dict | None) -> str:
        if body is None:
            return "?"
        return self.regions.get(self.alias_of(body), "?")

    def role_of_region(self, region: str) -> str:
        for alias, r in self.regions.items():
            if r == region and alias:
                return alias
        return region

    def alarms(self) -> list[tuple[str, dict]]:
        return [(n, b) for _, n, b in self.resources("aws_cloudwatch_metric_alarm")]


@dataclass
class Alarm:
    name: str
    region: str
    metric: str
    threshold: float | None
    window_s: float | None  # period x evaluation_periods
    text: str


def alarm_metrics(body: dict) -> list[tuple[str, str, dict]]:
    """(namespace, metric, dimensions) of a plain alarm or of each metric of a metric-math alarm."""
    found = []
    if body.get("metric_name"):
        found.append((body.get("namespace", ""), body["metric_name"], body.get("dimensions") or {}))
    for query in _blocks(body.get("metric_query")):
        for metric in _blocks(query.get("metric")):
            found.append((metric.get("namespace", ""), metric.get("metric_name", ""),
                          metric.get("dimensions") or {}))
    return found


def matching_alarms(stack: Stack, metric: str, namespace: str | None,
                    predicate=lambda dims, body: True) -> list[Alarm]:
    result = []
    for name, body in stack.alarms():
        for ns, m, dims in alarm_metrics(body):
            if m == metric and (namespace is None or ns == namespace) and predicate(dims, body):
                period, evaluations = _num(body.get("period")), _num(body.get("evaluation_periods"))
                window = period * evaluations if period and evaluations else None
                threshold = _num(body.get("threshold"))
                op = {"GreaterThanThreshold": ">", "GreaterThanOrEqualToThreshold": ">=",
                      "LessThanThreshold": "<", "LessThanOrEqualToThreshold": "<="}.get(
                          body.get("comparison_operator", ""), body.get("comparison_operator", "?"))
                label = body.get("alarm_name") or name
                if isinstance(label, str) and "${" in label:
                    label = name
                unit = {"AWS/DynamoDB": " ms", "AWS/S3": " s"}.get(ns, "") if m == "ReplicationLatency" \
                    else (" ms" if m == "AuroraGlobalDBReplicationLag" else "")
                text = (f"{label}: {m} {op} {threshold:g}{unit} for {evaluations:g} x {fmt_s(period)}"
                        if threshold is not None and period and evaluations else f"{label}: {m}")
                result.append(Alarm(name, stack.region_of(body), m, threshold, window, text))
                break
    return result


def _dim_points_to(value: Any, addresses: set[str], literals: set[str]) -> bool:
    if value is None:
        return False
    return bool(refs(value) & addresses) or (isinstance(value, str) and value in literals)


@dataclass
class Replication:
    kind: str  # "Aurora global database", "DynamoDB global table", "S3 replication"
    name: str
    source: str  # region
    destination: str
    target: str  # what the service promises / configuration says
    alarms: list[Alarm]
    rpo_s: float | None  # the lag the alarms tolerate (None: not monitored)
    rpo_basis: str


def aurora_replication(stack: Stack) -> list[Replication]:
    result = []
    for _, gname, gbody in stack.resources("aws_rds_global_cluster"):
        gaddr = f"aws_rds_global_cluster.{gname}"
        ident = gbody.get("global_cluster_identifier")
        members = [(n, b) for _, n, b in stack.resources("aws_rds_cluster")
                   if gaddr in refs(b.get("global_cluster_identifier"))
                   or (ident and b.get("global_cluster_identifier") == ident)]
        writers = [(n, b) for n, b in members
                   if not b.get("source_region") and not b.get("replication_source_identifier")]
        writer_region = stack.region_of(writers[0][1]) if writers else "?"
        for n, b in members:
            if writers and n == writers[0][0]:
                continue
            addresses = {f"aws_rds_cluster.{n}"}
            literals = {b.get("cluster_identifier")} - {None}
            alarms = matching_alarms(
                stack, "AuroraGlobalDBReplicationLag", "AWS/RDS",
                lambda dims, _b: "DBClusterIdentifier" not in dims
                or _dim_points_to(dims.get("DBClusterIdentifier"), addresses, literals))
            rpo = _alarm_bound(alarms, unit_s=0.001)
            result.append(Replication(
                "Aurora global database", ident or gname, writer_region, stack.region_of(b),
                "storage-level async, typically < 1 s", alarms, rpo,
                "lag alarm threshold" if rpo is not None else "no lag alarm"))
    return result


def dynamodb_replication(stack: Stack) -> list[Replication]:
    result = []
    tables = list(stack.resources("aws_dynamodb_table"))
    separate = defaultdict(list)  # table address -> regions of aws_dynamodb_table_replica
    for _, n, b in stack.resources("aws_dynamodb_table_replica"):
        for address in refs(b.get("global_table_arn")):
            separate[address].append(stack.region_of(b))
    for _, n, b in tables:
        address = f"aws_dynamodb_table.{n}"
        home = stack.region_of(b)
        replicas = [str(r.get("region_name")) for r in _blocks(b.get("replica"))] + separate[address]
        literals = {b.get("name")} - {None}
        for other in replicas:
            for source, destination in ((home, other), (other, home)):  # global tables: multi-active
                alarms = [a for a in matching_alarms(
                    stack, "ReplicationLatency", "AWS/DynamoDB",
                    lambda dims, body: _dim_points_to(dims.get("TableName"), {address}, literals)
                    and dims.get("ReceivingRegion") in (None, destination)
                    and stack.region_of(body) == source)]
                rpo = _alarm_bound(alarms, unit_s=0.001)
                result.append(Replication(
                    "DynamoDB global table", str(b.get("name", n)), source, destination,
                    "async, multi-active, typically ~1 s", alarms, rpo,
                    "latency alarm threshold" if rpo is not None else "no latency alarm"))
    return result


def s3_replication(stack: Stack) -> list[Replication]:
    result = []
    for _, n, b in stack.resources("aws_s3_bucket_replication_configuration"):
        source_buckets = {a for a in refs(b.get("bucket")) if a.startswith("aws_s3_bucket.")}
        source_region = stack.region_of(b)
        source_literals = {stack.get(a).get("bucket") for a in source_buckets if stack.get(a)} - {None}
        for rule in _blocks(b.get("rule")):
            if str(rule.get("status", "Enabled")) != "Enabled":
                continue
            for dest in _blocks(rule.get("destination")):
                dest_buckets = {a for a in refs(dest.get("bucket")) if a.startswith("aws_s3_bucket.")}
                dest_region = next((stack.region_of(stack.get(a)) for a in dest_buckets), "?")
                dest_literals = {stack.get(a).get("bucket") for a in dest_buckets if stack.get(a)} - {None}
                rtc = None
                for rt in _blocks(dest.get("replication_time")):
                    if rt.get("status") == "Enabled":
                        for t in _blocks(rt.get("time")):
                            rtc = _num(t.get("minutes"))

                def watches(dims, _body):
                    return (_dim_points_to(dims.get("SourceBucket"), source_buckets, source_literals)
                            and ("DestinationBucket" not in dims or _dim_points_to(
                                dims.get("DestinationBucket"), dest_buckets, dest_literals)))

                latency = matching_alarms(stack, "ReplicationLatency", "AWS/S3", watches)
                failed = matching_alarms(stack, "OperationsFailedReplication", "AWS/S3", watches)
                name = short(next(iter(sorted(source_literals)), n))
                target = f"RTC {rtc:g} min" if rtc else "no RTC (best effort, no time target)"
                bound = _alarm_bound(latency, unit_s=1.0)
                if bound is None and rtc and failed:
                    bound, basis = rtc * 60, "RTC target"
                else:
                    basis = "latency alarm threshold" if bound is not None else "no latency alarm"
                if not failed and bound is not None:
                    basis += "; failed operations NOT MONITORED"
                result.append(Replication("S3 replication", f"{name} ({rule.get('id', 'rule')})",
                                          source_region, dest_region, target, latency + failed,
                                          bound if (latency or failed) else None, basis))
    return result


def _alarm_bound(alarms: list[Alarm], *, unit_s: float) -> float | None:
    """The smallest lag (s) an alarm is set to catch: the RPO the configuration tolerates."""
    values = [a.threshold * unit_s for a in alarms if a.threshold is not None]
    return min(values) if values else None


@dataclass
class FailoverRecord:
    name: str
    role: str  # PRIMARY / SECONDARY
    region: str  # where the target lives
    ttl_s: float | None
    ttl_basis: str
    health_check: str | None
    detection_s: float | None
    alarms: list[Alarm]


def failover_records(stack: Stack) -> list[FailoverRecord]:
    result = []
    for _, n, b in stack.resources("aws_route53_record"):
        policies = _blocks(b.get("failover_routing_policy"))
        if not policies:
            continue
        role = str(policies[0].get("type", "?"))
        aliases = _blocks(b.get("alias"))
        target_refs = refs(aliases) if aliases else refs(b.get("records"))
        region = next((stack.region_of(stack.get(a)) for a in sorted(target_refs) if stack.get(a)), "?")
        if aliases:
            api = any(a.startswith(("aws_api_gateway_domain_name.", "aws_apigatewayv2_domain_name."))
                      for a in target_refs)
            ttl, basis = (API_GATEWAY_ALIAS_TTL_S, "alias to API Gateway regional domain") if api else (
                API_GATEWAY_ALIAS_TTL_S, "alias (target's TTL, assumed 60 s)")
        else:
            ttl, basis = _num(b.get("ttl")), "record TTL"
        checks = sorted(a for a in refs(b.get("health_check_id")) if a.startswith("aws_route53_health_check."))
        detection, alarms = None, []
        if checks:
            hc = stack.get(checks[0]) or {}
            interval = _num(hc.get("request_interval", 30))
            threshold = _num(hc.get("failure_threshold", 3))
            detection = interval * threshold if interval and threshold else None
            alarms = matching_alarms(
                stack, "HealthCheckStatus", "AWS/Route53",
                lambda dims, _b: _dim_points_to(dims.get("HealthCheckId"), set(checks), set()))
        result.append(FailoverRecord(str(b.get("name", n)), role, region, ttl, basis,
                                     checks[0] if checks else None, detection, alarms))
    return result


# -- budget ----------------------------------------------------------------------------------

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

    def add(objective, item, value, target, detail, configured=True):
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
        detection = max((r.detection_s for r in checked), default=None)
        hc = stack.get(checked[0].health_check) if checked else None
        add("RTO", "Failure detection (Route 53 health checks)", detection, rto_target,
            f"request_interval {fmt_s(_num(hc.get('request_interval', 30)))} x failure_threshold "
            f"{_num(hc.get('failure_threshold', 3)):g}" if hc else "NO HEALTH CHECK on failover records")
        ttl = max((r.ttl_s for r in records if r.ttl_s is not None), default=None)
        add("RTO", "DNS failover (TTL of failover records)", ttl, rto_target,
            "; ".join(sorted({f'{r.ttl_basis} = {fmt_s(r.ttl_s)}' for r in records})))
        total = detection + ttl if detection is not None and ttl is not None else None
        add("RTO", "Traffic RTO = detection + DNS TTL", total, rto_target,
            f"{fmt_s(detection)} + {fmt_s(ttl)}")
        alerting = [a for r in records for a in r.alarms]
        watched = {r.health_check for r in records if r.alarms}
        unwatched = sorted({r.health_check for r in checked} - watched)
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


# -- plans and checkov -----------------------------------------------------------------------

def plan_summary(stack: Stack, plan: dict) -> dict[str, Counter]:
    """{region: Counter(add/change/destroy/replace)} from `terraform show -json` of a plan."""
    per_region: dict[str, Counter] = defaultdict(Counter)
    keys = plan.get("configuration", {}).get("provider_config", {})
    config_provider = {r.get("address"): r.get("provider_config_key")
                       for r in plan.get("configuration", {}).get("root_module", {}).get("resources", [])}
    for change in plan.get("resource_changes", []):
        if change.get("mode", "managed") != "managed":
            continue
        actions = change.get("change", {}).get("actions", [])
        address = change.get("address", "")
        body = stack.get(re.sub(r"\[.*?\]$", "", address))
        if body is not None:
            region = stack.region_of(body)
        else:
            key = config_provider.get(address, "")
            expr = keys.get(key, {}).get("expressions", {}).get("region", {})
            region = str(expr.get("constant_value", "?"))
        if actions in (["delete", "create"], ["create", "delete"]):
            per_region[region]["replace"] += 1
        elif actions == ["create"]:
            per_region[region]["add"] += 1
        elif actions == ["update"]:
            per_region[region]["change"] += 1
        elif actions == ["delete"]:
            per_region[region]["destroy"] += 1
    return per_region


def checkov_lines(text: str) -> dict[str, str]:
    """{stack: summary, '*': gate verdict} from scripts/checkov_gate.py's output."""
    found = {}
    for line in text.splitlines():
        m = re.match(r"checkov (\S+): (\d+ passed.*)$", line.strip())
        if m:
            found[m.group(1)] = m.group(2)
        m = re.match(r"checkov gate: (\w+)", line.strip())
        if m:
            found["*"] = m.group(1)
    return found


# -- report ----------------------------------------------------------------------------------

@dataclass
class StackReview:
    stack: Stack
    by_region: dict[str, Counter]
    replications: list[Replication]
    records: list[FailoverRecord]
    budget: list[BudgetLine]
    plan: dict[str, Counter] | None = None


def review_stack(stack: Stack, *, rto_target=RTO_TARGET_S, rpo_target=RPO_TARGET_S,
                 plan: dict | None = None) -> StackReview:
    by_region: dict[str, Counter] = defaultdict(Counter)
    for rtype, _, body in stack.resources():
        by_region[stack.region_of(body)][rtype] += 1
    replications = aurora_replication(stack) + dynamodb_replication(stack) + s3_replication(stack)
    records = failover_records(stack)
    lines = budget(stack, replications, records, rto_target, rpo_target)
    return StackReview(stack, dict(by_region), replications, records, lines,
                       plan_summary(stack, plan) if plan is not None else None)


def review(stacks: dict[str, dict], **kwargs) -> list[StackReview]:
    plans = kwargs.pop("plans", {}) or {}
    return [review_stack(Stack(name, doc), plan=plans.get(name), **kwargs) for name, doc in stacks.items()]


def _region_label(stack: Stack, region: str) -> str:
    role = stack.role_of_region(region)
    return f"{region} ({role})" if role != region else region


def render(reviews: list[StackReview], fmt: str = "text", checkov: dict[str, str] | None = None) -> str:
    md = fmt == "markdown"
    out: list[str] = []
    h = (lambda level, text: out.append(f"{'#' * level} {text}\n")) if md else (
        lambda level, text: out.append(f"{'=' * 3 if level <= 2 else '---'} {text}"))

    def table(headers: list[str], rows: list[list[str]]) -> None:
        if md:
            out.append("| " + " | ".join(headers) + " |")
            out.append("|" + "|".join("---" for _ in headers) + "|")
            out.extend("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows)
            out.append("")
        else:
            widths = [max(len(str(x)) for x in [hd] + [r[i] for r in rows]) for i, hd in enumerate(headers)]
            out.append("  " + "  ".join(hd.ljust(w) for hd, w in zip(headers, widths)))
            out.extend("  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths)) for row in rows)
            out.append("")

    h(2, "DR review of the synthesized stacks")
    if checkov and "*" in checkov:
        out.append(f"checkov gate: **{checkov['*']}**\n" if md else f"checkov gate: {checkov['*']}\n")
    for rv in reviews:
        st = rv.stack
        h(3, f"Stack `{st.name}`" if md else f"Stack {st.name}")
        if checkov and st.name in checkov:
            out.append(f"checkov: {checkov[st.name]}\n")
        if rv.plan is not None:
            rows = [[_region_label(st, r), str(c["add"]), str(c["change"]), str(c["destroy"]),
                     str(c["replace"])] for r, c in sorted(rv.plan.items())]
            if rows:
                out.append("Plan (terraform show -json):")
                table(["region", "add", "change", "destroy", "replace"], rows)
            else:
                out.append("Plan: no changes.\n")
        regions = sorted(rv.by_region, key=lambda r: (st.role_of_region(r) == r, r))
        types = sorted({t for c in rv.by_region.values() for t in c})
        rows = [[t + (" (global service)" if t.startswith(GLOBAL_PREFIXES) else "")]
                + [str(rv.by_region[r].get(t, "")) for r in regions] for t in types]
        rows.append(["total"] + [str(sum(rv.by_region[r].values())) for r in regions])
        headers = ["type"] + [_region_label(st, r) for r in regions]
        total = sum(sum(c.values()) for c in rv.by_region.values())
        if md:
            out.append(f"<details><summary>Resources by region and type ({total})</summary>\n")
            table(headers, rows)
            out.append("</details>\n")
        else:
            out.append(f"Resources by region and type ({total}):")
            table(headers, rows)

        out.append("Replication and its monitoring:" if not md else "**Replication and its monitoring**\n")
        if rv.replications:
            table(["what", "from -> to", "target", "monitored by"],
                  [[f"{r.kind}: {r.name}", f"{r.source} -> {r.destination}", r.target,
                    "; ".join(a.text for a in r.alarms) or "NOT MONITORED"] for r in rv.replications])
        else:
            out.append("  not configured: nothing replicates across regions in this stack\n")
        out.append("Failover path:" if not md else "**Failover path**\n")
        if rv.records:
            table(["record", "role", "serves from", "health check", "detection", "TTL", "alarm"],
                  [[r.name, r.role, r.region, r.health_check or "NONE", fmt_s(r.detection_s),
                    fmt_s(r.ttl_s), "; ".join(a.text for a in r.alarms) or "NOT MONITORED"]
                   for r in rv.records])
        else:
            out.append("  not configured: no Route 53 failover records in this stack\n")
        out.append(f"RTO/RPO budget (targets: RTO {fmt_s(RTO_TARGET_S)}, RPO {fmt_s(RPO_TARGET_S)}):"
                   if not md else
                   f"**RTO/RPO budget** (targets: RTO {fmt_s(RTO_TARGET_S)}, RPO {fmt_s(RPO_TARGET_S)})\n")
        table(["", "budget line", "value", "target", "how", "result"],
              [[b.objective, b.item, fmt_s(b.value_s) if b.value_s is not None else "-",
                fmt_s(b.target_s), b.detail, f"**{b.status}**" if md and b.status == "FAIL" else b.status]
               for b in rv.budget])
    return "\n".join(out).rstrip() + "\n"


# -- diagram ---------------------------------------------------------------------------------

TIERS = [  # (label, resource types counted, "what")
    ("API Gateway", ("aws_api_gateway_rest_api", "aws_apigatewayv2_api"), "REST API + custom domain"),
    ("Lambda", ("aws_lambda_function",), "functions"),
    ("Aurora", ("aws_rds_cluster",), "cluster"),
    ("DynamoDB", ("aws_dynamodb_table", "aws_dynamodb_table_replica"), "tables"),
    ("S3", ("aws_s3_bucket",), "buckets"),
    ("Monitoring", ("aws_cloudwatch_metric_alarm",), "alarms"),
]


def _tiers_in(stack: Stack, region: str, replications: list[Replication]) -> dict[str, str]:
    counts = Counter()
    for rtype, _, body in stack.resources():
        if stack.region_of(body) == region:
            counts[rtype] += 1
    tiers = {}
    for label, types, what in TIERS:
        n = sum(counts[t] for t in types)
        if label == "DynamoDB":  # replicas declared inside the table live in the other region
            n += len({r.name for r in replications if r.kind.startswith("DynamoDB") and r.destination == region
                      and r.source != region and not counts["aws_dynamodb_table"]})
            if n and not counts["aws_dynamodb_table"]:
                what = "replicas"
        if label == "Aurora" and n:
            writer = any(r.source == region for r in replications if r.kind.startswith("Aurora"))
            what = "writer cluster" if writer else "secondary cluster"
        if n:
            if n == 1 and what.endswith("s"):
                what = what[:-1].replace("replica", "replica")
            tiers[label] = f"{n} {what}" if label != "Aurora" else what
    return tiers


def diagram_svg(rv: StackReview) -> str:
    """Two region boxes with their tiers, replication arrows between them, Route 53 above."""
    st = rv.stack
    regions = [r for a, r in st.regions.items() if a] or sorted(rv.by_region)
    regions = regions[:2]
    if len(regions) < 2:
        regions = (regions + ["(no second region)"])[:2]
    tiers = [_tiers_in(st, r, rv.replications) for r in regions]
    labels = [t for t, _, _ in TIERS if any(t in x for x in tiers)]
    W, box_w, tier_h, gap = 980, 300, 46, 18
    left_x, right_x = 60, W - 60 - box_w
    top = 190
    height = top + len(labels) * (tier_h + gap) + 90
    s: list[str] = []
    e = html.escape
    s.append(f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" '
             f'viewBox="0 0 {W} {height}" font-family="Helvetica, Arial, sans-serif" font-size="14">')
    s.append('<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
             'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#333"/>'
             '</marker></defs>')
    s.append(f'<rect width="{W}" height="{height}" fill="#ffffff"/>')
    s.append(f'<text x="{W / 2}" y="28" text-anchor="middle" font-size="20" font-weight="bold">'
             f'{e(st.name)}: multi-region DR architecture (generated from cdk.tf.json)</text>')
    # Route 53 / failover
    r53_w = 420
    r53_x = (W - r53_w) / 2
    primary_rec = next((r for r in rv.records if r.role == "PRIMARY"), None)
    if rv.records:
        detail = (f"failover records, health checks every {fmt_s(primary_rec.detection_s / 3) if primary_rec and primary_rec.detection_s else '?'}"
                  f" x 3, TTL {fmt_s(max((r.ttl_s or 0) for r in rv.records))}")
        s.append(f'<rect x="{r53_x}" y="50" width="{r53_w}" height="62" rx="8" fill="#fff4e0" stroke="#d08000" stroke-width="2"/>')
        s.append(f'<text x="{W / 2}" y="75" text-anchor="middle" font-weight="bold">Route 53: {e(primary_rec.name if primary_rec else rv.records[0].name)}</text>')
        s.append(f'<text x="{W / 2}" y="97" text-anchor="middle" font-size="12">{e(detail)}</text>')
    else:
        s.append(f'<text x="{W / 2}" y="85" text-anchor="middle" fill="#a00">Route 53 failover: not configured</text>')
    # regions
    for i, region in enumerate(regions):
        x = left_x if i == 0 else right_x
        role = st.role_of_region(region)
        s.append(f'<rect x="{x - 20}" y="{top - 45}" width="{box_w + 40}" height="{len(labels) * (tier_h + gap) + 45}" rx="12" '
                 f'fill="{"#eef5ff" if i == 0 else "#eefaf0"}" stroke="{"#3a6fb0" if i == 0 else "#3a9a50"}" stroke-width="2"/>')
        s.append(f'<text x="{x + (110 if i == 0 else box_w - 110)}" y="{top - 18}" text-anchor="middle" font-size="17" font-weight="bold">'
                 f'{e(region)} ({e(role)})</text>')
        for j, label in enumerate(labels):
            y = top + j * (tier_h + gap)
            text = tiers[i].get(label)
            fill, stroke, dash = ("#ffffff", "#555", "") if text else ("#f4f4f4", "#bbb", ' stroke-dasharray="4 3"')
            s.append(f'<rect x="{x}" y="{y}" width="{box_w}" height="{tier_h}" rx="6" fill="{fill}" stroke="{stroke}"{dash}/>')
            s.append(f'<text x="{x + 14}" y="{y + 20}" font-weight="bold">{e(label)}</text>')
            s.append(f'<text x="{x + 14}" y="{y + 38}" font-size="12" fill="#333">{e(text or "none")}</text>')
    # failover arrows: Route 53 -> API tier of each region
    if rv.records and "API Gateway" in labels:
        j = labels.index("API Gateway")
        y = top + j * (tier_h + gap) + tier_h / 2
        for rec in rv.records:
            if rec.region not in regions:
                continue
            i = regions.index(rec.region)
            x_end = left_x + box_w - 40 if i == 0 else right_x + 40
            x_start = r53_x + (60 if i == 0 else r53_w - 60)
            color = "#d08000" if rec.role == "PRIMARY" else "#b05000"
            dash = "" if rec.role == "PRIMARY" else ' stroke-dasharray="7 4"'
            s.append(f'<path d="M{x_start},112 L{x_end},{top + j * (tier_h + gap)}" stroke="{color}" stroke-width="2.5" '
                     f'fill="none" marker-end="url(#arrow)"{dash}/>')
            lx = (x_start + x_end) / 2 + (-48 if i == 0 else 48)
            s.append(f'<text x="{lx}" y="{(112 + top + j * (tier_h + gap)) / 2 - 6}" text-anchor="middle" font-size="12" '
                     f'fill="{color}" font-weight="bold">{e(rec.role)}</text>')
        del y
    # replication arrows between tiers
    kind_tier = {"Aurora global database": "Aurora", "DynamoDB global table": "DynamoDB", "S3 replication": "S3"}
    drawn = defaultdict(list)
    for r in rv.replications:
        drawn[(kind_tier[r.kind], r.source, r.destination)].append(r)
    for label in labels:
        if label not in kind_tier.values():
            continue
        j = labels.index(label)
        y = top + j * (tier_h + gap) + tier_h / 2
        forward = drawn.get((label, regions[0], regions[1]), [])
        backward = drawn.get((label, regions[1], regions[0]), [])
        if not forward and not backward:
            continue
        x1, x2 = left_x + box_w, right_x
        both = bool(forward and backward)
        marker = 'marker-end="url(#arrow)"' + (' marker-start="url(#arrow)"' if both else "")
        if backward and not forward:
            x1, x2 = x2, x1
        s.append(f'<line x1="{x1 + 4}" y1="{y}" x2="{x2 - 4}" y2="{y}" stroke="#333" stroke-width="2.5" {marker}/>')
        rs = forward or backward
        mon = "monitored" if all(r.alarms for r in rs) else "NOT MONITORED"
        target = rs[0].target.split(",")[0]
        s.append(f'<text x="{W / 2}" y="{y - 8}" text-anchor="middle" font-size="12" font-weight="bold">'
                 f'{"two-way" if both else "one-way"} replication</text>')
        s.append(f'<text x="{W / 2}" y="{y + 18}" text-anchor="middle" font-size="11" '
                 f'fill="{"#2a6" if mon == "monitored" else "#c00"}">{e(target)}; {mon}</text>')
    # legend / budget
    ly = height - 40
    traffic = next((b for b in rv.budget if b.item.startswith("Traffic RTO")), None)
    rpo_fail = sum(1 for b in rv.budget if b.objective == "RPO" and b.status == "FAIL")
    legend = (f"Traffic RTO {fmt_s(traffic.value_s) if traffic and traffic.value_s is not None else 'n/a'} "
              f"({traffic.status if traffic else 'not configured'}) vs target {fmt_s(RTO_TARGET_S)}; "
              f"RPO lines failing the {fmt_s(RPO_TARGET_S)} target: {rpo_fail}")
    s.append(f'<text x="{W / 2}" y="{ly}" text-anchor="middle" font-size="13">{e(legend)}</text>')
    s.append(f'<text x="{W / 2}" y="{ly + 22}" text-anchor="middle" font-size="11" fill="#555">'
             'solid orange: PRIMARY failover record, dashed: SECONDARY; black arrows: data replication '
             '(make review regenerates this file)</text>')
    s.append("</svg>")
    return "\n".join(s) + "\n"


# -- last drill (drctl drill writes drills/last-report.json) -----------------------------------

LAST_DRILL_REPORT = ROOT / "drills" / "last-report.json"


def drill_lines(path: Path, budget_rto_s: float | None = None) -> list[str]:
    """The last drill's measured figures next to the targets (and the configured RTO budget).

    Self-contained on purpose: it reads only the report `drctl drill` writes (its JSON keys
    `drill`, `environment`, `outcome`, `ended_at`, `measured`, `broke`).
    """
    try:
        report = json.loads(Path(path).read_text())
        measured = report["measured"]
    except FileNotFoundError:
        return [f"Last drill: no report at {path} (run `drctl drill NAME`, see docs/drills.md)"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        return [f"Last drill: report {path} unreadable ({type(error).__name__}: {error})"]
    rto, rpo = measured.get("rto_s"), measured.get("rpo_s")
    budget = f", configured budget {fmt_s(budget_rto_s)}" if budget_rto_s is not None else ""

    def verdict(value, target):
        return "not measured" if value is None else (
            f"{fmt_s(value)} {'PASS' if value <= target else 'FAIL'}")

    rpo_text = verdict(rpo, RPO_TARGET_S)
    if rpo is None and measured.get("rpo_upper_s") is not None:  # canary bounds only
        rpo_text = (f"between {fmt_s(measured.get('rpo_lower_s') or 0)} and "
                    f"{fmt_s(measured['rpo_upper_s'])}: INCONCLUSIVE at the canary's resolution")
    lines = [f"Last drill: {report.get('drill')} ({report.get('environment')}), "
             f"{str(report.get('outcome', '?')).upper()} at {report.get('ended_at') or '?'} ({path})",
             f"  measured RTO {verdict(rto, RTO_TARGET_S)} (target {fmt_s(RTO_TARGET_S)}{budget})",
             f"  measured RPO {rpo_text} (target {fmt_s(RPO_TARGET_S)})"]
    for key, value in sorted(measured.items()):
        if key not in ("rto_s", "rpo_s", "rpo_upper_s", "rpo_lower_s") and value is not None:
            lines.append(f"  {key[:-2].replace('_', ' ') if key.endswith('_s') else key}: {fmt_s(value)}")
    lines += [f"  broke: {item}" for item in report.get("broke") or []]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path", nargs="?", default=str(ROOT / "cdktf.out"),
                        help="cdktf output folder, a stack folder or a cdk.tf.json (default cdktf.out)")
    parser.add_argument("--format", choices=("text", "markdown"), default="text")
    parser.add_argument("--diagram", metavar="SVG", help="write the architecture diagram here")
    parser.add_argument("--plan-dir", metavar="DIR", help="<stack>.json files from terraform show -json")
    parser.add_argument("--checkov", metavar="FILE", help="output of scripts/checkov_gate.py")
    parser.add_argument("--output", metavar="FILE", help="write the report here instead of stdout")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any budget line FAILs")
    parser.add_argument("--drill-report", metavar="FILE",
                        help="drctl drill report to show next to the budget "
                             "(default drills/last-report.json when present)")
    args = parser.parse_args(argv)

    stacks = load_stacks(Path(args.path))
    plans = {}
    if args.plan_dir:
        for name in stacks:
            path = Path(args.plan_dir) / f"{name}.json"
            if path.is_file():
                plans[name] = json.loads(path.read_text())
    checkov = checkov_lines(Path(args.checkov).read_text()) if args.checkov and Path(args.checkov).is_file() else None
    reviews = review(stacks, plans=plans)
    text = render(reviews, args.format, checkov)
    drill_report = Path(args.drill_report) if args.drill_report else LAST_DRILL_REPORT
    if args.drill_report or drill_report.is_file():
        traffic = [b.value_s for rv in reviews for b in rv.budget
                   if b.item.startswith("Traffic RTO") and b.value_s is not None]
        text += "\n" + "\n".join(drill_lines(drill_report, max(traffic) if traffic else None)) + "\n"
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    if args.diagram:
        main_review = max(reviews, key=lambda rv: (len(rv.replications) + len(rv.records),
                                                    sum(sum(c.values()) for c in rv.by_region.values())))
        Path(args.diagram).parent.mkdir(parents=True, exist_ok=True)
        Path(args.diagram).write_text(diagram_svg(main_review))
        print(f"diagram: {args.diagram} (stack {main_review.stack.name})", file=sys.stderr)
    failed = any(b.status == "FAIL" for rv in reviews for b in rv.budget)
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
