"""Payment API: a regional REST API (API Gateway v1) per region in front of that region's functions.

Inputs: settings, names, the region pair, each region's key and `RegionalCompute`; per region,
optionally (keyword-only): the authorizer `ServiceFunction`, the ARN patterns of the peer
probe roles allowed to call `GET /probe`, and whether the execute-api endpoint is disabled.
Outputs: `Api.regional[role]` (`RegionalApi`: `rest_api`, `stage`, `invoke_url`,
`access_logs`, `execution_logs`, `authorizer`, `gateway_responses`, metric helpers).

Routes (stage `prod`), all AWS_PROXY to this region's functions:
- `POST /validate` -> validator. With an authorizer: a Lambda REQUEST authorizer checks the
  client's HMAC signature (headers X-Client-Id, X-Timestamp, X-Nonce, X-Signature,
  X-Content-SHA256; per-client keys in a Secrets Manager secret replicated to the DR region,
  modules/client_keys.py). It is region-independent, unlike SigV4, so a client changes
  nothing when Route 53 fails over. Result caching is OFF (TTL 0): every legitimate request
  carries a fresh nonce, so a cache could only ever answer a replay of the same request
  without the nonce check (the issue requires replays to be rejected before the validator).
- `GET /health` -> health function, unauthenticated: Route 53 health checkers cannot sign.
  It is protected by the region's WAF (modules/waf.py: only Route 53 health-checker ranges
  may call it) and has its own method throttle, sized above Route 53's load (see below).
- `GET /probe` -> the same health function, `AWS_IAM` (SigV4): for the other region's probe
  function, which knows which region it calls. The resource policy denies it to every
  principal except `probe_principal_arns` (none given: denied to everyone).

No bypass: `disable_execute_api_endpoint` (default True): only the custom domains serve the
API, so WAF and the authorizer cannot be skipped via `<id>.execute-api...`. Route 53 health
checks must then target a per-region custom domain (`<region>.<DOMAIN_NAME>`, created by the
DNS tier with a base path mapping to this stage at the root): path `HEALTH_CHECK_PATH`.

Error contract: API Gateway's own errors (bad body, unknown route, throttling, timeouts,
authorizer and WAF rejections) answer in the function's shape
`{"error": {"code", "message"}}` (+ `retryable`, `retryAfterSeconds`, `Retry-After` when a
retry can succeed); `GATEWAY_RESPONSES` is the table, docs/api-protection.md the contract.

Capacity: each method has its own token bucket (stage default `*/*`, per-method overrides).
`POST /validate` is sized from the declared peak (`validate_throttle`: PEAK_PAYMENTS_PER_SECOND
with headroom); settings refuse a validator reservation too small for it, so overload is a
429 from API Gateway, not a Lambda throttle (500). `GET /health` gets a
bucket of its own, far above what Route 53 sends, so payment traffic can never starve it.

Redeployment: the deployment's trigger hashes the whole configuration the stage serves
(every resource, method, integration, model, validator, authorizer, gateway response, the
resource policy and the endpoint switch), so any in-place change reaches the stage.

Logs: access logs JSON, execution logs at INFO without data trace (payment bodies never
reach CloudWatch); both log groups are pre-created with the region's key and a retention.
API Gateway writes them through the account's CloudWatch role, which lives in the account
baseline stack (modules/account_baseline.py), applied once per account before this one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cdktf import Fn, TerraformResourceLifecycle, Token
from cdktf_cdktf_provider_aws.api_gateway_authorizer import ApiGatewayAuthorizer
from cdktf_cdktf_provider_aws.api_gateway_deployment import ApiGatewayDeployment
from cdktf_cdktf_provider_aws.api_gateway_gateway_response import ApiGatewayGatewayResponse
from cdktf_cdktf_provider_aws.api_gateway_integration import ApiGatewayIntegration
from cdktf_cdktf_provider_aws.api_gateway_method import ApiGatewayMethod
from cdktf_cdktf_provider_aws.api_gateway_method_settings import (
    ApiGatewayMethodSettings,
    ApiGatewayMethodSettingsSettings,
)
from cdktf_cdktf_provider_aws.api_gateway_model import ApiGatewayModel
from cdktf_cdktf_provider_aws.api_gateway_request_validator import ApiGatewayRequestValidator
from cdktf_cdktf_provider_aws.api_gateway_resource import ApiGatewayResource
from cdktf_cdktf_provider_aws.api_gateway_rest_api import (
    ApiGatewayRestApi,
    ApiGatewayRestApiEndpointConfiguration,
)
from cdktf_cdktf_provider_aws.api_gateway_rest_api_policy import ApiGatewayRestApiPolicy
from cdktf_cdktf_provider_aws.api_gateway_stage import (
    ApiGatewayStage,
    ApiGatewayStageAccessLogSettings,
)
from cdktf_cdktf_provider_aws.api_gateway_usage_plan import (
    ApiGatewayUsagePlan,
    ApiGatewayUsagePlanApiStages,
    ApiGatewayUsagePlanThrottleSettings,
)
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.cloudwatch_log_metric_filter import (
    CloudwatchLogMetricFilter,
    CloudwatchLogMetricFilterMetricTransformation,
)
from cdktf_cdktf_provider_aws.lambda_permission import LambdaPermission
from constructs import Construct

import contract
from contract import METRICS_NAMESPACE
from modules.compute import AUTHORIZER_HANDLER, RegionalCompute, ServiceFunction  # noqa: F401
from modules.iam import Statement, policy_document, statement
from modules.keys import RegionalKey
from modules.metrics import Metric
from modules.naming import Names
from modules.regions import Region, RegionPair
from modules.settings import Settings

STAGE = "prod"
VALIDATE_PATH = "validate"
HEALTH_PATH = contract.HEALTH_PATH.removeprefix("/")  # path parts
PROBE_PATH = contract.PROBE_PATH.removeprefix("/")
# Route 53 health checks reach the stage through the per-region custom domain, mapped at
# the root, so the path carries no stage prefix.
HEALTH_CHECK_PATH = contract.HEALTH_PATH

# -- capacity ---------------------------------------------------------------------------
# POST /validate: sized from the declared peak (PEAK_PAYMENTS_PER_SECOND, with the settings'
# CAPACITY_HEADROOM): rate = peak x headroom, burst = one second of it. Settings refuse, before
# any JSON is written, a reservation (LAMBDA_RESERVED_CONCURRENCY) too small to run that rate
# at VALIDATOR_DESIGN_DURATION_S per request, or a rate above API Gateway's account throttle.
# Without a reservation the validator draws on the account's unreserved concurrency (an
# account quota, not known at synth): `drctl preflight` compares it with what the peak needs.
# GET /health: Route 53 sends one request per checker per 10 s (~15 checkers by default),
# uncoordinated, "sometimes several requests per second" (Route 53 docs): ~1.5 rps average,
# all checkers at once at worst. 10 rps / burst 50 is several times that, and WAF admits
# nobody else, so this bucket never throttles Route 53 and a flood never reaches it.
HEALTH_THROTTLE_RATE = 10
HEALTH_THROTTLE_BURST = 50
# GET /probe: one peer probe function calls it every few seconds at most.
PROBE_THROTTLE_RATE = 5
PROBE_THROTTLE_BURST = 10
# The health route answers Route 53 within its ~4 s budget or not at all.
HEALTH_INTEGRATION_TIMEOUT_MS = 4000

# API Gateway publishes no 429 metric: the access logs are counted instead (metric filter).
THROTTLED_METRIC = "ApiThrottledRequests"

# -- authorizer -------------------------------------------------------------------------
AUTHORIZER_HEADERS = ("X-Client-Id", "X-Timestamp", "X-Nonce", "X-Signature", "X-Content-SHA256")
AUTHORIZER_IDENTITY_SOURCE = ",".join(f"method.request.header.{h}" for h in AUTHORIZER_HEADERS)
AUTHORIZER_RESULT_TTL_S = 0  # see the module docstring: a cache would only serve replays
# Per-client quotas: the authorizer returns the client's API key value (usageIdentifierKey,
# contract.usage_identifier_key); POST /validate requires an API key, so API Gateway applies
# that key's usage plan (rate = the declared peak, Settings.client_throttle_rate). No daily
# quota: refusing a merchant's payments for the rest of a day is a business decision.
API_KEY_SOURCE = "AUTHORIZER"

ACCESS_LOG_FORMAT = json.dumps({
    "requestId": "$context.requestId",
    "apiId": "$context.apiId",
    "extendedRequestId": "$context.extendedRequestId",
    "ip": "$context.identity.sourceIp",
    "caller": "$context.identity.caller",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "integrationStatus": "$context.integration.status",
    "integrationLatency": "$context.integration.latency",
    "responseLatency": "$context.responseLatency",
    "xrayTraceId": "$context.xrayTraceId",
    "errorMessage": "$context.error.message",
    "errorType": "$context.error.responseType",
    "wafStatus": "$context.waf.status",
    "authorizerStatus": "$context.authorizer.status",
    "clientId": "$context.authorizer.principalId",
})

# Shape only: the validator enforces every business rule itself.
PAYMENT_REQUEST_SCHEMA = json.dumps({
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "PaymentRequest",
    "type": "object",
    "minProperties": 1,
})


# -- error contract -----------------------------------------------------------------------


@dataclass(frozen=True)
class GatewayError:
    """One API Gateway response type in the function's error shape."""

    response_type: str
    status: str | None  # None: keep API Gateway's status (DEFAULT_4XX/5XX: setting one
    # would change the status of every other 4XX/5XX response, per the AWS docs)
    code: str
    message: str | None  # None: API Gateway's own message ($context.error.messageString)
    retry_after_s: int | None = None  # retryable: Retry-After header + retryable fields
    #: What is known about the payment (the functions' ``outcome``): on every 5xx and 429.
    outcome: str | None = None

    def template(self) -> str:
        """contract.api_error as a mapping template: API Gateway's own message is a variable."""
        placeholder = "\0message\0"
        body = json.dumps(contract.api_error(self.code, placeholder if self.message is None else self.message,
                                             outcome=self.outcome, retry_after_s=self.retry_after_s),
                          separators=(",", ":"))
        return body.replace(json.dumps(placeholder), "$context.error.messageString")

    def headers(self) -> dict[str, str]:
        headers = {f"gatewayresponse.header.{name}": f"'{value}'"
                   for name, value in contract.ERROR_HEADERS.items()}
        if self.retry_after_s is not None:
            headers["gatewayresponse.header.Retry-After"] = f"'{self.retry_after_s}'"
        return headers


