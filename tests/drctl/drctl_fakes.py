"""In-memory two-region DR world behind the same gateway interface as drctl.gateways.

It simulates what moto cannot: an Aurora writer moving on switchover/failover (taking
simulated time), lag metrics, replication delay between regions, health-check and alarm
states, and unreachable regions. Every gateway call is recorded with its region.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import ClassVar

from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

import contract
from drctl.config import DrConfig
from drctl.gateways import (
    Alarm,
    ClusterState,
    Datapoint,
    GlobalClusterState,
    HealthStatus,
    Latch,
    Member,
    NotFound,
    ReplicationRule,
    Snapshot,
    TableState,
    Unreachable,
    route53_healthy,
)

PRIMARY, DR = "us-east-1", "us-east-2"
ACCOUNT = "111122223333"
T0 = dt.datetime(2026, 11, 25, 3, 0, 0, tzinfo=dt.UTC)


class FakeClock:
    def __init__(self):
        self.t = 0.0
        self.sleeps: list[float] = []

    def now(self):
        return T0 + dt.timedelta(seconds=self.t)

    def monotonic(self):
        return self.t

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.t += seconds


def arn(region: str, cluster: str) -> str:
    return f"arn:aws:rds:{region}:{ACCOUNT}:cluster:{cluster}"


def config(**over) -> DrConfig:
    outputs = {
        "primary_region": PRIMARY, "dr_region": DR, "environment_suffix": "dev",
        "primary_s3_bucket": "audit-primary", "dr_s3_bucket": "audit-dr",
        "primary_health_check_id": "hc-primary", "dr_health_check_id": "hc-dr",
        "replication_lag_threshold_seconds": 1.0,
    }
    outputs.update(over)
    return DrConfig.build(outputs)


@dataclass
class World:
    clock: FakeClock = field(default_factory=FakeClock)
    env: str = "dev"
    writer_region: str = PRIMARY
    global_status: str = "available"
    failover_status: str | None = None
    failover_from: str | None = None
    failover_to: str | None = None
    operation_kind: str | None = None
    operation_done_at: float | None = None
    operation_seconds: float = 90.0  # simulated duration of a switchover/failover
    cluster_status: dict = field(default_factory=lambda: {PRIMARY: "available", DR: "available"})
    members_present: dict = field(default_factory=lambda: {PRIMARY: True, DR: True})
    sync_status: dict = field(default_factory=lambda: {PRIMARY: "connected", DR: "connected"})
    lag_ms: dict = field(default_factory=lambda: {PRIMARY: 40.0, DR: 40.0})  # keyed by secondary region
    health: dict = field(default_factory=lambda: {"hc-primary": (16, 16), "hc-dr": (16, 16)})
    alarms: dict = field(default_factory=lambda: {PRIMARY: [], DR: []})
    replica_status: dict = field(default_factory=lambda: {PRIMARY: "ACTIVE", DR: "ACTIVE"})
    ddb_latency_ms: dict = field(default_factory=lambda: {PRIMARY: 800.0, DR: 900.0})
    s3_rules_ok: dict = field(default_factory=lambda: {PRIMARY: True, DR: True})
    # S3 replication metrics keyed by the SOURCE region (the direction); published where AWS does.
    s3_latency_s: dict = field(default_factory=lambda: {PRIMARY: 12.0, DR: 14.0})
    s3_failed_ops: dict = field(default_factory=lambda: {PRIMARY: 0.0, DR: 0.0})
    ddb_delay: float = 1.5   # seconds until a write is readable in the other region
    s3_delay: float = 7.0
    s3_pending_ops: dict = field(default_factory=lambda: {PRIMARY: None, DR: None})
    lag_age_s: float = 60.0  # age of the newest RPO lag datapoint
    metric_age_s: float = 60.0  # age of the newest DynamoDB / S3 replication datapoint
    latches: dict = field(default_factory=lambda: {
        (DR, "/payments-dr/dev/failback/primary"): Latch("open", "2026-11-01T00:00:00Z", "setup", ""),
        (PRIMARY, "/payments-dr/dev/failback/dr"): Latch("open", "2026-11-01T00:00:00Z", "setup", "")})
    latch_writes: list = field(default_factory=list)  # (region, name, Latch)
    alarm_states: dict = field(default_factory=dict)  # (region, name) -> state, besides `alarms`
    snapshots: dict = field(default_factory=dict)  # region -> [Snapshot]
    copies: list = field(default_factory=list)  # (region, source, target)
    events: dict = field(default_factory=dict)  # region -> [Event]
    dns: dict = field(default_factory=dict)  # host -> [address]
    hang_after_send: set = field(default_factory=set)  # ops whose response is lost (request applied)
    lose_request: set = field(default_factory=set)  # ops whose request is lost (not applied)
    unreachable: set = field(default_factory=set)
    fail_on: dict = field(default_factory=dict)  # (service, op) -> exception to raise
    items: dict = field(default_factory=dict)    # (region, table, key) -> (visible_at)
    item_writes: list = field(default_factory=list)  # (region, table, item) as put_item sent it
    objects: dict = field(default_factory=dict)  # (bucket, key) -> visible_at
    hold_state: str | None = None  # the failback hold item's `state` in the primary's table
    peer_healthy: dict = field(default_factory=dict)  # probing region -> PeerHealthy (None: no datapoint)
    fis_templates: dict = field(default_factory=dict)  # region -> [ExperimentTemplate]
    experiments: dict = field(default_factory=dict)  # experiment id -> (region, template, tags, status)
    series: dict = field(default_factory=dict)  # (region, namespace, metric) -> [Datapoint]
    pages: dict = field(default_factory=dict)  # URL -> (status, JSON body) as a client GETs it
    calls: list = field(default_factory=list)    # (service, region, op)
    created: list = field(default_factory=list)  # (service, region)

    def cluster_id(self, region: str) -> str:
        return f"payments-{'primary' if region == PRIMARY else 'dr'}-{self.env}"

    # -- state transitions ---------------------------------------------------------------------
    def _advance(self):
        if self.operation_done_at is not None and self.clock.monotonic() >= self.operation_done_at:
            self.writer_region = self.failover_to.split(":")[3]
            self.global_status = "available"
            self.failover_status = self.failover_from = self.failover_to = None
            self.operation_done_at = self.operation_kind = None

    def start_operation(self, kind: str, target_arn: str):
        self.operation_kind = kind
        self.failover_status = "pending"
        self.failover_from = arn(self.writer_region, self.cluster_id(self.writer_region))
        self.failover_to = target_arn
        self.global_status = "switching-over" if kind == "switchover" else "failing-over"
        self.operation_done_at = self.clock.monotonic() + self.operation_seconds

    def call(self, service: str, region: str, op: str):
        self.calls.append((service, region, op))
        if region in self.unreachable:
            raise Unreachable(region, service, EndpointConnectionError(
                endpoint_url=f"https://{service}.{region}.amazonaws.com"))
        if (service, op) in self.fail_on:
            raise self.fail_on[(service, op)]
        self._advance()

    def regions_called(self) -> set[str]:
        return {r for _, r, _ in self.calls}

    def ops(self, op: str) -> list[tuple]:
        return [c for c in self.calls if c[2] == op]


class FakeAurora:
    def __init__(self, w: World, region: str):
        self.w, self.region = w, region

    def global_cluster(self, identifier):
        w = self.w
        w.call("rds", self.region, "describe_global_clusters")
        if identifier != f"payments-global-{w.env}":
            raise NotFound(f"global cluster {identifier} not found")
        members = tuple(Member(arn(r, w.cluster_id(r)), is_writer=(r == w.writer_region),
                               sync_status=None if r == w.writer_region else w.sync_status[r])
                        for r in (PRIMARY, DR) if w.members_present[r])
        return GlobalClusterState(identifier, w.global_status, members, w.failover_status,
                                  w.failover_from, w.failover_to,
                                  None if w.failover_status is None else w.operation_kind == "failover")

    def cluster(self, identifier):
        self.w.call("rds", self.region, "describe_db_clusters")
        if identifier != self.w.cluster_id(self.region):
            raise NotFound(f"cluster {identifier} not found in {self.region}")
        return ClusterState(identifier, arn(self.region, identifier), self.w.cluster_status[self.region],
                            f"payments-global-{self.w.env}")

    def _lost(self, op):
        raise Unreachable(self.region, "rds", ReadTimeoutError(endpoint_url=f"https://rds.{self.region}"))

    def switchover(self, global_cluster_id, target_arn):
        self.w.call("rds", self.region, "switchover_global_cluster")
        if "switchover_global_cluster" in self.w.lose_request:
            self._lost("switchover_global_cluster")
        if self.w.failover_status is not None:
            raise ClientError({"Error": {"Code": "InvalidGlobalClusterStateFault",
                                         "Message": "in progress"}}, "SwitchoverGlobalCluster")
        self.w.start_operation("switchover", target_arn)
        if "switchover_global_cluster" in self.w.hang_after_send:
            self._lost("switchover_global_cluster")

    def failover(self, global_cluster_id, target_arn):
        self.w.call("rds", self.region, "failover_global_cluster")
        if "failover_global_cluster" in self.w.lose_request:
            self._lost("failover_global_cluster")
        if self.w.failover_status is not None and self.w.operation_kind == "failover":
            raise ClientError({"Error": {"Code": "InvalidGlobalClusterStateFault",
                                         "Message": "in progress"}}, "FailoverGlobalCluster")
        # escalation: a failover request supersedes a stuck switchover (simulated)
        self.w.operation_done_at = None
        self.w.start_operation("failover", target_arn)
        if "failover_global_cluster" in self.w.hang_after_send:
            self._lost("failover_global_cluster")

    def events(self, source_id, source_type, start, end):
        self.w.call("rds", self.region, "describe_events")
        return [e for e in self.w.events.get(self.region, []) if e.source == source_id]

    def cluster_snapshots(self, cluster_id):
        self.w.call("rds", self.region, "describe_db_cluster_snapshots")
        return [s for s in self.w.snapshots.get(self.region, []) if s.cluster_id == cluster_id]

    def copy_cluster_snapshot(self, source_id, target_id):
        self.w.call("rds", self.region, "copy_db_cluster_snapshot")
        self.w.copies.append((self.region, source_id, target_id))
        copy = Snapshot(target_id, self.w.cluster_id(self.region), "creating", "manual")
        self.w.snapshots.setdefault(self.region, []).append(copy)
        return copy

    def wait_cluster_available(self, identifier, timeout_seconds, delay_seconds=15):
        self.w.call("rds", self.region, "wait_db_cluster_available")
        if self.w.cluster_status[self.region] != "available":
            raise ClientError({"Error": {"Code": "WaiterTimeout", "Message": "not available"}}, "Wait")


class FakeMetrics:
    def __init__(self, w, region):
        self.w, self.region = w, region
        self.queries = []

    def latest(self, namespace, metric, dimensions, *, statistic="Maximum", minutes=15, now=None):
        self.w.call("cloudwatch", self.region, "get_metric_statistics")
        w, value = self.w, None
        if metric == "AuroraGlobalDBRPOLag":
            assert dimensions == {"DBClusterIdentifier": w.cluster_id(self.region)}, dimensions
            value = w.lag_ms.get(self.region)
            if value is not None:
                return Datapoint(value, w.clock.now() - dt.timedelta(seconds=w.lag_age_s))
        elif namespace == "AWS/DynamoDB":
            assert set(dimensions) == {"TableName", "ReceivingRegion"}
            assert dimensions["ReceivingRegion"] != self.region
            value = w.ddb_latency_ms.get(self.region)
        elif namespace == "AWS/S3":
            # Keyed by the source region; AWS publishes each in one region only
            # (contract.s3_metric_region): asked anywhere else, CloudWatch has no datapoint.
            assert set(dimensions) == {"SourceBucket", "DestinationBucket", "RuleId"}
            by_bucket = {b: r for r, b in FakeS3.buckets.items()}
            source, dest = by_bucket[dimensions["SourceBucket"]], by_bucket[dimensions["DestinationBucket"]]
            spec = next(s for s in (contract.S3_REPLICATION_LATENCY, contract.S3_REPLICATION_FAILED,
                                    contract.S3_REPLICATION_PENDING) if s.name == metric)
            if self.region == contract.s3_metric_region(spec, source=source, destination=dest):
                value = {"ReplicationLatency": w.s3_latency_s, "OperationsFailedReplication": w.s3_failed_ops,
                         "OperationsPendingReplication": w.s3_pending_ops}[metric].get(source)
        elif metric == "PeerHealthy":
            assert (namespace, dimensions, statistic) == ("PaymentsDR", {"Peer": "primary"}, "Minimum")
            value = w.peer_healthy.get(self.region)
        return None if value is None else Datapoint(value, w.clock.now() - dt.timedelta(seconds=w.metric_age_s))


    def series(self, namespace, metric, dimensions, start, end, *, statistic="Maximum", period=60):
        self.w.call("cloudwatch", self.region, "get_metric_data")
        self.queries.append((namespace, metric, dict(dimensions), statistic, period))
        return [p for p in self.w.series.get((self.region, namespace, metric), [])
                if start <= p.timestamp <= end]


class FakeFis:
    def __init__(self, w, region):
        self.w, self.region = w, region

    def templates(self):
        self.w.call("fis", self.region, "list_experiment_templates")
        return list(self.w.fis_templates.get(self.region, []))

    def start(self, template_id, tags):
        self.w.call("fis", self.region, "start_experiment")
        experiment = f"EXP{len(self.w.experiments) + 1}"
        self.w.experiments[experiment] = (self.region, template_id, dict(tags), "running")
        return experiment

    def state(self, experiment_id):
        self.w.call("fis", self.region, "get_experiment")
        region, _, _, status = self.w.experiments[experiment_id]
        assert region == self.region, "experiment read in another region"
        return status, ""

    def stop(self, experiment_id):
        self.w.call("fis", self.region, "stop_experiment")
        region, template, tags, _ = self.w.experiments[experiment_id]
        self.w.experiments[experiment_id] = (region, template, tags, "stopped")


class FakeHttp:
    def __init__(self, w, user_agent):
        self.w, self.user_agent = w, user_agent

    def get_json(self, url):
        self.w.calls.append(("https", "-", url))
        return self.w.pages.get(url, (None, None))


class FakeAlarms:
    def __init__(self, w, region):
        self.w, self.region = w, region

    def alarms(self, prefix):
        self.w.call("cloudwatch", self.region, "describe_alarms")
        base = [Alarm(f"{prefix}api-5xx-{self.region}", "OK"), Alarm(f"{prefix}lag-{self.region}", "OK")]
        base += [Alarm(n, st) for (r, n), st in self.w.alarm_states.items() if r == self.region]
        base += [Alarm(n, "ALARM", "Threshold Crossed") for n in self.w.alarms[self.region]]
        return [a for a in base if a.name.startswith(prefix)]


class FakeHealth:
    region = "us-east-1"

    def __init__(self, w):
        self.w = w

    def status(self, health_check_id):
        self.w.call("route53", "us-east-1", "get_health_check_status")
        ok, total = self.w.health[health_check_id]
        return HealthStatus(route53_healthy(ok, total), ok, total)


class FakeDynamo:
    def __init__(self, w, region):
        self.w, self.region = w, region

    def table(self, name):
        self.w.call("dynamodb", self.region, "describe_table")
        peer = DR if self.region == PRIMARY else PRIMARY
        replicas = {peer: self.w.replica_status[peer]} if self.w.replica_status.get(peer) else {}
        return TableState(name, "ACTIVE", replicas, {"transactionId": "HASH", "timestamp": "RANGE"},
                          {"transactionId": "S", "timestamp": "N"})

    def _key(self, table, key):
        return (table, tuple(sorted(key.items())))

    def put_item(self, table, item):
        self.w.call("dynamodb", self.region, "put_item")
        self.w.item_writes.append((self.region, table, dict(item)))
        key = self._key(table, {k: item[k] for k in ("transactionId", "timestamp")})
        now = self.w.clock.monotonic()
        self.w.items[(self.region,) + key] = now
        peer = DR if self.region == PRIMARY else PRIMARY
        self.w.items[(peer,) + key] = now + self.w.ddb_delay

    def get_item(self, table, key):
        self.w.call("dynamodb", self.region, "get_item")
        if key.get("transactionId") == "__failback_hold__" and self.w.hold_state is not None:
            return {"transactionId": {"S": key["transactionId"]}, "state": {"S": self.w.hold_state}}
        at = self.w.items.get((self.region,) + self._key(table, key))
        return {"found": True} if at is not None and at <= self.w.clock.monotonic() else None

    def delete_item(self, table, key):
        self.w.call("dynamodb", self.region, "delete_item")
        self.w.items.pop((self.region,) + self._key(table, key), None)


class FakeS3:
    buckets: ClassVar[dict[str, str]] = {PRIMARY: "audit-primary", DR: "audit-dr"}

    def __init__(self, w, region):
        self.w, self.region = w, region

    def replication_rules(self, bucket):
        self.w.call("s3", self.region, "get_bucket_replication")
        peer = self.buckets[DR if self.region == PRIMARY else PRIMARY]
        ok = self.w.s3_rules_ok[self.region]
        return [ReplicationRule("to-peer", "Enabled", peer, rtc_enabled=ok, metrics_enabled=True)]

    def put_object(self, bucket, key, body):
        self.w.call("s3", self.region, "put_object")
        now = self.w.clock.monotonic()
        self.w.objects[(bucket, key)] = now
        peer_bucket = next(b for b in self.buckets.values() if b != bucket)
        self.w.objects[(peer_bucket, key)] = now + self.w.s3_delay

    def object_exists(self, bucket, key):
        self.w.call("s3", self.region, "head_object")
        at = self.w.objects.get((bucket, key))
        return at is not None and at <= self.w.clock.monotonic()

    def retained_until(self, bucket, key):
        self.w.call("s3", self.region, "head_object_lock")  # HEAD, read for its lock headers
        until = getattr(self.w, "s3_locked_until", None)
        return (until, 120) if until is not None and (bucket, key) in self.w.objects else None

    def delete_all_versions(self, bucket, key):
        self.w.call("s3", self.region, "delete_objects")
        return 1 if self.w.objects.pop((bucket, key), None) is not None else 0


class FakeParameters:
    def __init__(self, w, region):
        self.w, self.region = w, region

    def latch(self, name):
        self.w.call("ssm", self.region, "get_parameter")
        return self.w.latches.get((self.region, name))

    def set_latch(self, name, latch):
        self.w.call("ssm", self.region, "put_parameter")
        self.w.latches[(self.region, name)] = latch
        self.w.latch_writes.append((self.region, name, latch))


class FakeIdentity:
    def __init__(self, w, region):
        self.w, self.region = w, region

    def caller_arn(self):
        self.w.call("sts", self.region, "get_caller_identity")
        return f"arn:aws:sts::{ACCOUNT}:assumed-role/Operator/alice"


class FakeDns:
    def __init__(self, w):
        self.w = w

    def addresses(self, host):
        self.w.calls.append(("dns", "-", host))
        if host not in self.w.dns:
            raise OSError(f"[Errno -2] Name or service not known: {host}")
        return list(self.w.dns[host])


class FakeGateways:
    def __init__(self, world: World):
        self.w = world

    def _made(self, service, region):
        self.w.created.append((service, region))

    def aurora(self, region):
        self._made("rds", region)
        return FakeAurora(self.w, region)

    def metrics(self, region):
        self._made("cloudwatch", region)
        return FakeMetrics(self.w, region)

    def alarms(self, region):
        self._made("cloudwatch", region)
        return FakeAlarms(self.w, region)

    def health(self):
        self._made("route53", "us-east-1")
        return FakeHealth(self.w)

    def dynamo(self, region):
        self._made("dynamodb", region)
        return FakeDynamo(self.w, region)

    def s3(self, region):
        self._made("s3", region)
        return FakeS3(self.w, region)

    def parameters(self, region):
        self._made("ssm", region)
        return FakeParameters(self.w, region)

    def identity(self, region):
        self._made("sts", region)
        return FakeIdentity(self.w, region)

    def dns(self):
        return FakeDns(self.w)

    def fis(self, region):
        self._made("fis", region)
        return FakeFis(self.w, region)

    def http(self, user_agent="drctl"):
        return FakeHttp(self.w, user_agent)
