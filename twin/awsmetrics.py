"""The replication metrics AWS publishes itself, SIMULATED from the twin's replicator.

AWS publishes, and the platform's alarms and `drctl status/failback` read:

* S3 Replication Time Control metrics, per replication rule (dimensions ``SourceBucket``,
  ``DestinationBucket``, ``RuleId``): ``ReplicationLatency`` (seconds),
  ``OperationsPendingReplication``, ``BytesPendingReplication`` and
  ``OperationsFailedReplication``, each in the region :func:`contract.s3_metric_region` says
  (latency, pending operations and bytes in the destination bucket's Region, failed operations
  in the source's);
* DynamoDB ``ReplicationLatency`` (milliseconds) per table and receiving region
  (``TableName``, ``ReceivingRegion``), in the source region.

:class:`ReplicationMetrics` publishes them from :class:`twin.replication.Replicator` once per
minute of SCENARIO time (at each minute boundary, for the minute that ended), as one
PutMetricData datum per metric and series on the twin's moto CloudWatch, stamped with the REAL
time (drctl judges a datapoint's age by the wall clock). The twin's collector moves them into
its metric store stamped with the scenario minute they describe, like every other metric, so
the JSON's alarms and drctl read the same publication.

The value of a minute (each series): the largest replication latency of the writes applied
in it (scenario seconds a write waited while replication was held, else the configured lag),
and of the writes still pending at its end; pending operations and bytes are counted at the
end of the minute; failed operations are 0 (the twin's replication does not fail). With no
write in the minute the latency is the configured lag.

What AWS does differently (docs/twin.md, "Replication metrics"):

* S3 publishes these metrics only for rules with Replication Time Control or replication
  metrics enabled (the JSON enables both; the twin publishes for every rule of the JSON and
  leaves the check to drctl's GetBucketReplication reading); RTC's promise is 15 minutes.
* AWS computes its values from the objects' replication, per minute; a pause
  (``aws:s3:bucket-pause-replication``) is FIS's, and how AWS's latency figure grows during
  one is not documented: the twin's reading (the age of the oldest object still to replicate)
  is its own.
* DynamoDB publishes ``ReplicationLatency`` when there are replicated writes (an Average of
  the items' latencies per minute); the twin publishes one datum a minute even when idle (the
  configured lag), so its Average equals its Maximum. For MRSC (STRONG) tables the twin
  publishes the lag floor (their copy is synchronous) or, while paused, the waiting time;
  whether AWS publishes ReplicationLatency for MRSC replicas is not confirmed here.
* A region under a fault (``twin.faults``) publishes nothing: its CloudWatch is treated as
  gone, as twin/observed.py does for Aurora's metrics.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from typing import Any

from contract import (
    DYNAMODB_REPLICATION_LATENCY,
    S3_REPLICATION_FAILED,
    S3_REPLICATION_LATENCY,
    S3_REPLICATION_PENDING,
    MetricSpec,
    s3_metric_region,
)
from twin.provision import client

PERIOD_S = 60.0  # AWS publishes these per minute
# Real seconds to let pass after a backlog's latencies are published before drctl reads them:
# drctl reads moto's newest 60 s bucket in real time, and moto starts its buckets at the window's
# first datapoint (CloudWatch at the minute), so for 60 s real the newest one still holds them.
CLOUDWATCH_BUCKET_WAIT_S = 65.0
S3_BYTES_PENDING = MetricSpec("AWS/S3", "BytesPendingReplication", S3_REPLICATION_LATENCY.dimensions, "Maximum")


class ReplicationMetrics:
    def __init__(self, twin: Any):
        self.twin = twin
        self.last_minute = math.floor(twin.clock.now() / PERIOD_S) * PERIOD_S
        # (scenario minute end, region, metric, dimensions, value): what was published
        self.published: list[tuple[float, str, str, dict[str, str], float]] = []
        self._rules: dict[tuple[str, str], str] = {}  # (source region, bucket) -> rule id

    def tick(self) -> int:
        """Publish for each whole scenario minute that ended since the last call (the scenario
        may jump several at once: each gets its datum). Returns the datums published."""
        now = self.twin.clock.now()
        count = 0
        while self.last_minute + PERIOD_S <= now + 1e-6:
            self.last_minute += PERIOD_S
            count += self.publish(self.last_minute)
        return count

    def publish(self, minute_end: float) -> int:
        twin = self.twin
        replication = twin.replication
        if replication is None:
            return 0
        faulted = set(twin.faults)
        lag = float(replication.lag_s)
        worst = replication.take_latencies()
        pending_ops: dict[tuple[str, str, str, str], int] = {}
        pending_bytes: dict[tuple[str, str, str, str], int] = {}
        for kind, name, source, dest, age, size in replication.backlog():
            key = (kind, name, source, dest)
            worst[key] = max(age, worst.get(key, 0.0))
            pending_ops[key] = pending_ops.get(key, 0) + 1
            pending_bytes[key] = pending_bytes.get(key, 0) + size
        count = 0
        for table, regions in twin.inventory.table_replicas.items():
            for source in regions:
                for dest in regions:
                    if dest == source or source in faulted:
                        continue
                    seconds = worst.get(("dynamodb", table, source, dest), lag)
                    spec = DYNAMODB_REPLICATION_LATENCY
                    count += self._put(source, spec, spec.dims(table, dest), seconds * 1000, "Milliseconds",
                                       minute_end)
        for source_region, source, dest_region, dest in twin.inventory.bucket_replication:
            key = ("s3", dest, source_region, dest_region)
            dims = S3_REPLICATION_LATENCY.dims(source, dest, self._rule_id(source, source_region))
            for spec, value, unit in ((S3_REPLICATION_LATENCY, worst.get(key, lag), "Seconds"),
                                      (S3_REPLICATION_PENDING, pending_ops.get(key, 0), "Count"),
                                      (S3_BYTES_PENDING, pending_bytes.get(key, 0), "Bytes"),
                                      (S3_REPLICATION_FAILED, 0, "Count")):
                region = s3_metric_region(spec, source=source_region, destination=dest_region)
                if region not in faulted:
                    count += self._put(region, spec, dims, value, unit, minute_end)
        return count

    def _rule_id(self, bucket: str, region: str) -> str:
        """The rule's ID as the JSON declares it (the first rule of the bucket's configuration)."""
        if (region, bucket) not in self._rules:
            p = self.twin.platform
            rule_id = ""
            for res in p.resources("aws_s3_bucket_replication_configuration"):
                body = p.resolve(res.stack, res.body)
                if str(body.get("bucket")) == bucket and body.get("rule"):
                    rule_id = str(body["rule"][0].get("id", ""))
            self._rules[(region, bucket)] = rule_id
        return self._rules[(region, bucket)]

    def _put(self, region: str, spec: MetricSpec, dims: dict[str, str], value: float, unit: str,
             minute_end: float) -> int:
        client("cloudwatch", region, self.twin.endpoint).put_metric_data(Namespace=spec.namespace, MetricData=[{
            "MetricName": spec.name, "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
            "Timestamp": dt.datetime.fromtimestamp(time.time(), dt.UTC), "Value": float(value), "Unit": unit}])
        self.published.append((minute_end, region, spec.name, dict(dims), float(value)))
        return 1
