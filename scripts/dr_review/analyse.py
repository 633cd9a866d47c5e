"""What replicates where, which alarm watches it, the failover path; plan and checkov inputs."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .load import JSON, Stack, blocks, fmt_s, num, refs, short

API_GATEWAY_ALIAS_TTL_S = 60  # alias A records answer with the target's TTL: 60 s for API Gateway

# Alarm predicates (dims, alarm body) -> bool, built per edge so that no closure captures a
# loop variable.
AlarmPredicate = Callable[[dict[str, Any], dict[str, Any]], bool]


_IDENTITY = re.compile(r"\$\{data\.aws_caller_identity\.[A-Za-z0-9_-]+\.account_id\}")
_PARTITION = re.compile(r"\$\{data\.aws_partition\.[A-Za-z0-9_-]+\.partition\}")


def same_name(value: str) -> str:
    """A physical name as the stacks spell it, with each stack's own account/partition token
    folded: `...-${data.aws_caller_identity.identity-dr.account_id}-...` names the same bucket
    whichever stack's identity data source spells it (one account)."""
    return _PARTITION.sub("<partition>", _IDENTITY.sub("<account>", value))


def _names(*values: Any) -> set[str]:
    """The literal names among values (None and non-strings dropped), tokens folded."""
    return {same_name(v) for v in values if isinstance(v, str)}


@dataclass
class Alarm:
    name: str
    region: str
    metric: str
    threshold: float | None
    window_s: float | None  # period x evaluation_periods
    text: str


def alarm_metrics(body: JSON) -> list[tuple[str, str, JSON]]:
    """(namespace, metric, dimensions) of a plain alarm or of each metric of a metric-math alarm."""
    found = []
    if body.get("metric_name"):
        found.append((body.get("namespace", ""), body["metric_name"], body.get("dimensions") or {}))
    for query in blocks(body.get("metric_query")):
        for metric in blocks(query.get("metric")):
            found.append((metric.get("namespace", ""), metric.get("metric_name", ""),
                          metric.get("dimensions") or {}))
    return found


def matching_alarms(stack: Stack, metric: str, namespace: str | None,
                    predicate: AlarmPredicate = lambda dims, body: True) -> list[Alarm]:
    result = []
    for name, body in stack.alarms():
        for ns, m, dims in alarm_metrics(body):
            if m == metric and (namespace is None or ns == namespace) and predicate(dims, body):
                period, evaluations = num(body.get("period")), num(body.get("evaluation_periods"))
                window = period * evaluations if period and evaluations else None
                threshold = num(body.get("threshold"))
                op = {"GreaterThanThreshold": ">", "GreaterThanOrEqualToThreshold": ">=",
                      "LessThanThreshold": "<", "LessThanOrEqualToThreshold": "<="}.get(
                          body.get("comparison_operator", ""), body.get("comparison_operator", "?"))
                label = body.get("alarm_name") or name
                if isinstance(label, str) and "${" in label:
                    label = name
                unit = {"AWS/DynamoDB": " ms", "AWS/S3": " s"}.get(ns, "") if m == "ReplicationLatency" \
                    else (" ms" if m.startswith("AuroraGlobalDB") else "")
                text = (f"{label}: {m} {op} {threshold:g}{unit} for {evaluations:g} x {fmt_s(period)}"
                        if threshold is not None and period and evaluations else f"{label}: {m}")
                result.append(Alarm(name, stack.region_of(body), m, threshold, window, text))
                break
    return result


def _dim_points_to(value: Any, addresses: set[str], literals: set[str]) -> bool:
    if value is None:
        return False
    return bool(refs(value) & addresses) or (isinstance(value, str) and same_name(value) in literals)




def _dimension_points_to(key: str, addresses: set[str], literals: set[str], *,
                         optional: bool = False) -> AlarmPredicate:
    """The alarm's `key` dimension names one of these resources (or, if optional, is absent)."""
    def match(dims: dict[str, Any], _body: dict[str, Any]) -> bool:
        return (optional and key not in dims) or _dim_points_to(dims.get(key), addresses, literals)
    return match


def _table_edge(stack: Stack, address: str, literals: set[str], source: str, destination: str) -> AlarmPredicate:
    """A DynamoDB ReplicationLatency alarm in `source` for this table towards `destination`."""
    def match(dims: dict[str, Any], body: dict[str, Any]) -> bool:
        return (_dim_points_to(dims.get("TableName"), {address}, literals)
                and dims.get("ReceivingRegion") in (None, destination)
                and stack.region_of(body) == source)
    return match


