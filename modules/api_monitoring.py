"""Alarms of the API tier of one region: what a client sees (rates, latency) and what starves it.

Inputs: the region, names, the region's alarm topic ARN, its `RegionalApi`, the
`ServiceFunction`s behind it ({purpose: function}) and, optionally, its `RegionalWaf`.
Outputs: `ApiAlarms.alarms` ({alarm name: CloudwatchMetricAlarm}).

Why rates, not counts: the handlers catch every exception, so the Lambda `Errors` metric sees
almost nothing, and a fixed count of 5XX means "incident" at 10 requests per second and
"noise" at 1,000. The client-facing alarms divide errors by requests (CloudWatch metric
math), and only fire when there is enough traffic for a rate to mean something.

Metrics come from the tiers (`RegionalApi.metric_5xx()`, `ServiceFunction.metric_*()`,
`RegionalWaf.metric_blocked_requests()`; modules/metrics.py), so no dimension is rebuilt here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, TypeGuard

from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import (
    CloudwatchMetricAlarm,
    CloudwatchMetricAlarmMetricQuery,
)
from constructs import Construct

from modules.metrics import Metric
from modules.naming import Names
from modules.regions import Region

if TYPE_CHECKING:  # runtime imports would be circular: api.py builds its metrics with Metric
    from modules.api import RegionalApi
    from modules.compute import ServiceFunction
    from modules.waf import RegionalWaf

NOT_BREACHING = "notBreaching"

# Client-facing rates over 5 minutes. 5XX means "outcome unknown" to a client (docs): 1 % is
# an incident. 4XX includes every rejected payment and every 429, so it is judged loosely;
# a jump to 25 % means a broken client, an expired key set or throttling.
API_5XX_RATE_PERCENT = 1.0
API_4XX_RATE_PERCENT = 25.0
API_429_RATE_PERCENT = 5.0
# Below this many requests in 5 minutes a rate is anecdote (2 failures of 3 requests is
# 66 %): the rate alarms stay OK. Route 53 alone sends ~300 health checks in 5 minutes.
MIN_REQUESTS_FOR_RATE = 50
API_LATENCY_P99_MS = 5_000  # the validator's budget is well inside the 29 s integration limit
# A function above this fraction of its timeout (p99 over 5 minutes) is about to time out.
DURATION_NEAR_TIMEOUT_FRACTION = 0.8
# Concurrency near the function's reservation means the next spike is throttled.
CONCURRENCY_NEAR_RESERVATION_FRACTION = 0.8
WAF_BLOCKED_REQUESTS_THRESHOLD = 500  # per 5 minutes: a scan or flood, not a stray client
PERIOD_S = 300


class ApiAlarms(Construct):
    """5XX/4XX/429 rates, p99 latency, and per function: throttles, concurrency, duration."""

    def __init__(self, scope: Construct, id: str, *, region: Region, names: Names,
                 topic_arn: str, api: RegionalApi, functions: Mapping[str, ServiceFunction],
                 waf: RegionalWaf | None = None):
        super().__init__(scope, id)
        self._region, self._names, self._topic_arn = region, names, topic_arn
        self.alarms: dict[str, CloudwatchMetricAlarm] = {}
        count = api.metric_count()
        for what, errors, percent in (("api-5xx-rate", api.metric_5xx(), API_5XX_RATE_PERCENT),
                                      ("api-4xx-rate", api.metric_4xx(), API_4XX_RATE_PERCENT),
                                      ("api-429-rate", api.metric_429(), API_429_RATE_PERCENT)):
            self._rate_alarm(what, errors, count, percent)
        self._alarm("api-latency-p99", api.metric_latency_p99(), threshold=API_LATENCY_P99_MS,
                    description=f"p99 latency of the {region.role} API above "
                                f"{API_LATENCY_P99_MS} ms for 15 minutes",
                    evaluation_periods=3, datapoints=3)
        for purpose, fn in functions.items():
            self._function_alarms(purpose, fn)
        if waf is not None:
            self._alarm("waf-blocked-requests", waf.metric_blocked_requests(),
                        threshold=WAF_BLOCKED_REQUESTS_THRESHOLD,
                        description=f"WAF blocked more than {WAF_BLOCKED_REQUESTS_THRESHOLD} "
                                    f"requests in 5 minutes ({region.role}): scan, flood or a "
                                    "client blocked by mistake (see the WAF log group)")

    # -- alarms -------------------------------------------------------------------------

    def _function_alarms(self, purpose: str, fn: ServiceFunction) -> None:
        self._alarm(f"lambda-throttles-{purpose}", fn.metric_throttles(), threshold=0,
                    description=f"The {purpose} function was throttled: callers got 5XX "
                                "(concurrency exhausted)")
        timeout_ms = fn.function.timeout_input * 1000 if _is_number(fn.function.timeout_input) \
            else None
        if timeout_ms:
            limit = timeout_ms * DURATION_NEAR_TIMEOUT_FRACTION
            self._alarm(f"lambda-duration-near-timeout-{purpose}",
                        fn.metric_duration("p99").with_(period=PERIOD_S), threshold=limit,
                        description=f"p99 duration of {purpose} above "
                                    f"{int(DURATION_NEAR_TIMEOUT_FRACTION * 100)} % of its "
                                    f"{fn.function.timeout_input} s timeout")
        reserved = fn.function.reserved_concurrent_executions_input
        if _is_number(reserved) and reserved > 0:
            self._alarm(f"lambda-concurrency-{purpose}",
                        fn.metric_concurrency().with_(period=PERIOD_S),
                        threshold=reserved * CONCURRENCY_NEAR_RESERVATION_FRACTION,
                        description=f"{purpose} concurrency above "
                                    f"{int(CONCURRENCY_NEAR_RESERVATION_FRACTION * 100)} % of its "
                                    f"reservation of {reserved}: the next spike is throttled")

    def _rate_alarm(self, what: str, errors: Metric, count: Metric, percent: float) -> None:
        name = self._names.alarm(what, self._region.role)
        # Metric math: the rate only where traffic is meaningful, else 0 (never a false page).
        expression = f"IF(requests >= {MIN_REQUESTS_FOR_RATE}, 100 * errors / requests, 0)"
        self.alarms[name] = CloudwatchMetricAlarm(
            self, what, provider=self._region.provider, alarm_name=name,
            alarm_description=f"{errors.name} above {percent} % of requests in 5 minutes "
                              f"({self._region.role} API, at least {MIN_REQUESTS_FOR_RATE} "
                              "requests)",
            metric_query=[
                errors.query("errors"),
                count.query("requests"),
                CloudwatchMetricAlarmMetricQuery(id="rate", expression=expression,
                                                 label=f"{errors.name} rate (%)",
                                                 return_data=True),
            ],
            evaluation_periods=1, comparison_operator="GreaterThanThreshold", threshold=percent,
            # No requests: nothing failed; a dead region shows in the Route 53 health checks.
            treat_missing_data=NOT_BREACHING,
            alarm_actions=[self._topic_arn], ok_actions=[self._topic_arn],
        )

    def _alarm(self, what: str, metric: Metric, *, threshold: float, description: str,
               evaluation_periods: int = 1, datapoints: int | None = None) -> None:
        name = self._names.alarm(what, self._region.role)
        self.alarms[name] = CloudwatchMetricAlarm(
            self, what, provider=self._region.provider, alarm_name=name,
            alarm_description=description, **metric.alarm_arguments(),
            evaluation_periods=evaluation_periods, datapoints_to_alarm=datapoints,
            comparison_operator="GreaterThanThreshold", threshold=threshold,
            # These metrics exist only while there is traffic: silence is not a failure.
            treat_missing_data=NOT_BREACHING,
            alarm_actions=[self._topic_arn], ok_actions=[self._topic_arn],
        )



def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
