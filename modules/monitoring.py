"""Monitoring: an encrypted SNS topic per region, the alarms a DR platform lives by, dashboards.

Inputs: settings, names, the region pair, keys per region (including the Route 53 metrics
region when it is a third one), the database, tables, storage, compute, api and failover tiers.
Outputs: `Monitoring.topics[role]` (SnsTopic), `Monitoring.alarms` ({alarm name: alarm}).

Rules every alarm follows:
- It lives in the region where its metric is published and notifies that region's topic
  (CloudWatch alarms cannot act on a topic in another region), alarm and OK actions alike.
- `treat_missing_data` is chosen per metric: a metric that is always published (Aurora lag,
  Route 53 health status) going silent during an outage means trouble -> `breaching`; a
  metric that exists only when there is traffic (errors, replication of new writes) is
  silent when idle -> `notBreaching`, and the always-on alarms cover a dead region.
"""

from __future__ import annotations

import json

from constructs import Construct
from cdktf_cdktf_provider_aws.cloudwatch_dashboard import CloudwatchDashboard
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_policy import SnsTopicPolicy
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription

from modules.api import RegionalApi, STAGE
from modules.compute import RegionalCompute
from modules.database import AuroraGlobalDatabase
from modules.dns import Failover
from modules.iam import policy_document, statement
from modules.keys import RegionalKey
from modules.naming import Names
from modules.regions import Region, RegionPair
from modules.settings import Settings
from modules.storage import REPLICATION_MINUTES, AuditStorage
from modules.tables import GlobalTables

BREACHING = "breaching"
NOT_BREACHING = "notBreaching"

LAMBDA_ERRORS_THRESHOLD = 10  # errors per 5 minutes, per function
API_5XX_THRESHOLD = 10  # 5XX responses per 5 minutes, per stage
# DynamoDB global tables usually replicate in about a second; sustained 10 s means a
# degraded replica and an RPO beyond what the runbook promises.
DYNAMODB_REPLICATION_LATENCY_MS = 10_000
S3_REPLICATION_LATENCY_S = REPLICATION_MINUTES * 60  # the RTC 15-minute target


class AlarmTopic(Construct):
    """The alarm topic of one region: encrypted with its key, publishable by CloudWatch only."""

    def __init__(self, scope: Construct, id: str, *, region: Region, names: Names,
                 key: RegionalKey, alarm_email: str):
        super().__init__(scope, id)
        p = region.provider
        self.topic = SnsTopic(self, "topic", provider=p, name=names.regional("alarms", region.role),
                              kms_master_key_id=key.arn)
        SnsTopicPolicy(
            self, "policy", provider=p, arn=self.topic.arn,
            policy=policy_document([
                statement("CloudWatchAlarmsPublish", ["sns:Publish"], [self.topic.arn],
                          principal={"Service": "cloudwatch.amazonaws.com"},
                          condition={"StringEquals": {"aws:SourceAccount": region.account_id}}),
            ]),
        )
        if alarm_email:
            # Stays "pending confirmation" until the recipient clicks the link AWS sends.
            SnsTopicSubscription(self, "email", provider=p, topic_arn=self.topic.arn,
                                 protocol="email", endpoint=alarm_email)