def _bucket_pair(source_buckets: set[str], source_literals: set[str],
                 dest_buckets: set[str], dest_literals: set[str]) -> AlarmPredicate:
    """An S3 replication alarm on this source bucket (and this destination, if it names one)."""
    def match(dims: dict[str, Any], _body: dict[str, Any]) -> bool:
        return (_dim_points_to(dims.get("SourceBucket"), source_buckets, source_literals)
                and ("DestinationBucket" not in dims or _dim_points_to(
                    dims.get("DestinationBucket"), dest_buckets, dest_literals)))
    return match


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
            literals = _names(b.get("cluster_identifier"))
            # AuroraGlobalDBRPOLag is Aurora PostgreSQL's RPO metric; the older lag metric counts too.
            alarms = [a for metric in ("AuroraGlobalDBRPOLag", "AuroraGlobalDBReplicationLag")
                      for a in matching_alarms(
                          stack, metric, "AWS/RDS",
                          _dimension_points_to("DBClusterIdentifier", addresses, literals,
                                               optional=True))]
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
    for _, _n, b in stack.resources("aws_dynamodb_table_replica"):
        for address in refs(b.get("global_table_arn")):
            separate[address].append(stack.region_of(b))
    for _, n, b in tables:
        address = f"aws_dynamodb_table.{n}"
        home = stack.region_of(b)
        replicas = [str(r.get("region_name")) for r in blocks(b.get("replica"))] + separate[address]
        literals = _names(b.get("name"))
        for other in replicas:
            for source, destination in ((home, other), (other, home)):  # global tables: multi-active
                alarms = matching_alarms(stack, "ReplicationLatency", "AWS/DynamoDB",
                                         _table_edge(stack, address, literals, source, destination))
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
        source_literals = _names(*((stack.get(a) or {}).get("bucket") for a in source_buckets))
        if not source_buckets:  # named, not referenced (the rule lives in another stack)
            source_literals = _names(b.get("bucket"))
            source_buckets = _buckets_named(stack, source_literals)
        for rule in blocks(b.get("rule")):
            if str(rule.get("status", "Enabled")) != "Enabled":
                continue
            for dest in blocks(rule.get("destination")):
                dest_buckets = {a for a in refs(dest.get("bucket")) if a.startswith("aws_s3_bucket.")}
                dest_literals = _names(*((stack.get(a) or {}).get("bucket") for a in dest_buckets))
                if not dest_buckets and isinstance(dest.get("bucket"), str):
                    dest_literals = _names(dest["bucket"].rsplit(":::", 1)[-1])
                    dest_buckets = _buckets_named(stack, dest_literals)
                dest_region = next((stack.region_of(stack.get(a)) for a in sorted(dest_buckets)), "?")
                rtc = None
                for rt in blocks(dest.get("replication_time")):
                    if rt.get("status") == "Enabled":
                        for t in blocks(rt.get("time")):
                            rtc = num(t.get("minutes"))
                watches = _bucket_pair(source_buckets, source_literals, dest_buckets, dest_literals)
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


def _buckets_named(stack: Stack, literals: set[str]) -> set[str]:
    return {f"aws_s3_bucket.{n}" for _, n, body in stack.resources("aws_s3_bucket")
            if isinstance(body.get("bucket"), str) and same_name(body["bucket"]) in literals}


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
        policies = blocks(b.get("failover_routing_policy"))
        if not policies:
            continue
        role = str(policies[0].get("type", "?"))
        aliases = blocks(b.get("alias"))
        target_refs = refs(aliases) if aliases else refs(b.get("records"))
        region = next((stack.region_of(stack.get(a)) for a in sorted(target_refs) if stack.get(a)), "?")
        if aliases:
            api = any(a.startswith(("aws_api_gateway_domain_name.", "aws_apigatewayv2_domain_name."))
                      for a in target_refs)
            ttl: float | None = API_GATEWAY_ALIAS_TTL_S
            basis = "alias to API Gateway regional domain" if api else "alias (target's TTL, assumed 60 s)"
        else:
            ttl, basis = num(b.get("ttl")), "record TTL"
        checks = sorted(a for a in refs(b.get("health_check_id")) if a.startswith("aws_route53_health_check."))
        detection, alarms = None, []
        if checks:
            # A CALCULATED check (endpoint AND failback gate) detects a failure through its
            # endpoint children: their interval x threshold, their alarms.
            endpoints = _endpoint_checks(stack, checks[0])
            timings = [interval * threshold
                       for hc in (stack.get(a) or {} for a in endpoints)
                       if (interval := num(hc.get("request_interval", 30)))
                       and (threshold := num(hc.get("failure_threshold", 3)))]
            detection = max(timings) if timings else None
            alarms = matching_alarms(
                stack, "HealthCheckStatus", "AWS/Route53",
                _dimension_points_to("HealthCheckId", {checks[0], *endpoints}, set()))
        result.append(FailoverRecord(str(b.get("name", n)), role, region, ttl, basis,
                                     checks[0] if checks else None, detection, alarms))
    return result



def _endpoint_checks(stack: Stack, address: str) -> list[str]:
    """The HTTP(S) checks behind a health check: itself, or a calculated check's children."""
    body = stack.get(address) or {}
    if body.get("type") == "CLOUDWATCH_METRIC":
        return []  # watches an alarm, not an endpoint (the failback gate)
    if body.get("type") != "CALCULATED":
        return [address]
    return sorted(a for child in refs(body.get("child_healthchecks"))
                  for a in _endpoint_checks(stack, child))


def plan_summary(stack: Stack, plan: JSON) -> dict[str, Counter[str]]:
    """{region: Counter(add/change/destroy/replace)} from `terraform show -json` of a plan."""
    per_region: dict[str, Counter[str]] = defaultdict(Counter)
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

