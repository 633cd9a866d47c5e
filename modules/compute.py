"""Serving compute: the payment validator and the health check, one pair per region.

Inputs: settings, names, one region, its key, the tables' and audit bucket's access (their
`grant_*` methods derive each role's IAM), and the code directory (default `lambda/`).
Outputs: `RegionalCompute.validator` / `.health` (a `ServiceFunction`: `function`, `role`,
`log_group`, `metric_*()`) and `.code` (the packaged asset).

Decisions a reviewer should know about:
- Runtime python3.13 on arm64: python3.9 (the seed's) reached end of support and can no
  longer be created or updated; 3.13 is the newest runtime with a published Powertools V3
  layer for arm64, supported by Lambda until 2029. Graviton (arm64) costs ~20% less per ms.
- One `TerraformAsset` of `lambda/` per regional stack, built from the same directory: the
  same zip hash in both regions (a test compares them), so the DR region never runs other
  code than the primary after a deploy of both stacks.
- Both functions are invoked synchronously by API Gateway (proxy integration): an async DLQ
  or on-failure destination would never receive anything, so none is configured; the caller
  gets the error and both functions have CloudWatch `Errors` alarms (modules/monitoring.py).
- Functions stay outside the VPC: they call only DynamoDB, S3 and X-Ray public endpoints and
  the VPC has no NAT by design. Code signing is out of scope. Both are checkov suppressions.
"""

from __future__ import annotations

from pathlib import Path

from constructs import Construct
from cdktf import AssetType, TerraformAsset
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.data_aws_ssm_parameter import DataAwsSsmParameter
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.lambda_function import (
    LambdaFunction,
    LambdaFunctionEnvironment,
    LambdaFunctionLoggingConfig,
    LambdaFunctionTracingConfig,
)

from modules.client_keys import ENV_CLIENT_KEYS_SECRET, client_keys_secret_name
from modules.client_keys import grant_read as client_keys_grant_read
from modules.iam import assume_role_policy, policy_document, statement
from modules.keys import RegionalKey
from modules.metrics import Metric
from modules.naming import Names
from contract import (
    HEALTH_SEARCH_STRING,
    LAMBDA_ARCHITECTURE as ARCHITECTURE,
    LAMBDA_RUNTIME as RUNTIME,
    METRICS_NAMESPACE,
    POWERTOOLS_LAYER_PARAMETER,
    POWERTOOLS_VERSION,
)
from modules.regions import Region
from modules.settings import Settings
from modules.storage import AuditBucket
from modules.tables import TableAccess

LAMBDA_DIR = Path(__file__).resolve().parent.parent / "lambda"
# Powertools for AWS Lambda (Python): contract.POWERTOOLS_VERSION is the release the tests run
# against (Pipfile pins the same version; tests/test_compute.py checks they agree). The public
# layer ARN of exactly this release is read per region from the SSM public parameter
# Powertools publishes for each release, so the deployed layer never drifts from the tests.
MAX_AMOUNT = "1000000.00"

VALIDATOR = "validator"
HEALTH = "health"
AUTHORIZER = "authorizer"
AUTHORIZER_HANDLER = "authorizer.lambda_handler"
# Verifies an HMAC signature and records the nonce: two small AWS calls (cached key set).
AUTHORIZER_MEMORY_MB = 256
AUTHORIZER_TIMEOUT_S = 10
VALIDATOR_MEMORY_MB = 512
VALIDATOR_TIMEOUT_S = 30
# Route 53 health checkers give up after ~4 s (connect + 2 s to first byte), so a health
# answer slower than that is already a failure: 5 s bounds cost and stuck invocations.
HEALTH_MEMORY_MB = 256
HEALTH_TIMEOUT_S = 5
# The health check gets a small reservation of its own (when reservations are on) so a
# validator traffic spike can never throttle it and fail the region over by mistake.
HEALTH_RESERVED_CONCURRENCY = 5



class FunctionCode(Construct):
    """The `lambda/` directory as one zip; its hash covers every file, so any change redeploys."""

    def __init__(self, scope: Construct, id: str, *, source_dir: Path = LAMBDA_DIR):
        super().__init__(scope, id)
        source_dir = Path(source_dir).resolve()
        if not source_dir.is_dir():
            raise FileNotFoundError(f"function code directory {source_dir} does not exist")
        self.asset = TerraformAsset(self, "asset", path=str(source_dir), type=AssetType.ARCHIVE)

    @property
    def path(self) -> str:
        return self.asset.path

    @property
    def hash(self) -> str:
        return self.asset.asset_hash


