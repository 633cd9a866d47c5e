"""The twin's CloudWatch alarm and Route 53 evaluation (twin/alarms.py, twin/route53.py) over the
default synth's JSON, with a stub fetch and a hand-fed metric store: no processes, no moto, so
these run in `make test`. The scenario on the running twin is tests/twin/test_outage.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twin.alarms import ALARM, INSUFFICIENT, OK, AlarmEvaluator, MetricCollector, MetricStore, ScenarioClock
from twin.model import Platform
from twin.route53 import Route53


@pytest.fixture(scope="module")
def platform(synth_stacks) -> Platform:
    synth_stacks()
    return Platform(synth_stacks.outdir_of())


class Sites:
    """Stands in for the twin's gateways: fqdn -> (status, body) or an exception."""

    def __init__(self) -> None:
        self.answers: dict[str, object] = {}

    def __call__(self, fqdn: str, path: str) -> tuple[int, bytes]:
        answer = self.answers.get(fqdn, (200, b'{"verdict": "PAYMENTS_HEALTHY"}'))
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, tuple)
        return answer


def _world(platform: Platform):
    clock, store, sites = ScenarioClock(0.0), MetricStore(), Sites()
    alarms = AlarmEvaluator(platform, store, clock, "")
    route53 = Route53(platform, store, clock, alarms, sites)
    return clock, store, sites, alarms, route53


def _advance(clock, alarms, route53, seconds: float) -> None:
    for _ in range(int(seconds // 10)):
        clock.advance(10)
        alarms.tick()
        route53.tick()


def _alarm(alarms: AlarmEvaluator, suffix: str):
    return next(a for name, a in alarms.alarms.items() if name.endswith(suffix))


def test_every_alarm_of_the_json_is_evaluated_or_listed_as_unsupported(platform):
    alarms = AlarmEvaluator(platform, MetricStore(), ScenarioClock(0.0), "")
    declared = {str(platform.get(r, "alarm_name")) for r in platform.resources("aws_cloudwatch_metric_alarm")}
    assert set(alarms.alarms) == declared
    # the JSON's metric math (API 4xx/5xx rates: IF(requests >= 50, 100 * errors / requests, 0)) is supported
    math_alarms = [a for a in alarms.alarms.values() if a.expression is not None]
    assert math_alarms and not alarms.unsupported


def test_metric_math_rate_alarm_needs_fifty_requests(platform):
    _clock, store, _, alarms, _ = _world(platform)
    alarm = _alarm(alarms, "api-5xx-rate-primary")
    (ns, name, dims, _, _) = alarm.queries["errors"]
    count = alarm.queries["requests"]
    for _ in range(40):
        store.put(alarm.region, ns, name, dims, 1.0, 30.0)
        store.put(alarm.region, count[0], count[1], count[2], 1.0, 30.0)
    assert alarm.period_values(store, 300.0) == [0.0]  # under 50 requests the expression says 0
    for _ in range(20):
        store.put(alarm.region, count[0], count[1], count[2], 1.0, 40.0)
    assert alarm.period_values(store, 300.0) == [pytest.approx(100 * 40 / 60)]


def test_unsupported_metric_math_is_listed_not_silently_ok(platform):
    from twin.alarms import check_expression

    with pytest.raises(ValueError, match="unsupported"):
        check_expression("ANOMALY_DETECTION_BAND(m1, 2)")


def test_m_of_n_and_missing_data_as_declared(platform):
    _clock, _store, _, alarms, _ = _world(platform)
    peer = _alarm(alarms, "peer-unreachable-dr")  # PeerHealthy Minimum < 1, 2 of 3, missing = breaching
    assert (peer.evaluation_periods, peer.datapoints_to_alarm, peer.treat_missing_data) == (3, 2, "breaching")
    assert peer.decide([None, None, None]) == ALARM
    assert peer.decide([1.0, None, 1.0]) == OK
    assert peer.decide([0.0, None, 1.0]) == ALARM
    gate = _alarm(alarms, "failback-blocked-dr")  # treat_missing_data = ignore keeps the state
    gate.state = OK
    assert gate.decide([None]) == OK
    assert gate.decide([1.0]) == ALARM


def test_emf_lines_in_function_logs_are_metrics(tmp_path: Path):
    logs = tmp_path / "us-east-2"
    logs.mkdir()
    emf = {"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "PaymentsDR", "Dimensions": [["service"]],
                                                           "Metrics": [{"Name": "DependencyFailure"}]}]},
           "service": "payment-validator", "DependencyFailure": [1.0, 2.0]}
    (logs / "validator.log").write_text("START\n" + json.dumps(emf) + "\n")
    store, clock = MetricStore(), ScenarioClock(0.0)
    collector = MetricCollector(store, clock, tmp_path)
    assert collector._from_logs(5.0) == 2
    assert store.values("us-east-2", "PaymentsDR", "DependencyFailure", {"service": "payment-validator"}, 0, 10) \
        == [1.0, 2.0]
    assert collector._from_logs(6.0) == 0  # read once


