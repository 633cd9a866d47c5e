"""Scheduled jobs of one region: the RPO heartbeat and the receipt reconciliation.

- `Heartbeat` (every minute, issue 13): writes a heartbeat item into the transactions table
  (reserved key `__heartbeat__#<region>`, no customer/status attributes, so no index sees it)
  and an object into the audit bucket, then reads the OTHER region's heartbeat from this
  region's replica and bucket and publishes `ObservedReplicationDelay` {Store, From}: the
  real replication delay, not the services' own metric (an upper bound: it includes up to one
  write interval). Aurora is left out: writing to it needs a database connection from inside
  the VPC and only the writer region can write; `AuroraGlobalDBRPOLag` covers it.
- `Reconcile` (every 15 minutes, issue 15): finds payment records of the last hours in this
  region's replica without a receipt in this region's bucket, writes the receipt (derived from
  the record), reports `MissingReceipts`/`ReceiptRepairFailed`/`DuplicateTransactions`.

Reconcile runs in the region's private subnets (DynamoDB and S3 through the gateway
endpoints; its metrics go out as EMF log lines). The heartbeat stays outside the VPC: it
publishes through the CloudWatch API, which has no gateway endpoint.

`schedule()` is the one way a function here is run on a timer: an EventBridge rule, retries
off (a job event is worth nothing a few minutes later), and the invoke permission.
"""

from __future__ import annotations

from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktf_cdktf_provider_aws.cloudwatch_event_target import CloudwatchEventTarget
from cdktf_cdktf_provider_aws.lambda_function_event_invoke_config import (
    LambdaFunctionEventInvokeConfig,
)
from cdktf_cdktf_provider_aws.lambda_permission import LambdaPermission
from constructs import Construct

from contract import (
    CANARY_DELAY,
    ENV_METRICS_NAMESPACE,
    HEARTBEAT_PREFIX,
    METRICS_NAMESPACE,
    RECEIPTS_PREFIX,
)
from modules.compute import RegionalCompute, ServiceFunction
from modules.iam import statement
from modules.keys import RegionalKey
from modules.metrics import Metric
from modules.naming import Names
from modules.network import RegionalNetwork
from modules.regions import PeerRegion, Region
from modules.settings import Settings
from modules.storage import AuditBucket
from modules.tables import STATUS_INDEX, TableAccess

HEARTBEAT = "heartbeat"
HEARTBEAT_SCHEDULE = "rate(1 minute)"
HEARTBEAT_MEMORY_MB = 256
HEARTBEAT_TIMEOUT_S = 40
RECONCILE = "reconcile"
RECONCILE_SCHEDULE = "rate(15 minutes)"
RECONCILE_MEMORY_MB = 256
RECONCILE_TIMEOUT_S = 300
HEARTBEAT_KEY_PREFIX = "__heartbeat__#"


def schedule(scope: Construct, id: str, *, region: Region, name: str, description: str,
             expression: str, function: ServiceFunction, max_event_age_s: int = 60) -> None:
    """Run `function` on `expression` (EventBridge), with no retries of a stale event."""
    p = region.provider
    rule = CloudwatchEventRule(scope, f"{id}-schedule", provider=p, name=name,
                               description=description, schedule_expression=expression)
    CloudwatchEventTarget(scope, f"{id}-target", provider=p, rule=rule.name,
                          arn=function.function.arn)
    LambdaFunctionEventInvokeConfig(
        scope, f"{id}-async", provider=p, function_name=function.function.function_name,
        maximum_retry_attempts=0, maximum_event_age_in_seconds=max_event_age_s)
    LambdaPermission(scope, f"{id}-invoke", provider=p, statement_id="AllowSchedule",
                     action="lambda:InvokeFunction", function_name=function.function.function_name,
                     principal="events.amazonaws.com", source_arn=rule.arn)


