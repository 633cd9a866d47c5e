"""Issue 22: the reconcile job sized from PEAK_PAYMENTS_PER_SECOND, its watermark grant and its
lag alarm, as the synthesized JSON declares them (modules/jobs.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from helpers import one, resources

from contract import (
    ALARM_RECONCILE_LAG,
    METRICS_NAMESPACE,
    RECONCILE_CHECKPOINT_KEY_PREFIX,
    RECONCILE_LAG_METRIC,
    RECONCILE_LAG_THRESHOLD_S,
)
from modules import jobs
from modules.settings import CAPACITY_HEADROOM, DEFAULT_PEAK_PAYMENTS_PER_SECOND

LAMBDA_DIR = Path(__file__).resolve().parents[1] / "lambda"
ROLES = (("primary", "us-east-1"), ("dr", "us-east-2"))


def _stop_margin_s() -> float:
    """lambda/reconcile.py's STOP_MARGIN_SECONDS, from the modules it is computed from."""
    sys.path.insert(0, str(LAMBDA_DIR))
    try:
        from payments import audit, clients
    finally:
        sys.path.remove(str(LAMBDA_DIR))
    return audit.BATCH_PER_WORKER * 3 * clients.worst_case_seconds(clients.BATCH_PATH) + 5


@pytest.mark.parametrize("peak", [0.5, 1, 10, 20, 33, 50])
def test_the_sized_job_keeps_up_at_ten_times_the_peak_with_headroom(peak):
    sizing = jobs.reconcile_sizing(peak)
    assert sizing.required_rate == 10 * peak * CAPACITY_HEADROOM
    assert sizing.capacity_rate >= sizing.required_rate
    assert 1 <= sizing.segments <= 5 and 128 <= sizing.memory_mb <= 10240 and sizing.memory_mb % 64 == 0


def test_a_peak_one_rule_cannot_carry_is_refused_at_synth():
    with pytest.raises(ValueError, match="PEAK_PAYMENTS_PER_SECOND=60"):
        jobs.reconcile_sizing(60)


def test_each_region_runs_the_sized_function_every_minute_with_more_checking_time_than_that(platform):
    sizing = jobs.reconcile_sizing(DEFAULT_PEAK_PAYMENTS_PER_SECOND)
    rules = {body["name"]: body for body in resources(platform, "aws_cloudwatch_event_rule").values()
             if "reconcile" in body["name"]}
    assert sorted(rules) == ["payments-reconcile-dr-dev", "payments-reconcile-primary-dev"]
    assert {body["schedule_expression"] for body in rules.values()} == {"rate(1 minute)"}
    for role, region in ROLES:
        _, fn = one(platform, "aws_lambda_function", role, f"reconcile-{role}/reconcile/function")
        assert fn["memory_size"] == sizing.memory_mb
        variables = fn["environment"]["variables"]
        assert variables["RECONCILE_WORKERS"] == str(sizing.workers)
        assert variables["RECONCILE_CHECKPOINT_KEY"] == f"{RECONCILE_CHECKPOINT_KEY_PREFIX}{region}"
        # A run checks for (timeout - stop margin) seconds: more than the minute between runs.
        assert fn["timeout"] - _stop_margin_s() > 60
        _, policy = one(platform, "aws_iam_role_policy", role, f"reconcile-{role}/reconcile/policy")
        [watermark] = [s for s in json.loads(policy["policy"])["Statement"]
                       if s.get("Sid") == "ReconcileWatermark"]
        assert watermark["Condition"] == {"ForAllValues:StringEquals": {
            "dynamodb:LeadingKeys": [variables["RECONCILE_CHECKPOINT_KEY"]]}}


def test_the_lag_alarm_reads_the_metric_the_function_publishes(platform):
    for role, region in ROLES:
        _, alarm = one(platform, "aws_cloudwatch_metric_alarm", role, f"/{ALARM_RECONCILE_LAG}")
        assert alarm["alarm_name"] == f"payments-dev-{ALARM_RECONCILE_LAG}-{role}"
        assert (alarm["namespace"], alarm["metric_name"]) == (METRICS_NAMESPACE, RECONCILE_LAG_METRIC)
        assert alarm["dimensions"] == {"service": "payment-reconcile", "region": region}
        assert alarm["threshold"] == RECONCILE_LAG_THRESHOLD_S and alarm["statistic"] == "Maximum"
        assert alarm["comparison_operator"] == "GreaterThanThreshold"
    # That the function publishes this name: tests/lambda/test_reconcile.py (its EMF output).


@pytest.mark.parametrize("segments", [1, 2, 5])
def test_each_schedule_target_is_a_scheduled_run_of_its_own_segment_with_a_granted_watermark(segments):
    """What modules/jobs.py sends and grants is what lambda/reconcile.py accepts and writes."""
    sys.path.insert(0, str(LAMBDA_DIR))
    try:
        import reconcile
    finally:
        sys.path.remove(str(LAMBDA_DIR))
    base = f"{RECONCILE_CHECKPOINT_KEY_PREFIX}us-east-1"
    events = jobs.segment_events(segments)
    envelope = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    parsed = [reconcile._parse_event(json.loads(e) if e else envelope, 180)
              for e in (events or [None])]
    assert [p[2] for p in parsed] == [True] * segments  # scheduled: the watermark moves
    assert sorted(p[3] for p in parsed) == [(i, segments) for i in range(segments)]
    assert [reconcile.checkpoint_key(base, p[3]) for p in parsed] == jobs.watermark_keys(base, segments)
