"""Serving compute: the payment validator, the health check and the /validate authorizer of
one region (`RegionalCompute`, in that region's stack).

Inputs: settings, names, one region, its key, the tables' and audit bucket's access (their
`grant_*` methods derive each role's IAM), the region's network, and the code directory.
Outputs: `.validator`, `.health`, `.authorizer` (each a `ServiceFunction`: `function`, `role`,
`log_group`, `metric_*()`), `.code` (the packaged asset) and `.signing`.

Decisions a reviewer should know about:
- Runtime python3.13 on arm64: python3.9 (the seed's) reached end of support and can no
  longer be created or updated; 3.13 is the newest runtime with a published Powertools V3
  layer for arm64, supported by Lambda until 2029. Graviton (arm64) costs ~20% less per ms.
- One `TerraformAsset` of `lambda/` (+ vendored Powertools) per regional stack, built from the
  same directories: the same zip hash in both regions (a test compares them), so the DR region
  never runs other code than the primary after a deploy of both stacks.
- Both functions are invoked synchronously by API Gateway (proxy integration): an async DLQ
  or on-failure destination would never receive anything, so none is configured; the caller
  gets the error and both functions have CloudWatch `Errors` alarms (modules/monitoring.py).
- Signed code (modules/signing.py): each region uploads the zip, signs it with its own
  AWS Signer profile and deploys the signed object; a code signing config with `Enforce`
  rejects anything else. Lambda also checks every *layer* against the allowed profiles, and
  the public Powertools layer is not signed by ours, so Powertools (with the X-Ray SDK) is
  bundled into the package instead (`scripts/vendor_lambda_deps.py`, exact versions and
  hashes from Pipfile.lock, arm64 / CPython 3.13 wheels).
- Private functions: given the region's network, validator, health and the authorizer run
  in its private subnets with the function security group (egress: HTTPS to the S3 and
  DynamoDB gateway endpoints and the interface endpoints only). The authorizer holds every
  client's key, so it has no internet egress: it reads the client-keys secret through the
  Secrets Manager interface endpoint (modules/network.py) and writes nonces through the
  DynamoDB gateway endpoint. Lambda's Hyperplane interfaces are created once per
  subnet/security group pair when the function is created or its VPC settings change, not
  per cold start. The probe (modules/probes.py) must reach the other region's public
  endpoint, so it stays outside.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import weakref
import zipfile
from pathlib import Path
from typing import TypedDict

from cdktf import App, AssetType, TerraformAsset
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.data_aws_ssm_parameter import DataAwsSsmParameter
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.lambda_function import (
    LambdaFunction,
    LambdaFunctionEnvironment,
    LambdaFunctionLoggingConfig,
    LambdaFunctionTracingConfig,
    LambdaFunctionVpcConfig,
)
from constructs import Construct

from contract import (
    AUTHORIZER_SERVICE,
    ENV_AUDIT_BUCKET,
    ENV_CLIENT_KEYS_REQUIRE_EXPIRY,
    ENV_CLIENT_KEYS_SECRET,
    ENV_FAILOVER_DOMAIN_NAME,
    ENV_HEALTH_SEARCH_STRING,
    ENV_IDEMPOTENCY_TABLE,
    ENV_KMS_KEY_ARN,
    ENV_MAX_AMOUNT,
    ENV_MAX_CLOCK_SKEW_SECONDS,
    ENV_METRICS_NAMESPACE,
    ENV_NONCE_KEY_ATTRIBUTE,
    ENV_NONCE_TABLE,
    ENV_NONCE_TTL_ATTRIBUTE,
    ENV_REGION_ROLE,
    ENV_TRANSACTIONS_CONSISTENCY_MODE,
    ENV_TRANSACTIONS_TABLE,
    HEALTH_SEARCH_STRING,
    IDEMPOTENCY_KEY_ATTRIBUTE,
    IDEMPOTENCY_TTL_ATTRIBUTE,
    METRICS_NAMESPACE,
    POWERTOOLS_LAYER_PARAMETER,
    VALIDATOR_SERVICE,
)
from contract import (
    LAMBDA_ARCHITECTURE as ARCHITECTURE,
)
from contract import (
    LAMBDA_RUNTIME as RUNTIME,
)
from modules.client_keys import AUTHORIZER, client_keys_secret_name
from modules.client_keys import grant_read as client_keys_grant_read
from modules.iam import Statement, assume_role_policy, function_role_name, policy_document, statement
from modules.keys import RegionalKey
from modules.metrics import Metric
from modules.naming import Names
from modules.network import RegionalNetwork
from modules.regions import Region
from modules.settings import Settings
from modules.signing import RegionalCodeSigning
from modules.storage import AuditBucket
from modules.tables import TableAccess

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_DIR = ROOT / "lambda"
# Shipped next to the handlers (importable as `contract`): the functions read the same
# cross-boundary facts (metric names, formats, prefixes) as modules/ and drctl/.
CONTRACT_FILE = ROOT / "contract.py"
# Powertools and its dependencies for the Lambda platform (scripts/vendor_lambda_deps.py).
VENDOR_DIR = ROOT / "build" / "lambda-vendor"
# contract.POWERTOOLS_VERSION is the release the tests run against (Pipfile pins it; a test
# checks they agree). Signed packages bundle exactly the locked release
# (scripts/vendor_lambda_deps.py); only the unsigned fallback (vendor_dir=None) reads this
# release's public layer ARN from its SSM parameter (contract.POWERTOOLS_LAYER_PARAMETER).
MAX_AMOUNT = "1000000.00"

VALIDATOR = "validator"
HEALTH = "health"
VALIDATOR_MEMORY_MB = 512
# Below API Gateway's 29 s integration limit with room to spare: the function budgets each
# AWS call from its remaining time (lambda/payments/clients.py), so a slow dependency ends
# in a known outcome before API Gateway would answer 504 on its own.
VALIDATOR_TIMEOUT_S = 10
# Route 53 wants a 2xx within 2 s of connecting; the probe bounds itself at 1.2 s. Init builds
# three clients (~250 ms of CPU): Lambda's CPU share grows with memory, hence 1024 MB.
HEALTH_MEMORY_MB = 1024
HEALTH_TIMEOUT_S = 3
# The health check gets a small reservation of its own (when reservations are on) so a
# validator traffic spike can never throttle it and fail the region over by mistake.
HEALTH_RESERVED_CONCURRENCY = 5
AUTHORIZER_HANDLER = "authorizer.lambda_handler"
# Verifies an HMAC signature and records the nonce: two small AWS calls (cached key set).
AUTHORIZER_MEMORY_MB = 256
AUTHORIZER_TIMEOUT_S = 10


class SharedPackage(TypedDict):
    """What every function of one region shares: where it runs and the package it runs."""

    region: Region
    key: RegionalKey
    settings: Settings
    code: FunctionCode
    layer_arn: str | None
    signing: RegionalCodeSigning | None


# Every zip entry gets this time and these permissions: the package's bytes (and so its asset
# hash, the S3 key, the signing job and the 12 functions' code) depend only on the files'
# names and contents, never on the checkout's path, clock, umask or file system order.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
ZIP_FILE_MODE = 0o644
ZIP_ARCHIVE = "archive.zip"
# zlib's default: within 1 % of level 9's size in a third of the time.
ZIP_LEVEL = 6
_WRITTEN: dict[Path, str] = {}     # archive -> fingerprint of what it holds (this process)
# package folder -> (the app, its inputs) it was last assembled for: both regional stacks of
# one app share the folder, so the second needs no copy (~0.4 s); another app assembles again.
# A weak reference: finished apps (the suite makes dozens) are not kept alive by this map.
_ASSEMBLED: dict[Path, tuple[weakref.ref[App], Path, Path | None, Path]] = {}


class FunctionCode(Construct):
    """The `lambda/` directory as one zip; its hash covers every file, so any change redeploys.

    `vendor_dir`: third-party packages to bundle next to the code (the package then needs no
    layer); they are copied with `source_dir` and `contract_file` (as `contract.py`, which the
    handlers import) into `package_dir`, which is what gets zipped.
    The zip is written here, reproducibly (`write_zip`), and handed to cdktf as a file: its
    own archiver stores each file's mtime and mode, so every checkout made a new package.
    """

    def __init__(self, scope: Construct, id: str, *, source_dir: Path = LAMBDA_DIR,
                 vendor_dir: Path | None = None, package_dir: Path | None = None,
                 contract_file: Path = CONTRACT_FILE):
        super().__init__(scope, id)
        source_dir = Path(source_dir).resolve()
        if not source_dir.is_dir():
            raise FileNotFoundError(f"function code directory {source_dir} does not exist")
        # Inside this app's output folder: parallel synths never share a package folder,
        # and both regional stacks assemble the same files (the same hash).
        package_dir = Path(package_dir or Path(App.of(self).outdir).resolve() / "lambda-package")
        app, vendor = App.of(self), Path(vendor_dir).resolve() if vendor_dir is not None else None
        contract_file = Path(contract_file).resolve()
        done = _ASSEMBLED.get(package_dir)
        if done is None or done[0]() is not app or done[1:] != (source_dir, vendor, contract_file):
            _assemble(source_dir, vendor, package_dir, contract_file)
            _ASSEMBLED[package_dir] = (weakref.ref(app), source_dir, vendor, contract_file)
        archive = write_zip(package_dir, package_dir.with_name(f"{package_dir.name}-zip") / ZIP_ARCHIVE,
                            skip_bytecode=vendor_dir is None)
        self.archive = archive
        self.asset = TerraformAsset(self, "asset", path=str(archive), type=AssetType.FILE)

    @property
    def path(self) -> str:
        return self.asset.path

    @property
    def hash(self) -> str:
        return self.asset.asset_hash


# (package folder, app output folder, fingerprint of the inputs) -> (archive, hash): one package
# per app, however many stacks use it; changed inputs (another fingerprint) are packaged again.
_PACKAGED: dict[tuple[Path, Path, str], tuple[Path, str]] = {}






def _assemble(source_dir: Path, vendor_dir: Path | None, package_dir: Path,
              contract_file: Path) -> Path:
    if vendor_dir is not None and not (vendor_dir / "aws_lambda_powertools").is_dir():
        raise FileNotFoundError(
            f"{vendor_dir} has no aws_lambda_powertools: run `scripts/vendor_lambda_deps.py` "
            "(`make setup` does) to download the pinned Powertools wheels for Lambda")
    if package_dir.exists():
        shutil.rmtree(package_dir)
    # The vendored tree keeps its precompiled CPython 3.13 bytecode (see the vendor script:
    # Lambda cannot write __pycache__ at run time); our own code ships as source only.
    if vendor_dir is not None:
        shutil.copytree(vendor_dir, package_dir, ignore=shutil.ignore_patterns(".vendored"))
    shutil.copytree(source_dir, package_dir, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copyfile(contract_file, package_dir / "contract.py")
    _drop_unshipped_records(package_dir)
    return package_dir


def _drop_unshipped_records(package_dir: Path) -> None:
    """A wheel's RECORD lists what pip installed, including its console scripts outside the
    target (`../../bin/jp.py`), whose hash covers the shebang pip wrote: the path of the
    interpreter that ran the vendoring, i.e. the checkout. The scripts are not shipped, so
    their lines go; every line left names a file in the package."""
    for record in sorted(package_dir.glob("*.dist-info/RECORD")):
        lines = record.read_text().splitlines(keepends=True)
        kept = [line for line in lines
                if _ships(package_dir, next(csv.reader([line]), [""])[0])]
        if kept != lines:
            record.write_text("".join(kept))


def _ships(package_dir: Path, name: str) -> bool:
    target = (package_dir / name).resolve()
    return target.is_relative_to(package_dir.resolve()) and target.is_file()


def write_zip(source_dir: Path, archive: Path, *, skip_bytecode: bool = False) -> Path:
    """`source_dir` as a zip whose bytes depend only on file names and contents: entries in
    sorted order, one fixed time, mode 0644, no directory entries. `skip_bytecode` leaves
    out `__pycache__` (our own code ships as source; an assembled package already holds
    only the vendored bytecode)."""
    files = []
    for folder, dirs, names in os.walk(source_dir):
        if skip_bytecode:
            dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in names:
            path = Path(folder, name)
            if path.is_file() and not (skip_bytecode and name.endswith(".pyc")):
                files.append((path.relative_to(source_dir).as_posix(), path))
    contents = [(relative, path.read_bytes()) for relative, path in sorted(files)]
    fingerprint = hashlib.sha256(b"".join(
        relative.encode() + b"\0" + data + b"\0" for relative, data in contents)).hexdigest()
    if _WRITTEN.get(archive) == fingerprint and archive.is_file():
        return archive          # the other regional stack's package, already written
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w") as out:
        for relative, data in contents:
            info = zipfile.ZipInfo(relative, date_time=ZIP_DATE_TIME)
            info.external_attr = (0o100000 | ZIP_FILE_MODE) << 16
            info.create_system = 3      # Unix, so the mode above is what unzip applies
            info.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(info, data, compresslevel=ZIP_LEVEL)
    partial.replace(archive)
    _WRITTEN[archive] = fingerprint
    return archive


class ServiceFunction(Construct):
    """One function with its own role, log group (retention + region key) and X-Ray tracing."""

    def __init__(self, scope: Construct, id: str, *, region: Region, key: RegionalKey,
                 settings: Settings, function_name: str, handler: str, memory_mb: int,
                 timeout_s: int, reserved_concurrency: int, environment: dict[str, str],
                 grants: list[Statement], code: FunctionCode, layer_arn: str | None,
                 signing: RegionalCodeSigning | None = None,
                 network: RegionalNetwork | None = None):
        super().__init__(scope, id)
        p = region.provider
        # Created before the function, so Lambda never auto-creates an unencrypted,
        # never-expiring group of the same name.
        self.log_group = CloudwatchLogGroup(
            self, "logs", provider=p, name=f"/aws/lambda/{function_name}",
            retention_in_days=settings.log_retention_days, kms_key_id=key.arn,
        )
        # No aws:SourceAccount condition: Lambda does not send it when assuming execution roles.
        self.role = IamRole(self, "role", provider=p, name=function_role_name(function_name),
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
                *(network.grant_function_network_interfaces() if network else []),
            ]),
        )
        if signing:
            # The signed object's key changes with every signing job, which redeploys.
            s3_bucket: str | None = signing.s3_bucket
            s3_key: str | None = signing.s3_key
            code_signing_config_arn: str | None = signing.code_signing_config_arn
            filename = source_code_hash = None
        else:
            s3_bucket = s3_key = code_signing_config_arn = None
            filename, source_code_hash = code.path, code.hash
        vpc = None
        if network:
            vpc = LambdaFunctionVpcConfig(
                subnet_ids=[s.id for s in network.subnets],
                security_group_ids=[network.function_security_group.id])
        self.function = LambdaFunction(
            self, "function", provider=p, function_name=function_name,
            role=self.role.arn, handler=handler, runtime=RUNTIME, architectures=[ARCHITECTURE],
            s3_bucket=s3_bucket, s3_key=s3_key, code_signing_config_arn=code_signing_config_arn,
            filename=filename, source_code_hash=source_code_hash, vpc_config=vpc,
            memory_size=memory_mb, timeout=timeout_s,
            reserved_concurrent_executions=reserved_concurrency,
            layers=[layer_arn] if layer_arn else None,
            environment=LambdaFunctionEnvironment(variables={
                **environment, **({} if settings.tracing else {"POWERTOOLS_TRACE_DISABLED": "true"})}),
            kms_key_arn=key.arn,
            # Dev profile: no X-Ray (PassThrough: no segment of its own, and the stage does
            # not sample), so no X-Ray endpoint either; Powertools' Tracer is switched off.
            tracing_config=LambdaFunctionTracingConfig(
                mode="Active" if settings.tracing else "PassThrough"),
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
    """The functions of one region, wired to that region's data only."""

    def __init__(self, scope: Construct, id: str, *, region: Region, settings: Settings,
                 names: Names, key: RegionalKey, tables: TableAccess, audit: AuditBucket,
                 network: RegionalNetwork | None = None, code_dir: Path = LAMBDA_DIR,
                 vendor_dir: Path | None = VENDOR_DIR):
        super().__init__(scope, id)
        # Signed packages bundle Powertools; without vendor_dir the public layer is used
        # and the code is not signed (Lambda would reject the unsigned layer).
        self.code = code = FunctionCode(self, "code", source_dir=code_dir, vendor_dir=vendor_dir)
        base_env = {
            ENV_TRANSACTIONS_TABLE: tables.transactions_name,
            ENV_IDEMPOTENCY_TABLE: tables.idempotency_name,
            ENV_AUDIT_BUCKET: audit.name,
            ENV_REGION_ROLE: region.role,
            ENV_MAX_AMOUNT: MAX_AMOUNT,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            ENV_METRICS_NAMESPACE: METRICS_NAMESPACE,
            # payments.settings reads these for every payment function (validator, health,
            # reconcile); STRONG: the health read of the transactions table is consistent.
            ENV_HEALTH_SEARCH_STRING: HEALTH_SEARCH_STRING, ENV_KMS_KEY_ARN: key.arn,
            ENV_TRANSACTIONS_CONSISTENCY_MODE: settings.transactions_consistency,
            # In DR, a payment through this name arms the failback hold (lambda/ops/hold.py);
            # through the regional name it does not (only the validator acts on it).
            ENV_FAILOVER_DOMAIN_NAME: settings.domain_name,
        }
        # What payments.settings reads: the reconcile job (modules/jobs.py) gets it too.
        self.payment_environment = dict(base_env)
        reserved = settings.lambda_reserved_concurrency
        self.signing: RegionalCodeSigning | None = None
        self.powertools_layer = None
        if vendor_dir is not None:
            # Powertools is bundled in the package (see module docstring): no layer.
            self.signing = RegionalCodeSigning(self, "signing", region=region, names=names,
                                               code=code, force_destroy=settings.is_dev_profile)
            self.layer_arn: str | None = None
        else:
            # Public parameter in this region: a String, so its value is not sensitive.
            self.powertools_layer = DataAwsSsmParameter(
                self, "powertools-layer", provider=region.provider,
                name=POWERTOOLS_LAYER_PARAMETER)
            self.layer_arn = self.powertools_layer.insecure_value
        self._common = common = SharedPackage(region=region, key=key, settings=settings, code=code,
                                              layer_arn=self.layer_arn, signing=self.signing)
        self.validator = ServiceFunction(
            self, VALIDATOR, **common, network=network,
            function_name=names.function(VALIDATOR, region.role),
            handler="validator.lambda_handler",
            memory_mb=VALIDATOR_MEMORY_MB, timeout_s=VALIDATOR_TIMEOUT_S,
            reserved_concurrency=reserved,
            environment={**base_env, "POWERTOOLS_SERVICE_NAME": VALIDATOR_SERVICE},
            grants=[*tables.grant_transactions_write(), *tables.grant_idempotency(),
                    *audit.grant_receipts_write()],
        )
        self.health = ServiceFunction(
            self, HEALTH, **common, network=network,
            function_name=names.function(HEALTH, region.role),
            handler="health.lambda_handler",
            memory_mb=HEALTH_MEMORY_MB, timeout_s=HEALTH_TIMEOUT_S,
            reserved_concurrency=-1 if reserved == -1 else HEALTH_RESERVED_CONCURRENCY,
            environment={**base_env, "POWERTOOLS_SERVICE_NAME": "payment-health"},
            # Every dependency a payment needs: both tables, the receipts bucket, the key.
            grants=[*tables.grant_health_read(), *audit.grant_health_probe(),
                    statement(f"HealthDescribeKey{region.role.title()}", ["kms:DescribeKey"],
                              [key.arn])],
        )
        # The REQUEST authorizer of POST /validate (modules/api.py): per-client keys from the
        # replicated client-keys secret of this region, nonces in this region's idempotency
        # table. Outside the VPC (see module docstring).
        self.authorizer = ServiceFunction(
            self, AUTHORIZER, **common, network=network,
            function_name=names.function(AUTHORIZER, region.role),
            handler=AUTHORIZER_HANDLER,
            memory_mb=AUTHORIZER_MEMORY_MB, timeout_s=AUTHORIZER_TIMEOUT_S,
            reserved_concurrency=-1,
            environment={
                ENV_REGION_ROLE: region.role,
                ENV_CLIENT_KEYS_SECRET: client_keys_secret_name(names),
                # Keys without a notAfter (the format before key expiry) are refused in
                # prod-like environments (docs/calling-the-api.md, runbook section 9).
                ENV_CLIENT_KEYS_REQUIRE_EXPIRY: "true" if settings.is_prod_like else "false",
                ENV_NONCE_TABLE: tables.idempotency_name,
                ENV_NONCE_KEY_ATTRIBUTE: IDEMPOTENCY_KEY_ATTRIBUTE,
                ENV_NONCE_TTL_ATTRIBUTE: IDEMPOTENCY_TTL_ATTRIBUTE,
                ENV_MAX_CLOCK_SKEW_SECONDS: "300",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                ENV_METRICS_NAMESPACE: METRICS_NAMESPACE,
                "POWERTOOLS_SERVICE_NAME": AUTHORIZER_SERVICE,
            },
            grants=[*client_keys_grant_read(region, names, key_arn=key.arn),
                    *tables.grant_nonce_write()],
        )
        self.functions = {VALIDATOR: self.validator, HEALTH: self.health,
                          AUTHORIZER: self.authorizer}

    def service_function(self, scope: Construct, id: str, *, function_name: str, handler: str,
                         memory_mb: int, timeout_s: int, reserved_concurrency: int,
                         environment: dict[str, str], grants: list[Statement],
                         network: RegionalNetwork | None) -> ServiceFunction:
        """A function of this region from the same signed package (and layer or signing) as
        the validator: other tiers' functions (probe, heartbeat, reconcile) come from here."""
        return ServiceFunction(
            scope, id, **self._common, function_name=function_name, handler=handler,
            memory_mb=memory_mb, timeout_s=timeout_s, reserved_concurrency=reserved_concurrency,
            environment=environment, grants=grants, network=network)
