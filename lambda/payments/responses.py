"""JSON responses for the API Gateway REST resolver."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from contract import ERROR_HEADERS, api_error

if TYPE_CHECKING:  # typing only: Powertools' event handler is imported when a response is built
    from aws_lambda_powertools.event_handler import Response

JSON = "application/json"
BASE_HEADERS = ERROR_HEADERS


def json_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[str]:
    from aws_lambda_powertools.event_handler import Response

    merged = dict(BASE_HEADERS)
    if headers:
        merged.update(headers)
    return Response(
        status_code=status,
        content_type=JSON,
        body=json.dumps(body, separators=(",", ":"), sort_keys=True),
        headers=merged,
    )


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    *,
    outcome: str | None = None,
    retry_after: int | None = None,
) -> Response[str]:
    """``outcome`` (``not_recorded`` / ``unknown`` / ``recorded``) tells the client what is known
    about the payment; it is set on every 5xx and on 409 ``REQUEST_IN_PROGRESS``."""
    body = api_error(code, message, field=field, outcome=outcome, retry_after_s=retry_after)
    headers = None if retry_after is None else {"Retry-After": str(retry_after)}
    return json_response(status, dict(body), headers)
