"""Thin per-service, per-region gateways over boto3: the only module that talks to AWS.

Each gateway is built for ONE region from a boto3 Session and returns plain data
(dataclasses/dicts), so the decisions in status/operations/verify can be tested against
in-memory fakes with the same interface. `AwsGateways` is the factory commands use; it
remembers every region it built a client for (`regions_used`), and the failover path only
ever asks it for DR-region gateways.
"""

from __future__ import annotations

import datetime as _dt
import json
import socket
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

import contract

if TYPE_CHECKING:  # boto3 and botocore.config load when gateways are built: `drctl --help` stays cheap
    import boto3

# Errors meaning "the region/endpoint did not answer" (as opposed to "it answered: no").
UNREACHABLE_ERRORS = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError,
                      ConnectionClosedError)

# Route 53 is a global service whose control plane (and signing region) is us-east-1.
ROUTE53_CONTROL_REGION = contract.GLOBAL_CONTROL_REGION

IN_PROGRESS_FAILOVER = ("pending", "failing-over", "switching-over", "cancelling")

# Read-only probes: one attempt, short timeouts, so a dark region costs one read timeout.
PROBE_CONNECT_TIMEOUT_S, PROBE_READ_TIMEOUT_S = 3.0, 8.0


class Unreachable(Exception):
    """A region (or service endpoint in it) could not be reached."""

    def __init__(self, region: str, service: str, cause: Exception):
        self.region, self.service, self.cause = region, service, cause
        super().__init__(f"{service} in {region} unreachable: {cause}")


class NotFound(Exception):
    """The named resource does not exist (in that region)."""


def is_server_error(error: BaseException) -> bool:
    """A 5xx answer left after the SDK's retries (ServiceUnavailable, InternalError, a bare 503):
    the service in that region is not working. An outage may answer that instead of hanging or
    refusing connections (the twin's `5xx` fault found drctl crashing or FAILing on it)."""
    if not isinstance(error, ClientError):
        return False
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    return int(status) >= 500


def is_unreachable(error: BaseException) -> bool:
    """No usable answer from the region: no connection, no response in time, or only 5xx."""
    return isinstance(error, (Unreachable, *UNREACHABLE_ERRORS)) or is_server_error(error)


def error_code(error: BaseException) -> str:
    return contract.aws_error_code(error, missing="") if isinstance(error, ClientError) else ""


