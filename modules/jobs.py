"""Scheduled jobs of one region: the RPO heartbeat and the receipt reconciliation.

- `Heartbeat` (every minute, issue 13): writes a heartbeat item into the transactions table
  (reserved key `__heartbeat__#<region>`, no customer/status attributes, so no index sees it)
  and an object into the audit bucket, then reads the OTHER region's heartbeat from this
  region's replica and bucket and publishes `ObservedReplicationDelay` {Store, From}: the
  real replication delay, not the services' own metric (an upper bound: it includes up to one
  write interval). Aurora is left out: writing to it needs a database connection from inside
  the VPC and only the writer region can write; `AuroraGlobalDBRPOLag` covers it.
- `Reconcile` (every minute, issues 15 and 22): checks each payment record in this region's
  replica once, after a grace period, from a watermark it keeps in the table: a receipt in this
  region's bucket (written from the record if missing) and no second acceptance. Reports
  `MissingReceipts`/`ReceiptRepairFailed`/`DuplicateTransactions` and how far behind it is
  (`ReconcileLagSeconds`). Sized from PEAK_PAYMENTS_PER_SECOND (`reconcile_sizing`): memory
  (CPU) and worker threads to keep up at 10x the peak with the settings' headroom.

- `DuplicateCheck` (`TRANSACTIONS_CONSISTENCY=EVENTUAL` only, issue 20): an event source
  mapping on this region's replica's DynamoDB stream runs lambda/dupcheck.py on each new
  payment record (this region's and the ones replicated in), which marks a second acceptance
  of the same (client, id) `DUPLICATE` within seconds; `IteratorAge` says how far behind.

Reconcile runs in the region's private subnets (DynamoDB and S3 through the gateway
endpoints; its metrics go out as EMF log lines). The heartbeat stays outside the VPC: it
publishes through the CloudWatch API, which has no gateway endpoint.

`schedule()` is the one way a function here is run on a timer: an EventBridge rule, retries
off (a job event is worth nothing a few minutes later), and the invoke permission.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktf_cdktf_provider_aws.cloudwatch_event_target import CloudwatchEventTarget
from cdktf_cdktf_provider_aws.data_aws_dynamodb_table import DataAwsDynamodbTable
from cdktf_cdktf_provider_aws.lambda_event_source_mapping import (
    LambdaEventSourceMapping,
    LambdaEventSourceMappingFilterCriteria,
    LambdaEventSourceMappingFilterCriteriaFilter,
)
from cdktf_cdktf_provider_aws.lambda_function_event_invoke_config import (
    LambdaFunctionEventInvokeConfig,
)
from cdktf_cdktf_provider_aws.lambda_permission import LambdaPermission
from constructs import Construct

from contract import (
    CANARY_DELAY,
    DUPCHECK_SERVICE,
    ENV_AUDIT_BUCKET,
    ENV_DUPCHECK_WORKERS,
    ENV_METRICS_NAMESPACE,
    ENV_PEER_REGION,
    ENV_RECONCILE_CHECKPOINT_KEY,
    ENV_RECONCILE_WORKERS,
    ENV_REGION_ROLE,
    ENV_STATUS_INDEX,
    ENV_TRANSACTIONS_TABLE,
    HEARTBEAT_PREFIX,
    METRICS_NAMESPACE,
    RECEIPTS_PREFIX,
    RECONCILE_CHECKPOINT_KEY_PREFIX,
    RECONCILE_LAG_METRIC,
    STATUS_INDEX,
)
from modules.compute import RegionalCompute, ServiceFunction
from modules.iam import statement
from modules.keys import RegionalKey
from modules.metrics import Metric
from modules.naming import Names
from modules.network import RegionalNetwork
from modules.regions import PeerRegion, Region
from modules.settings import CAPACITY_HEADROOM, Settings
from modules.storage import AuditBucket
from modules.tables import TableAccess

HEARTBEAT = "heartbeat"
HEARTBEAT_SCHEDULE = "rate(1 minute)"
HEARTBEAT_MEMORY_MB = 256
# Per run (lambda/heartbeat.py AWS_CALLS_PER_RUN): 5 AWS calls, each at most 12 s with its retry
# (lambda/ops/aws.py call_worst_case_seconds): 60 s; 40 s counted no retry wait. 65 s covers it
# (tests/lambda/test_ops_sizing.py); a run at its very worst overlaps the next minute's by
# seconds (two environments at most, no reservation needed). docs/ops-functions.md.
HEARTBEAT_TIMEOUT_S = 65
RECONCILE = "reconcile"
RECONCILE_SCHEDULE = "rate(1 minute)"
# lambda/reconcile.py stops taking records 95 s before its timeout (a batch's worst case):
# 180 s leaves 85 s of checking per run, more than the 60 s between runs.
RECONCILE_TIMEOUT_S = 180
HEARTBEAT_KEY_PREFIX = "__heartbeat__#"

# -- reconcile sizing (issue 22) ---------------------------------------------------------------
# Every region checks every record (each replica holds both regions' payments), so a region's
# job must check the whole platform's rate. It must keep up at this multiple of the peak, with
# the settings' CAPACITY_HEADROOM on top:
RECONCILE_PEAK_FACTOR = 10
# Per record: two calls (HeadObject, Query; a PutObject only when a receipt is missing).
RECONCILE_CALLS_PER_RECORD = 2
# Assumed in-region call latency, s (not measured on AWS; moto on this machine answers in ~15 ms).
RECONCILE_CALL_LATENCY_S = 0.025
# Client-side CPU per record, s of one vCPU: 3.7-4.1 ms measured locally (botocore building and
# parsing the two calls, against a moto server in another process), rounded up.
RECONCILE_CPU_S_PER_RECORD = 0.005
LAMBDA_MB_PER_VCPU = 1769  # Lambda allocates CPU in proportion to memory: 1,769 MB = 1 vCPU
# One Python process uses one vCPU at most (the GIL): past 1,769 MB memory buys no checking
# rate, so more than one vCPU's worth of records is split into parallel segments instead.
RECONCILE_MAX_VCPU_PER_SEGMENT = 1.0
RECONCILE_MIN_MEMORY_MB = 512
RECONCILE_WORKERS = 16  # threads per run (lambda/reconcile.py allows up to 64)
# An EventBridge rule has at most 5 targets: one target (with its segment as input) per segment.
RECONCILE_MAX_SEGMENTS = 5


@dataclass(frozen=True)
class ReconcileSizing:
    """What one region's reconcile job gets, and the rate it can check (records/s)."""

    segments: int
    memory_mb: int
    workers: int
    required_rate: float  # records/s: RECONCILE_PEAK_FACTOR x peak x headroom
    capacity_rate: float  # records/s, all segments: the lower of what the calls and the CPU allow


