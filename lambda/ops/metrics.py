"""CloudWatch datums with exact dimensions, published with one PutMetricData call.

Why not Powertools Metrics (EMF): EMF adds a ``service`` dimension to every metric and
reports asynchronously through the function's log group. The alarms on these metrics (and
the Route 53 health check on the failback alarm) must match dimensions exactly, and a
scheduled probe should know whether its datapoints were accepted. IAM: cloudwatch:PutMetricData
on ``*`` with the condition ``cloudwatch:namespace`` = the namespace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COUNT = "Count"
SECONDS = "Seconds"
MILLISECONDS = "Milliseconds"
MAX_DATUMS_PER_CALL = 1000


@dataclass
class MetricBatch:
    namespace: str
    datums: list[dict[str, Any]] = field(default_factory=list)

    def add(self, name: str, value: float, unit: str, **dimensions: str) -> None:
        datum: dict[str, Any] = {"MetricName": name, "Value": float(value), "Unit": unit, "StorageResolution": 60}
        if dimensions:
            datum["Dimensions"] = [{"Name": k, "Value": v} for k, v in dimensions.items()]
        self.datums.append(datum)

    def value(self, name: str, **dimensions: str) -> float | None:
        """The value added for ``name`` with exactly ``dimensions`` (for logs and tests)."""
        wanted = sorted(dimensions.items())
        for datum in self.datums:
            dims = sorted((d["Name"], d["Value"]) for d in datum.get("Dimensions", []))
            if datum["MetricName"] == name and dims == wanted:
                return datum["Value"]
        return None

    def publish(self, cloudwatch: Any) -> str | None:
        """Send every datum; returns None on success or the error code (never raises)."""
        from botocore.exceptions import BotoCoreError, ClientError

        from ops.aws import error_code

        try:
            for start in range(0, len(self.datums), MAX_DATUMS_PER_CALL):
                cloudwatch.put_metric_data(Namespace=self.namespace,
                                           MetricData=self.datums[start:start + MAX_DATUMS_PER_CALL])
        except (ClientError, BotoCoreError) as exc:
            return error_code(exc)
        return None