OUTCOME_UNKNOWN = "the outcome is unknown: retry with the same transactionId"
GATEWAY_RESPONSES = (
    GatewayError("DEFAULT_4XX", None, "REQUEST_REJECTED", None),
    # Includes a Lambda throttle of the validator (nothing ran): API Gateway gives a proxy
    # integration's throttle no response type of its own, so it cannot be told apart here.
    GatewayError("DEFAULT_5XX", None, "OUTCOME_UNKNOWN", OUTCOME_UNKNOWN, retry_after_s=2,
                 outcome="unknown"),
    GatewayError("BAD_REQUEST_BODY", "400", "INVALID_BODY",
                 "request body must be a non-empty JSON object"),
    GatewayError("MISSING_AUTHENTICATION_TOKEN", "404", "NOT_FOUND", "no such route"),
    GatewayError("RESOURCE_NOT_FOUND", "404", "NOT_FOUND", "no such route"),
    GatewayError("REQUEST_TOO_LARGE", "413", "PAYLOAD_TOO_LARGE",
                 "request body exceeds 8192 bytes"),
    GatewayError("THROTTLED", "429", "TOO_MANY_REQUESTS",
                 "request rate above this API's limit: nothing was written, retry later",
                 retry_after_s=1, outcome="not_recorded"),
    GatewayError("UNAUTHORIZED", "401", "UNAUTHENTICATED",
                 "missing or invalid signature headers"),
    GatewayError("ACCESS_DENIED", "403", "FORBIDDEN", "the request is not authorized"),
    # An authenticated client whose API key is missing from this region's usage plan
    # (`drctl client-keys sync` provisions it): an operator's fix, never the client's.
    GatewayError("INVALID_API_KEY", "403", "CLIENT_NOT_PROVISIONED",
                 "this client has no quota in this region: nothing was written"),
    GatewayError("WAF_FILTERED", "403", "REQUEST_BLOCKED", "the request was blocked"),
    # The authorizer runs before the validator: when it fails, nothing was written.
    GatewayError("AUTHORIZER_FAILURE", "503", "AUTHENTICATION_UNAVAILABLE",
                 "authentication is unavailable: nothing was written, retry later",
                 retry_after_s=2, outcome="not_recorded"),
    GatewayError("AUTHORIZER_CONFIGURATION_ERROR", "503", "AUTHENTICATION_UNAVAILABLE",
                 "authentication is unavailable: nothing was written, retry later",
                 retry_after_s=2, outcome="not_recorded"),
    GatewayError("INTEGRATION_TIMEOUT", "504", "OUTCOME_UNKNOWN", OUTCOME_UNKNOWN,
                 retry_after_s=2, outcome="unknown"),
    GatewayError("INTEGRATION_FAILURE", "502", "OUTCOME_UNKNOWN", OUTCOME_UNKNOWN,
                 retry_after_s=2, outcome="unknown"),
)


