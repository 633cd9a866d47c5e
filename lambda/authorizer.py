"""Lambda REQUEST authorizer for ``POST /validate``: HMAC-signed requests, per-client keys.

Handler string: ``authorizer.lambda_handler``. Scheme: ``ops.signing`` (and
docs/calling-the-api.md). Answers, in this order:

* a signed header missing or empty -> ``raise Exception("Unauthorized")`` (API Gateway: 401);
* malformed header, query string present (it would not be signed), timestamp outside
  +-``MAX_CLOCK_SKEW_SECONDS``, unknown or disabled client, wrong signature, a key past its
  ``notAfter`` (``key_expired``) or without one where ``CLIENT_KEYS_REQUIRE_EXPIRY`` is on
  (``key_without_expiry``), or a nonce already used -> Deny policy (403), logged with the
  client id and the reason, never a key;
* otherwise Allow for exactly this method ARN, context ``{"clientId": ...}``, and
  ``usageIdentifierKey``: the value of the client's API key (``contract.usage_identifier_key``
  of the secret's name and the client id). The API's key source is AUTHORIZER and
  ``POST /validate`` requires a key, so API Gateway throttles each verified client by its
  usage plan (docs/api-protection.md). A Deny never carries one.

Nothing is written unless the signature is valid: the nonce is recorded (a conditional put
in ``NONCE_TABLE``, TTL attribute) only as the last step. The item carries a token drawn per
invocation, so a botocore retry of a put whose response was lost recognises its own item
instead of refusing the request as a replay. The authorizer cannot see the body
(API Gateway does not pass it to REQUEST authorizers): it verifies the signature over the
``X-Content-SHA256`` header and the validator checks the body against that header
(``ops.signing.body_hash_matches``).

Replay limits, honestly: the nonce record is written in this region. With the idempotency
global table as ``NONCE_TABLE`` (eventually consistent: it needs TTL, which multi-Region
strong consistency does not support) it replicates, so a replay to the other region is
caught once replication has delivered it (about a second normally, minutes after an
outage); inside that window the replay is let through there. It cannot make a second
payment: the validator decides "first" with the claim item of (client, transactionId) in the
strongly consistent transactions table, so the replay gets the first answer and writes
nothing. The timestamp window bounds replays in every region.

Keys or nonce table unavailable -> the function raises; API Gateway answers its
AUTHORIZER_FAILURE response, which the stacks set to 503 AUTHENTICATION_UNAVAILABLE; never an Allow.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from ops import aws, env, signing
from ops.clientkeys import KeyCache, days_left, secrets_manager_fetch

from contract import (
    AUTHORIZER_SERVICE,
    ENV_CLIENT_KEYS_CACHE_SECONDS,
    ENV_CLIENT_KEYS_MAX_STALE_SECONDS,
    ENV_CLIENT_KEYS_REQUIRE_EXPIRY,
    ENV_CLIENT_KEYS_SECRET,
    ENV_MAX_CLOCK_SKEW_SECONDS,
    ENV_METRICS_NAMESPACE,
    ENV_NONCE_KEY_ATTRIBUTE,
    ENV_NONCE_TABLE,
    ENV_NONCE_TTL_ATTRIBUTE,
    IDEMPOTENCY_KEY_ATTRIBUTE,
    IDEMPOTENCY_TTL_ATTRIBUTE,
    METRIC_CLIENT_KEY_DAYS_LEFT,
    METRICS_NAMESPACE,
    NONCE_KEY_PREFIX,
    usage_identifier_key,
)

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", AUTHORIZER_SERVICE)
DAYS_LEFT_EVERY_SECONDS = 60.0  # per instance: enough for an hourly alarm, few log lines
NONCE_PREFIX = NONCE_KEY_PREFIX

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get(ENV_METRICS_NAMESPACE, METRICS_NAMESPACE), service=SERVICE)


class Rejected(Exception):
    """The request is refused with a Deny (403). ``reason`` is logged, never returned."""

    def __init__(self, reason: str, client_id: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.client_id = client_id


@dataclass(frozen=True)
class AuthorizerSettings:
    region: str
    secret_id: str
    nonce_table: str
    nonce_key_attribute: str
    nonce_ttl_attribute: str
    max_skew_seconds: int
    nonce_ttl_seconds: int
    keys_ttl_seconds: int
    keys_max_stale_seconds: int
    require_key_expiry: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AuthorizerSettings:
        skew = env.integer(environ, ENV_MAX_CLOCK_SKEW_SECONDS, 300, minimum=30, maximum=900)
        ttl = env.integer(environ, ENV_CLIENT_KEYS_CACHE_SECONDS, 60, minimum=0, maximum=900)
        require_expiry = env.required(environ, ENV_CLIENT_KEYS_REQUIRE_EXPIRY)
        if require_expiry not in ("true", "false"):
            raise env.ConfigError(f"{ENV_CLIENT_KEYS_REQUIRE_EXPIRY} must be true or false")
        return cls(
            region=env.region(environ),
            secret_id=env.required(environ, ENV_CLIENT_KEYS_SECRET),
            nonce_table=env.required(environ, ENV_NONCE_TABLE),
            nonce_key_attribute=env.optional(environ, ENV_NONCE_KEY_ATTRIBUTE, IDEMPOTENCY_KEY_ATTRIBUTE),
            nonce_ttl_attribute=env.optional(environ, ENV_NONCE_TTL_ATTRIBUTE, IDEMPOTENCY_TTL_ATTRIBUTE),
            max_skew_seconds=skew,
            # a nonce must outlive every timestamp that could still carry it: 2 x skew, plus a minute
            nonce_ttl_seconds=2 * skew + 60,
            keys_ttl_seconds=ttl,
            keys_max_stale_seconds=max(ttl, env.integer(environ, ENV_CLIENT_KEYS_MAX_STALE_SECONDS, 900,
                                                        minimum=0, maximum=3600)),
            # Set by the deployment (modules/compute.py): "true" in prod-like environments.
            require_key_expiry=require_expiry == "true",
        )


class Authorizer:
    def __init__(self, settings: AuthorizerSettings, *, secretsmanager: Any = None, dynamodb: Any = None,
                 wall_clock: Callable[[], float] = time.time, clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self.secretsmanager = secretsmanager if secretsmanager is not None else aws.client(
            "secretsmanager", settings.region, connect_timeout=0.5, read_timeout=1.0)
        self.dynamodb = dynamodb if dynamodb is not None else aws.client(
            "dynamodb", settings.region, connect_timeout=0.5, read_timeout=1.0)
        self.wall_clock = wall_clock
        self.days_left_published: float | None = None  # monotonic time of the last datum
        self.keys = KeyCache(secrets_manager_fetch(self.secretsmanager, settings.secret_id),
                             ttl_seconds=settings.keys_ttl_seconds,
                             max_stale_seconds=settings.keys_max_stale_seconds, clock=clock,
                             on_stale=lambda why: logger.warning("using cached client keys", extra={"why": why}))

    def authorize(self, event: Mapping[str, Any]) -> str:
        """The client id of a valid, fresh, first-seen request; raises Rejected or Unauthorized."""
        headers = event.get("headers") or {}
        values = {name: (signing.header(headers, name) or "").strip() for name in signing.SIGNED_HEADERS}
        missing = [name for name, value in values.items() if not value]
        if missing:
            logger.info("request without signature headers", extra={"missing": missing})
            metrics.add_metric(name="AuthorizerUnauthorized", unit=MetricUnit.Count, value=1)
            raise Exception("Unauthorized")  # the exact message API Gateway maps to 401

        client_id = values[signing.CLIENT_ID_HEADER]
        if not signing.CLIENT_ID_RE.fullmatch(client_id):
            raise Rejected("malformed_client_id")
        multi = event.get("multiValueHeaders") or {}
        for name in signing.SIGNED_HEADERS:
            if len(signing.header(multi, name) or []) > 1:
                raise Rejected("repeated_header", client_id)
        if not signing.TIMESTAMP_RE.fullmatch(values[signing.TIMESTAMP_HEADER]):
            raise Rejected("malformed_timestamp", client_id)
        if not signing.NONCE_RE.fullmatch(values[signing.NONCE_HEADER]):
            raise Rejected("malformed_nonce", client_id)
        if not signing.SHA256_HEX_RE.fullmatch(values[signing.CONTENT_SHA256_HEADER]):
            raise Rejected("malformed_content_sha256", client_id)
        signature = signing.decode_signature(values[signing.SIGNATURE_HEADER])
        if signature is None:
            raise Rejected("malformed_signature", client_id)
        if event.get("queryStringParameters") or event.get("multiValueQueryStringParameters"):
            raise Rejected("query_string_not_signed", client_id)

        now = self.wall_clock()
        timestamp = int(values[signing.TIMESTAMP_HEADER])
        if abs(now - timestamp) > self.settings.max_skew_seconds:
            raise Rejected("timestamp_outside_window", client_id)

        entry = self.keys.clients().get(client_id)
        if entry is None:
            raise Rejected("unknown_client", client_id)
        if entry.disabled:
            raise Rejected("client_disabled", client_id)
        context = event.get("requestContext") or {}
        message = signing.string_to_sign(
            method=str(event.get("httpMethod") or context.get("httpMethod") or ""),
            path=str(event.get("resource") or context.get("resourcePath") or ""),
            client_id=client_id, timestamp=values[signing.TIMESTAMP_HEADER], nonce=values[signing.NONCE_HEADER],
            body_sha256=values[signing.CONTENT_SHA256_HEADER])
        valid = entry.valid_at(now, require_expiry=self.settings.require_key_expiry)
        if signing.signature_matches(valid, message, signature) is None:
            # Which refusal, for the log: a key the client holds but may no longer use, or none.
            index = signing.signature_matches(entry.keys, message, signature)
            if index is None:
                raise Rejected("bad_signature", client_id)
            ends = entry.not_after or (None,) * len(entry.keys)
            raise Rejected("key_without_expiry" if ends[index] is None else "key_expired",
                           client_id)

        if not self._record_nonce(client_id, values[signing.NONCE_HEADER], now):
            raise Rejected("nonce_replayed", client_id)
        return client_id

    def _record_nonce(self, client_id: str, nonce: str, now: float) -> bool:
        """Conditional put; False when this nonce was already recorded by *another* request.
        Other errors raise.

        The item carries a token drawn for this call. botocore resends the same parameters when
        it retries, so if the first attempt was applied and its response lost, the retry's
        ConditionalCheckFailed returns (``ALL_OLD``) an item with our own token: that is our
        write, not a replay. A replay is another invocation, with another token.
        """
        from botocore.exceptions import ClientError

        cfg = self.settings
        token = secrets.token_hex(16)
        try:
            self.dynamodb.put_item(
                TableName=cfg.nonce_table,
                Item={cfg.nonce_key_attribute: {"S": f"{NONCE_PREFIX}{client_id}#{nonce}"},
                      cfg.nonce_ttl_attribute: {"N": str(int(now) + cfg.nonce_ttl_seconds)},
                      "clientId": {"S": client_id}, "recordedAt": {"N": str(int(now))},
                      "writeToken": {"S": token}},
                ConditionExpression="attribute_not_exists(#k)",
                ExpressionAttributeNames={"#k": cfg.nonce_key_attribute},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if aws.error_code(exc) == "ConditionalCheckFailedException":
                stored = (exc.response.get("Item") or {}).get("writeToken", {}).get("S")
                if stored is not None and secrets.compare_digest(stored, token):
                    metrics.add_metric(name="NonceRetryRecognised", unit=MetricUnit.Count, value=1)
                    return True
                return False
            raise
        return True


def policy(effect: str, principal: str, method_arn: str, context: dict[str, str] | None = None,
           usage_key: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "principalId": principal,
        "policyDocument": {"Version": "2012-10-17",
                           "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": method_arn}]},
    }
    if context:
        doc["context"] = context
    if usage_key is not None:
        doc["usageIdentifierKey"] = usage_key
    return doc


# The handler's runtime cache (one style for every handler in lambda/): `init()` builds it,
# `_get_runtime()` returns it (building it on first use), `reset_runtime()` drops it (tests).
_runtime: Authorizer | None = None


def init(environ: Mapping[str, str] | None = None, **overrides: Any) -> Authorizer:
    global _runtime
    _runtime = Authorizer(AuthorizerSettings.from_env(os.environ if environ is None else environ), **overrides)
    return _runtime


def _get_runtime() -> Authorizer:
    return _runtime or init()


def reset_runtime() -> None:
    global _runtime
    _runtime = None


def publish_days_left(auth: Authorizer, *, now: float | None = None, clock: Any = time.monotonic) -> None:
    """ClientKeyDaysLeft (contract.py), its own EMF record so no request dimension (Reason)
    joins it; at most once per DAYS_LEFT_EVERY_SECONDS. Nothing when the keys cannot be read
    (that is the authorizer's own failure, paged by its error alarms) or no key has an end."""
    tick = clock()
    if auth.days_left_published is not None and tick - auth.days_left_published < DAYS_LEFT_EVERY_SECONDS:
        return
    try:
        left = days_left(auth.keys.clients(), auth.wall_clock() if now is None else now)
    except Exception:
        return
    auth.days_left_published = tick
    if left is None:
        return
    with single_metric(name=METRIC_CLIENT_KEY_DAYS_LEFT, unit=MetricUnit.Count, value=round(left, 2),
                       namespace=os.environ.get(ENV_METRICS_NAMESPACE, METRICS_NAMESPACE),
                       default_dimensions={"service": SERVICE}):
        pass


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: Any) -> dict[str, Any]:
    auth = _get_runtime()
    publish_days_left(auth)
    method_arn = str(event.get("methodArn", ""))
    try:
        client_id = auth.authorize(event)
    except Rejected as exc:
        logger.info("request denied", extra={"reason": exc.reason, "client_id": exc.client_id})
        metrics.add_dimension(name="Reason", value=exc.reason)
        metrics.add_metric(name="AuthorizerDenied", unit=MetricUnit.Count, value=1)
        return policy("Deny", exc.client_id or "anonymous", method_arn)
    logger.info("request allowed", extra={"client_id": client_id})
    metrics.add_metric(name="AuthorizerAllowed", unit=MetricUnit.Count, value=1)
    return policy("Allow", client_id, method_arn, {"clientId": client_id},
                  usage_key=usage_identifier_key(auth.settings.secret_id, client_id))


if env.in_lambda(os.environ):
    init()  # in Lambda: settings and clients at init (a bad setting fails the init)
