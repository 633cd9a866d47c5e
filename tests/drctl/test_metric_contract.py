"""A metric an alarm evaluates and drctl (or a function) reads is named once: contract.MetricSpec.

drctl judged DynamoDB's ReplicationLatency by its Maximum against the threshold of an alarm
that evaluates the Average: `drctl failback` could refuse (or pass) on a number the alarm
never sees. Each spec is checked against the synthesized alarms and against what drctl's
checks ask CloudWatch for.
"""

from __future__ import annotations

import pytest
from drctl_fakes import FakeClock, config
from helpers import resources

import contract
from drctl import probes

SPECS = (contract.AURORA_RPO_LAG, contract.DYNAMODB_REPLICATION_LATENCY,
         contract.S3_REPLICATION_LATENCY, contract.S3_REPLICATION_FAILED, contract.CANARY_DELAY)


class _Recorder:
    """gw.metrics(region).latest(...): records each request, answers "no datapoint"."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, tuple[str, ...], str]] = []

    def metrics(self, region: str) -> _Recorder:
        return self

    def latest(self, namespace: str, name: str, dimensions: dict[str, str], *, statistic: str,
               **_: object) -> None:
        self.asked.append((namespace, name, tuple(dimensions), statistic))


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_the_alarms_evaluate_the_spec(platform, spec):
    alarms = [a for a in resources(platform, "aws_cloudwatch_metric_alarm").values()
              if (a.get("namespace"), a.get("metric_name")) == (spec.namespace, spec.name)]
    assert alarms, f"no alarm on {spec.namespace} {spec.name}"
    for alarm in alarms:
        assert alarm["statistic"] == spec.statistic
        assert sorted(alarm["dimensions"]) == sorted(spec.dimensions)


def test_validator_outcome_alarms_match_the_metrics_the_validator_publishes(platform):
    names = {contract.METRIC_OUTCOME_UNKNOWN, contract.METRIC_UNHANDLED_ERROR,
             contract.METRIC_RECEIPT_WRITE_FAILED, contract.METRIC_DEPENDENCY_FAILURE}
    alarms = [a for a in resources(platform, "aws_cloudwatch_metric_alarm").values()
              if a.get("namespace") == contract.METRICS_NAMESPACE and a.get("metric_name") in names]
    assert {a["metric_name"] for a in alarms} == names
    for alarm in alarms:
        assert sorted(alarm["dimensions"]) == sorted(contract.VALIDATOR_OUTCOME_DIMENSIONS)
        assert alarm["dimensions"]["service"] == contract.VALIDATOR_SERVICE


def test_drctl_reads_what_the_alarms_evaluate():
    cfg, gw, clock = config(), _Recorder(), FakeClock()
    probes.lag_check(cfg, gw, contract.DR, clock)
    probes.ddb_latency_check(cfg, gw, contract.DR, clock)
    probes.s3_metrics_check(cfg, gw, contract.DR, "all-objects-to-primary", clock)
    wanted = {(s.namespace, s.name, s.dimensions, s.statistic) for s in (
        contract.AURORA_RPO_LAG, contract.DYNAMODB_REPLICATION_LATENCY,
        contract.S3_REPLICATION_LATENCY, contract.S3_REPLICATION_FAILED,
        contract.S3_REPLICATION_PENDING)}
    assert set(gw.asked) == wanted
