"""``POST /validate`` - validate a payment and record it in this region.

Handler string: ``validator.lambda_handler``.

Thin handler: Powertools (event handler, Logger, Metrics, Tracer, Idempotency)
and boto3 are wired here; validation and money rules live in ``payments.core``,
the writes in ``payments.store``.

Request flow:

1. 415 / 413 / 400 checks in ``payments.core.parse_request`` - nothing is written,
   not even an idempotency record.
2. Idempotent step keyed on ``transactionId`` with payload validation over the
   canonical request (a different body reusing an id -> 409; a concurrent retry
   while the first is in progress -> 409 with ``Retry-After``).
3. Inside it: DynamoDB record (conditional) then S3 receipt.  Any exception
   releases the idempotency record, so a client retry re-runs the step and
   completes a missing receipt without duplicating the record.
"""

from __future__ import annotations

import os
import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.metrics import MetricUnit

from payments import clients, core, settings
from payments.entry import build_lambda_handler
from payments.responses import error_response, json_response
from payments.store import DependencyError, PaymentStore, TransactionConflict, error_code

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "payment-validator")
RETRY_AFTER_IN_PROGRESS = 1
RETRY_AFTER_UNAVAILABLE = 2
IDEMPOTENCY_KEY_PREFIX = "payment-validator"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "PaymentsDR"), service=SERVICE)
# Only botocore is patched: patch_all() would import and instrument every supported
# library (requests, httplib, sqlite3, ...) and costs cold-start time for nothing.
tracer = Tracer(service=SERVICE, patch_modules=("botocore",))
app = APIGatewayRestResolver()

_runtime: dict[str, Any] = {}


def reset_runtime() -> None:
    """Drop cached settings, clients and the idempotency wrapper (tests)."""
    _runtime.clear()
    settings.reset()
    clients.reset()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _get_runtime() -> dict[str, Any]:
    if not _runtime:
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        cfg = settings.get_settings()
        ddb = clients.client("dynamodb", cfg.region)
        store = PaymentStore(
            dynamodb=ddb,
            s3=clients.client("s3", cfg.region),
            table=cfg.transactions_table,
            bucket=cfg.audit_bucket,
            region=cfg.region,
            region_role=cfg.region_role,
            clock_ms=_now_ms,
        )
        persistence = DynamoDBPersistenceLayer(
            table_name=cfg.idempotency_table,
            key_attr="id",
            expiry_attr="expiration",
            boto3_client=ddb,
        )
        idem_config = IdempotencyConfig(
            event_key_jmespath="transactionId",
            payload_validation_jmespath="[transactionId, customerId, amount, currency]",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=cfg.idempotency_ttl_seconds,
            hash_function="sha256",
            use_local_cache=False,
            response_hook=_on_replay,
        )

        def _accept(request: dict[str, str], payment: core.PaymentRequest, api_request_id: str | None) -> dict:
            record, created = store.accept(payment, api_request_id)
            if created:
                metrics.add_metric(name="PaymentValidated", unit=MetricUnit.Count, value=1)
            else:
                metrics.add_metric(name="PaymentRecovered", unit=MetricUnit.Count, value=1)
                logger.info("transaction already recorded; returning stored result",
                            extra={"accepted_region": record.get("acceptedRegion")})
            return core.build_result(record)

        _runtime.update(
            settings=cfg,
            store=store,
            config=idem_config,
            process=idempotent_function(
                _accept,
                data_keyword_argument="request",
                persistence_store=persistence,
                config=idem_config,
                key_prefix=IDEMPOTENCY_KEY_PREFIX,
            ),
        )
    return _runtime


def _on_replay(response: Any, data_record: Any) -> Any:
    metrics.add_metric(name="IdempotentReplay", unit=MetricUnit.Count, value=1)
    logger.info("idempotent replay of a completed request")
    return response


# --------------------------------------------------------------------------- route


