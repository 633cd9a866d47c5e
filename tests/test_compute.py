"""Validator and health functions per region: runtime, packaging, environment, least privilege."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import one, ref, resources

ROLES = (("primary", "us-east-1"), ("dr", "us-east-2"))
PURPOSES = ("validator", "health")


def _fn(platform, role, purpose):
    return one(platform, "aws_lambda_function", role, f"compute-{role}/{purpose}/function")


def _policy(platform, role, purpose) -> list[dict]:
    _, policy = one(platform, "aws_iam_role_policy", role, f"compute-{role}/{purpose}/policy")
    return json.loads(policy["policy"])["Statement"]


def test_each_region_has_both_functions_on_its_own_provider(platform):
    # validator, health, the /validate authorizer, and the probe, heartbeat and reconcile jobs
    assert len(resources(platform, "aws_lambda_function")) == 12
    for role, _ in ROLES:
        for purpose in PURPOSES:
            _, fn = _fn(platform, role, purpose)
            assert fn["provider"] == f"aws.{role}"
            assert fn["function_name"] == f"payment-{purpose}-{role}-dev"
            assert fn["handler"] == f"{purpose}.lambda_handler"
            assert fn["runtime"] == "python3.13"
            assert fn["architectures"] == ["arm64"]
            # The default synth is the dev profile: no X-Ray (README: cost profiles).
            assert fn["tracing_config"] == {"mode": "PassThrough"}
            assert fn["environment"]["variables"]["POWERTOOLS_TRACE_DISABLED"] == "true"


def test_the_standard_profile_traces_every_function(standard_platform):
    for fn in resources(standard_platform, "aws_lambda_function").values():
        assert fn["tracing_config"] == {"mode": "Active"}
        assert "POWERTOOLS_TRACE_DISABLED" not in fn["environment"]["variables"]


def test_sizes_and_timeouts(platform):
    for role, _ in ROLES:
        _, validator = _fn(platform, role, "validator")
        _, health = _fn(platform, role, "health")
        # Below API Gateway's 29 s integration limit: the function answers before it would.
        assert (validator["memory_size"], validator["timeout"]) == (512, 10)
        # Route 53 wants an answer within 2 s of connecting; init CPU grows with memory.
        assert (health["memory_size"], health["timeout"]) == (1024, 3)


def test_reserved_concurrency_is_opt_in(platform, tuned_platform):
    """A new account's quota (often 10, of which Lambda keeps 10 unreserved) fits the default."""
    for role, _ in ROLES:
        for purpose in PURPOSES:
            assert _fn(platform, role, purpose)[1]["reserved_concurrent_executions"] == -1
    reserved = tuned_platform  # LAMBDA_RESERVED_CONCURRENCY=50
    for role, _ in ROLES:
        assert _fn(reserved, role, "validator")[1]["reserved_concurrent_executions"] == 50
        assert 1 <= _fn(reserved, role, "health")[1]["reserved_concurrent_executions"] <= 10


def test_both_regions_sign_the_same_asset_and_deploy_their_own_signed_copy(platform):
    uploads = {role: one(platform, "aws_s3_object", role, f"compute-{role}/signing/unsigned")
               for role, _ in ROLES}
    # Each regional stack packages its own copy; the content hash names the object.
    keys = {u["key"] for _, u in uploads.values()}
    assert len(keys) == 1, "both regions must ship the same zip"
    [key] = keys
    assert all(u["source"].startswith("assets/") and u["source"].endswith(".zip")
               for _, u in uploads.values())
    assert key.startswith("unsigned/") and key.endswith(".zip")
    for role, _ in ROLES:
        job_name, _ = one(platform, "aws_signer_signing_job", role)
        for purpose in PURPOSES:
            _, fn = _fn(platform, role, purpose)
            assert "filename" not in fn and "source_code_hash" not in fn
            assert fn["s3_bucket"] == f"${{aws_signer_signing_job.{job_name}.signed_object[0].s3[0].bucket}}"
            assert fn["s3_key"] == f"${{aws_signer_signing_job.{job_name}.signed_object[0].s3[0].key}}"


def test_a_code_change_changes_the_asset_hash(tmp_path):
    from cdktf import App, TerraformStack

    from modules.compute import FunctionCode

    source = tmp_path / "code"
    source.mkdir()
    (source / "validator.py").write_text("def lambda_handler(event, context):\n    return 1\n")

    def asset_hash() -> str:
        stack = TerraformStack(App(outdir=str(tmp_path / "out")), "s")
        return FunctionCode(stack, "code", source_dir=source).hash

    before = asset_hash()
    assert asset_hash() == before  # deterministic
    (source / "validator.py").write_text("def lambda_handler(event, context):\n    return 2\n")
    assert asset_hash() != before


