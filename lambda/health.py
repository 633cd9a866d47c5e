"""``GET /health`` and ``GET /probe`` - can this region take payments right now?

Handler string: ``health.lambda_handler``; API Gateway sends it both routes (``/probe`` is
the IAM-authenticated door for the other region's probe, ``/health`` Route 53's).
The Route 53 failover health check target (through API Gateway), matched on a string: 200
with ``"verdict": "PAYMENTS_HEALTHY"`` in the body (``HEALTH_SEARCH_STRING``, default
``PAYMENTS_HEALTHY``) when every dependency of a payment answers (both tables, the receipts
bucket, the KMS key), otherwise 503 with ``"verdict": "PAYMENTS_UNAVAILABLE"``.  See
``payments.health`` for the probe and its time budget.

Clients, the probe and its thread pool are built at init (module import), not on the
first request, so a cold start does not spend the probe's time budget on them.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.metrics import MetricUnit

from contract import (
    ENV_HEALTH_SEARCH_STRING,
    ENV_METRICS_NAMESPACE,
    HEALTH_PATH,
    METRICS_NAMESPACE,
    PROBE_PATH,
    api_error,
)
from payments import clients, settings
from payments.entry import build_lambda_handler
from payments.health import UNHEALTHY_MARKER, HealthProbe
from payments.responses import json_response

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "payment-health")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get(ENV_METRICS_NAMESPACE, METRICS_NAMESPACE), service=SERVICE)
tracer = Tracer(service=SERVICE, patch_modules=("botocore",))
app = APIGatewayRestResolver()


class _Runtime:
    def __init__(self) -> None:
        self.settings = settings.get_settings("health")
        if self.settings.health_search_string in UNHEALTHY_MARKER:
            raise RuntimeError(f"{ENV_HEALTH_SEARCH_STRING} must not be part of the unhealthy verdict")
        region = self.settings.region
        self.probe = HealthProbe(
            dynamodb=clients.client("dynamodb", region, clients.HEALTH_PATH),
            s3=clients.client("s3", region, clients.HEALTH_PATH),
            kms=clients.client("kms", region, clients.HEALTH_PATH),
            transactions_table=self.settings.transactions_table,
            idempotency_table=self.settings.idempotency_table,
            bucket=self.settings.audit_bucket,
            key_arn=self.settings.kms_key_arn,
            region=region,
            strong_transactions=self.settings.transactions_consistency == "STRONG",
            # The primary honours the failback hold DR arms (ops.hold); DR never holds itself.
            failback_hold=self.settings.region_role == "primary",
        )


# The handler's runtime cache (one style for every handler in lambda/): `init()` builds it,
# `_get_runtime()` returns it (building it on first use), `reset_runtime()` drops it (tests).
_runtime: _Runtime | None = None


def init() -> _Runtime:
    global _runtime
    _runtime = _Runtime()
    return _runtime


def _get_runtime() -> _Runtime:
    return _runtime or init()


def reset_runtime() -> None:
    global _runtime
    if _runtime is not None:
        _runtime.probe.executor.shutdown(wait=False)
    _runtime = None
    settings.reset()
    clients.reset()


# GET /health (Route 53, unauthenticated behind WAF) and GET /probe (the peer region's
# probe, SigV4) are two doors to the same deep check (modules/api.py routes both here).
# Only /health honours the failback hold: it decides whether Route 53 may send the failover
# name here. /probe answers whether the region works, so a held primary is not "unreachable"
# to the DR probe (no false peer-unreachable page); its body says the hold is armed.
@app.get(HEALTH_PATH)
@tracer.capture_method(capture_response=False)
def health() -> Any:
    return _answer(honour_hold=True)


@app.get(PROBE_PATH)
@tracer.capture_method(capture_response=False)
def probe() -> Any:
    return _answer(honour_hold=False)


def _answer(*, honour_hold: bool) -> Any:
    runtime = _get_runtime()
    cfg = runtime.settings
    result = runtime.probe.run()
    if result.held and honour_hold and result.healthy:
        metrics.add_metric(name="FailbackHeld", unit=MetricUnit.Count, value=1)
        logger.warning("failback hold armed: answering unhealthy until drctl failback clears it")
        return json_response(503, {
            "verdict": UNHEALTHY_MARKER, "status": "held", "region": cfg.region,
            "regionRole": cfg.region_role, "failbackHold": "armed", "checks": result.checks,
            "elapsedMs": result.elapsed_ms,
            "error": {"code": "FAILBACK_HELD",
                      "message": "the DR region accepted payments during a failover; this region takes "
                                 "the failover name back only after `drctl failback`",
                      "retryable": True, "retryAfterSeconds": 60}}, {"Retry-After": "60"})
    body = {
        "verdict": cfg.health_search_string if result.healthy else UNHEALTHY_MARKER,
        "status": "healthy" if result.healthy else "unhealthy",
        "region": cfg.region,
        "regionRole": cfg.region_role,
        "checks": result.checks,
        "elapsedMs": result.elapsed_ms,
    }
    if result.held:
        body["failbackHold"] = "armed"
    metrics.add_metric(name="HealthCheckPassed" if result.healthy else "HealthCheckFailed",
                       unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="HealthCheckLatency", unit=MetricUnit.Milliseconds, value=result.elapsed_ms)
    if result.healthy:
        return json_response(200, body)
    logger.warning("region unhealthy", extra={"checks": result.checks})
    # The API's one error shape (an ``error`` object), next to the verdict Route 53 matches on.
    body.update(api_error(UNHEALTHY_MARKER, "this region cannot take payments right now", retry_after_s=5))
    return json_response(503, body, {"Retry-After": "5"})


@app.exception_handler(Exception)
def _unexpected(exc: Exception):
    logger.exception("health check failed unexpectedly")
    metrics.add_metric(name="HealthCheckFailed", unit=MetricUnit.Count, value=1)
    return json_response(503, {"verdict": UNHEALTHY_MARKER, "status": "unhealthy",
                               **api_error("INTERNAL_ERROR", "health check failed")})


lambda_handler = build_lambda_handler(app, logger, tracer, metrics)

# Init phase: build clients and the probe now.  A configuration error is reported by every
# request (503) instead of failing the init, so Route 53 sees a definite "unhealthy".
try:
    init()
except Exception:
    logger.exception("health function configuration is invalid")