def validate_throttle(settings: Settings) -> tuple[int, float]:
    """(burst, rate) for POST /validate: the declared peak with headroom (see above)."""
    return settings.validate_throttle_burst, settings.validate_throttle_rate


def probe_invoke_grant(*, target_region: str, partition: str, account_id: str) -> Statement:
    """IAM statement for a probe role calling `GET /probe` of the API in `target_region`.

    By ARN pattern (any API id of this account in that region, stage prod, GET /probe): the
    caller's stack needs no reference to the other region's resources.
    """
    return statement("InvokePeerProbe", ["execute-api:Invoke"], [
        f"arn:{partition}:execute-api:{target_region}:{account_id}:*/{STAGE}/GET/{PROBE_PATH}"])


class RegionalApi(Construct):
    """The API of one region; integrations and permissions reference that region's functions."""

    def __init__(self, scope: Construct, id: str, *, region: Region, settings: Settings,
                 names: Names, key: RegionalKey, compute: RegionalCompute,
                 authorizer: ServiceFunction | None = None,
                 probe_principal_arns: Sequence[str] | None = None,
                 disable_execute_api_endpoint: bool = True):
        super().__init__(scope, id)
        self.region = region
        p = region.provider
        self.rest_api = ApiGatewayRestApi(
            self, "rest-api", provider=p, name=names.regional("api", region.role),
            description=f"Payments API ({region.role}, {region.name})",
            endpoint_configuration=ApiGatewayRestApiEndpointConfiguration(types=["REGIONAL"]),
            disable_execute_api_endpoint=disable_execute_api_endpoint,
            # Per-client quotas: the authorizer names the client's API key (usage plans).
            api_key_source=API_KEY_SOURCE if authorizer else None,
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
        )
        self._api_id = self.rest_api.id

        self.request_validator = ApiGatewayRequestValidator(
            self, "body-validator", provider=p, rest_api_id=self._api_id,
            name="payment-body", validate_request_body=True, validate_request_parameters=False,
        )
        # GET /health takes no input; validating its (absent) parameters is free and explicit.
        self.params_validator = ApiGatewayRequestValidator(
            self, "params-validator", provider=p, rest_api_id=self._api_id,
            name="parameters-only", validate_request_body=False, validate_request_parameters=True,
        )
        self.model = ApiGatewayModel(
            self, "payment-model", provider=p, rest_api_id=self._api_id,
            name="PaymentRequest", content_type="application/json",
            schema=PAYMENT_REQUEST_SCHEMA,
        )
        self.authorizer = self._authorizer(authorizer, names) if authorizer else None
        validate_authorizer_id = self.authorizer.id if self.authorizer else None
        self.routes = {
            VALIDATE_PATH: self._route(
                VALIDATE_PATH, "POST", compute.validator,
                authorization="CUSTOM" if self.authorizer else "NONE",
                authorizer_id=validate_authorizer_id,
                api_key_required=self.authorizer is not None,
                request_validator_id=self.request_validator.id,
                request_models={"application/json": self.model.name}),
            HEALTH_PATH: self._route(HEALTH_PATH, "GET", compute.health, authorization="NONE",
                                     timeout_ms=HEALTH_INTEGRATION_TIMEOUT_MS,
                                     request_validator_id=self.params_validator.id),
            PROBE_PATH: self._route(PROBE_PATH, "GET", compute.health, authorization="AWS_IAM",
                                    timeout_ms=HEALTH_INTEGRATION_TIMEOUT_MS,
                                    request_validator_id=self.params_validator.id),
        }
        self.gateway_responses = {
            e.response_type: ApiGatewayGatewayResponse(
                self, f"response-{e.response_type.lower().replace('_', '-')}", provider=p,
                rest_api_id=self._api_id, response_type=e.response_type,
                status_code=e.status, response_templates={"application/json": e.template()},
                response_parameters=e.headers())
            for e in GATEWAY_RESPONSES
        }
        self.policy = ApiGatewayRestApiPolicy(
            self, "resource-policy", provider=p, rest_api_id=self._api_id,
            policy=self._resource_policy(probe_principal_arns))

        self.deployment = ApiGatewayDeployment(
            self, "deployment", provider=p, rest_api_id=self._api_id,
            triggers={"redeployment": Fn.sha1(Fn.jsonencode(self._served_configuration()))},
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
        )
        self.access_logs = CloudwatchLogGroup(
            self, "access-logs", provider=p,
            name=f"/aws/apigateway/{names.regional('api', region.role)}/access",
            retention_in_days=settings.log_retention_days, kms_key_id=key.arn,
        )
        # The group API Gateway would otherwise create on first deploy: unencrypted, kept
        # forever. Created first with the region's key and a retention.
        self.execution_logs = CloudwatchLogGroup(
            self, "execution-logs", provider=p,
            name=f"API-Gateway-Execution-Logs_{self.rest_api.id}/{STAGE}",
            retention_in_days=settings.log_retention_days, kms_key_id=key.arn,
        )
        CloudwatchLogMetricFilter(
            self, "throttled-metric", provider=p, name="throttled-requests",
            log_group_name=self.access_logs.name, pattern='{ $.status = "429" }',
            metric_transformation=CloudwatchLogMetricFilterMetricTransformation(
                namespace=METRICS_NAMESPACE, name=THROTTLED_METRIC, value="1", unit="Count",
                dimensions={"ApiId": "$.apiId"}),
        )
        self.stage = ApiGatewayStage(
            self, "stage", provider=p, rest_api_id=self._api_id, stage_name=STAGE,
            deployment_id=self.deployment.id, xray_tracing_enabled=settings.tracing,
            access_log_settings=ApiGatewayStageAccessLogSettings(
                destination_arn=self.access_logs.arn, format=ACCESS_LOG_FORMAT),
            depends_on=[self.execution_logs],
        )
        burst, rate = validate_throttle(settings)
        self.method_settings = {
            # Stage default: every method gets its own bucket of this size (POST /validate).
            "*/*": self._method_settings("method-settings", "*/*", burst, rate),
            f"{HEALTH_PATH}/GET": self._method_settings(
                "health-method-settings", f"{HEALTH_PATH}/GET",
                HEALTH_THROTTLE_BURST, HEALTH_THROTTLE_RATE),
            f"{PROBE_PATH}/GET": self._method_settings(
                "probe-method-settings", f"{PROBE_PATH}/GET",
                PROBE_THROTTLE_BURST, PROBE_THROTTLE_RATE),
        }
        # One bucket per authenticated client (its API key), inside the method's bucket.
        self.usage_plan = ApiGatewayUsagePlan(
            self, "client-usage-plan", provider=p, name=names.usage_plan(region.role),
            description="Per-client throttle of POST /validate (API keys: drctl client-keys)",
            api_stages=[ApiGatewayUsagePlanApiStages(api_id=self._api_id,
                                                     stage=self.stage.stage_name)],
            throttle_settings=ApiGatewayUsagePlanThrottleSettings(
                rate_limit=settings.client_throttle_rate,
                burst_limit=settings.client_throttle_burst),
        ) if self.authorizer else None

    # -- building blocks ----------------------------------------------------------------

    def _route(self, path: str, http_method: str, target: ServiceFunction, *,
               authorization: str, request_validator_id: str, authorizer_id: str | None = None,
               api_key_required: bool = False,
               request_models: Mapping[str, str] | None = None, timeout_ms: int | None = None,
               ) -> tuple[ApiGatewayResource, ApiGatewayMethod, ApiGatewayIntegration]:
        p = self.region.provider
        resource = ApiGatewayResource(self, f"{path}-resource", provider=p,
                                      rest_api_id=self._api_id,
                                      parent_id=self.rest_api.root_resource_id, path_part=path)
        method = ApiGatewayMethod(self, f"{path}-method", provider=p, rest_api_id=self._api_id,
                                  resource_id=resource.id, http_method=http_method,
                                  authorization=authorization, authorizer_id=authorizer_id,
                                  api_key_required=api_key_required or None,
                                  request_validator_id=request_validator_id,
                                  request_models=request_models)
        integration = ApiGatewayIntegration(
            self, f"{path}-integration", provider=p, rest_api_id=self._api_id,
            resource_id=resource.id, http_method=method.http_method,
            type="AWS_PROXY", integration_http_method="POST",  # Lambda is always invoked by POST
            uri=target.function.invoke_arn, timeout_milliseconds=timeout_ms,
        )
        LambdaPermission(
            self, f"{path}-permission", provider=p, statement_id=f"AllowApiGateway-{path}",
            action="lambda:InvokeFunction", function_name=target.function.function_name,
            principal="apigateway.amazonaws.com",
            source_arn=f"{self.rest_api.execution_arn}/*/{http_method}/{path}",
        )
        return resource, method, integration

    def _authorizer(self, fn: ServiceFunction, names: Names) -> ApiGatewayAuthorizer:
        p = self.region.provider
        authorizer = ApiGatewayAuthorizer(
            self, "authorizer", provider=p, rest_api_id=self._api_id,
            name=names.regional("request-signature", self.region.role), type="REQUEST",
            authorizer_uri=fn.function.invoke_arn, identity_source=AUTHORIZER_IDENTITY_SOURCE,
            authorizer_result_ttl_in_seconds=AUTHORIZER_RESULT_TTL_S,
        )
        # Resource-based permission scoped to this authorizer of this API (no invoke role).
        LambdaPermission(
            self, "authorizer-permission", provider=p, statement_id="AllowApiGatewayAuthorizer",
            action="lambda:InvokeFunction", function_name=fn.function.function_name,
            principal="apigateway.amazonaws.com",
            source_arn=f"{self.rest_api.execution_arn}/authorizers/{authorizer.id}",
        )
        return authorizer

    def _resource_policy(self, probe_principal_arns: Sequence[str] | None) -> str:
        arn = self.rest_api.execution_arn
        probe = f"{arn}/*/GET/{PROBE_PATH}"
        statements = [
            # Callers are authenticated per route (authorizer, SigV4) and filtered by WAF;
            # the policy itself admits everyone to the API ...
            statement("Invoke", ["execute-api:Invoke"], [f"{arn}/*"], principal="*"),
        ]
        if probe_principal_arns:
            # ... except /probe: only the peer region's probe roles.
            statements.append(statement(
                "ProbeOnlyForPeerProbeRoles", ["execute-api:Invoke"], [probe], effect="Deny",
                principal="*",
                condition={"ArnNotLike": {"aws:PrincipalArn": list(probe_principal_arns)}}))
        else:
            statements.append(statement(
                "ProbeClosedUntilProbeRolesAreGiven", ["execute-api:Invoke"], [probe],
                effect="Deny", principal="*"))
        return policy_document(statements)

    def _method_settings(self, id: str, path: str, burst: int, rate: float) -> ApiGatewayMethodSettings:
        return ApiGatewayMethodSettings(
            self, id, provider=self.region.provider, rest_api_id=self._api_id,
            stage_name=self.stage.stage_name, method_path=path,
            settings=ApiGatewayMethodSettingsSettings(
                metrics_enabled=True, logging_level="INFO", data_trace_enabled=False,
                throttling_burst_limit=burst, throttling_rate_limit=rate,
            ),
        )

    def _served_configuration(self) -> list[object]:
        """Whole-resource references: Terraform hashes every argument of each (schema,
        authorization, authorizer, validators, uri, timeouts, templates, policy ...)."""
        served = [self.request_validator, self.params_validator, self.model, self.policy,
                  *self.gateway_responses.values()]
        if self.authorizer is not None:
            served.append(self.authorizer)
        for resource, method, integration in self.routes.values():
            served += [resource, method, integration]
        return [Token.as_any(r.fqn) for r in served] + [self.rest_api.disable_execute_api_endpoint,
                                                         self.rest_api.api_key_source]

    # -- outputs ------------------------------------------------------------------------

    @property
    def invoke_url(self) -> str:
        return self.stage.invoke_url

    @property
    def execute_api_host(self) -> str:
        """The API's own hostname. With the execute-api endpoint disabled (the default) it
        answers 403 to everyone: health checks must use the per-region custom domain."""
        return f"{self.rest_api.id}.execute-api.{self.region.name}.amazonaws.com"

    # -- metrics (AWS/ApiGateway, per stage) --------------------------------------------

    def _metric(self, name: str, statistic: str = "Sum") -> Metric:
        return Metric("AWS/ApiGateway", name, {"ApiName": self.rest_api.name, "Stage": STAGE},
                      statistic=statistic, period=300)

    def metric_count(self) -> Metric:
        return self._metric("Count")

    def metric_5xx(self) -> Metric:
        return self._metric("5XXError")

    def metric_4xx(self) -> Metric:
        """Every 4XX, including 429s and authorizer/WAF rejections."""
        return self._metric("4XXError")

    def metric_429(self) -> Metric:
        """429 responses as recorded in this API's access logs (API Gateway has no 429 metric)."""
        return Metric(METRICS_NAMESPACE, THROTTLED_METRIC, {"ApiId": self.rest_api.id},
                      statistic="Sum", period=300)

    def metric_latency_p99(self) -> Metric:
        return self._metric("Latency", statistic="p99")


class Api(Construct):
    """Entry construct: one `RegionalApi` per region (`regional[role]`).

    `authorizers` / `probe_principal_arns`: per role, passed to that region's `RegionalApi`.
    """

    def __init__(self, scope: Construct, id: str, *, settings: Settings, names: Names,
                 regions: RegionPair, keys: dict[str, RegionalKey],
                 compute: dict[str, RegionalCompute],
                 authorizers: dict[str, ServiceFunction] | None = None,
                 probe_principal_arns: dict[str, Sequence[str]] | None = None):
        super().__init__(scope, id)
        self.regional = {
            r.role: RegionalApi(self, r.role, region=r, settings=settings, names=names,
                                key=keys[r.role], compute=compute[r.role],
                                authorizer=(authorizers or {}).get(r.role),
                                probe_principal_arns=(probe_principal_arns or {}).get(r.role))
            for r in regions
        }