def test_the_package_ships_the_contract_and_a_contract_change_redeploys(tmp_path):
    """The handlers import `contract` from the package root (the unsigned fallback too)."""
    import zipfile

    from cdktf import App, TerraformStack

    from modules.compute import CONTRACT_FILE, FunctionCode

    source, contract_file = tmp_path / "code", tmp_path / "contract.py"
    source.mkdir()
    (source / "validator.py").write_text("import contract\n")
    contract_file.write_bytes(CONTRACT_FILE.read_bytes())

    def package() -> tuple[str, bytes]:
        app = App(outdir=str(tmp_path / "out"))
        code = FunctionCode(TerraformStack(app, "s"), "code", source_dir=source,
                            contract_file=contract_file)
        with zipfile.ZipFile(code.archive) as zipped:
            return code.hash, zipped.read("contract.py")

    before, shipped = package()
    assert shipped == CONTRACT_FILE.read_bytes()
    contract_file.write_text(CONTRACT_FILE.read_text() + "\nEXTRA = 1\n")
    assert package()[0] != before


def test_missing_code_directory_fails_loudly(tmp_path):
    from cdktf import App, TerraformStack

    from modules.compute import FunctionCode

    with pytest.raises(FileNotFoundError):
        FunctionCode(TerraformStack(App(outdir=str(tmp_path)), "s"), "code",
                     source_dir=tmp_path / "missing")


def test_signed_functions_use_no_layer_and_bundle_the_tested_powertools(platform, synth_stacks):
    # Enforced code signing rejects layers not signed by our profile (the public
    # Powertools layer is not), so Powertools ships inside the signed package.
    import zipfile

    from helpers import data_sources

    assert data_sources(platform, "aws_ssm_parameter") == {}
    for role, _ in ROLES:
        for purpose in PURPOSES:
            assert "layers" not in _fn(platform, role, purpose)[1]
    _, upload = one(platform, "aws_s3_object", "primary")
    stack_dir = synth_stacks.outdir_of() / "stacks" / "payments-dr-primary"
    names = zipfile.ZipFile(stack_dir / upload["source"]).namelist()
    assert "validator.py" in names and "health.py" in names and "payments/core.py" in names
    assert "aws_lambda_powertools-3.37.0.dist-info/METADATA" in names
    assert "aws_xray_sdk/__init__.py" in names
    assert not [n for n in names if n.endswith(".vendored")]
    # Our code ships as source; only vendored libraries carry (CPython 3.13) bytecode.
    assert not [n for n in names if "__pycache__" in n and not n.startswith(
        ("aws_lambda_powertools/", "aws_xray_sdk/", "wrapt/", "jmespath/", "__pycache__/"))]
    assert all(".cpython-313." in n for n in names if n.endswith(".pyc"))


def test_bundled_asset_hash_is_stable_and_follows_the_vendored_files(tmp_path):
    from cdktf import App, TerraformStack

    from modules.compute import FunctionCode

    source, vendor = tmp_path / "code", tmp_path / "vendor"
    (vendor / "aws_lambda_powertools").mkdir(parents=True)
    (vendor / "aws_lambda_powertools" / "__init__.py").write_text("v = 1\n")
    source.mkdir()
    (source / "validator.py").write_text("x = 1\n")

    def asset_hash(run: int) -> str:
        stack = TerraformStack(App(outdir=str(tmp_path / f"out{run}")), "s")
        return FunctionCode(stack, "code", source_dir=source, vendor_dir=vendor,
                            package_dir=tmp_path / "pkg").hash

    first = asset_hash(1)
    assert asset_hash(2) == first  # re-assembling does not change the package
    (vendor / "aws_lambda_powertools" / "__init__.py").write_text("v = 2\n")
    assert asset_hash(3) != first


def test_deployed_powertools_release_is_the_one_the_tests_use():
    from importlib.metadata import version

    from contract import POWERTOOLS_VERSION

    root = Path(__file__).resolve().parent.parent
    locked = json.loads((root / "Pipfile.lock").read_text())["develop"]["aws-lambda-powertools"]
    assert locked["version"] == f"=={POWERTOOLS_VERSION}"
    assert version("aws-lambda-powertools") == POWERTOOLS_VERSION