@app.post("/validate")
@tracer.capture_method(capture_response=False)
def validate() -> Any:
    runtime = _get_runtime()
    cfg = runtime["settings"]
    event = app.current_event
    try:
        payment = core.parse_request(
            event.body,
            content_type=event.headers.get("content-type"),  # case-insensitive in Powertools v3
            is_base64_encoded=bool(event.is_base64_encoded),
            max_amount=cfg.max_amount,
        )
    except core.RequestError as exc:
        metrics.add_metric(name="PaymentRejected", unit=MetricUnit.Count, value=1)
        logger.info("request rejected", extra={"error_code": exc.code, "field": exc.field})
        return error_response(exc.status, exc.code, exc.message, exc.field)

    logger.append_keys(transaction_id=payment.transaction_id)
    tracer.put_annotation(key="transaction_id", value=payment.transaction_id)
    api_request_id = event.request_context.request_id
    runtime["config"].register_lambda_context(app.lambda_context)
    result = runtime["process"](request=payment.canonical(), payment=payment, api_request_id=api_request_id)
    logger.info("payment validated", extra={"status": result["status"], "currency": result["currency"]})
    return json_response(200, result)


# --------------------------------------------------------------------------- errors


def _idem_exceptions():
    from aws_lambda_powertools.utilities.idempotency import exceptions

    return exceptions


@app.exception_handler(TransactionConflict)
def _conflict(exc: TransactionConflict):
    metrics.add_metric(name="TransactionIdConflict", unit=MetricUnit.Count, value=1)
    logger.warning("transaction id already recorded with a different request")
    return error_response(409, "TRANSACTION_ID_CONFLICT",
                          "transactionId was already used for a different request", "transactionId")


@app.exception_handler(DependencyError)
def _dependency(exc: DependencyError):
    cause = error_code(exc.cause) if exc.cause is not None else None
    metric = "ReceiptWriteFailed" if exc.code == "RECEIPT_WRITE_FAILED" else "DependencyFailure"
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    logger.error("dependency failure", extra={"error_code": exc.code, "aws_error": cause})
    return error_response(503, exc.code, exc.message, retry_after=RETRY_AFTER_UNAVAILABLE)


@app.exception_handler(Exception)
def _unexpected(exc: Exception):
    idem = _idem_exceptions()
    if isinstance(exc, idem.IdempotencyValidationError):
        metrics.add_metric(name="TransactionIdConflict", unit=MetricUnit.Count, value=1)
        logger.warning("idempotency key reused with a different payload")
        return error_response(409, "TRANSACTION_ID_CONFLICT",
                              "transactionId was already used for a different request", "transactionId")
    if isinstance(exc, idem.IdempotencyAlreadyInProgressError):
        metrics.add_metric(name="RequestInProgress", unit=MetricUnit.Count, value=1)
        logger.info("request with this transactionId already in progress")
        return error_response(409, "REQUEST_IN_PROGRESS",
                              f"a request with this transactionId is in progress; retry after "
                              f"{RETRY_AFTER_IN_PROGRESS} second(s)", "transactionId",
                              retry_after=RETRY_AFTER_IN_PROGRESS)
    if isinstance(exc, (idem.IdempotencyPersistenceLayerError, idem.IdempotencyInconsistentStateError)):
        metrics.add_metric(name="DependencyFailure", unit=MetricUnit.Count, value=1)
        logger.error("idempotency store failure", extra={"error_type": type(exc).__name__})
        return error_response(503, "SERVICE_UNAVAILABLE", "idempotency store unavailable; retry the request",
                              retry_after=RETRY_AFTER_UNAVAILABLE)
    metrics.add_metric(name="UnhandledError", unit=MetricUnit.Count, value=1)
    logger.exception("unhandled error")
    return error_response(500, "INTERNAL_ERROR", "internal error")


lambda_handler = build_lambda_handler(app, logger, tracer, metrics)
