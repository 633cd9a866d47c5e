"""Payment API: a regional REST API (API Gateway v1) per region in front of that region's functions.

Inputs: settings, names, the region pair, each region's key and `RegionalCompute`.
Outputs: `Api.regional[role]` (`RegionalApi`: `rest_api`, `stage`, `invoke_url`,
`execute_api_host`, `access_logs`).

Routes: `POST /validate` -> validator, `GET /health` -> health check (AWS_PROXY), stage `prod`.
Decisions a reviewer should know about:
- Both routes are unauthenticated at API Gateway (`NONE`), deliberately: SigV4 (`AWS_IAM`)
  binds every signature to one region, so after a DNS failover every signed request would
  reach the other region's API and be rejected (403) until each client re-signs for it: the
  auth would break exactly the failover this platform exists for. Callers are protected by
  strict validation, idempotency, stage throttling; an authorizer that is region-independent
  (JWT/Lambda authorizer, or mTLS on the custom domain) plus WAF is a tracked gap (README).
  `GET /health` must stay open in any case: Route 53 health checkers cannot authenticate.
- The deployment's `triggers` hash every route, method, integration, validator and model id,
  with `create_before_destroy`: any change there redeploys, and the stage never points at a
  deleted deployment.
- Access logs are JSON, KMS-encrypted and retained per settings. API Gateway writes them
  through the account-level CloudWatch role (`aws_api_gateway_account`), a per-region
  singleton: created here once per region, before the stage.
- Execution logging at INFO without data trace: payment bodies never reach CloudWatch.
"""

from __future__ import annotations

import json

from constructs import Construct
from cdktf import Fn, TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.api_gateway_account import ApiGatewayAccount
from cdktf_cdktf_provider_aws.api_gateway_deployment import ApiGatewayDeployment
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
from cdktf_cdktf_provider_aws.api_gateway_stage import (
    ApiGatewayStage,
    ApiGatewayStageAccessLogSettings,
)
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.lambda_permission import LambdaPermission

from modules.compute import RegionalCompute, ServiceFunction
from modules.iam import managed_service_role
from modules.keys import RegionalKey
from modules.metrics import Metric
from modules.naming import Names
from modules.regions import Region, RegionPair
from modules.settings import Settings

STAGE = "prod"
VALIDATE_PATH = "validate"
HEALTH_PATH = "health"
VALIDATE_AUTHORIZATION = "NONE"  # see the module docstring: SigV4 breaks cross-region failover
THROTTLE_BURST = 500
THROTTLE_RATE = 250  # requests per second, per stage, per region
# The health route answers Route 53 within its ~4 s budget or not at all.
HEALTH_INTEGRATION_TIMEOUT_MS = 4000

ACCESS_LOG_FORMAT = json.dumps({
    "requestId": "$context.requestId",
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
})

# Shape only: the validator enforces every business rule itself.
PAYMENT_REQUEST_SCHEMA = json.dumps({
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "PaymentRequest",
    "type": "object",
    "minProperties": 1,
})


class ApiGatewayLoggingRole(Construct):
    """The per-region, account-level CloudWatch role API Gateway logs through."""

    def __init__(self, scope: Construct, id: str, *, region: Region, names: Names):
        super().__init__(scope, id)
        role = managed_service_role(
            self, "", region=region, name=names.regional("apigw-cloudwatch", region.role),
            service="apigateway.amazonaws.com",
            managed_policy="service-role/AmazonAPIGatewayPushToCloudWatchLogs",
        )
        self.account = ApiGatewayAccount(self, "account", provider=region.provider,
                                         cloudwatch_role_arn=role.arn)