def test_environment_points_at_the_regions_own_data(platform):
    for role, _ in ROLES:
        bucket_name, _ = one(platform, "aws_s3_bucket", role, f"storage-{role}/audit/bucket")
        for purpose, service in (("validator", "payment-validator"), ("health", "payment-health")):
            env = _fn(platform, role, purpose)[1]["environment"]["variables"]
            key, _ = one(platform, "aws_kms_key", role, f"key-{role}")
            # payments.settings reads these in every payment function
            extra = {"HEALTH_SEARCH_STRING": "PAYMENTS_HEALTHY",
                     "KMS_KEY_ARN": ref("aws_kms_key", key, "arn"),
                     "TRANSACTIONS_CONSISTENCY_MODE": "STRONG"}
            # The validator arms the failback hold (DR) for requests API Gateway received on
            # the failover name: the same name the shared custom domain serves.
            extra["FAILOVER_DOMAIN_NAME"] = one(platform, "aws_api_gateway_domain_name", role,
                                                f"domains-{role}/shared-domain")[1]["domain_name"]
            assert env == {
                # By name: the DR stack holds no reference to the primary's tables.
                "TRANSACTIONS_TABLE": "payment-transactions-dev",
                "IDEMPOTENCY_TABLE": "payment-idempotency-dev",
                "AUDIT_BUCKET": ref("aws_s3_bucket", bucket_name, "bucket"),
                "REGION_ROLE": role,
                "MAX_AMOUNT": "1000000.00",
                "POWERTOOLS_SERVICE_NAME": service,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                "POWERTOOLS_METRICS_NAMESPACE": "PaymentsDR",
                "POWERTOOLS_TRACE_DISABLED": "true",  # the dev profile
                **extra,
            }


def test_log_groups_are_explicit_encrypted_and_retained(platform):
    for role, _ in ROLES:
        key_name, _ = one(platform, "aws_kms_key", role, f"key-{role}")
        for purpose in PURPOSES:
            group_name, group = one(platform, "aws_cloudwatch_log_group", role,
                                    f"compute-{role}/{purpose}/logs")
            _, fn = _fn(platform, role, purpose)
            assert group["name"] == f"/aws/lambda/payment-{purpose}-{role}-dev"
            assert group["retention_in_days"] == 14  # the dev profile (LOG_RETENTION_DAYS)
            assert group["kms_key_id"] == ref("aws_kms_key", key_name, "arn")
            assert fn["logging_config"]["log_group"] == ref("aws_cloudwatch_log_group", group_name, "name")
            assert fn["kms_key_arn"] == ref("aws_kms_key", key_name, "arn")


def test_each_function_has_its_own_role(platform):
    role_refs = set()
    for role, _ in ROLES:
        for purpose in PURPOSES:
            role_name, iam_role = one(platform, "aws_iam_role", role, f"compute-{role}/{purpose}/role")
            trust = json.loads(iam_role["assume_role_policy"])["Statement"]
            assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]
            _, fn = _fn(platform, role, purpose)
            assert fn["role"] == ref("aws_iam_role", role_name, "arn")
            _, policy = one(platform, "aws_iam_role_policy", role, f"compute-{role}/{purpose}/policy")
            assert policy["role"] == ref("aws_iam_role", role_name, "id")
            role_refs.add(fn["role"])
    assert len(role_refs) == 4  # validator and health, per region (the probe has its own too)


def test_no_wildcard_actions_and_only_xray_has_a_wildcard_resource(platform):
    for role, _ in ROLES:
        for purpose in PURPOSES:
            for st in _policy(platform, role, purpose):
                assert st["Effect"] == "Allow"
                for action in st["Action"]:
                    assert action != "*" and not action.endswith(":*"), st
                if "*" in st["Resource"]:
                    # The only APIs without resource-level permissions.
                    assert st["Action"] in (
                        ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
                        ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]), st