def reconcile_sizing(peak_payments_per_second: float) -> ReconcileSizing:
    """Segments, memory (CPU) and workers for 10x the peak with headroom.

    Raises ValueError at synth when five segments (one EventBridge rule) cannot carry it."""
    required = RECONCILE_PEAK_FACTOR * peak_payments_per_second * CAPACITY_HEADROOM
    vcpus = required * RECONCILE_CPU_S_PER_RECORD
    segments = max(1, math.ceil(vcpus / RECONCILE_MAX_VCPU_PER_SEGMENT - 1e-9))
    if segments > RECONCILE_MAX_SEGMENTS:
        raise ValueError(
            f"PEAK_PAYMENTS_PER_SECOND={peak_payments_per_second:g}: the reconcile job would have to "
            f"check {required:g} records/s ({RECONCILE_PEAK_FACTOR}x the peak, {CAPACITY_HEADROOM:g}x "
            f"headroom), more than {RECONCILE_MAX_SEGMENTS} segments of one vCPU each can "
            f"({RECONCILE_MAX_SEGMENTS / RECONCILE_CPU_S_PER_RECORD:g} records/s)")
    memory = max(RECONCILE_MIN_MEMORY_MB,
                 math.ceil(vcpus / segments * LAMBDA_MB_PER_VCPU / 64) * 64)
    per_segment = min(RECONCILE_WORKERS / (RECONCILE_CALLS_PER_RECORD * RECONCILE_CALL_LATENCY_S),
                      min(memory / LAMBDA_MB_PER_VCPU, RECONCILE_MAX_VCPU_PER_SEGMENT)
                      / RECONCILE_CPU_S_PER_RECORD)
    return ReconcileSizing(segments=segments, memory_mb=memory, workers=RECONCILE_WORKERS,
                           required_rate=required, capacity_rate=segments * per_segment)