class RegionalApi(Construct):
    """The API of one region; integrations and permissions reference that region's functions."""

    def __init__(self, scope: Construct, id: str, *, region: Region, settings: Settings,
                 names: Names, key: RegionalKey, compute: RegionalCompute):
        super().__init__(scope, id)
        self.region = region
        p = region.provider
        self.rest_api = ApiGatewayRestApi(
            self, "rest-api", provider=p, name=names.regional("api", region.role),
            description=f"Payments API ({region.role}, {region.name})",
            endpoint_configuration=ApiGatewayRestApiEndpointConfiguration(types=["REGIONAL"]),
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
        )
        self._api_id = self.rest_api.id
        self.logging = ApiGatewayLoggingRole(self, "cloudwatch-role", region=region, names=names)

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
        self.routes = {
            VALIDATE_PATH: self._route(
                VALIDATE_PATH, "POST", compute.validator, authorization=VALIDATE_AUTHORIZATION,
                request_validator_id=self.request_validator.id,
                request_models={"application/json": self.model.name}),
            HEALTH_PATH: self._route(HEALTH_PATH, "GET", compute.health, authorization="NONE",
                                     timeout_ms=HEALTH_INTEGRATION_TIMEOUT_MS,
                                     request_validator_id=self.params_validator.id),
        }

        redeploy_on = [self.request_validator.id, self.params_validator.id, self.model.id]
        for resource, method, integration in self.routes.values():
            redeploy_on += [resource.id, method.id, integration.id]
        self.deployment = ApiGatewayDeployment(
            self, "deployment", provider=p, rest_api_id=self._api_id,
            triggers={"redeployment": Fn.sha1(Fn.jsonencode(redeploy_on))},
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
        )
        self.access_logs = CloudwatchLogGroup(
            self, "access-logs", provider=p,
            name=f"/aws/apigateway/{names.regional('api', region.role)}/access",
            retention_in_days=settings.log_retention_days, kms_key_id=key.arn,
        )
        self.stage = ApiGatewayStage(
            self, "stage", provider=p, rest_api_id=self._api_id, stage_name=STAGE,
            deployment_id=self.deployment.id, xray_tracing_enabled=True,
            access_log_settings=ApiGatewayStageAccessLogSettings(
                destination_arn=self.access_logs.arn, format=ACCESS_LOG_FORMAT),
            # Logging needs the account's CloudWatch role in place first.
            depends_on=[self.logging.account],
        )
        self.method_settings = ApiGatewayMethodSettings(
            self, "method-settings", provider=p, rest_api_id=self._api_id,
            stage_name=self.stage.stage_name, method_path="*/*",
            settings=ApiGatewayMethodSettingsSettings(
                metrics_enabled=True, logging_level="INFO", data_trace_enabled=False,
                throttling_burst_limit=THROTTLE_BURST, throttling_rate_limit=THROTTLE_RATE,
            ),
        )

    def _route(self, path: str, http_method: str, target: ServiceFunction, *,
               authorization: str, timeout_ms: int | None = None, **method_args):
        p = self.region.provider
        resource = ApiGatewayResource(self, f"{path}-resource", provider=p,
                                      rest_api_id=self._api_id,
                                      parent_id=self.rest_api.root_resource_id, path_part=path)
        method = ApiGatewayMethod(self, f"{path}-method", provider=p, rest_api_id=self._api_id,
                                  resource_id=resource.id, http_method=http_method,
                                  authorization=authorization, **method_args)
        integration = ApiGatewayIntegration(
            self, f"{path}-integration", provider=p, rest_api_id=self._api_id,
            resource_id=resource.id, http_method=method.http_method,
            type="AWS_PROXY", integration_http_method="POST",  # Lambda is always invoked by POST
            uri=target.function.invoke_arn, timeout_milliseconds=timeout_ms,
        )
        LambdaPermission(
            self, f"{path}-permission", provider=p, statement_id="AllowApiGatewayInvoke",
            action="lambda:InvokeFunction", function_name=target.function.function_name,
            principal="apigateway.amazonaws.com",
            source_arn=f"{self.rest_api.execution_arn}/*/{http_method}/{path}",
        )
        return resource, method, integration

    # -- metrics (AWS/ApiGateway publishes per API name and stage) ------------------------

    def _metric(self, name: str, statistic: str, period: int = 300) -> Metric:
        return Metric("AWS/ApiGateway", name, {"ApiName": self.rest_api.name, "Stage": STAGE},
                      statistic=statistic, period=period)

    def metric_count(self) -> Metric:
        return self._metric("Count", "Sum")

    def metric_4xx(self) -> Metric:
        return self._metric("4XXError", "Sum")

    def metric_5xx(self) -> Metric:
        return self._metric("5XXError", "Sum")

    def metric_latency(self, statistic: str = "p99") -> Metric:
        return self._metric("Latency", statistic, period=60)

    def metric_integration_latency(self, statistic: str = "p99") -> Metric:
        return self._metric("IntegrationLatency", statistic, period=60)

    @property
    def invoke_url(self) -> str:
        return self.stage.invoke_url

    @property
    def execute_api_host(self) -> str:
        """The API's own hostname: what health checks probe (never the failover domain)."""
        return f"{self.rest_api.id}.execute-api.{self.region.name}.amazonaws.com"


class Api(Construct):
    """Entry construct: one `RegionalApi` per region (`regional[role]`)."""

    def __init__(self, scope: Construct, id: str, *, settings: Settings, names: Names,
                 regions: RegionPair, keys: dict[str, RegionalKey],
                 compute: dict[str, RegionalCompute]):
        super().__init__(scope, id)
        self.regional = {
            r.role: RegionalApi(self, r.role, region=r, settings=settings, names=names,
                                key=keys[r.role], compute=compute[r.role])
            for r in regions
        }