class RegionalAlarms(Construct):
    """Alarms whose metrics one region publishes: DynamoDB/S3 replication out of it, its
    functions and API, and (in the DR region) Aurora replication lag."""

    def __init__(self, scope: Construct, id: str, *, region: Region, other: Region,
                 settings: Settings, names: Names, topic_arn: str, database: AuroraGlobalDatabase,
                 tables: GlobalTables, storage: AuditStorage, compute: RegionalCompute,
                 api: RegionalApi):
        super().__init__(scope, id)
        self.region, self._names, self._topic_arn = region, names, topic_arn
        self.alarms: dict[str, CloudwatchMetricAlarm] = {}
        role = region.role
        if not region.is_primary:
            # Published by the secondary cluster, in the secondary's region, in milliseconds.
            self._alarm(
                "aurora-replication-lag", namespace="AWS/RDS",
                metric="AuroraGlobalDBReplicationLag",
                dimensions={"DBClusterIdentifier": database.dr_cluster.cluster_identifier},
                statistic="Maximum", threshold=settings.replication_lag_threshold_seconds * 1000,
                period=60, evaluation_periods=3, datapoints=2,
                # Published every minute while replication runs: silence means it stopped.
                missing=BREACHING,
                description=f"Aurora global database lag above "
                            f"{settings.replication_lag_threshold_seconds} s (RPO at risk)")
        for label, table in (("transactions", tables.transactions),
                             ("idempotency", tables.idempotency)):
            self._alarm(
                f"dynamodb-replication-latency-{label}", namespace="AWS/DynamoDB",
                metric="ReplicationLatency",
                dimensions={"TableName": table.name, "ReceivingRegion": other.name},
                statistic="Average", threshold=DYNAMODB_REPLICATION_LATENCY_MS,
                period=60, evaluation_periods=5, datapoints=3,
                # Emitted only while writes replicate: an idle table has no latency to report.
                missing=NOT_BREACHING,
                description=f"{table.name} replication {region.name} -> {other.name} slow")
        source = storage.buckets[role].bucket
        destination = storage.buckets[other.role].bucket
        s3_dims = {"SourceBucket": source.bucket, "DestinationBucket": destination.bucket,
                   # From the replication configuration itself, so the ids can never drift.
                   "RuleId": storage.replication_configs[role].rule.get(0).id}
        self._alarm(
            "s3-replication-failed", namespace="AWS/S3", metric="OperationsFailedReplication",
            dimensions=s3_dims, statistic="Sum", threshold=0, period=300,
            # No replication operations means no failed ones.
            missing=NOT_BREACHING,
            description=f"Audit objects failed to replicate {region.name} -> {other.name}")
        self._alarm(
            "s3-replication-latency", namespace="AWS/S3", metric="ReplicationLatency",
            dimensions=s3_dims, statistic="Maximum", threshold=S3_REPLICATION_LATENCY_S,
            period=300, evaluation_periods=2, datapoints=2,
            # Emitted while objects replicate; nothing uploaded means nothing is late.
            missing=NOT_BREACHING,
            description=f"Audit replication {region.name} -> {other.name} beyond the "
                        f"{REPLICATION_MINUTES}-minute RTC target")
        for purpose, fn in compute.functions.items():
            self._alarm(
                f"lambda-errors-{purpose}", namespace="AWS/Lambda", metric="Errors",
                dimensions={"FunctionName": fn.function.function_name},
                statistic="Sum", threshold=LAMBDA_ERRORS_THRESHOLD, period=300,
                # No invocations means no errors; a dead region shows in the health checks.
                missing=NOT_BREACHING,
                description=f"More than {LAMBDA_ERRORS_THRESHOLD} {purpose} errors in 5 minutes")
        self._alarm(
            "api-5xx", namespace="AWS/ApiGateway", metric="5XXError",
            dimensions={"ApiName": api.rest_api.name, "Stage": STAGE},
            statistic="Sum", threshold=API_5XX_THRESHOLD, period=300,
            # The health checks call this stage every few seconds, so it is never idle for
            # long; an API that stops emitting at all trips the health-check alarm instead.
            missing=NOT_BREACHING,
            description=f"More than {API_5XX_THRESHOLD} 5XX responses in 5 minutes")

    def _alarm(self, what: str, *, namespace: str, metric: str, dimensions: dict, statistic: str,
               threshold: float, period: int, missing: str, description: str,
               evaluation_periods: int = 1, datapoints: int | None = None) -> None:
        name = self._names.alarm(what, self.region.role)
        self.alarms[name] = CloudwatchMetricAlarm(
            self, what, provider=self.region.provider, alarm_name=name,
            alarm_description=description, namespace=namespace, metric_name=metric,
            dimensions=dimensions, statistic=statistic, period=period,
            evaluation_periods=evaluation_periods, datapoints_to_alarm=datapoints,
            comparison_operator="GreaterThanThreshold", threshold=threshold,
            treat_missing_data=missing,
            alarm_actions=[self._topic_arn], ok_actions=[self._topic_arn],
        )


class HealthCheckAlarms(Construct):
    """Route 53 health status per region, alarmed in us-east-1 where Route 53 publishes it."""

    def __init__(self, scope: Construct, id: str, *, metrics_region: Region, names: Names,
                 topic_arn: str, failover: Failover):
        super().__init__(scope, id)
        self.alarms: dict[str, CloudwatchMetricAlarm] = {}
        for role, endpoint in failover.endpoints.items():
            name = names.alarm("health-check", role)
            self.alarms[name] = CloudwatchMetricAlarm(
                self, role, provider=metrics_region.provider, alarm_name=name,
                alarm_description=f"Route 53 sees the {role} API as unhealthy: DNS now "
                                  "answers with the other region",
                namespace="AWS/Route53", metric_name="HealthCheckStatus",
                dimensions={"HealthCheckId": endpoint.health_check.id},
                statistic="Minimum", period=60, evaluation_periods=1,
                comparison_operator="LessThanThreshold", threshold=1,
                # Route 53 reports status every minute; no status is no evidence of health.
                treat_missing_data=BREACHING,
                alarm_actions=[topic_arn], ok_actions=[topic_arn],
            )


