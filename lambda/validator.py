"""``POST /validate`` - validate a payment and record it in this region.

Handler string: ``validator.lambda_handler``.

Thin handler: Powertools (event handler, Logger, Metrics, Tracer, Idempotency)
and boto3 are wired here; validation and money rules live in ``payments.core``,
the writes in ``payments.store``.

Request flow:

1. 415 / 413 / 400 checks in ``payments.core.parse_request`` - nothing is written,
   not even an idempotency record.
2. Idempotent step keyed on the authenticated ``clientId`` (the authorizer's context, never
   the body) and ``transactionId``, with payload validation over the canonical request (a
   different body reusing an id -> 409; a concurrent retry while the first is in progress
   -> 409 with ``Retry-After``).
3. Inside it: the claim (one conditional put on a fixed key per client and transaction id,
   decided once across regions when the transactions table is MRSC), then the record derived
   from the claim (conditional), then the S3 receipt (conditional).  Any
   exception releases the idempotency record, so a client retry re-runs the step and
   completes a missing receipt without duplicating the record.
4. Every failure answers with what is known (``payments.store.Attempt``):
   ``SERVICE_UNAVAILABLE`` (not recorded), ``OUTCOME_UNKNOWN`` (may be recorded) or
   ``RECEIPT_WRITE_FAILED`` (recorded); all say "retry with the same transactionId", and
   a retry converges on the first answer: a retry that meets the in-progress lock looks
   the record up instead of answering 409 until the lock expires.
5. Time: no AWS call starts unless its worst case fits in the Lambda's remaining time
   minus :data:`RESERVE_SECONDS` (Powertools' final update and the response).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.metrics import MetricUnit
from ops import env, hold, signing

from contract import (
    ENV_METRICS_NAMESPACE,
    IDEMPOTENCY_KEY_ATTRIBUTE,
    IDEMPOTENCY_TTL_ATTRIBUTE,
    METRIC_DEPENDENCY_FAILURE,
    METRIC_OUTCOME_UNKNOWN,
    METRIC_RECEIPT_WRITE_FAILED,
    METRIC_UNHANDLED_ERROR,
    METRICS_NAMESPACE,
    VALIDATOR_IDEMPOTENCY_KEY_PREFIX,
    VALIDATOR_SERVICE,
)
from payments import clients, core, settings
from payments.entry import build_lambda_handler
from payments.responses import error_response, json_response
from payments.store import (
    NOT_RECORDED,
    RECORDED,
    UNKNOWN,
    Attempt,
    DependencyError,
    PaymentStore,
    TransactionConflict,
    error_code,
)

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", VALIDATOR_SERVICE)
RETRY_AFTER_IN_PROGRESS = 1
RETRY_AFTER_UNAVAILABLE = 2
IDEMPOTENCY_KEY_PREFIX = VALIDATOR_IDEMPOTENCY_KEY_PREFIX
#: Kept back from the Lambda's remaining time: Powertools' final UpdateItem (worst case of the
#: write client) plus half a second to build and return the response.
RESPONSE_SECONDS = 0.5
RESERVE_SECONDS = clients.worst_case_seconds(clients.WRITE_PATH) + RESPONSE_SECONDS

#: outcome -> (error code, message).  Every one of them: retry with the same transactionId.
FAILURES = {
    NOT_RECORDED: ("SERVICE_UNAVAILABLE",
                   "the payment was not recorded; retry with the same transactionId"),
    UNKNOWN: ("OUTCOME_UNKNOWN",
              "the payment may have been recorded; retry with the same transactionId, never a new one"),
    RECORDED: ("RECEIPT_WRITE_FAILED",
               "the payment was recorded but its receipt is not stored yet; retry with the same "
               "transactionId to complete it"),
}

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get(ENV_METRICS_NAMESPACE, METRICS_NAMESPACE), service=SERVICE)
# Only botocore is patched: patch_all() would import and instrument every supported
# library (requests, httplib, sqlite3, ...) and costs cold-start time for nothing.
tracer = Tracer(service=SERVICE, patch_modules=("botocore",))
app = APIGatewayRestResolver()

@dataclass(frozen=True)
class _Runtime:
    """Settings, clients and the idempotency wrapper: built once per execution environment."""

    settings: settings.Settings
    store: PaymentStore
    ddb: Any
    hold: hold.Arming | None
    config: Any
    process: Callable[..., dict]


# The handler's runtime cache (one style for every handler in lambda/): `init()` builds it,
# `_get_runtime()` returns it (building it on first use), `reset_runtime()` drops it (tests).
_runtime: _Runtime | None = None


def reset_runtime() -> None:
    """Drop cached settings, clients and the idempotency wrapper (tests)."""
    global _runtime
    _runtime = None
    settings.reset()
    clients.reset()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _get_runtime() -> _Runtime:
    return _runtime or init()


def init() -> _Runtime:
    global _runtime
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
        client_for=lambda service, budget: clients.for_budget(service, cfg.region, budget),
    )
    persistence = DynamoDBPersistenceLayer(
        table_name=cfg.idempotency_table,
        key_attr=IDEMPOTENCY_KEY_ATTRIBUTE,
        expiry_attr=IDEMPOTENCY_TTL_ATTRIBUTE,
        boto3_client=ddb,
    )
    idem_config = IdempotencyConfig(
        # Keyed on the authenticated client and its transaction id: one client can neither
        # read nor block another's idempotency record.
        event_key_jmespath="[clientId, transactionId]",
        payload_validation_jmespath="[clientId, transactionId, customerId, amount, currency]",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=cfg.idempotency_ttl_seconds,
        hash_function="sha256",
        use_local_cache=False,
        response_hook=_on_replay,
    )

    def _accept(request: dict[str, str], payment: core.PaymentRequest, api_request_id: str | None,
                attempt: Attempt, time_left: Any) -> dict:
        record, created = store.accept(payment, api_request_id, attempt=attempt, time_left=time_left)
        if created:
            metrics.add_metric(name="PaymentValidated", unit=MetricUnit.Count, value=1)
        else:
            metrics.add_metric(name="PaymentRecovered", unit=MetricUnit.Count, value=1)
            logger.info("transaction already recorded; returning stored result",
                        extra={"accepted_region": record.get("acceptedRegion")})
        attempt.result = core.build_result(record)
        return attempt.result

    _runtime = _Runtime(
        settings=cfg,
        store=store,
        ddb=ddb,
        # Only the DR region arms the failback hold, for payments through the failover name.
        hold=hold.Arming(cfg.transactions_table, cfg.region)
        if cfg.region_role == "dr" and cfg.failover_domain_name else None,
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
    cfg = runtime.settings
    event = app.current_event
    # The authorizer verified the signature over the headers, X-Content-SHA256 included; it
    # never sees the body (API Gateway REQUEST authorizers get none), so the body is checked
    # against that signed hash here, before anything is parsed or written (docs/calling-the-api.md).
    client_id = signing.authorized_client(event.raw_event.get("requestContext"))
    if client_id is None:
        metrics.add_metric(name="PaymentRejected", unit=MetricUnit.Count, value=1)
        logger.warning("request without an authorizer context: refused")
        return error_response(403, "FORBIDDEN", "the request was not authenticated",
                              outcome="not_recorded")
    if not signing.body_hash_matches(signing.header(event.headers, "X-Content-SHA256"),
                                     event.body, bool(event.is_base64_encoded)):
        metrics.add_metric(name="PaymentRejected", unit=MetricUnit.Count, value=1)
        logger.info("request rejected", extra={"error_code": "BODY_HASH_MISMATCH"})
        return error_response(403, "BODY_HASH_MISMATCH",
                              "the body is not the one the X-Content-SHA256 header signed",
                              outcome="not_recorded")
    try:
        payment = core.parse_request(
            event.body,
            content_type=event.headers.get("content-type"),  # case-insensitive in Powertools v3
            is_base64_encoded=bool(event.is_base64_encoded),
            max_amount=cfg.max_amount,
            client_id=client_id,
        )
    except core.RequestError as exc:
        metrics.add_metric(name="PaymentRejected", unit=MetricUnit.Count, value=1)
        logger.info("request rejected", extra={"error_code": exc.code, "field": exc.field})
        return error_response(exc.status, exc.code, exc.message, exc.field)

    logger.append_keys(transaction_id=payment.transaction_id, client_id=client_id)
    tracer.put_annotation(key="transaction_id", value=payment.transaction_id)
    api_request_id = event.request_context.request_id
    context = app.lambda_context
    runtime.config.register_lambda_context(context)

    def time_left() -> float:
        """Seconds our own calls may still use (the Lambda's remaining time minus the reserve)."""
        return context.get_remaining_time_in_millis() / 1000 - RESERVE_SECONDS

    refused = _arm_failback_hold(runtime, event.raw_event.get("requestContext") or {})
    if refused is not None:
        return refused
    attempt = Attempt()
    try:
        result = runtime.process(request=payment.canonical(), payment=payment, api_request_id=api_request_id,
                                    attempt=attempt, time_left=time_left)
    except Exception as exc:
        return _failure(exc, runtime.store, payment, attempt, time_left)
    logger.info("payment validated", extra={"status": result["status"], "currency": result["currency"]})
    return json_response(200, result)


def _arm_failback_hold(runtime: _Runtime, request_context: dict[str, Any]) -> Any:
    """In DR, before anything is written for a payment that came through the failover name:
    the hold keeps the primary out of DNS until `drctl failback` (ops.hold). None = go on."""
    arming = runtime.hold
    if arming is None or not hold.is_failover_request(request_context.get("domainName"),
                                                      runtime.settings.failover_domain_name):
        return None
    try:
        outcome = arming.ensure(runtime.ddb, "DR accepted a payment through the failover name")
    except hold.HoldUnavailable as exc:
        metrics.add_metric(name=METRIC_DEPENDENCY_FAILURE, unit=MetricUnit.Count, value=1)
        logger.error("cannot arm the failback hold: payment refused, nothing written",
                     extra={"aws_error": str(exc)})
        return _outcome_response(NOT_RECORDED)
    if outcome == "armed-now":
        metrics.add_metric(name="FailbackHoldArmed", unit=MetricUnit.Count, value=1)
        logger.warning("failback hold armed: the primary stays out of DNS until drctl failback")
    return None


# --------------------------------------------------------------------------- errors


def _idem_exceptions():
    from aws_lambda_powertools.utilities.idempotency import exceptions

    return exceptions


def _conflict_response():
    metrics.add_metric(name="TransactionIdConflict", unit=MetricUnit.Count, value=1)
    logger.warning("transaction id already used with a different request")
    return error_response(409, "TRANSACTION_ID_CONFLICT",
                          "transactionId was already used for a different request", "transactionId")


def _outcome_response(outcome: str):
    code, message = FAILURES[outcome]
    if outcome == UNKNOWN:
        metrics.add_metric(name=METRIC_OUTCOME_UNKNOWN, unit=MetricUnit.Count, value=1)
    return error_response(503, code, message, outcome=outcome, retry_after=RETRY_AFTER_UNAVAILABLE)


def _failure(exc: Exception, store: PaymentStore, payment: core.PaymentRequest, attempt: Attempt, time_left):
    """Map any failure of the idempotent step to an answer that claims only what is known."""
    idem = _idem_exceptions()
    if isinstance(exc, (TransactionConflict, idem.IdempotencyValidationError)):
        return _conflict_response()
    if isinstance(exc, idem.IdempotencyAlreadyInProgressError):
        return _in_progress(store, payment, time_left)
    if isinstance(exc, (idem.IdempotencyPersistenceLayerError, idem.IdempotencyInconsistentStateError)):
        if attempt.result is not None:
            # Record and receipt are stored; only the final update of the idempotency record failed.
            # The answer is known: give it.  A retry meets the in-progress lock and converges below.
            metrics.add_metric(name="IdempotencyFinalizeFailed", unit=MetricUnit.Count, value=1)
            logger.warning("idempotency record not finalised; answering with the recorded result",
                           extra={"error_type": type(exc).__name__})
            return json_response(200, attempt.result)
        metrics.add_metric(name=METRIC_DEPENDENCY_FAILURE, unit=MetricUnit.Count, value=1)
        logger.error("idempotency store failure", extra={"error_type": type(exc).__name__,
                                                          "outcome": attempt.outcome})
        return _outcome_response(attempt.outcome)
    if isinstance(exc, DependencyError):
        cause = error_code(exc.cause) if exc.cause is not None else None
        metrics.add_metric(name=METRIC_DEPENDENCY_FAILURE, unit=MetricUnit.Count, value=1)
        if exc.outcome == RECORDED:
            metrics.add_metric(name=METRIC_RECEIPT_WRITE_FAILED, unit=MetricUnit.Count, value=1)
        logger.error("dependency failure", extra={"outcome": exc.outcome, "aws_error": cause,
                                                  "reason": exc.message})
        return _outcome_response(exc.outcome)
    metrics.add_metric(name=METRIC_UNHANDLED_ERROR, unit=MetricUnit.Count, value=1)
    logger.exception("unhandled error", extra={"outcome": attempt.outcome})
    if attempt.outcome == NOT_RECORDED:
        return error_response(500, "INTERNAL_ERROR", "internal error; the payment was not recorded",
                              outcome=NOT_RECORDED)
    return _outcome_response(UNKNOWN)


def _in_progress(store: PaymentStore, payment: core.PaymentRequest, time_left):
    """Another attempt holds the lock: if the record exists, answer from it (and complete its receipt)."""
    try:
        record = store.complete_existing(payment, time_left=time_left)
    except TransactionConflict:
        return _conflict_response()
    except DependencyError as exc:
        logger.info("in-progress lookup failed", extra={"outcome": exc.outcome,
                                                          "aws_error": error_code(exc.cause) if exc.cause else None})
        record = None
    if record is not None:
        metrics.add_metric(name="InProgressConverged", unit=MetricUnit.Count, value=1)
        logger.info("request in progress elsewhere but already recorded; answering from the record")
        return json_response(200, core.build_result(record))
    metrics.add_metric(name="RequestInProgress", unit=MetricUnit.Count, value=1)
    logger.info("request with this transactionId already in progress")
    return error_response(409, "REQUEST_IN_PROGRESS",
                          f"a request with this transactionId is in progress; retry with the same "
                          f"transactionId after {RETRY_AFTER_IN_PROGRESS} second(s)", "transactionId",
                          outcome=UNKNOWN, retry_after=RETRY_AFTER_IN_PROGRESS)


@app.exception_handler(Exception)
def _unexpected(exc: Exception):
    """Errors outside the idempotent step (settings, clients): nothing was written."""
    metrics.add_metric(name=METRIC_UNHANDLED_ERROR, unit=MetricUnit.Count, value=1)
    logger.exception("unhandled error")
    return error_response(500, "INTERNAL_ERROR", "internal error; the payment was not recorded",
                          outcome=NOT_RECORDED)


lambda_handler = build_lambda_handler(app, logger, tracer, metrics)

if env.in_lambda(os.environ):
    # In Lambda: settings and clients at init, as the authorizer does. Built on the first
    # request instead, every new execution environment's first payment paid for boto3's
    # client construction inside its write budget; on the local twin's shared cores, 20 such
    # first requests at once ran past their 1 s read timeouts (503) and kept every execution
    # busy (500: Lambda throttled), docs/twin.md "Load check". A bad setting fails the init.
    init()