def region_of_arn(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""


def cluster_id_of_arn(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


# -- data ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Member:
    arn: str
    is_writer: bool
    sync_status: str | None = None  # connected | pending-resync (secondaries only)

    @property
    def region(self) -> str:
        return region_of_arn(self.arn)

    @property
    def cluster_id(self) -> str:
        return cluster_id_of_arn(self.arn)


@dataclass(frozen=True)
class GlobalClusterState:
    identifier: str
    status: str
    members: tuple[Member, ...]
    failover_status: str | None = None  # FailoverState.Status when an operation is under way
    failover_from: str | None = None
    failover_to: str | None = None
    data_loss_allowed: bool | None = None

    @property
    def writer(self) -> Member | None:
        writers = [m for m in self.members if m.is_writer]
        return writers[0] if len(writers) == 1 else None

    @property
    def in_progress(self) -> bool:
        return self.failover_status in IN_PROGRESS_FAILOVER

    def member(self, cluster_id: str, region: str | None = None) -> Member | None:
        for m in self.members:
            if m.cluster_id == cluster_id and (region is None or m.region == region):
                return m
        return None


@dataclass(frozen=True)
class ClusterState:
    identifier: str
    arn: str
    status: str
    global_cluster_id: str | None = None
    engine: str | None = None
    engine_version: str | None = None
    subnet_group: str | None = None
    security_groups: tuple[str, ...] = ()
    kms_key_id: str | None = None
    deletion_protection: bool | None = None
    instances: tuple[str, ...] = ()
    master_username: str | None = None
    database_name: str | None = None


@dataclass(frozen=True)
class Event:
    source: str
    message: str
    date: _dt.datetime
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    identifier: str
    cluster_id: str
    status: str
    snapshot_type: str
    created: _dt.datetime | None = None
    arn: str | None = None


@dataclass(frozen=True)
class Latch:
    """The failback gate's state (contract.FAILBACK_BLOCKED / FAILBACK_OPEN) and its audit."""
    state: str
    since: str = ""
    by: str = ""
    reason: str = ""
    failures: int = 0  # the probe's consecutiveFailures
    extra: dict[str, Any] = field(default_factory=dict)  # fields drctl does not know: kept

    def to_json(self) -> str:
        return contract.latch_json(self.state, self.since, self.by, self.reason, self.failures,
                                   self.extra)

    @classmethod
    def parse(cls, text: str) -> Latch:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            return cls(state=f"unreadable ({text[:40]!r})")
        if not isinstance(doc, dict):
            return cls(state=f"unreadable ({text[:40]!r})")
        failures = doc.get(contract.LATCH_FAILURES, 0)
        return cls(state=str(doc.get(contract.LATCH_STATE, "")),
                   since=str(doc.get(contract.LATCH_SINCE, "")),
                   by=str(doc.get(contract.LATCH_BY, "")), reason=str(doc.get(contract.LATCH_REASON, "")),
                   failures=failures if type(failures) is int and failures >= 0 else 0,
                   extra={k: v for k, v in doc.items() if k not in contract.LATCH_FIELDS})


@dataclass(frozen=True)
class Datapoint:
    value: float
    timestamp: _dt.datetime


@dataclass(frozen=True)
class HealthStatus:
    healthy: bool
    success: int
    total: int
    reports: tuple[str, ...] = ()


@dataclass(frozen=True)
class Alarm:
    name: str
    state: str
    reason: str = ""


@dataclass(frozen=True)
class ReplicationRule:
    rule_id: str
    status: str
    destination_bucket: str  # bucket name (from the destination ARN)
    rtc_enabled: bool
    metrics_enabled: bool


@dataclass(frozen=True)
class ExperimentTemplate:
    id: str
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TableState:
    name: str
    status: str
    replicas: Mapping[str, str] = field(default_factory=dict)  # region -> ReplicaStatus
    key_schema: Mapping[str, str] = field(default_factory=dict)  # attribute -> HASH|RANGE
    attribute_types: Mapping[str, str] = field(default_factory=dict)


# -- gateways --------------------------------------------------------------------------------

class _Gateway:
    """`client` answers reads (one attempt when built by AwsGateways); `action_client` sends
    changes (retried), `once_client` sends changes that must not be re-sent blindly."""
    service = ""

    def __init__(self, client: Any, region: str, action_client: Any = None,
                 once_client: Any = None):
        self.client, self.region = client, region
        self.action_client = action_client or client
        self.once_client = once_client or self.action_client

    def _call(self, operation: str, *, client: Any = None, **params: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(client or self.client, operation)(**params)
            return response
        except UNREACHABLE_ERRORS as error:
            raise Unreachable(self.region, self.service, error) from error
        except ClientError as error:
            if is_server_error(error):
                raise Unreachable(self.region, self.service, error) from error
            raise


class AuroraGateway(_Gateway):
    service = "rds"

    def global_cluster(self, identifier: str) -> GlobalClusterState:
        try:
            found = self._call("describe_global_clusters", GlobalClusterIdentifier=identifier)
        except ClientError as error:
            if error_code(error) == "GlobalClusterNotFoundFault":
                raise NotFound(f"global cluster {identifier} not found") from error
            raise
        matching = [g for g in found.get("GlobalClusters", [])
                    if g.get("GlobalClusterIdentifier") == identifier]
        if not matching:
            raise NotFound(f"global cluster {identifier} not found")
        g = matching[0]
        fs = g.get("FailoverState") or {}
        return GlobalClusterState(
            identifier=g["GlobalClusterIdentifier"], status=g.get("Status", "unknown"),
            members=tuple(Member(arn=m["DBClusterArn"], is_writer=bool(m.get("IsWriter")),
                                 sync_status=m.get("SynchronizationStatus"))
                          for m in g.get("GlobalClusterMembers", [])),
            failover_status=fs.get("Status"), failover_from=fs.get("FromDbClusterArn"),
            failover_to=fs.get("ToDbClusterArn"), data_loss_allowed=fs.get("IsDataLossAllowed"))

    def cluster(self, identifier: str) -> ClusterState:
        try:
            found = self._call("describe_db_clusters", DBClusterIdentifier=identifier)
        except ClientError as error:
            if error_code(error) == "DBClusterNotFoundFault":
                raise NotFound(f"cluster {identifier} not found in {self.region}") from error
            raise
        c = found["DBClusters"][0]
        gid = None
        if c.get("GlobalClusterIdentifier"):
            gid = c["GlobalClusterIdentifier"].rsplit(":", 1)[-1]
        return ClusterState(
            identifier=c["DBClusterIdentifier"], arn=c["DBClusterArn"],
            status=c.get("Status", "unknown"), global_cluster_id=gid, engine=c.get("Engine"),
            engine_version=c.get("EngineVersion"), subnet_group=c.get("DBSubnetGroup"),
            security_groups=tuple(g["VpcSecurityGroupId"] for g in c.get("VpcSecurityGroups", [])),
            kms_key_id=c.get("KmsKeyId"), deletion_protection=c.get("DeletionProtection"),
            instances=tuple(m["DBInstanceIdentifier"] for m in c.get("DBClusterMembers", [])),
            master_username=c.get("MasterUsername"), database_name=c.get("DatabaseName"))

    def switchover(self, global_cluster_id: str, target_arn: str) -> None:
        """Sent once: after a lost response the caller re-reads the state (never re-sends)."""
        self._call("switchover_global_cluster", client=self.once_client,
                   GlobalClusterIdentifier=global_cluster_id, TargetDbClusterIdentifier=target_arn)

    def failover(self, global_cluster_id: str, target_arn: str) -> None:
        """Sent once, like switchover()."""
        self._call("failover_global_cluster", client=self.once_client,
                   GlobalClusterIdentifier=global_cluster_id, TargetDbClusterIdentifier=target_arn,
                   AllowDataLoss=True)

    def events(self, source_id: str, source_type: str, start: _dt.datetime,
               end: _dt.datetime) -> list[Event]:
        """RDS events of one source (db-cluster / global-cluster), oldest first."""
        found: list[Event] = []
        try:
            pages = self.client.get_paginator("describe_events").paginate(
                SourceIdentifier=source_id, SourceType=source_type, StartTime=start, EndTime=end)
            for page in pages:
                found += [Event(e.get("SourceIdentifier", source_id), e.get("Message", ""), e["Date"],
                                tuple(e.get("EventCategories", []))) for e in page.get("Events", [])]
        except UNREACHABLE_ERRORS as error:
            raise Unreachable(self.region, self.service, error) from error
        return sorted(found, key=lambda e: e.date)

    def cluster_snapshots(self, cluster_id: str) -> list[Snapshot]:
        """Every snapshot of `cluster_id` in this region (automated and manual)."""
        found: list[Snapshot] = []
        try:
            pages = self.client.get_paginator("describe_db_cluster_snapshots").paginate(
                DBClusterIdentifier=cluster_id)
            for page in pages:
                found += [Snapshot(s["DBClusterSnapshotIdentifier"], s.get("DBClusterIdentifier", ""),
                                   s.get("Status", "unknown"), s.get("SnapshotType", ""),
                                   s.get("SnapshotCreateTime"), s.get("DBClusterSnapshotArn"))
                          for s in page.get("DBClusterSnapshots", [])]
        except UNREACHABLE_ERRORS as error:
            raise Unreachable(self.region, self.service, error) from error
        return found

    def copy_cluster_snapshot(self, source_id: str, target_id: str) -> Snapshot:
        """Same-region copy to a manual snapshot (kept until deleted, unlike automated ones)."""
        s = self._call("copy_db_cluster_snapshot", client=self.action_client,
                       SourceDBClusterSnapshotIdentifier=source_id,
                       TargetDBClusterSnapshotIdentifier=target_id, CopyTags=True)["DBClusterSnapshot"]
        return Snapshot(s["DBClusterSnapshotIdentifier"], s.get("DBClusterIdentifier", ""),
                        s.get("Status", "unknown"), s.get("SnapshotType", "manual"),
                        s.get("SnapshotCreateTime"), s.get("DBClusterSnapshotArn"))

    def wait_cluster_available(self, identifier: str, timeout_seconds: float,
                               delay_seconds: int = 15) -> None:
        """boto3's `db_cluster_available` waiter, bounded by `timeout_seconds`."""
        delay = max(1, int(delay_seconds))
        attempts = max(1, int(timeout_seconds // delay) or 1)
        try:
            self.action_client.get_waiter("db_cluster_available").wait(
                DBClusterIdentifier=identifier,
                WaiterConfig={"Delay": delay, "MaxAttempts": attempts})
        except UNREACHABLE_ERRORS as error:
            raise Unreachable(self.region, self.service, error) from error


class MetricsGateway(_Gateway):
    """CloudWatch metric reads (the newest datapoint of one metric in a recent window)."""
    service = "cloudwatch"

    def latest(self, namespace: str, metric: str, dimensions: Mapping[str, str], *,
               statistic: str = "Maximum", minutes: int = 15, now: _dt.datetime | None = None
               ) -> Datapoint | None:
        end = now or _dt.datetime.now(_dt.UTC)
        found = self._call(
            "get_metric_statistics", Namespace=namespace, MetricName=metric,
            Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
            StartTime=end - _dt.timedelta(minutes=minutes), EndTime=end + _dt.timedelta(minutes=1),
            Period=60, Statistics=[statistic])
        points = [p for p in found.get("Datapoints", []) if statistic in p]
        if not points:
            return None
        newest = max(points, key=lambda p: p["Timestamp"])
        return Datapoint(value=float(newest[statistic]), timestamp=newest["Timestamp"])

    def series(self, namespace: str, metric: str, dimensions: Mapping[str, str],
               start: _dt.datetime, end: _dt.datetime, *, statistic: str = "Maximum",
               period: int = 60) -> list[Datapoint]:
        """Every `period` datapoint of one metric in [start, end] (GetMetricData), as returned."""
        found = self._call(
            "get_metric_data", MetricDataQueries=[{"Id": "m", "ReturnData": True, "MetricStat": {
                "Metric": {"Namespace": namespace, "MetricName": metric,
                           "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()]},
                "Period": period, "Stat": statistic}}],
            StartTime=start, EndTime=end)
        result: dict[str, Any] = next(iter(found.get("MetricDataResults", [])), {})
        return [Datapoint(value=float(v), timestamp=t)
                for t, v in zip(result.get("Timestamps", []), result.get("Values", []), strict=True)]


class AlarmGateway(_Gateway):
    service = "cloudwatch"

    def alarms(self, prefix: str) -> list[Alarm]:
        found: list[Alarm] = []
        try:
            pages = self.client.get_paginator("describe_alarms").paginate(AlarmNamePrefix=prefix)
            for page in pages:
                for a in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
                    found.append(Alarm(a["AlarmName"], a.get("StateValue", "UNKNOWN"),
                                       a.get("StateReason", "")))
        except UNREACHABLE_ERRORS as error:
            raise Unreachable(self.region, self.service, error) from error
        return found


class HealthGateway(_Gateway):
    """Route 53 health checks (global service: the client signs for us-east-1)."""
    service = "route53"

    def status(self, health_check_id: str) -> HealthStatus:
        try:
            found = self._call("get_health_check_status", HealthCheckId=health_check_id)
        except ClientError as error:
            if error_code(error) == "NoSuchHealthCheck":
                raise NotFound(f"health check {health_check_id} not found") from error
            raise
        reports = tuple(o.get("StatusReport", {}).get("Status", "")
                        for o in found.get("HealthCheckObservations", []))
        success = sum(1 for r in reports if r.startswith("Success"))
        return HealthStatus(healthy=route53_healthy(success, len(reports)), success=success,
                            total=len(reports), reports=reports)


def route53_healthy(success: int, total: int) -> bool:
    """Route 53's rule: healthy when MORE than 18 % of its checkers report healthy."""
    return total > 0 and success > contract.ROUTE53_HEALTHY_CHECKER_FRACTION * total


class ParameterGateway(_Gateway):
    """SSM Parameter Store: the failback latch (contract: Names.failback_parameter)."""
    service = "ssm"

    def latch(self, name: str) -> Latch | None:
        try:
            found = self._call("get_parameter", Name=name)
        except ClientError as error:
            if error_code(error) == "ParameterNotFound":
                return None
            raise
        return Latch.parse(found["Parameter"]["Value"])

    def set_latch(self, name: str, latch: Latch) -> None:
        self._call("put_parameter", client=self.action_client, Name=name, Value=latch.to_json(),
                   Type="String", Overwrite=True)


@dataclass(frozen=True)
class SecretState:
    name: str
    primary_region: str          # where the secret is written (a replica names its primary)
    replicas: tuple[str, ...]    # regions this secret replicates to (primary side only)

    def is_replica_in(self, region: str) -> bool:
        return self.primary_region != region


class SecretsGateway(_Gateway):
    """One secret's value and replication (drctl client-keys)."""
    service = "secretsmanager"

    def state(self, secret_id: str) -> SecretState:
        try:
            d = self._call("describe_secret", SecretId=secret_id)
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                raise NotFound(f"secret {secret_id} in {self.region}") from error
            raise
        return SecretState(name=str(d.get("Name", secret_id)),
                           primary_region=str(d.get("PrimaryRegion") or self.region),
                           replicas=tuple(r["Region"] for r in d.get("ReplicationStatus", [])))

    def value(self, secret_id: str) -> str | None:
        """The current value; None while the secret has none (created empty by Terraform)."""
        try:
            return str(self._call("get_secret_value", SecretId=secret_id)["SecretString"])
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return None
            raise

    def put_value(self, secret_id: str, text: str) -> None:
        self._call("put_secret_value", client=self.action_client, SecretId=secret_id,
                   SecretString=text)

    def promote(self, secret_id: str) -> None:
        """Make this region's replica a standalone secret (StopReplicationToReplica)."""
        self._call("stop_replication_to_replica", client=self.once_client, SecretId=secret_id)


class ApiKeysGateway(_Gateway):
    """Clients' API keys and their usage plan in one region (drctl client-keys: per-client
    quotas, docs/api-protection.md). API keys are regional: each region has its own."""
    service = "apigateway"

    def plan_id(self, name: str) -> str:
        """The usage plan Terraform created under `name`; NotFound otherwise."""
        position = None
        while True:
            page = self._call("get_usage_plans", limit=500,
                              **({"position": position} if position else {}))
            for plan in page.get("items", []):
                if plan.get("name") == name:
                    return str(plan["id"])
            position = page.get("position")
            if not position:
                raise NotFound(f"usage plan {name} in {self.region}")

    def plan_key_values(self, plan_id: str) -> set[str]:
        """The API key values in the plan (the values the authorizer returns)."""
        values, position = set(), None
        while True:
            page = self._call("get_usage_plan_keys", usagePlanId=plan_id, limit=500,
                              **({"position": position} if position else {}))
            values |= {str(k["value"]) for k in page.get("items", []) if k.get("value")}
            position = page.get("position")
            if not position:
                return values

    def join(self, plan_id: str, *, name: str, value: str) -> None:
        """Create the key `name` with `value` unless it exists, and add it to the plan.
        Idempotent: a re-run finds what the last one created."""
        found = [k for k in self._call("get_api_keys", nameQuery=name, includeValues=True,
                                       limit=500).get("items", []) if k.get("name") == name]
        if found and found[0].get("value") != value:
            raise NotFound(f"API key {name} in {self.region} holds another value: delete it, "
                           "then run `drctl client-keys sync`")
        key_id = str(found[0]["id"]) if found else str(self._call(
            "create_api_key", client=self.once_client, name=name, value=value, enabled=True,
            description="per-client quota of POST /validate (drctl client-keys)")["id"])
        try:
            self._call("create_usage_plan_key", client=self.once_client, usagePlanId=plan_id,
                       keyId=key_id, keyType="API_KEY")
        except ClientError as error:
            if error_code(error) != "ConflictException":      # already in the plan
                raise


class IdentityGateway(_Gateway):
    """Who runs drctl (for the audit trail), from STS in the given region (not the global
    endpoint, which lives in us-east-1)."""
    service = "sts"

    def caller_arn(self) -> str:
        return str(self._call("get_caller_identity")["Arn"])


class DnsGateway:
    """What the local resolver answers for a name (bounded: resolvers can hang too; the
    lookup runs in a daemon thread so a stuck resolver never holds the process open)."""

    def __init__(self, timeout: float = 3.0):
        self.timeout = timeout

    def addresses(self, host: str) -> list[str]:
        from drctl import resolve as overrides
        endpoint = overrides.lookup(host)  # DRCTL_RESOLVE (inert when unset)
        if endpoint is not None:
            return [endpoint.answer]
        box: dict[str, Any] = {}

        def resolve() -> None:
            try:
                box["infos"] = socket.getaddrinfo(host, 443, 0, socket.SOCK_STREAM)
            except OSError as error:
                box["error"] = error
        worker = threading.Thread(target=resolve, daemon=True, name="drctl-dns")
        worker.start()
        worker.join(self.timeout)
        if "error" in box:
            raise box["error"]
        if "infos" not in box:
            raise Unreachable("dns", "resolver", TimeoutError(f"no answer for {host} in {self.timeout:g} s"))
        return sorted({str(info[4][0]) for info in box["infos"]})


class HttpGateway:
    """A JSON GET as a client of the custom domain makes it (no cache; bounded; DRCTL_RESOLVE's
    endpoint for an overridden name, with the name as Host)."""

    def __init__(self, timeout: float = 5.0, user_agent: str = "drctl"):
        self.timeout, self.user_agent = timeout, user_agent

    def get_json(self, url: str) -> tuple[int | None, dict[str, Any] | None]:
        """(status, body when a JSON object); (None, None) when nothing answered."""
        from drctl import resolve as overrides
        url, host = overrides.rewrite(url)  # DRCTL_RESOLVE (inert when unset)
        request = urllib.request.Request(url, headers={"Cache-Control": "no-cache",
                                                       "User-Agent": self.user_agent, **host})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        except (urllib.error.URLError, OSError):
            return None, None
        try:
            data = json.loads(body or b"null")
        except ValueError:
            return status, None
        return status, data if isinstance(data, dict) else None


class FisGateway(_Gateway):
    """AWS FIS: experiment templates (with their tags), and experiments started, read, stopped."""
    service = "fis"

    def templates(self) -> list[ExperimentTemplate]:
        found: list[ExperimentTemplate] = []
        try:
            for page in self.client.get_paginator("list_experiment_templates").paginate():
                found += [ExperimentTemplate(t["id"], dict(t.get("tags") or {}))
                          for t in page.get("experimentTemplates", [])]
        except UNREACHABLE_ERRORS as error:
            raise Unreachable(self.region, self.service, error) from error
        return found

    def start(self, template_id: str, tags: Mapping[str, str]) -> str:
        """Start one experiment from a template; its id."""
        found = self._call("start_experiment", client=self.action_client,
                           clientToken=str(uuid.uuid4()), experimentTemplateId=template_id,
                           tags=dict(tags))
        return str(found["experiment"]["id"])

    def state(self, experiment_id: str) -> tuple[str, str]:
        """(status, reason) of an experiment (botocore fis model, ExperimentState)."""
        state = self._call("get_experiment", id=experiment_id)["experiment"]["state"]
        return str(state.get("status", "unknown")), str(state.get("reason", ""))

    def stop(self, experiment_id: str) -> None:
        self._call("stop_experiment", client=self.action_client, id=experiment_id)


class DynamoGateway(_Gateway):
    service = "dynamodb"

    def table(self, name: str) -> TableState:
        try:
            t = self._call("describe_table", TableName=name)["Table"]
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                raise NotFound(f"table {name} not found in {self.region}") from error
            raise
        return TableState(
            name=t["TableName"], status=t.get("TableStatus", "UNKNOWN"),
            replicas={r["RegionName"]: r.get("ReplicaStatus", "UNKNOWN") for r in t.get("Replicas", [])},
            key_schema={k["AttributeName"]: k["KeyType"] for k in t.get("KeySchema", [])},
            attribute_types={a["AttributeName"]: a["AttributeType"]
                             for a in t.get("AttributeDefinitions", [])})

    def put_item(self, table: str, item: Mapping[str, Any]) -> None:
        self._call("put_item", client=self.action_client, TableName=table, Item=_ddb_item(item))

    def get_item(self, table: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        found = self._call("get_item", TableName=table, Key=_ddb_item(key), ConsistentRead=True)
        return found.get("Item")

    def delete_item(self, table: str, key: Mapping[str, Any]) -> None:
        self._call("delete_item", client=self.action_client, TableName=table, Key=_ddb_item(key))


def _ddb_item(item: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for k, v in item.items():
        if isinstance(v, bool):
            out[k] = {"BOOL": v}
        elif isinstance(v, (int, float)):
            out[k] = {"N": str(v)}
        else:
            out[k] = {"S": str(v)}
    return out


class S3Gateway(_Gateway):
    service = "s3"

    def replication_rules(self, bucket: str) -> list[ReplicationRule]:
        try:
            cfg = self._call("get_bucket_replication", Bucket=bucket)["ReplicationConfiguration"]
        except ClientError as error:
            if error_code(error) == "ReplicationConfigurationNotFoundError":
                return []
            if error_code(error) == "NoSuchBucket":
                raise NotFound(f"bucket {bucket} not found") from error
            raise
        rules = []
        for r in cfg.get("Rules", []):
            dest = r.get("Destination", {})
            rules.append(ReplicationRule(
                rule_id=r.get("ID", ""), status=r.get("Status", ""),
                destination_bucket=dest.get("Bucket", "").split(":::")[-1],
                rtc_enabled=dest.get("ReplicationTime", {}).get("Status") == "Enabled",
                metrics_enabled=dest.get("Metrics", {}).get("Status") == "Enabled"))
        return rules

    def put_object(self, bucket: str, key: str, body: bytes) -> None:
        self._call("put_object", client=self.action_client, Bucket=bucket, Key=key, Body=body)

    def object_exists(self, bucket: str, key: str) -> bool:
        try:
            self._call("head_object", Bucket=bucket, Key=key)
            return True
        except ClientError as error:
            if error_code(error) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def retained_until(self, bucket: str, key: str) -> tuple[_dt.datetime, int] | None:
        """(retain-until date, size) while `key`'s current version is under an Object Lock
        retention (S3 returns the lock on HEAD to a caller with s3:GetObjectRetention); None
        when it is not, or not there. No one can delete a COMPLIANCE-locked version."""
        try:
            head = self._call("head_object", Bucket=bucket, Key=key)
        except ClientError as error:
            if error_code(error) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        until = head.get("ObjectLockRetainUntilDate")
        if head.get("ObjectLockMode") and isinstance(until, _dt.datetime) and until > _dt.datetime.now(_dt.UTC):
            return until, int(head.get("ContentLength", 0))
        return None

    def delete_all_versions(self, bucket: str, key: str) -> int:
        """Deletes every version and delete marker of exactly `key`; returns how many. A
        version S3 refuses to delete (DeleteObjects reports it, quiet or not) raises."""
        found = self._call("list_object_versions", Bucket=bucket, Prefix=key)
        victims = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                   for v in found.get("Versions", []) + found.get("DeleteMarkers", [])
                   if v["Key"] == key]
        if victims:
            answer = self._call("delete_objects", client=self.action_client, Bucket=bucket,
                                Delete={"Objects": victims, "Quiet": True})
            refused = answer.get("Errors") or []
            if refused:
                raise RuntimeError(f"{len(refused)} of {len(victims)} versions not deleted: "
                                   f"{refused[0].get('Message', '')}")
        else:  # unversioned bucket or nothing there: a plain delete is harmless
            self._call("delete_object", client=self.action_client, Bucket=bucket, Key=key)
        return len(victims)


# -- factory ---------------------------------------------------------------------------------

class AwsGateways:
    """Builds gateways for a region from one boto3 Session (clients cached, thread-safe).

    Attempts are botocore's `total_max_attempts` (its `max_attempts` counts RETRIES: 1 there
    means two requests). Three clients per service and region: reads are probes (ONE attempt, 3 s connect, 8 s
    read: a dark region costs one timeout, and callers skip it after that); changes are
    retried (standard mode); Aurora switchover/failover requests are sent once (a lost
    response is resolved by re-reading the state, never by sending it again).
    """

    def __init__(self, session: boto3.Session | None = None, *,
                 endpoint_url: str | Mapping[str, str] | None = None,
                 connect_timeout: float = PROBE_CONNECT_TIMEOUT_S,
                 read_timeout: float = PROBE_READ_TIMEOUT_S, max_attempts: int = 1,
                 action_read_timeout: float = 30, action_attempts: int = 3):
        from botocore.config import Config

        if session is None:
            import boto3
            session = boto3.Session()
        self.session = session
        self._endpoint_url = endpoint_url
        self._configs = {
            "probe": Config(connect_timeout=connect_timeout, read_timeout=read_timeout,
                            retries={"total_max_attempts": max_attempts, "mode": "standard"}),
            "action": Config(connect_timeout=max(connect_timeout, 5), read_timeout=action_read_timeout,
                             retries={"total_max_attempts": action_attempts, "mode": "standard"}),
            "once": Config(connect_timeout=max(connect_timeout, 5), read_timeout=action_read_timeout,
                           retries={"total_max_attempts": 1, "mode": "standard"}),
        }
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.Lock()
        self.regions_used: list[str] = []

    def _endpoint(self, region: str) -> str | None:
        if isinstance(self._endpoint_url, Mapping):
            return self._endpoint_url.get(region) or self._endpoint_url.get("*")
        return self._endpoint_url

    def client(self, service: str, region: str, kind: str = "probe") -> Any:
        key = (service, region, kind)
        with self._lock:  # boto3 sessions are not thread-safe; clients are
            if key not in self._clients:
                if region not in self.regions_used:
                    self.regions_used.append(region)
                self._clients[key] = self.session.client(
                    service, region_name=region, endpoint_url=self._endpoint(region),
                    config=self._configs[kind])
            return self._clients[key]

    def _three(self, service: str, region: str) -> tuple[Any, str, Any, Any]:
        return (self.client(service, region), region, self.client(service, region, "action"),
                self.client(service, region, "once"))

    def aurora(self, region: str) -> AuroraGateway:
        return AuroraGateway(*self._three("rds", region))

    def metrics(self, region: str) -> MetricsGateway:
        return MetricsGateway(self.client("cloudwatch", region), region)

    def alarms(self, region: str) -> AlarmGateway:
        return AlarmGateway(self.client("cloudwatch", region), region)

    def health(self) -> HealthGateway:
        return HealthGateway(self.client("route53", ROUTE53_CONTROL_REGION), ROUTE53_CONTROL_REGION)

    def dynamo(self, region: str) -> DynamoGateway:
        return DynamoGateway(self.client("dynamodb", region), region,
                             self.client("dynamodb", region, "action"))

    def s3(self, region: str) -> S3Gateway:
        return S3Gateway(self.client("s3", region), region, self.client("s3", region, "action"))

    def parameters(self, region: str) -> ParameterGateway:
        return ParameterGateway(self.client("ssm", region), region, self.client("ssm", region, "action"))

    def secrets(self, region: str) -> SecretsGateway:
        return SecretsGateway(*self._three("secretsmanager", region))

    def api_keys(self, region: str) -> ApiKeysGateway:
        return ApiKeysGateway(*self._three("apigateway", region))

    def identity(self, region: str) -> IdentityGateway:
        return IdentityGateway(self.client("sts", region), region)

    def dns(self) -> DnsGateway:
        return DnsGateway()

    def http(self, user_agent: str = "drctl") -> HttpGateway:
        return HttpGateway(user_agent=user_agent)

    def fis(self, region: str) -> FisGateway:
        return FisGateway(self.client("fis", region), region)

    @property
    def endpoint_url(self) -> str | None:
        """The one endpoint every call goes to (--endpoint-url), if it is one for all regions."""
        return self._endpoint_url if isinstance(self._endpoint_url, str) else None