def segment_events(segments: int) -> list[str] | None:
    """The event each schedule target sends (lambda/reconcile.py: a scheduled run of one segment)."""
    return None if segments == 1 else [json.dumps({"segment": i, "segments": segments})
                                       for i in range(segments)]


def watermark_keys(base: str, segments: int) -> list[str]:
    """lambda/reconcile.py `checkpoint_key`: one watermark item per segment."""
    return [base] if segments == 1 else [f"{base}#{i}of{segments}" for i in range(segments)]


def schedule(scope: Construct, id: str, *, region: Region, name: str, description: str,
             expression: str, function: ServiceFunction, max_event_age_s: int = 60,
             inputs: list[str] | None = None) -> None:
    """Run `function` on `expression` (EventBridge), with no retries of a stale event; with
    `inputs`, once per input at each tick (one target each, that JSON as the event)."""
    p = region.provider
    rule = CloudwatchEventRule(scope, f"{id}-schedule", provider=p, name=name,
                               description=description, schedule_expression=expression)
    if inputs is None:
        CloudwatchEventTarget(scope, f"{id}-target", provider=p, rule=rule.name,
                              arn=function.function.arn)
    for index, event in enumerate(inputs or []):
        CloudwatchEventTarget(scope, f"{id}-target-{index}", provider=p, rule=rule.name,
                              arn=function.function.arn, target_id=f"segment-{index}", input=event)
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
                ENV_REGION_ROLE: region.role,
                ENV_PEER_REGION: peer.name,
                ENV_TRANSACTIONS_TABLE: tables.transactions_name,
                ENV_AUDIT_BUCKET: audit.name,
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


#: The attributes a duplicate marking names (lambda/ops/duplicates.py MARK_ATTRIBUTES; the
#: Lambda package does not ship contract.py, tests/lambda/test_duplicates.py compares them).
DUPLICATE_MARK_ATTRIBUTES = ("transactionId", "timestamp", "status", "duplicateOf",
                             "duplicateMarkedAt", "duplicateMarkedBy", "duplicateReview")


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
        self.sizing = reconcile_sizing(settings.peak_payments_per_second)
        checkpoint_key = f"{RECONCILE_CHECKPOINT_KEY_PREFIX}{region.name}"
        segments = self.sizing.segments
        keys = watermark_keys(checkpoint_key, segments)
        self.function = compute.service_function(
            self, RECONCILE, network=network,
            function_name=names.function(RECONCILE, region.role),
            handler="reconcile.lambda_handler",
            memory_mb=self.sizing.memory_mb, timeout_s=RECONCILE_TIMEOUT_S,
            # One run per segment at a time when reservations are on; never a reservation a new
            # account's quota cannot hold (modules/settings.py).
            reserved_concurrency=segments if settings.reserves_concurrency else -1,
            environment={
                **compute.payment_environment,  # payments.settings: the validator's tables, bucket
                ENV_STATUS_INDEX: STATUS_INDEX,
                ENV_RECONCILE_WORKERS: str(self.sizing.workers),
                ENV_RECONCILE_CHECKPOINT_KEY: checkpoint_key,
                "POWERTOOLS_SERVICE_NAME": self.SERVICE,
            },
            grants=[
                statement("QueryRecentPayments", ["dynamodb:Query"],
                          [table_arn, f"{table_arn}/index/{STATUS_INDEX}"]),
                # Marking a later acceptance the duplicate (lambda/ops/duplicates.py): an
                # UpdateItem that may name only these attributes (its MARK_ATTRIBUTES).
                statement("MarkDuplicates", ["dynamodb:UpdateItem"], [table_arn],
                          condition={"ForAllValues:StringEquals": {
                              "dynamodb:Attributes": list(DUPLICATE_MARK_ATTRIBUTES)}}),
                # Its own watermark item (any attribute); payment records only through MarkDuplicates.
                statement("ReconcileWatermark", ["dynamodb:GetItem", "dynamodb:UpdateItem"],
                          [table_arn],
                          condition={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": keys}}),
                tables.grant_key_use(),
                statement("ReadAndRepairReceipts", ["s3:GetObject", "s3:PutObject"],
                          [f"{bucket_arn}/{RECEIPTS_PREFIX}*"]),
                # Without it a missing receipt answers 403 instead of 404.
                statement("ListReceipts", ["s3:ListBucket"], [bucket_arn],
                          condition={"StringLike": {"s3:prefix": [f"{RECEIPTS_PREFIX}*"]}}),
                *audit.grant_key_via_s3("Reconcile"),
            ],
        )
        # A run that finds the previous one still going (reserved concurrency 1) is retried by
        # Lambda's async queue for up to a minute, then dropped: the next tick does its work.
        schedule(self, "reconcile", region=region, name=names.regional(RECONCILE, region.role),
                 description=f"Receipts and duplicates of every payment record in {region.name}",
                 expression=RECONCILE_SCHEDULE, function=self.function, max_event_age_s=60,
                 inputs=segment_events(segments))

    def metric(self, name: str, statistic: str = "Sum", period: int = 900) -> Metric:
        return Metric(METRICS_NAMESPACE, name, {"service": self.SERVICE, "region": self.region.name},
                      statistic=statistic, period=period)

    def metric_lag(self) -> Metric:
        """Seconds of records past the grace period not yet checked (Maximum per 5 minutes)."""
        return self.metric(RECONCILE_LAG_METRIC, "Maximum", 300).with_(unit_label="s")


# -- duplicate check on the stream (issue 20; TRANSACTIONS_CONSISTENCY=EVENTUAL only) --------------
DUPCHECK = "dupcheck"
DUPCHECK_WORKERS = 16  # threads per batch (lambda/dupcheck.py allows up to 64)
DUPCHECK_BATCH_SIZE = 100
# How long Lambda may wait to fill a batch: part of the detection window (docs: N).
DUPCHECK_BATCHING_WINDOW_S = 1
DUPCHECK_MAX_PARALLELIZATION = 10  # concurrent batches per shard: Lambda's maximum
# Per record: one strongly consistent Query (an UpdateItem only when it marks).
DUPCHECK_CALLS_PER_RECORD = 1
# A batch's worst case: every id checked and marked (two calls at the batch client's 15 s worst
# case, payments.clients BATCH_PATH) in ceil(batch / workers) rounds, plus 10 s: 220 s.
DUPCHECK_TIMEOUT_S = 240
#: What the event source mapping lets through (Lambda event filtering, DynamoDB stream records):
#: a new payment record (INSERT, status VALIDATED). Claims, heartbeats, watermarks, markings and
#: resolutions are filtered out before any invocation, so they cost nothing.
DUPCHECK_FILTER = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"status": {"S": ["VALIDATED"]}}}}


