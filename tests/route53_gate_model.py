"""A model of how Route 53 turns a CLOUDWATCH_METRIC health check into a status, minute by minute.

A model, not AWS: it encodes what the Route 53 documentation states and nothing more.
- Route 53 reads the *data stream* of the alarm's metric (not the alarm's state): it applies
  the alarm's statistic, threshold, comparison, evaluation periods and datapoints to alarm to
  the most recent periods; `treat_missing_data` plays no part.
- "When CloudWatch has insufficient data about the metric to determine the alarm state" the
  health check takes `insufficient_data_health_status`: Healthy, Unhealthy, or LastKnownStatus
  (the status from the last time there was enough data; healthy for a new check).
Inputs are the synthesized JSON's alarm and health check, and one value per period (the
period's aggregate; None: no datapoint in that period).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

COMPARE = {
    "GreaterThanOrEqualToThreshold": operator.ge,
    "GreaterThanThreshold": operator.gt,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


def gate_statuses(alarm: dict, health_check: dict, periods: Sequence[float | None]) -> list[str]:
    """The health check's status ("Healthy"/"Unhealthy") after each period of `periods`."""
    assert health_check["type"] == "CLOUDWATCH_METRIC"
    assert health_check["cloudwatch_alarm_name"] == alarm["alarm_name"]
    evaluation = int(alarm.get("evaluation_periods", 1))
    to_alarm = int(alarm.get("datapoints_to_alarm") or evaluation)
    breaches = COMPARE[alarm["comparison_operator"]]
    threshold = float(alarm["threshold"])
    insufficient = health_check["insufficient_data_health_status"]
    assert insufficient in ("Healthy", "Unhealthy", "LastKnownStatus"), insufficient
    statuses: list[str] = []
    last_known = "Healthy"  # a new health check with no last known status is healthy
    for end in range(1, len(periods) + 1):
        window = [v for v in periods[max(0, end - evaluation):end] if v is not None]
        breaching = sum(1 for v in window if breaches(v, threshold))
        if breaching >= to_alarm:
            status = "Unhealthy"  # ALARM
        elif len(window) >= to_alarm and len(window) - breaching > evaluation - to_alarm:
            status = "Healthy"  # OK: enough datapoints and too few breaching
        else:
            status = last_known if insufficient == "LastKnownStatus" else insufficient
            statuses.append(status)
            continue
        last_known = status
        statuses.append(status)
    return statuses
