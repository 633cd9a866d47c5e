"""``GET /health`` - can this region take payments right now?

Handler string: ``health.lambda_handler``.  Used as the Route 53 failover health
check target (through API Gateway).  200 ``{"status": "healthy", ...}`` when the
region's transactions table answers a bounded read, 503 ``{"status": "unhealthy"}``
otherwise.  See ``payments.health`` for the probe and its time budget.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.metrics import MetricUnit

from payments import clients, settings
from payments.health import probe
from payments.entry import build_lambda_handler
from payments.responses import error_response, json_response

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "payment-health")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "PaymentsDR"), service=SERVICE)
tracer = Tracer(service=SERVICE, patch_modules=("botocore",))
app = APIGatewayRestResolver()


def reset_runtime() -> None:
    settings.reset()
    clients.reset()


@app.get("/health")
@tracer.capture_method(capture_response=False)
def health() -> Any:
    cfg = settings.get_settings(need_write_path=False)
    result = probe(clients.client("dynamodb", cfg.region, clients.HEALTH_PATH), cfg.transactions_table)
    body = {
        "status": "healthy" if result.healthy else "unhealthy",
        "region": cfg.region,
        "regionRole": cfg.region_role,
        "checks": result.checks,
        "elapsedMs": result.elapsed_ms,
    }
    metrics.add_metric(name="HealthCheckPassed" if result.healthy else "HealthCheckFailed",
                       unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="HealthCheckLatency", unit=MetricUnit.Milliseconds, value=result.elapsed_ms)
    if result.healthy:
        return json_response(200, body)
    logger.warning("region unhealthy", extra={"checks": result.checks})
    return json_response(503, body, {"Retry-After": "5"})


@app.exception_handler(Exception)
def _unexpected(exc: Exception):
    logger.exception("health check failed unexpectedly")
    metrics.add_metric(name="HealthCheckFailed", unit=MetricUnit.Count, value=1)
    return json_response(503, {"status": "unhealthy", "error": {"code": "INTERNAL_ERROR",
                                                                "message": "health check failed"}})


lambda_handler = build_lambda_handler(app, logger, tracer, metrics)