@dataclass(frozen=True)
class DuplicateCheckSizing:
    """Concurrent batches per shard, memory (CPU) and the rate one shard can carry (records/s)."""

    parallelization: int
    memory_mb: int
    workers: int
    required_rate: float  # records/s: RECONCILE_PEAK_FACTOR x peak x headroom
    capacity_rate: float  # records/s on ONE shard (the worst case: a young table may have one)


def dupcheck_sizing(peak_payments_per_second: float) -> DuplicateCheckSizing:
    """Every acceptance reaches each replica's stream once (its own or replicated), so each
    region checks the platform's rate; sized like reconcile, on a single shard."""
    required = RECONCILE_PEAK_FACTOR * peak_payments_per_second * CAPACITY_HEADROOM
    vcpus = required * RECONCILE_CPU_S_PER_RECORD
    parallel = max(1, math.ceil(vcpus / RECONCILE_MAX_VCPU_PER_SEGMENT - 1e-9))
    if parallel > DUPCHECK_MAX_PARALLELIZATION:
        raise ValueError(
            f"PEAK_PAYMENTS_PER_SECOND={peak_payments_per_second:g}: the duplicate check would have "
            f"to check {required:g} records/s on one shard, more than "
            f"{DUPCHECK_MAX_PARALLELIZATION} concurrent batches of one vCPU each can")
    memory = max(RECONCILE_MIN_MEMORY_MB, math.ceil(vcpus / parallel * LAMBDA_MB_PER_VCPU / 64) * 64)
    per_batch = min(DUPCHECK_WORKERS / (DUPCHECK_CALLS_PER_RECORD * RECONCILE_CALL_LATENCY_S),
                    min(memory / LAMBDA_MB_PER_VCPU, RECONCILE_MAX_VCPU_PER_SEGMENT)
                    / RECONCILE_CPU_S_PER_RECORD)
    return DuplicateCheckSizing(parallelization=parallel, memory_mb=memory, workers=DUPCHECK_WORKERS,
                                required_rate=required, capacity_rate=parallel * per_batch)


