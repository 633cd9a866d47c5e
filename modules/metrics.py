"""A CloudWatch metric as a value: tiers build their own (`metric_*()` methods, as in aws-cdk),
monitoring turns them into alarms and dashboard rows without rebuilding dimensions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import (
    CloudwatchMetricAlarmMetricQuery,
    CloudwatchMetricAlarmMetricQueryMetric,
)


@dataclass(frozen=True)
class Metric:
    namespace: str
    name: str
    dimensions: Mapping[str, str] = field(default_factory=dict)
    statistic: str = "Average"  # or an extended statistic such as "p99"
    period: int = 60
    unit_label: str = ""  # for dashboards: "ms", "s", "count"

    def with_(self, **changes: Any) -> Metric:
        return replace(self, **changes)

    @property
    def is_extended_statistic(self) -> bool:
        return self.statistic.startswith("p")

    def alarm_arguments(self) -> dict[str, Any]:
        """The metric part of an aws_cloudwatch_metric_alarm."""
        args: dict[str, Any] = dict(namespace=self.namespace, metric_name=self.name,
                                    dimensions=dict(self.dimensions), period=self.period)
        if self.is_extended_statistic:
            args["extended_statistic"] = self.statistic
        else:
            args["statistic"] = self.statistic
        return args

    def query(self, id: str, *, return_data: bool = False) -> CloudwatchMetricAlarmMetricQuery:
        """This metric as one input of a metric-math alarm."""
        return CloudwatchMetricAlarmMetricQuery(
            id=id, return_data=return_data,
            metric=CloudwatchMetricAlarmMetricQueryMetric(
                namespace=self.namespace, metric_name=self.name, dimensions=dict(self.dimensions),
                stat=self.statistic, period=self.period))

    def dashboard_row(self, **options: Any) -> list[Any]:
        """One row of a dashboard widget's `metrics` list."""
        row: list[Any] = [self.namespace, self.name]
        for key, value in self.dimensions.items():
            row += [key, value]
        row.append({"stat": self.statistic, **options})
        return row