def test_primary_hang_moves_the_failover_name_after_failure_threshold(platform):
    clock, _store, sites, alarms, route53 = _world(platform)
    name = next(iter(route53.records))
    from modules.dns import reference_name

    primary_check = route53.by_name(reference_name("dev", "primary"))
    _advance(clock, alarms, route53, 60)
    assert route53.answer(name) == "us-east-1"
    sites.answers[primary_check.fqdn] = TimeoutError("timed out")
    start = clock.now()
    limit = primary_check.failure_threshold * primary_check.request_interval + 60
    while route53.answer(name) == "us-east-1" and clock.now() - start < limit:
        _advance(clock, alarms, route53, 10)
    assert route53.answer(name) == "us-east-2"
    # the third failed check: within one interval of threshold x interval after the fault
    # (the checker's phase decides where in its interval the fault falls)
    interval, threshold = primary_check.request_interval, primary_check.failure_threshold
    assert (threshold - 1) * interval < clock.now() - start <= threshold * interval
    # the health-check alarm reads HealthCheckStatus (put by route53 in us-east-1) and pages its topic
    _advance(clock, alarms, route53, 60)
    page = next(p for p in alarms.pages if p.alarm.endswith("health-check-primary"))
    assert page.topic_region == "us-east-1"


def test_both_unhealthy_answers_primary(platform):
    clock, _, sites, alarms, route53 = _world(platform)
    name = next(iter(route53.records))
    for check in route53.checks.values():
        if check.fqdn:
            sites.answers[check.fqdn] = (503, b"")
    # past every check's failure threshold (30 s x 3 in the dev profile, 10 s x 3 standard)
    _advance(clock, alarms, route53, max(c.failure_threshold * c.request_interval
                                         for c in route53.checks.values() if c.fqdn) + 10)
    assert not any(c.healthy for c in route53.checks.values() if c.fqdn)
    assert route53.answer(name) == "us-east-1"


def test_gate_reads_alarm_data_with_last_known_status(platform):
    clock, store, _, alarms, route53 = _world(platform)
    gate = next(c for c in route53.checks.values() if c.type == "CLOUDWATCH_METRIC")
    alarm = alarms.alarms[gate.alarm_name]
    assert gate.insufficient_data_health_status == "LastKnownStatus"
    _advance(clock, alarms, route53, 60)
    assert alarms.data_state(gate.alarm_name, gate.alarm_region) == INSUFFICIENT
    assert gate.healthy  # new check, no data: healthy
    assert alarm.metric is not None
    namespace, metric, dims, _ = alarm.metric
    store.put(alarm.region, namespace, metric, dims, 1.0, clock.now() + 1)  # FailbackBlocked = 1
    _advance(clock, alarms, route53, 60)
    assert not gate.healthy
    _advance(clock, alarms, route53, 120)  # the data stops: last known status (unhealthy) holds
    assert alarms.data_state(gate.alarm_name, gate.alarm_region) == INSUFFICIENT
    assert not gate.healthy
    name = next(iter(route53.records))
    assert route53.answer(name) == "us-east-2"  # the gate makes the primary record unhealthy


def test_a_page_on_missing_data_alone_is_marked(platform):
    """peer-unreachable-dr (missing = breaching) with no probe data pages at the first evaluation,
    through the DR topic, marked as missing data only (the twin runs no probe on a schedule)."""
    clock, _, _, alarms, route53 = _world(platform)
    _advance(clock, alarms, route53, 60)
    page = next(p for p in alarms.pages if p.alarm.endswith("peer-unreachable-dr"))
    assert (page.topic_region, page.from_data, page.t) == ("us-east-2", False, 60.0)
    assert not [p for p in alarms.pages if p.alarm.endswith("health-check-primary")]  # its data: healthy


def test_a_twin_collects_only_the_datums_emitted_since_it_started(monkeypatch):
    """moto's CloudWatch is process-wide: a second twin in the same process (the prod-like
    profile after the default one) read the first one's FailbackBlocked = 1 and closed its gate
    during its warm-up. The collector starts from the counts at the twin's start."""
    import boto3
    from moto import mock_aws

    from twin.alarms import moto_metric_counts

    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-2")

        def put(value: float) -> None:
            cloudwatch.put_metric_data(Namespace="PaymentsDR", MetricData=[
                {"MetricName": "FailbackBlocked", "Dimensions": [{"Name": "Peer", "Value": "primary"}],
                 "Value": value}])

        put(1.0)  # an earlier twin's
        baseline = moto_metric_counts()
        put(0.0)  # this twin's
        store, clock = MetricStore(), ScenarioClock(0.0)
        assert MetricCollector(store, clock, None, baseline=baseline).collect() == 1
        assert store.values("us-east-2", "PaymentsDR", "FailbackBlocked", {"Peer": "primary"}, -60, 60) == [0.0]
