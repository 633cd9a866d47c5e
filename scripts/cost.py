"""What the synthesized platform costs per month: idle, and per payment/s of traffic.

    python scripts/cost.py cdktf.out                 # markdown table, idle and at 10 payments/s
    python scripts/cost.py cdktf.out --rate 50 --json

Priced from the synthesized JSON (every resource of every stack in `<outdir>/stacks`) and the
dated price table `scripts/prices.json` (us-east-1/us-east-2 list prices, with sources). Every
resource type in the JSON is either priced here or listed in `FREE` with the reason it costs
nothing by itself; tests/test_cost.py fails on a type that is neither, so a new billable
resource cannot go unpriced.

What is measured from the JSON: instance classes and counts, keys, secrets and their replicas,
interface endpoints and their AZs, WAF rules, health checks and their features and interval,
alarms and the metrics they read, dashboards, scheduled functions and their memory, table
replicas, replication rules. What is assumed (the ASSUMPTIONS table, printed with the result):
how long each function runs, how many Route 53 checkers call each endpoint, what one payment
writes and reads. Storage that grows with traffic (records, receipts, logs, PITR) is shown as
"added per month", not as a steady state.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Json = dict[str, Any]

PRICES_FILE = Path(__file__).with_name("prices.json")
SECONDS_PER_MONTH = 730 * 3600

# Assumptions, each printed with the result. Durations are warm p50s of the functions as
# measured locally (scripts/bench_lambda.py) rounded up; AWS will differ.
ASSUMPTIONS: dict[str, tuple[float, str]] = {
    "route53_checkers_per_endpoint": (15, "Route 53 health checkers calling each endpoint per "
                                          "interval (AWS: 'about 15'; the default 8 regions)"),
    "health_seconds": (0.3, "GET /health run time, s (deep check: DynamoDB, S3, secret)"),
    "health_ddb_reads": (2, "DynamoDB reads per /health"),
    "health_s3_puts": (1, "S3 PUTs per /health (a locked probe object, replicated)"),
    "validator_seconds": (0.15, "POST /validate run time, s"),
    "authorizer_seconds": (0.05, "authorizer run time, s (a nonce per request: no cache hits)"),
    "payment_wru": (4, "DynamoDB write units per payment: record, idempotency in-progress and "
                       "completed, nonce"),
    "payment_rru": (2, "DynamoDB read units per payment (consistent idempotency and id reads)"),
    "payment_record_kb": (1.0, "transaction record size, KB"),
    "receipt_kb": (2.0, "receipt object size, KB"),
    "payment_log_kb": (3.0, "log lines per payment (API access + Lambda), KB"),
    "health_log_kb": (1.0, "log lines per health check, KB"),
    "probe_seconds": (3.0, "probe run time per schedule tick, s"),
    "probe_requests": (2, "GET /probe requests per tick API Gateway bills and the health function serves: the "
                          "peer's, and the domain's signed for the region serving it"),
    "probe_waf_requests": (3, "GET /probe requests per tick WAF inspects: the domain is asked twice, signed for "
                              "each region; the other region's signature fails IAM authentication at the "
                              "gateway, which API Gateway does not bill"),
    "heartbeat_seconds": (1.0, "heartbeat run time per tick, s"),
    "reconcile_seconds": (1.0, "reconcile run time per tick with nothing new to check, s (a "
                               "watermark read and write, one index query; records priced with traffic)"),
    "reconcile_seconds_per_payment": (0.005, "reconcile run time per record checked, s (CPU-bound "
                                             "at its sizing: modules/jobs.py)"),
    "aurora_storage_gb": (10, "Aurora storage per cluster, GB (idle)"),
    "dupcheck_records_per_run": (1, "payment records per run of the stream duplicate check "
                                    "(EVENTUAL only; 1 is the worst case: a batch per record)"),
    "dupcheck_seconds_per_payment": (0.005, "duplicate check run time per record, s (one "
                                            "consistent Query; reconcile's per-record figure)"),
}

# Resource types that cost nothing by themselves (their traffic is priced where it happens).
FREE: dict[str, str] = {
    "aws_acm_certificate": "public ACM certificates are free",
    "aws_acm_certificate_validation": "no AWS resource (waits for validation)",
    "aws_api_gateway_account": "account setting",
    "aws_api_gateway_authorizer": "priced per request as the authorizer function's runs",
    "aws_api_gateway_base_path_mapping": "configuration",
    "aws_api_gateway_deployment": "configuration",
    "aws_api_gateway_domain_name": "regional custom domains are free",
    "aws_api_gateway_gateway_response": "configuration",
    "aws_api_gateway_integration": "configuration",
    "aws_api_gateway_method": "configuration",
    "aws_api_gateway_method_settings": "configuration (its logs are priced per request)",
    "aws_api_gateway_model": "configuration",
    "aws_api_gateway_request_validator": "configuration",
    "aws_api_gateway_resource": "configuration",
    "aws_api_gateway_rest_api": "priced per request (traffic)",
    "aws_api_gateway_rest_api_policy": "configuration",
    "aws_api_gateway_stage": "priced per request (no cache cluster)",
    "aws_api_gateway_usage_plan": "usage plans and API keys are free (the requests they meter are priced)",
    "aws_backup_selection": "free (the plan's recovery points are priced)",
    "aws_backup_vault": "free (recovery points priced with the plan)",
    "aws_backup_vault_lock_configuration": "free",
    "aws_cloudwatch_event_rule": "scheduled rules are free; their targets are priced",
    "aws_cloudwatch_event_target": "free",
    "aws_cloudwatch_log_group": "priced by what is ingested and kept (traffic)",
    "aws_cloudwatch_log_metric_filter": "free (its metric is a custom metric, priced)",
    "aws_cloudwatch_log_resource_policy": "free",
    "aws_db_subnet_group": "free",
    "aws_default_security_group": "free",
    "aws_flow_log": "priced as log ingestion (traffic; idle VPCs log little)",
    "aws_fis_experiment_template": "priced per action-minute only when a drill runs",
    "aws_iam_role": "free",
    "aws_iam_role_policy": "free",
    "aws_iam_role_policy_attachment": "free",
    "aws_iam_openid_connect_provider": "free",
    "aws_iam_policy": "free",
    "aws_kms_alias": "free",
    "aws_lambda_code_signing_config": "free",
    "aws_lambda_event_source_mapping": "free: Lambda's reads of a DynamoDB stream that triggers "
                                       "it are not billed, filtered-out records cost nothing; "
                                       "its runs are priced with payment traffic",
    "aws_lambda_function_event_invoke_config": "free",
    "aws_lambda_permission": "free",
    "aws_rds_cluster_parameter_group": "free",
    "aws_rds_global_cluster": "priced as replicated write I/O (traffic)",
    "aws_route53_record": "alias queries to API Gateway are free; validation CNAMEs are queried "
                          "only by ACM",
    "aws_route_table": "free",
    "aws_route_table_association": "free",
    "aws_s3_bucket_lifecycle_configuration": "free",
    "aws_s3_bucket_object_lock_configuration": "free",
    "aws_s3_bucket_ownership_controls": "free",
    "aws_s3_bucket_policy": "free",
    "aws_s3_bucket_public_access_block": "free",
    "aws_s3_bucket_server_side_encryption_configuration": "free (bucket keys keep KMS calls low)",
    "aws_s3_bucket_versioning": "free",
    "aws_s3_object": "one function package per region: a few MB",
    "aws_secretsmanager_secret_policy": "configuration of a priced secret",
    "aws_secretsmanager_secret_version": "priced per secret",
    "aws_secretsmanager_secret_rotation": "configuration of a priced secret (a rotation every "
                                          "30 days: one Lambda run, within the free tier)",
    "aws_serverlessapplicationrepository_cloudformation_stack": (
        "AWS's rotation function: no charge for the stack; one short Lambda run a month"),
    "terraform_data": "Terraform built-in, no AWS resource (the apply-time master password step)",
    "aws_security_group": "free",
    "aws_signer_signing_job": "AWS Signer has no charge",
    "aws_signer_signing_profile": "AWS Signer has no charge",
    "aws_sns_topic": "alarm notifications: a few per month",
    "aws_sns_topic_policy": "free",
    "aws_sns_topic_subscription": "alarm notifications: a few per month",
    "aws_ssm_parameter": "standard parameters are free",
    "aws_subnet": "free",
    "aws_vpc": "free (no NAT gateway)",
    "aws_vpc_security_group_egress_rule": "free",
    "aws_vpc_security_group_ingress_rule": "free",
    "aws_wafv2_ip_set": "free",
    "aws_wafv2_web_acl_association": "free",
    "aws_wafv2_web_acl_logging_configuration": "priced as log ingestion (traffic)",
}
PRICED = {"aws_rds_cluster", "aws_rds_cluster_instance", "aws_dynamodb_table", "aws_kms_key",
          "aws_secretsmanager_secret", "aws_vpc_endpoint", "aws_wafv2_web_acl",
          "aws_route53_zone", "aws_route53_health_check", "aws_cloudwatch_metric_alarm",
          "aws_cloudwatch_dashboard", "aws_lambda_function", "aws_s3_bucket",
          "aws_s3_bucket_replication_configuration", "aws_backup_plan"}


@dataclass
class Line:
    category: str
    item: str
    idle: float = 0.0           # USD per month with no payments
    per_rate: float = 0.0       # USD per month per payment/s
    growth_per_rate: float = 0.0  # USD per month added each month per payment/s (storage)


@dataclass
class Estimate:
    lines: list[Line] = field(default_factory=list)
    unpriced: dict[str, list[str]] = field(default_factory=dict)

    def idle(self) -> float:
        return sum(line.idle for line in self.lines)

    def at(self, rate: float) -> float:
        return self.idle() + rate * sum(line.per_rate for line in self.lines)

    def growth(self, rate: float) -> float:
        return rate * sum(line.growth_per_rate for line in self.lines)


def load_prices(path: Path = PRICES_FILE) -> Json:
    prices: Json = json.loads(path.read_text())
    return prices


def load_stacks(outdir: Path) -> dict[str, Json]:
    return {p.parent.name: json.loads(p.read_text())
            for p in sorted(Path(outdir).glob("stacks/*/cdk.tf.json"))}


def _resources(stacks: dict[str, Json]) -> Iterator[tuple[str, str, str, Json, str]]:
    for stack_name, stack in stacks.items():
        regions = {f"aws.{p['alias']}": p["region"]
                   for p in stack.get("provider", {}).get("aws", []) if "alias" in p}
        for rtype, items in stack.get("resource", {}).items():
            for logical, body in items.items():
                yield stack_name, rtype, logical, body, regions.get(body.get("provider", ""), "?")


def unpriced_types(stacks: dict[str, Json]) -> dict[str, list[str]]:
    """Resource types in the JSON that are neither priced nor known to be free."""
    found: dict[str, list[str]] = defaultdict(list)
    for stack_name, rtype, logical, _, _ in _resources(stacks):
        if rtype not in PRICED and rtype not in FREE:
            found[rtype].append(f"{stack_name}:{logical}")
    return dict(found)


def estimate(stacks: dict[str, Json], prices: Json | None = None) -> Estimate:
    p = (prices or load_prices())["prices"]
    a = {k: v for k, (v, _) in ASSUMPTIONS.items()}
    result = Estimate(unpriced=unpriced_types(stacks))
    add = result.lines.append
    functions: Json = {}
    for _, rtype, logical, body, _region in _resources(stacks):
        if rtype == "aws_lambda_function":
            functions[logical] = body
    for stack_name, rtype, logical, body, region in _resources(stacks):
        where = f"{stack_name}:{logical}"
        if rtype == "aws_rds_cluster_instance" and body.get("instance_class") == "db.serverless":
            acu = _serverless_min_acu(stacks[stack_name], body)
            add(Line("Aurora", f"db.serverless instance at its minimum {acu:g} ACU ({region})",
                     idle=acu * p["aurora_serverless_v2_acu_hour"] * 730))
        elif rtype == "aws_rds_cluster_instance":
            klass = body.get("instance_class")
            hourly = p["aurora_instance_hour"].get(klass)
            if hourly is None:
                result.unpriced.setdefault(f"aurora instance class {klass}", []).append(where)
                continue
            add(Line("Aurora", f"{klass} instance ({region})", idle=hourly * 730))
        elif rtype == "aws_rds_cluster":  # storage; a Serverless v2 instance is priced above
            add(Line("Aurora", f"cluster storage, {a['aurora_storage_gb']:g} GB ({region})",
                     idle=a["aurora_storage_gb"] * p["aurora_storage_gb_month"]))
        elif rtype == "aws_dynamodb_table":
            copies = 1 + len(body.get("replica", []) or [])
            pitr = (body.get("point_in_time_recovery") or {}).get("enabled")
            add(Line("DynamoDB", f"table {body.get('name')} ({copies} regions)"))
            if "transactions" in str(body.get("name")):
                per_payment_gb = a["payment_record_kb"] / 1024 / 1024
                added = per_payment_gb * SECONDS_PER_MONTH * copies
                add(Line("DynamoDB", f"{body.get('name')}: storage{' + PITR' if pitr else ''} "
                         "added per month", growth_per_rate=added * (
                             p["dynamodb_storage_gb_month"] + (p["dynamodb_pitr_gb_month"] if pitr else 0))))
        elif rtype == "aws_backup_plan":
            add(_backup_plan(body, region, p, a, stacks))
        elif rtype == "aws_kms_key":
            add(Line("KMS", f"key ({region})", idle=p["kms_key_month"]))
        elif rtype == "aws_secretsmanager_secret":
            copies = 1 + len(body.get("replica", []) or [])
            add(Line("Secrets Manager", f"{body.get('name')} ({copies} regions)",
                     idle=copies * p["secrets_manager_secret_month"]))
        elif rtype == "aws_vpc_endpoint":
            if body.get("vpc_endpoint_type") == "Interface" or "subnet_ids" in body:
                azs = len(body.get("subnet_ids") or [])
                add(Line("VPC endpoints", f"{str(body.get('service_name')).rsplit('.', 1)[-1]} "
                         f"interface endpoint, {azs} AZs ({region})",
                         idle=azs * 730 * p["vpc_interface_endpoint_az_hour"]))
        elif rtype == "aws_wafv2_web_acl":
            rules = len(body.get("rule", []) or [])
            add(Line("WAF", f"web ACL + {rules} rules ({region})",
                     idle=p["waf_web_acl_month"] + rules * p["waf_rule_month"],
                     per_rate=SECONDS_PER_MONTH * p["waf_requests_per_million"] / 1e6))
        elif rtype == "aws_route53_zone":
            add(Line("Route 53", "hosted zone", idle=p["route53_hosted_zone_month"]))
        elif rtype == "aws_route53_health_check":
            add(_health_check(body, p, a, functions))
        elif rtype == "aws_cloudwatch_metric_alarm":
            metrics = _alarm_metrics(body)
            high = (body.get("period") or 60) < 60
            unit = p["cloudwatch_alarm_high_resolution_metric_month" if high
                     else "cloudwatch_alarm_metric_month"]
            add(Line("CloudWatch alarms", "alarm metric", idle=max(1, len(metrics)) * unit))
        elif rtype == "aws_cloudwatch_dashboard":
            add(Line("CloudWatch dashboards", f"dashboard ({region})", idle=p["cloudwatch_dashboard_month"]))
        elif rtype == "aws_lambda_function":
            line = _function(body, region, p, a, stacks)
            if line:
                add(line)
        elif rtype == "aws_s3_bucket":
            if "audit" in str(body.get("bucket")):
                kb = a["receipt_kb"] + 0  # receipts; replicas counted with replication
                add(Line("S3", f"audit bucket receipts ({region}) added per month",
                         growth_per_rate=kb / 1024 / 1024 * SECONDS_PER_MONTH * p["s3_standard_gb_month"]))
        elif rtype == "aws_s3_bucket_replication_configuration":
            replication_rules: list[Json] = body.get("rule", []) or []
            rtc = any((r.get("destination") or [{}])[0].get("replication_time") if isinstance(
                r.get("destination"), list) else (r.get("destination") or {}).get("replication_time")
                for r in replication_rules)
            replication_metrics = 4 * len(replication_rules) if rtc else 0
            gb_per_payment = a["receipt_kb"] / 1024 / 1024
            add(Line("S3 replication", f"{len(replication_rules)} rule(s) from {region}: "
                     f"{replication_metrics} replication metrics" + (", RTC" if rtc else ""),
                     idle=replication_metrics * p["cloudwatch_custom_metric_month"],
                     # Both directions exist; traffic flows from the serving region only.
                     per_rate=0.5 * SECONDS_PER_MONTH * (
                         p["s3_put_per_1000"] / 1000 + gb_per_payment * (
                             p["inter_region_transfer_gb"] + (p["s3_rtc_gb"] if rtc else 0)))))
    _custom_metrics(stacks, p, add)
    _payment_traffic(stacks, p, a, functions, add)
    return result


def _backup_plan(body: Json, region: str, p: Json, a: Json, stacks: dict[str, Json]) -> Line:
    """Recovery points: Aurora snapshots are incremental (about the volume, plus a copy in
    the peer's vault); DynamoDB backups are full, one kept per day of retention."""
    rules = body.get("rule") or []
    keep = max((r.get("lifecycle") or {}).get("delete_after", 0) for r in rules) if rules else 0
    copies = any(r.get("copy_action") for r in rules)
    selected = " ".join(str(s.get("resources")) for _, t, _, s, r in _resources(stacks)
                        if t == "aws_backup_selection" and r == region)
    idle = 0.0
    if "aws_rds_cluster" in selected:
        gb = a["aurora_storage_gb"]
        idle = gb * p["backup_aurora_snapshot_gb_month"] * (2 if copies else 1)
    per_payment_gb = a["payment_record_kb"] / 1024 / 1024
    return Line("AWS Backup", f"daily recovery points ({region}), kept {keep} days"
                + (", copied to the peer region" if copies else ""),
                idle=idle,
                growth_per_rate=per_payment_gb * SECONDS_PER_MONTH * keep
                * p["backup_dynamodb_gb_month"])


def _serverless_min_acu(stack: Json, instance: Json) -> float:
    """A Serverless v2 instance idles at its cluster's minimum capacity (billed per ACU-hour)."""
    match = re.search(r"aws_rds_cluster\.([^.}]+)\.", str(instance.get("cluster_identifier")))
    cluster = stack.get("resource", {}).get("aws_rds_cluster", {}).get(match[1] if match else "", {})
    scaling = cluster.get("serverlessv2_scaling_configuration") or {}
    if isinstance(scaling, list):
        scaling = scaling[0] if scaling else {}
    return float(scaling.get("min_capacity", 0.5))


def _traced(functions: Json, word: str) -> bool:
    """X-Ray bills a trace only where the function's tracing is Active (off in the dev profile)."""
    body: Json = next((f for f in functions.values() if word in str(f.get("function_name"))), {})
    return (body.get("tracing_config") or {}).get("mode") == "Active"


def _alarm_metrics(body: Json) -> list[Any]:
    queries = body.get("metric_query") or []
    if queries:
        return [q for q in queries if q.get("metric")]
    return [body.get("metric_name")]


def _health_check(body: Json, p: Json, a: Json, functions: Json) -> Line:
    """Route 53's own charge, plus, for endpoint checks, the chain each check request runs
    through: API Gateway, WAF, the health function, its reads and its locked S3 object."""
    kind = body.get("type")
    base = p["route53_health_check_aws_endpoint_month"]
    if kind not in ("HTTPS_STR_MATCH", "HTTPS", "HTTP_STR_MATCH", "HTTP", "TCP"):
        return Line("Route 53", f"{kind} health check", idle=base)
    features = sum([kind.startswith("HTTPS"), kind.endswith("STR_MATCH"),
                    (body.get("request_interval") or 30) == 10, bool(body.get("measure_latency"))])
    interval = body.get("request_interval") or 30
    requests = a["route53_checkers_per_endpoint"] * SECONDS_PER_MONTH / interval
    health: Json = next((f for f in functions.values() if "health" in str(f.get("function_name"))), {})
    gb = (health.get("memory_size") or 128) / 1024
    chain = requests * (
        p["api_gateway_rest_requests_per_million"] / 1e6 + p["waf_requests_per_million"] / 1e6
        + p["lambda_requests_per_million"] / 1e6
        + gb * a["health_seconds"] * p["lambda_arm64_gb_second"]
        + a["health_ddb_reads"] * p["dynamodb_read_request_unit_per_million"] / 1e6
        + a["health_s3_puts"] * 2 * p["s3_put_per_1000"] / 1000   # the object and its replica
        + (p["xray_traces_recorded_per_million"] / 1e6 if _traced(functions, "health") else 0)
        + a["health_log_kb"] / 1024 / 1024 * p["cloudwatch_logs_ingest_gb"])
    return Line("Route 53 health-check chain",
                f"{body.get('fqdn')}: check ({features} features, every {interval} s) + "
                f"{requests / 1e6:.1f} M requests/month through API Gateway, WAF, Lambda, "
                "DynamoDB, S3" + (", X-Ray" if _traced(functions, "health") else ""),
                idle=base + features * p["route53_health_check_optional_feature_month"] + chain)


def _schedule_per_month(expression: str) -> float:
    match = re.match(r"rate\((\d+) (minute|minutes|hour|hours)\)", expression or "")
    if not match:
        return 0.0
    every = int(match[1]) * (60 if match[2].startswith("minute") else 3600)
    return SECONDS_PER_MONTH / every


def _function(body: Json, region: str, p: Json, a: Json, stacks: Json) -> Line | None:
    """Scheduled functions run while idle; request-driven ones are priced with traffic."""
    name = str(body.get("function_name"))
    for job, seconds in (("probe", "probe_seconds"), ("heartbeat", "heartbeat_seconds"),
                         ("reconcile", "reconcile_seconds")):
        if f"-{job}-" in name or name.startswith(f"payment-{job}"):
            runs = _runs_per_month(job, region, stacks)
            gb = (body.get("memory_size") or 128) / 1024
            idle = runs * (p["lambda_requests_per_million"] / 1e6
                           + gb * a[seconds] * p["lambda_arm64_gb_second"])
            if job == "probe":  # each tick calls GET /probe on the peer and (twice) on the domain
                idle += runs * (a["probe_requests"] * (p["api_gateway_rest_requests_per_million"]
                                                       + p["lambda_requests_per_million"])
                                + a["probe_waf_requests"] * p["waf_requests_per_million"]) / 1e6
            return Line("Scheduled functions", f"{job} ({region}): {runs:,.0f} runs/month",
                        idle=idle)
    return None


def _runs_per_month(job: str, region: str, stacks: Json) -> float:
    for _, rtype, _, body, rule_region in _resources(stacks):
        if rtype == "aws_cloudwatch_event_rule" and job in str(body.get("name")) \
                and rule_region == region:
            return _schedule_per_month(body.get("schedule_expression", ""))
    return 0.0


def _custom_metrics(stacks: dict[str, Json], p: Json, add: Callable[[Line], None]) -> None:
    """At least the custom metrics the alarms read (each name + dimension set is one metric)."""
    seen: set[tuple[str, str, Any, str]] = set()
    for _, rtype, _, body, region in _resources(stacks):
        if rtype != "aws_cloudwatch_metric_alarm":
            continue
        queries = body.get("metric_query") or [{"metric": body}]
        for query in queries:
            metrics = query.get("metric") or []
            for metric in metrics if isinstance(metrics, list) else [metrics]:
                namespace = str(metric.get("namespace"))
                if namespace and not namespace.startswith("AWS/"):
                    seen.add((region, namespace, metric.get("metric_name"),
                              json.dumps(metric.get("dimensions"), sort_keys=True)))
    add(Line("CloudWatch metrics", f"{len(seen)} custom metrics read by alarms (a lower bound)",
             idle=len(seen) * p["cloudwatch_custom_metric_month"]))


def _payment_traffic(stacks: dict[str, Json], p: Json, a: Json, functions: Json,
                     add: Callable[[Line], None]) -> None:
    """What one payment/s sustained for a month costs, in the region that serves it."""
    def memory(word: str) -> float:
        body: Json = next((f for f in functions.values() if word in str(f.get("function_name"))), {})
        return (body.get("memory_size") or 128) / 1024

    per_payment = {
        "API Gateway request": p["api_gateway_rest_requests_per_million"] / 1e6,
        "authorizer + validator runs": 2 * p["lambda_requests_per_million"] / 1e6
        + (memory("authorizer") * a["authorizer_seconds"]
           + memory("validator") * a["validator_seconds"]) * p["lambda_arm64_gb_second"],
        "DynamoDB writes, replicated writes and reads":
            a["payment_wru"] * (p["dynamodb_write_request_unit_per_million"]
                                + p["dynamodb_replicated_write_request_unit_per_million"]) / 1e6
            + a["payment_rru"] * p["dynamodb_read_request_unit_per_million"] / 1e6,
        "receipt PUT": p["s3_put_per_1000"] / 1000,
        # Each region's job checks every record once (its replica holds both regions' payments):
        # a HeadObject, an eventually consistent Query (0.5 read unit), its run time.
        "reconcile checks (both regions)": 2 * (
            p["s3_get_per_1000"] / 1000 + 0.5 * p["dynamodb_read_request_unit_per_million"] / 1e6
            + memory("reconcile") * a["reconcile_seconds_per_payment"] * p["lambda_arm64_gb_second"]),
        # EVENTUAL only (modules/jobs.py DuplicateCheck): each replica's stream delivers every
        # payment record once; each is a run share and a strongly consistent Query (1 read unit).
        "duplicate stream check (both regions)": 2 * (
            p["lambda_requests_per_million"] / 1e6 / a["dupcheck_records_per_run"]
            + p["dynamodb_read_request_unit_per_million"] / 1e6
            + memory("dupcheck") * a["dupcheck_seconds_per_payment"] * p["lambda_arm64_gb_second"])
        if any("-dupcheck-" in str(f.get("function_name")) for f in functions.values()) else 0,
        "X-Ray trace": p["xray_traces_recorded_per_million"] / 1e6 if _traced(functions, "validator") else 0,
        "log ingestion": a["payment_log_kb"] / 1024 / 1024 * p["cloudwatch_logs_ingest_gb"],
    }
    for item, usd in per_payment.items():
        add(Line("Payments", item, per_rate=usd * SECONDS_PER_MONTH))
    add(Line("Payments", "log storage added per month (kept for the retention period)",
             growth_per_rate=a["payment_log_kb"] / 1024 / 1024 * SECONDS_PER_MONTH
             * p["cloudwatch_logs_storage_gb_month"]))


def render(result: Estimate, rate: float, prices: Json, label: str) -> str:
    by_category: dict[str, list[Line]] = defaultdict(list)
    for line in result.lines:
        by_category[line.category].append(line)
    out = [f"# Monthly cost estimate: {label}",
           "", f"Prices: {prices['basis']} As of {prices['as_of']}.",
           "", f"| category | idle USD/month | at {rate:g} payments/s USD/month |", "|---|---:|---:|"]
    for category, lines in sorted(by_category.items(), key=lambda kv: -sum(x.idle for x in kv[1])):
        idle = sum(x.idle for x in lines)
        busy = idle + rate * sum(x.per_rate for x in lines)
        out.append(f"| {category} | {idle:,.2f} | {busy:,.2f} |")
    out.append(f"| **total** | **{result.idle():,.2f}** | **{result.at(rate):,.2f}** |")
    out += ["", f"Storage added each month at {rate:g} payments/s (records with PITR, receipts, "
            f"logs): about USD {result.growth(rate):,.2f} more every month.", "", "Assumptions:"]
    out += [f"- {key} = {value:g}: {why}" for key, (value, why) in ASSUMPTIONS.items()]
    if result.unpriced:
        out += ["", "UNPRICED (add to scripts/cost.py): " + ", ".join(sorted(result.unpriced))]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", nargs="?", default="cdktf.out")
    parser.add_argument("--rate", type=float, default=10.0, help="payments per second")
    parser.add_argument("--label", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    stacks = load_stacks(Path(args.outdir))
    if not stacks:
        print(f"no stacks under {args.outdir}/stacks: run `make synth` first", file=sys.stderr)
        return 2
    prices = load_prices()
    result = estimate(stacks, prices)
    if args.json:
        print(json.dumps({"as_of": prices["as_of"], "rate": args.rate, "idle": round(result.idle(), 2),
                          "at_rate": round(result.at(args.rate), 2),
                          "growth_per_month": round(result.growth(args.rate), 2),
                          "unpriced": result.unpriced,
                          "lines": [vars(line) for line in result.lines]}, indent=1))
    else:
        print(render(result, args.rate, prices, args.label or str(args.outdir)))
    return 1 if result.unpriced else 0


if __name__ == "__main__":
    sys.exit(main())