class ServiceFunction(Construct):
    """One function with its own role, log group (retention + region key) and X-Ray tracing."""

    def __init__(self, scope: Construct, id: str, *, region: Region, key: RegionalKey,
                 settings: Settings, function_name: str, handler: str, memory_mb: int,
                 timeout_s: int, reserved_concurrency: int, environment: dict[str, str],
                 grants: list[dict], code: FunctionCode, layer_arn: str):
        super().__init__(scope, id)
        p = region.provider
        # Created before the function, so Lambda never auto-creates an unencrypted,
        # never-expiring group of the same name.
        self.log_group = CloudwatchLogGroup(
            self, "logs", provider=p, name=f"/aws/lambda/{function_name}",
            retention_in_days=settings.log_retention_days, kms_key_id=key.arn,
        )
        # No aws:SourceAccount condition: Lambda does not send it when assuming execution roles.
        self.role = IamRole(self, "role", provider=p, name=f"{function_name}-role",
                            assume_role_policy=assume_role_policy("lambda.amazonaws.com"))
        self.policy = IamRolePolicy(
            self, "policy", provider=p, role=self.role.id, name="least-privilege",
            policy=policy_document([
                statement("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"],
                          [f"{self.log_group.arn}:*"]),
                # X-Ray trace APIs support no resource-level permissions: "*" is the only
                # resource AWS accepts here (the actions stay exactly these two).
                statement("XRayTraces", ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"]),
                # Environment variables are encrypted with the region key; Lambda decrypts
                # them with the execution role's permission.
                statement("DecryptEnvironment", ["kms:Decrypt"], [key.arn],
                          condition={"StringEquals": {
                              "kms:ViaService": f"lambda.{region.name}.amazonaws.com"}}),
                *grants,
            ]),
        )
        self.function = LambdaFunction(
            self, "function", provider=p, function_name=function_name,
            role=self.role.arn, handler=handler, runtime=RUNTIME, architectures=[ARCHITECTURE],
            filename=code.path, source_code_hash=code.hash,
            memory_size=memory_mb, timeout=timeout_s,
            reserved_concurrent_executions=reserved_concurrency,
            layers=[layer_arn],
            environment=LambdaFunctionEnvironment(variables=environment),
            kms_key_arn=key.arn,
            tracing_config=LambdaFunctionTracingConfig(mode="Active"),
            logging_config=LambdaFunctionLoggingConfig(log_format="JSON",
                                                       log_group=self.log_group.name),
            # Both are invoked synchronously by API Gateway: there is no async event to
            # dead-letter, so no DLQ (see module docstring).
            depends_on=[self.policy],
        )

    def _metric(self, name: str, statistic: str, period: int = 300) -> Metric:
        return Metric("AWS/Lambda", name, {"FunctionName": self.function.function_name},
                      statistic=statistic, period=period)

    def metric_errors(self) -> Metric:
        return self._metric("Errors", "Sum")

    def metric_throttles(self) -> Metric:
        return self._metric("Throttles", "Sum")

    def metric_duration(self, statistic: str = "p99") -> Metric:
        return self._metric("Duration", statistic, period=60)

    def metric_concurrency(self) -> Metric:
        return self._metric("ConcurrentExecutions", "Maximum", period=60)


class RegionalCompute(Construct):
    """The validator and the health check of one region, wired to that region's data only."""

    def __init__(self, scope: Construct, id: str, *, region: Region, settings: Settings,
                 names: Names, key: RegionalKey, tables: TableAccess, audit: AuditBucket,
                 code_dir: Path = LAMBDA_DIR):
        super().__init__(scope, id)
        self.code = code = FunctionCode(self, "code", source_dir=code_dir)
        base_env = {
            "TRANSACTIONS_TABLE": tables.transactions_name,
            "IDEMPOTENCY_TABLE": tables.idempotency_name,
            "AUDIT_BUCKET": audit.name,
            "REGION_ROLE": region.role,
            "MAX_AMOUNT": MAX_AMOUNT,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        }
        reserved = settings.lambda_reserved_concurrency
        # Public parameter in this region: a String, so its value is not sensitive.
        self.powertools_layer = DataAwsSsmParameter(
            self, "powertools-layer", provider=region.provider, name=POWERTOOLS_LAYER_PARAMETER)
        common = dict(region=region, key=key, settings=settings, code=code,
                      layer_arn=self.powertools_layer.insecure_value)
        self.validator = ServiceFunction(
            self, VALIDATOR, **common,
            function_name=names.function(VALIDATOR, region.role),
            handler="validator.lambda_handler",
            memory_mb=VALIDATOR_MEMORY_MB, timeout_s=VALIDATOR_TIMEOUT_S,
            reserved_concurrency=reserved,
            environment={**base_env, "POWERTOOLS_SERVICE_NAME": "payment-validator"},
            grants=[*tables.grant_transactions_write(), *tables.grant_idempotency(),
                    *audit.grant_receipts_write()],
        )
        self.health = ServiceFunction(
            self, HEALTH, **common,
            function_name=names.function(HEALTH, region.role),
            handler="health.lambda_handler",
            memory_mb=HEALTH_MEMORY_MB, timeout_s=HEALTH_TIMEOUT_S,
            reserved_concurrency=-1 if reserved == -1 else HEALTH_RESERVED_CONCURRENCY,
            environment={**base_env, "POWERTOOLS_SERVICE_NAME": "payment-health",
                         "HEALTH_SEARCH_STRING": HEALTH_SEARCH_STRING},
            grants=tables.grant_transactions_health_read(),
        )
        # The REQUEST authorizer of POST /validate (modules/api.py): per-client keys from the
        # replicated client-keys secret of this region, nonces in this region's idempotency table.
        self.authorizer = ServiceFunction(
            self, AUTHORIZER, **common,
            function_name=names.function(AUTHORIZER, region.role),
            handler=AUTHORIZER_HANDLER,
            memory_mb=AUTHORIZER_MEMORY_MB, timeout_s=AUTHORIZER_TIMEOUT_S,
            reserved_concurrency=-1,
            environment={
                "REGION_ROLE": region.role,
                ENV_CLIENT_KEYS_SECRET: client_keys_secret_name(names),
                "NONCE_TABLE": tables.idempotency_name,
                "NONCE_KEY_ATTRIBUTE": "id",
                "NONCE_TTL_ATTRIBUTE": "expiration",
                "MAX_CLOCK_SKEW_SECONDS": "300",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_SERVICE_NAME": "payments-authorizer",
            },
            grants=[*client_keys_grant_read(region, names, key_arn=key.arn),
                    *tables.grant_nonce_write()],
        )
        self.functions = {VALIDATOR: self.validator, HEALTH: self.health,
                          AUTHORIZER: self.authorizer}