class Heartbeat(Construct):
    """Outputs: `function`; `metric_observed_delay(store)`, `metric_errors(store)`."""

    def __init__(self, scope: Construct, id: str, *, settings: Settings, names: Names,
                 region: Region, peer: PeerRegion, key: RegionalKey, compute: RegionalCompute,
                 tables: TableAccess, audit: AuditBucket):
        super().__init__(scope, id)
        self.peer = peer
        bucket_arn = audit.bucket.bucket.arn
        keys = [f"{HEARTBEAT_KEY_PREFIX}{r}" for r in (region.name, peer.name)]
        self.function = compute.service_function(
            self, HEARTBEAT, network=None,
            function_name=names.function(HEARTBEAT, region.role),
            handler="heartbeat.lambda_handler",
            memory_mb=HEARTBEAT_MEMORY_MB, timeout_s=HEARTBEAT_TIMEOUT_S, reserved_concurrency=-1,
            environment={
                "REGION_ROLE": region.role,
                "PEER_REGION": peer.name,
                "TRANSACTIONS_TABLE": tables.transactions_name,
                "AUDIT_BUCKET": audit.name,
                ENV_METRICS_NAMESPACE: METRICS_NAMESPACE,
                "POWERTOOLS_SERVICE_NAME": "payments-heartbeat",
            },
            grants=[
                # Only the two heartbeat items: no payment record is readable or writable.
                statement("HeartbeatItems", ["dynamodb:PutItem", "dynamodb:GetItem"],
                          [tables.table_arn("transactions")],
                          condition={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": keys}}),
                tables.grant_key_use(),
                statement("WriteOwnHeartbeatObject", ["s3:PutObject", "s3:PutObjectRetention"],
                          [f"{bucket_arn}/{HEARTBEAT_PREFIX}{region.name}.json"]),
                statement("ReadPeerHeartbeatObject", ["s3:GetObject"],
                          [f"{bucket_arn}/{HEARTBEAT_PREFIX}{peer.name}.json"]),
                *audit.grant_key_via_s3("Heartbeat"),
                statement("PublishHeartbeatMetrics", ["cloudwatch:PutMetricData"], ["*"],
                          condition={"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}}),
            ],
        )
        schedule(self, "heartbeat", region=region, name=names.regional(HEARTBEAT, region.role),
                 description=f"RPO heartbeat {region.name} <-> {peer.name} every minute",
                 expression=HEARTBEAT_SCHEDULE, function=self.function)

    def metric_observed_delay(self, store: str) -> Metric:
        return Metric(CANARY_DELAY.namespace, CANARY_DELAY.name, CANARY_DELAY.dims(store, self.peer.name),
                      statistic=CANARY_DELAY.statistic, period=60, unit_label="s")

    def metric_errors(self, store: str) -> Metric:
        return Metric(METRICS_NAMESPACE, "HeartbeatErrors", {"Store": store},
                      statistic="Sum", period=300)


class Reconcile(Construct):
    """Outputs: `function`; `metric(name)` for the job's own metrics (lambda/reconcile.py)."""

    SERVICE = "payment-reconcile"

    def __init__(self, scope: Construct, id: str, *, settings: Settings, names: Names,
                 region: Region, key: RegionalKey, compute: RegionalCompute,
                 tables: TableAccess, audit: AuditBucket, network: RegionalNetwork | None):
        super().__init__(scope, id)
        self.region = region
        bucket_arn = audit.bucket.bucket.arn
        table_arn = tables.table_arn("transactions")
        self.function = compute.service_function(
            self, RECONCILE, network=network,
            function_name=names.function(RECONCILE, region.role),
            handler="reconcile.lambda_handler",
            memory_mb=RECONCILE_MEMORY_MB, timeout_s=RECONCILE_TIMEOUT_S,
            # One run at a time when reservations are on; never a reservation a new account's
            # quota cannot hold (modules/settings.py).
            reserved_concurrency=1 if settings.reserves_concurrency else -1,
            environment={
                **compute.payment_environment,  # payments.settings: the validator's tables, bucket
                "STATUS_INDEX": STATUS_INDEX,
                "POWERTOOLS_SERVICE_NAME": self.SERVICE,
            },
            grants=[
                statement("QueryRecentPayments", ["dynamodb:Query"],
                          [table_arn, f"{table_arn}/index/{STATUS_INDEX}"]),
                tables.grant_key_use(decrypt_only=True),
                statement("ReadAndRepairReceipts", ["s3:GetObject", "s3:PutObject"],
                          [f"{bucket_arn}/{RECEIPTS_PREFIX}*"]),
                # Without it a missing receipt answers 403 instead of 404.
                statement("ListReceipts", ["s3:ListBucket"], [bucket_arn],
                          condition={"StringLike": {"s3:prefix": [f"{RECEIPTS_PREFIX}*"]}}),
                *audit.grant_key_via_s3("Reconcile"),
            ],
        )
        schedule(self, "reconcile", region=region, name=names.regional(RECONCILE, region.role),
                 description=f"Receipts for every recent payment record in {region.name}",
                 expression=RECONCILE_SCHEDULE, function=self.function, max_event_age_s=600)

    def metric(self, name: str, statistic: str = "Sum", period: int = 900) -> Metric:
        return Metric(METRICS_NAMESPACE, name, {"service": self.SERVICE, "region": self.region.name},
                      statistic=statistic, period=period)
