"""The Lambda entry point both functions share: JSON 404 for unknown routes, and a handler
that tags logs and metrics with this region before the resolver dispatches the event."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths

from contract import ENV_REGION_ROLE
from payments.responses import error_response


def build_lambda_handler(app: APIGatewayRestResolver, logger: Logger, tracer: Tracer,
                         metrics: Metrics) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    @app.not_found
    def _not_found(exc: Exception) -> Response[str]:
        return error_response(404, "NOT_FOUND", "no such route")

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        region = os.environ.get("AWS_REGION", "unknown")
        logger.append_keys(region=region, region_role=os.environ.get(ENV_REGION_ROLE))
        metrics.add_dimension(name="region", value=region)
        return app.resolve(event, context)

    # Powertools types Tracer.capture_lambda_handler(...) as Callable[..., Any], so the decorated
    # handler is Any to mypy: state its real signature once, here.
    handler: Callable[[dict[str, Any], Any], dict[str, Any]] = lambda_handler
    return handler
