"""What AWS's own APIs would show about the twin, so `drctl` can read it unchanged.

drctl reads AWS: alarm states (DescribeAlarms), Route 53 health-check status
(GetHealthCheckStatus), a global table's replicas (DescribeTable ``Replicas``), S3 replication
rules (GetBucketReplication), the metrics AWS publishes itself (AWS/DynamoDB and AWS/S3
replication, AWS/RDS AuroraGlobalDBRPOLag) and the Aurora global cluster (:mod:`twin.aurora`).
moto has none of these as the twin runs them, so :class:`Observed` puts them there
(SIMULATED, see docs/twin.md):

* every alarm of the JSON is created in moto's CloudWatch (name, metric, threshold) and its
  STATE is set from the twin's own evaluation (:mod:`twin.alarms`) at each :meth:`sync`;
* GetHealthCheckStatus answers from the twin's Route 53 evaluation (:mod:`twin.route53`):
  one checker observation, Success or Failure (moto answers Success always);
* DescribeTable lists the global table's replicas (ACTIVE) in each region;
* each region's S3 replication configuration is put as the JSON declares it;
* at each :meth:`sync`, ``AuroraGlobalDBRPOLag`` of each connected secondary from the role
  model, stamped with the REAL time (drctl judges its age by the wall clock). A region under
  a fault publishes none (its CloudWatch is treated as gone). The DynamoDB and S3 replication
  metrics are the twin's own (twin/awsmetrics.py, once a scenario minute while evaluating).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from twin.provision import client

_HEALTH: dict[str, Any] = {}  # health check id -> twin.route53.HealthCheck (GetHealthCheckStatus)
_REPLICAS: dict[tuple[str, str], list[str]] = {}  # (region, table) -> replica regions
_PATCHED: set[str] = set()


class Observed:
    def __init__(self, twin: Any):
        self.twin = twin
        self.endpoint = twin.endpoint
        self.published: list[tuple[float, str, str, str, float]] = []  # (real t, region, ns, metric, value)
        self._alarm_states: dict[str, str] = {}

    # -- once, after the twin is up ------------------------------------------------------

    def install(self) -> None:
        inv = self.twin.inventory
        for table, regions in inv.table_replicas.items():
            for region in regions:
                _REPLICAS[(region, table)] = [r for r in regions if r != region]
        _patch()
        self._replication_rules()

    def _replication_rules(self) -> None:
        p = self.twin.platform
        for res in p.resources("aws_s3_bucket_replication_configuration"):
            body = p.resolve(res.stack, res.body)
            bucket = str(body["bucket"])
            region = next((r for r, b in self.twin.inventory.buckets if b == bucket), res.region)
            rules = []
            for rule in body.get("rule", []):
                dest = rule.get("destination", {})
                destination: dict[str, Any] = {"Bucket": str(dest.get("bucket"))}
                if dest.get("replication_time"):
                    destination["ReplicationTime"] = {
                        "Status": dest["replication_time"].get("status", "Enabled"),
                        "Time": {"Minutes": int(dest["replication_time"].get("time", {}).get("minutes", 15))}}
                if dest.get("metrics"):
                    destination["Metrics"] = {
                        "Status": dest["metrics"].get("status", "Enabled"),
                        "EventThreshold": {"Minutes": int(dest["metrics"].get("event_threshold", {})
                                                          .get("minutes", 15))}}
                rules.append({"ID": str(rule.get("id", "")), "Priority": int(rule.get("priority", 1)),
                              "Status": str(rule.get("status", "Enabled")), "Filter": {"Prefix": ""},
                              "DeleteMarkerReplication": {"Status": str(
                                  (rule.get("delete_marker_replication") or {}).get("status", "Disabled"))},
                              "Destination": destination})
            client("s3", region, self.endpoint).put_bucket_replication(
                Bucket=bucket, ReplicationConfiguration={
                    "Role": f"arn:aws:iam::{p.account_id}:role/twin-replication", "Rules": rules})

    def alarms(self) -> None:
        """Create every alarm the twin evaluates in moto (once evaluation is on)."""
        evaluator = self.twin.alarms
        if evaluator is None:
            return
        for alarm in evaluator.alarms.values():
            args: dict[str, Any] = {"AlarmName": alarm.name, "ComparisonOperator": alarm.comparison,
                                    "EvaluationPeriods": alarm.evaluation_periods, "Threshold": alarm.threshold,
                                    "Period": alarm.period, "TreatMissingData": alarm.treat_missing_data,
                                    "ActionsEnabled": False}
            if alarm.metric is not None:
                namespace, name, dims, stat = alarm.metric
                args.update(Namespace=namespace, MetricName=name,
                            Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()])
                if stat.startswith("p"):
                    args["ExtendedStatistic"] = stat
                else:
                    args["Statistic"] = stat
            else:  # metric math: moto stores the definition; the twin evaluates it
                args.update(Namespace="Twin/MetricMath", MetricName=alarm.name, Statistic="Maximum")
            client("cloudwatch", alarm.region, self.endpoint).put_metric_alarm(**args)
        for check in (self.twin.route53.checks.values() if self.twin.route53 else ()):
            _HEALTH[check.id] = check

    # -- every step -------------------------------------------------------------------------

    def sync(self) -> None:
        """Alarm states into moto; fresh AWS-published metrics (real time)."""
        evaluator = self.twin.alarms
        if evaluator is not None:
            if not self._alarm_states:
                self.alarms()
            for alarm in evaluator.alarms.values():
                if self._alarm_states.get(alarm.name) == alarm.state:
                    continue
                reason = alarm.history[-1][2] if alarm.history else "twin: not evaluated yet"
                client("cloudwatch", alarm.region, self.endpoint).set_alarm_state(
                    AlarmName=alarm.name, StateValue=alarm.state, StateReason=reason[:1000])
                self._alarm_states[alarm.name] = alarm.state
        self.metrics()

    def metrics(self) -> None:
        twin, now = self.twin, dt.datetime.now(dt.UTC)
        faulted = set(twin.faults)
        aurora = getattr(twin, "aurora", None)
        if aurora is not None:
            for (region, cluster), lag in aurora.rpo_lag_ms().items():
                if region not in faulted:
                    self._put(region, "AWS/RDS", "AuroraGlobalDBRPOLag", {"DBClusterIdentifier": cluster},
                              lag, now, "Milliseconds")

    def _put(self, region: str, namespace: str, name: str, dims: dict[str, str], value: float,
             at: dt.datetime, unit: str) -> None:
        client("cloudwatch", region, self.endpoint).put_metric_data(Namespace=namespace, MetricData=[{
            "MetricName": name, "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
            "Timestamp": at, "Value": float(value), "Unit": unit}])
        self.published.append((time.time(), region, namespace, name, float(value)))


def _patch() -> None:
    """moto's GetHealthCheckStatus and DescribeTable, answered with the twin's state."""
    if "route53" not in _PATCHED:
        from moto.core.responses import ActionResult
        from moto.route53.responses import Route53

        original_status = Route53.get_health_check_status

        def get_health_check_status(self: Any) -> Any:
            check = _HEALTH.get(self._get_param("HealthCheckId"))
            if check is None:
                return original_status(self)
            when = dt.datetime.now(dt.UTC)
            status = ("Success: HTTP Status Code 200, OK (twin)" if check.healthy else
                      "Failure: " + (check.history[-1][2] if check.history else "unhealthy") + " (twin)")
            return ActionResult({"HealthCheckObservations": [{
                "Region": "us-east-1", "IPAddress": "127.0.0.1",
                "StatusReport": {"Status": status, "CheckedTime": when}}]})

        Route53.get_health_check_status = get_health_check_status  # type: ignore[method-assign]
        _PATCHED.add("route53")
    if "dynamodb" not in _PATCHED:
        from moto.dynamodb.models import DynamoDBBackend

        original_describe = DynamoDBBackend.describe_table

        def describe_table(self: Any, name: str) -> dict[str, Any]:
            found: dict[str, Any] = original_describe(self, name)
            replicas = _REPLICAS.get((self.region_name, name))
            if replicas:
                found["Table"]["Replicas"] = [{"RegionName": r, "ReplicaStatus": "ACTIVE"} for r in replicas]
            return found

        DynamoDBBackend.describe_table = describe_table  # type: ignore[method-assign]
        _PATCHED.add("dynamodb")