class DuplicateCheck(Construct):
    """Marks a second acceptance of a payment as it lands in this region's replica
    (lambda/dupcheck.py): an event source mapping on the replica's stream, which carries the
    writes replicated in as well as this region's own.

    `stream_arn`: the primary stack passes its table's attribute; the DR stack (which knows the
    replica by name only: modules/tables.py) reads it from its own region (a data source).
    Outputs: `function`, `sizing`; `metric(name)`, `metric_iterator_age()`."""

    SERVICE = DUPCHECK_SERVICE

    def __init__(self, scope: Construct, id: str, *, settings: Settings, names: Names,
                 region: Region, compute: RegionalCompute, tables: TableAccess,
                 network: RegionalNetwork | None, stream_arn: str | None):
        super().__init__(scope, id)
        self.region = region
        p = region.provider
        table_arn = tables.table_arn("transactions")
        if stream_arn is None:
            stream_arn = DataAwsDynamodbTable(self, "replica", provider=p,
                                              name=tables.transactions_name).stream_arn
        self.sizing = sizing = dupcheck_sizing(settings.peak_payments_per_second)
        self.function = compute.service_function(
            self, DUPCHECK, network=network,
            function_name=names.function(DUPCHECK, region.role),
            handler="dupcheck.lambda_handler",
            memory_mb=sizing.memory_mb, timeout_s=DUPCHECK_TIMEOUT_S, reserved_concurrency=-1,
            environment={
                **compute.payment_environment,  # payments.settings: the transactions table
                ENV_DUPCHECK_WORKERS: str(sizing.workers),
                "POWERTOOLS_SERVICE_NAME": self.SERVICE,
            },
            grants=[
                # What the event source mapping reads with the function's role (AWS's example
                # policy for a stream-triggered function: this table's streams only).
                statement("ReadReplicaStream", ["dynamodb:DescribeStream", "dynamodb:GetRecords",
                                                "dynamodb:GetShardIterator", "dynamodb:ListStreams"],
                          [f"{table_arn}/stream/*"]),
                statement("QueryAcceptances", ["dynamodb:Query"], [table_arn]),
                # The same marking as reconcile: an UpdateItem naming only MARK_ATTRIBUTES.
                statement("MarkDuplicates", ["dynamodb:UpdateItem"], [table_arn],
                          condition={"ForAllValues:StringEquals": {
                              "dynamodb:Attributes": list(DUPLICATE_MARK_ATTRIBUTES)}}),
                tables.grant_key_use(),
            ],
        )
        self.mapping = LambdaEventSourceMapping(
            self, "stream", provider=p, event_source_arn=stream_arn,
            function_name=self.function.function.arn,
            # Everything still in the stream (24 hours) when the mapping is created.
            starting_position="TRIM_HORIZON",
            batch_size=DUPCHECK_BATCH_SIZE,
            maximum_batching_window_in_seconds=DUPCHECK_BATCHING_WINDOW_S,
            parallelization_factor=sizing.parallelization,
            # Never skipped: a failed record is retried (from itself: ReportBatchItemFailures)
            # until it succeeds or leaves the stream; IteratorAge and its alarm say how late.
            maximum_retry_attempts=-1, maximum_record_age_in_seconds=-1,
            function_response_types=["ReportBatchItemFailures"],
            filter_criteria=LambdaEventSourceMappingFilterCriteria(filter=[
                LambdaEventSourceMappingFilterCriteriaFilter(
                    pattern=json.dumps(DUPCHECK_FILTER, separators=(",", ":")))]),
        )

    def metric(self, name: str, statistic: str = "Sum", period: int = 60) -> Metric:
        return Metric(METRICS_NAMESPACE, name, {"service": self.SERVICE, "region": self.region.name},
                      statistic=statistic, period=period)

    def metric_iterator_age(self) -> Metric:
        """AWS/Lambda IteratorAge (ms): age of the last record of each batch when it reached the
        function; Maximum per minute."""
        return Metric("AWS/Lambda", "IteratorAge", {"FunctionName": self.function.function.function_name},
                      statistic="Maximum", period=60, unit_label="ms")