class Monitoring(Construct):
    """Entry construct: topics, alarms per region, health-check alarms and dashboards."""

    def __init__(self, scope: Construct, id: str, *, settings: Settings, names: Names,
                 regions: RegionPair, metrics_region: Region, keys: dict[str, RegionalKey],
                 database: AuroraGlobalDatabase, tables: GlobalTables, storage: AuditStorage,
                 compute: dict[str, RegionalCompute], apis: dict[str, RegionalApi],
                 failover: Failover):
        super().__init__(scope, id)
        topic_regions = {r.role: r for r in regions}
        topic_regions.setdefault(metrics_region.role, metrics_region)
        self.topics = {
            role: AlarmTopic(self, f"topic-{role}", region=r, names=names, key=keys[role],
                             alarm_email=settings.alarm_email).topic
            for role, r in topic_regions.items()
        }
        self.alarms: dict[str, CloudwatchMetricAlarm] = {}
        for region in regions:
            regional = RegionalAlarms(
                self, f"alarms-{region.role}", region=region, other=regions.other(region),
                settings=settings, names=names, topic_arn=self.topics[region.role].arn,
                database=database, tables=tables, storage=storage,
                compute=compute[region.role], api=apis[region.role])
            self.alarms.update(regional.alarms)
            Dashboard(self, f"dashboard-{region.role}", region=region,
                      other=regions.other(region), names=names, database=database,
                      tables=tables, storage=storage, compute=compute[region.role],
                      api=apis[region.role])
        health = HealthCheckAlarms(self, "health-check-alarms", metrics_region=metrics_region,
                                   names=names, topic_arn=self.topics[metrics_region.role].arn,
                                   failover=failover)
        self.alarms.update(health.alarms)


class Dashboard(Construct):
    """Replication and API health of one region on one screen."""

    def __init__(self, scope: Construct, id: str, *, region: Region, other: Region, names: Names,
                 database: AuroraGlobalDatabase, tables: GlobalTables, storage: AuditStorage,
                 compute: RegionalCompute, api: RegionalApi):
        super().__init__(scope, id)
        source = storage.buckets[region.role].bucket.bucket
        destination = storage.buckets[other.role].bucket.bucket
        rule_id = storage.replication_configs[region.role].rule.get(0).id
        api_name = api.rest_api.name

        def widget(title: str, metrics: list, x: int, y: int, stat: str = "Average") -> dict:
            return {"type": "metric", "x": x, "y": y, "width": 12, "height": 6,
                    "properties": {"title": title, "region": region.name, "stat": stat,
                                   "period": 60, "view": "timeSeries", "metrics": metrics}}

        widgets = [
            widget("DynamoDB replication latency (ms)", [
                ["AWS/DynamoDB", "ReplicationLatency", "TableName", t.name,
                 "ReceivingRegion", other.name] for t in (tables.transactions, tables.idempotency)
            ], 0, 0),
            widget("S3 audit replication", [
                ["AWS/S3", "ReplicationLatency", "SourceBucket", source, "DestinationBucket",
                 destination, "RuleId", rule_id],
                ["AWS/S3", "OperationsFailedReplication", "SourceBucket", source,
                 "DestinationBucket", destination, "RuleId", rule_id, {"stat": "Sum"}],
            ], 12, 0, stat="Maximum"),
            widget("API requests and errors", [
                ["AWS/ApiGateway", m, "ApiName", api_name, "Stage", STAGE]
                for m in ("Count", "4XXError", "5XXError")
            ], 0, 6, stat="Sum"),
            widget("API latency (ms)", [
                ["AWS/ApiGateway", "Latency", "ApiName", api_name, "Stage", STAGE, {"stat": "p99"}],
                ["AWS/ApiGateway", "IntegrationLatency", "ApiName", api_name, "Stage", STAGE,
                 {"stat": "p99"}],
            ], 12, 6),
            widget("Lambda errors and throttles", [
                ["AWS/Lambda", m, "FunctionName", fn.function.function_name]
                for fn in compute.functions.values() for m in ("Errors", "Throttles")
            ], 0, 12, stat="Sum"),
        ]
        if not region.is_primary:
            widgets.append(widget("Aurora global replication lag (ms)", [
                ["AWS/RDS", "AuroraGlobalDBReplicationLag", "DBClusterIdentifier",
                 database.dr_cluster.cluster_identifier],
            ], 12, 12, stat="Maximum"))
        CloudwatchDashboard(self, "dashboard", provider=region.provider,
                            dashboard_name=names.regional("dr", region.role),
                            dashboard_body=json.dumps({"widgets": widgets}))
