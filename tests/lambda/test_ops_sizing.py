"""Sizing of the probe and the heartbeat: each deployed timeout covers the function's own
worst case per run (its AWS calls, each at its longest with retries; the probe's HTTPS checks
before them), as the synthesized JSON deploys it. The call counts are those the functions
make on their longest path (test_probe.py / test_heartbeat.py `..._declared_aws_calls`); the
per-call bound is checked against the clients the functions build and botocore's own backoff.
docs/ops-functions.md ("Sizing the probe and the heartbeat")."""

from __future__ import annotations

import heartbeat
import probe
import pytest
from botocore.retries.standard import ExponentialBackoff
from ops import aws

HANDLERS = {"probe.lambda_handler": probe, "heartbeat.lambda_handler": heartbeat}


def _functions(platform, handler):
    found = [fn for fn in platform["resource"]["aws_lambda_function"].values() if fn["handler"] == handler]
    assert len(found) == 2, handler          # one per region
    return found


def test_the_per_call_bound_is_botocores_backoff_over_the_clients_own_config():
    client = aws.client("ssm", "us-east-1")
    config = client.meta.config
    assert (config.connect_timeout, config.read_timeout, config.retries["total_max_attempts"]) == (
        aws.CONNECT_TIMEOUT_S, aws.READ_TIMEOUT_S, aws.ATTEMPTS)
    assert config.retries["mode"] == "standard"
    # botocore's constants the bound is built from: a botocore upgrade that changes them fails here
    assert ExponentialBackoff._MAX_BACKOFF == aws.BACKOFF_MAX_S
    assert ExponentialBackoff._RETRY_AFTER_MAX_ADDITIONAL == aws.RETRY_AFTER_EXTRA_S
    assert ExponentialBackoff._DEFAULT_BACKOFF_CONFIG["throttling_base_scale"] == 1
    # 2 attempts of 1 s + 2 s, one wait of at most 1 s (throttling) + 5 s (retry-after)
    assert aws.call_worst_case_seconds() == 12
    assert aws.call_worst_case_seconds(attempts=3) == 3 * 3 + (1 + 5) + (2 + 5)


@pytest.mark.parametrize("handler", sorted(HANDLERS))
def test_the_deployed_timeout_covers_the_functions_worst_case_run(platform, handler):
    module = HANDLERS[handler]
    for fn in _functions(platform, handler):
        environ = {**fn["environment"]["variables"], "AWS_REGION": "us-east-1"}
        # the probe's HTTPS checks come first: their budget, as deployed, + 0.25 s
        checks = probe.ProbeSettings.from_env(environ).budget_seconds + 0.25 if module is probe else 0.0
        worst = checks + module.AWS_CALLS_PER_RUN * aws.call_worst_case_seconds()
        assert fn["timeout"] >= worst, (handler, fn["timeout"], worst)
        # sized, not padded: within one call's bound (plus rounding) of the worst case
        assert fn["timeout"] - worst <= aws.call_worst_case_seconds(), (handler, fn["timeout"], worst)
        # runs once a minute: a worst-case run overlaps the next at most by seconds (<= 2 at once)
        assert fn["timeout"] < 2 * 60
        assert fn.get("reserved_concurrent_executions", -1) == -1


def test_the_probes_aws_reserve_is_its_call_budget():
    assert probe.AWS_WORST_CASE_SECONDS == probe.AWS_CALLS_PER_RUN * aws.call_worst_case_seconds() == 36
