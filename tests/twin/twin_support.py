"""Shared by the twin's scenario tests."""

from __future__ import annotations

import boto3
from ops import latch
from platform_support import PROD

from drctl.checks import OK
from drctl.clock import Clock
from drctl.config import DrConfig
from drctl.gateways import AwsGateways
from drctl.log import EventLog
from drctl.operations import clear_hold

# The settings profiles the twin stands up (issue 19: default and prod-like synths).
PROFILES = {"default": {}, "prod": PROD}

CLIENT_ID = "twin-client"  # the client the scenarios seed into the client-keys secret

# Scenario minutes of schedules and alarm evaluation before a scenario's assertions start:
# the alarms with missing data = breaching and 3 evaluation periods (peer/domain-unreachable,
# observed-replication-delay) need 3 minutes of the scheduled functions' data, plus one
# evaluation. Before that they page as a freshly deployed alarm does (see docs/twin.md).
WARM_UP_MINUTES = 5


def warm_up(twin) -> float:
    """Evaluation and schedules on, and the scenario clock at least WARM_UP_MINUTES past their
    start (a no-op when an earlier scenario of the session already warmed the twin up).
    Returns the scenario time at which the warm-up ended."""
    twin.evaluate()
    target = twin.clock.start + WARM_UP_MINUTES * 60
    if twin.clock.now() < target:
        twin.advance(target - twin.clock.now())
    return target


def validator_env(twin, region: str) -> dict[str, str]:
    return next(f.environment for (r, _), f in twin.pool.functions.items()
                if r == region and f.handler == "validator.lambda_handler")


def latch_parameter(twin) -> tuple[str, str]:
    """(region, SSM name) of the failback latch: the DR probe's FAILBACK_PARAMETER."""
    fn = next(f for (r, _), f in twin.pool.functions.items()
              if f.handler == "probe.lambda_handler" and f.environment.get("FAILBACK_PARAMETER"))
    return fn.region, fn.environment["FAILBACK_PARAMETER"]


def operator_failback(twin, reason: str) -> None:
    """What `drctl failback` writes once its evidence passed: the latch opened (SSM, DR region)
    and the failback hold cleared (drctl's own `clear_hold`, against the twin's moto endpoint).
    Its evidence checks and the Aurora switchover do not run here (docs/twin.md)."""
    region, parameter = latch_parameter(twin)
    latch.write(twin.client("ssm", region), parameter,
                latch.Latch(latch.OPEN, latch.iso(twin.clock.now()), "twin-operator", reason))
    primary, dr = twin.region_of("primary"), twin.region_of("dr")
    cfg = DrConfig.build(overrides={"primary_region": primary, "dr_region": dr,
                                    "dynamodb_table_name": validator_env(twin, primary)["TRANSACTIONS_TABLE"]})
    session = boto3.Session(aws_access_key_id="twin", aws_secret_access_key="twin", region_name=primary)
    check = clear_hold(cfg, AwsGateways(session, endpoint_url=twin.endpoint), Clock(), EventLog(),
                       "twin-operator", reason)
    assert check.state == OK, check.detail