def test_grants_name_only_the_regions_own_tables_bucket_and_key(platform):
    for role, region in ROLES:
        other_region = dict(ROLES)["dr" if role == "primary" else "primary"]
        key_name, _ = one(platform, "aws_kms_key", role, f"key-{role}")
        other_key, _ = one(platform, "aws_kms_key", None, f"key-{'dr' if role == 'primary' else 'primary'}")
        bucket_name, _ = one(platform, "aws_s3_bucket", role, f"storage-{role}/audit/bucket")
        for purpose in PURPOSES:
            text = json.dumps(_policy(platform, role, purpose))
            assert other_region not in text
            assert other_key not in text
            for st in _policy(platform, role, purpose):
                for resource in st["Resource"]:
                    if ":dynamodb:" in resource:
                        assert f":dynamodb:{region}:" in resource
                    if resource.startswith("${aws_kms_key"):
                        assert resource == ref("aws_kms_key", key_name, "arn")
                    if resource.startswith("${aws_s3_bucket"):
                        assert resource.startswith(ref("aws_s3_bucket", bucket_name, "arn"))


def test_validator_can_write_and_health_only_probes(platform):
    for role, _ in ROLES:
        validator_actions = {a for st in _policy(platform, role, "validator") for a in st["Action"]}
        health_actions = {a for st in _policy(platform, role, "health") for a in st["Action"]}
        assert {"dynamodb:PutItem", "dynamodb:DeleteItem", "s3:PutObject",
                "xray:PutTraceSegments", "logs:PutLogEvents"} <= validator_actions
        assert {"dynamodb:DescribeTable", "dynamodb:GetItem", "xray:PutTraceSegments",
                "kms:DescribeKey"} <= health_actions
        # Health writes one short-locked probe object under health/ and nothing else in S3.
        s3 = [st for st in _policy(platform, role, "health") if any(a.startswith("s3:") for a in st["Action"])]
        assert [st["Action"] for st in s3] == [["s3:PutObject", "s3:PutObjectRetention"]]
        assert all(r.endswith("/health/*") for st in s3 for r in st["Resource"])
        assert not {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} & health_actions
        tables = [st for st in _policy(platform, role, "health") if "dynamodb:GetItem" in st["Action"]]
        assert sorted(r.rsplit("/", 1)[1] for st in tables for r in st["Resource"]) == [
            "payment-idempotency-dev", "payment-transactions-dev"]


def test_log_permissions_are_scoped_to_the_functions_own_group(platform):
    for role, _ in ROLES:
        for purpose in PURPOSES:
            group_name, _ = one(platform, "aws_cloudwatch_log_group", role,
                                f"compute-{role}/{purpose}/logs")
            [logs] = [s for s in _policy(platform, role, purpose) if s["Sid"] == "WriteOwnLogs"]
            assert logs["Resource"] == [ref("aws_cloudwatch_log_group", group_name, "arn") + ":*"]


def test_functions_have_no_dead_letter_queue(platform):
    # Synchronous API Gateway invocations never reach an async DLQ (see modules/compute.py).
    for role, _ in ROLES:
        for purpose in PURPOSES:
            _, fn = _fn(platform, role, purpose)
            assert "dead_letter_config" not in fn


def test_the_package_is_zipped_once_per_app(tmp_path, monkeypatch):
    """Both regional stacks share one zip, written once (write_zip skips a second write of the
    same files), with the same asset hash; it holds the code and the vendored tree."""
    import zipfile

    from cdktf import App, TerraformStack

    from modules import compute

    source, vendor = tmp_path / "code", tmp_path / "vendor"
    (vendor / "aws_lambda_powertools" / "sub").mkdir(parents=True)
    (vendor / "aws_lambda_powertools" / "sub" / "b.py").write_text("b = 1\n")
    (vendor / "aws_lambda_powertools" / "A.py").write_text("a = 1\n")
    (vendor / "aws_lambda_powertools" / "_c.py").write_text("c = 1\n")
    source.mkdir()
    (source / "validator.py").write_text("x = 1\n")
    writes = []
    original = zipfile.ZipFile
    monkeypatch.setattr(compute.zipfile, "ZipFile",
                        lambda path, mode="r", *a, **k: (writes.append(mode), original(path, mode, *a, **k))[1])
    app = App(outdir=str(tmp_path / "out"))
    codes = [compute.FunctionCode(TerraformStack(app, name), "code", source_dir=source, vendor_dir=vendor)
             for name in ("primary", "dr")]
    assert writes.count("w") == 1 and codes[0].hash == codes[1].hash
    app.synth()
    [archive] = (tmp_path / "out" / "stacks" / "primary").rglob("archive.zip")
    assert sorted(original(archive).namelist()) == [
        "aws_lambda_powertools/A.py", "aws_lambda_powertools/_c.py", "aws_lambda_powertools/sub/b.py",
        "contract.py", "validator.py"]
