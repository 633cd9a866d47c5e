"""Code signing per region: profile, signing job over the uploaded asset, enforced config on
every function, and nothing that crosses regions (each region's stack must stand alone)."""

from __future__ import annotations

import pytest
from helpers import one, ref, refs_in, resources

ROLES = ("primary", "dr")
PURPOSES = ("validator", "health")


def _signing(stack, role):
    return {
        "bucket": one(stack, "aws_s3_bucket", role, f"compute-{role}/signing/code-bucket/bucket"),
        "versioning": one(stack, "aws_s3_bucket_versioning", role, f"compute-{role}/signing/"),
        "upload": one(stack, "aws_s3_object", role, f"compute-{role}/signing/unsigned"),
        "profile": one(stack, "aws_signer_signing_profile", role),
        "job": one(stack, "aws_signer_signing_job", role),
        "config": one(stack, "aws_lambda_code_signing_config", role),
    }


@pytest.fixture(scope="module", params=["dev", "prod"])
def stack(request, platform, prod_platform):
    return platform if request.param == "dev" else prod_platform


def test_one_lambda_signing_profile_per_region(stack):
    for role in ROLES:
        _, profile = _signing(stack, role)["profile"]
        assert profile["platform_id"] == "AWSLambda-SHA384-ECDSA"
        # Signer never frees a cancelled profile's name: a prefix lets a stack be re-created.
        assert "name" not in profile and profile["name_prefix"].endswith(f"_{role}_")
        assert "signature_validity_period" not in profile  # Signer's 135-month default


def test_signing_job_signs_the_exact_uploaded_version_into_the_regions_bucket(stack):
    for role in ROLES:
        s = _signing(stack, role)
        bucket, upload, profile = s["bucket"][0], s["upload"][0], s["profile"][0]
        _, job = s["job"]
        assert job["profile_name"] == ref("aws_signer_signing_profile", profile, "name")
        assert job["source"]["s3"] == {
            "bucket": ref("aws_s3_bucket", bucket, "id"),
            "key": ref("aws_s3_object", upload, "key"),
            "version": ref("aws_s3_object", upload, "version_id"),
        }
        assert job["destination"]["s3"] == {"bucket": ref("aws_s3_bucket", bucket, "id"),
                                            "prefix": "signed/"}
        assert job.get("ignore_signing_job_failure") in (None, False)
        # Signer needs a version id: the upload waits for the bucket's versioning.
        _, body = s["upload"]
        assert body["bucket"] == ref("aws_s3_bucket", bucket, "id")
        assert body["depends_on"] == [f"aws_s3_bucket_versioning.{s['versioning'][0]}"]
        _, versioning = s["versioning"]
        assert versioning["versioning_configuration"]["status"] == "Enabled"


def test_code_signing_config_enforces_this_regions_profile_on_every_function(stack):
    for role in ROLES:
        s = _signing(stack, role)
        config_name, config = s["config"]
        assert config["policies"] == {"untrusted_artifact_on_deployment": "Enforce"}
        assert config["allowed_publishers"]["signing_profile_version_arns"] == [
            ref("aws_signer_signing_profile", s["profile"][0], "version_arn")]
        # Every function of the region, the authorizer and the probe included.
        functions = resources(stack, "aws_lambda_function", role)
        assert len(functions) == 6
        for fn in functions.values():
            assert fn["code_signing_config_arn"] == ref("aws_lambda_code_signing_config",
                                                        config_name, "arn")
    assert len(resources(stack, "aws_lambda_function")) == 12  # none escapes the config


def test_signing_resources_of_a_region_reference_only_that_region(stack):
    for role in ROLES:
        other = "dr" if role == "primary" else "primary"
        names = {f"{rtype}.{name}" for rtype in ("aws_s3_bucket", "aws_s3_object",
                                                 "aws_signer_signing_profile",
                                                 "aws_signer_signing_job",
                                                 "aws_lambda_code_signing_config",
                                                 "aws_s3_bucket_versioning")
                 for name in resources(stack, rtype, other)}
        for rtype in ("aws_s3_object", "aws_signer_signing_job", "aws_lambda_code_signing_config",
                      "aws_signer_signing_profile"):
            for name, body in resources(stack, rtype, role).items():
                assert body["provider"] == f"aws.{role}"
                assert not refs_in(body) & names, (rtype, name)


def test_code_bucket_is_private_versioned_and_not_object_locked(stack):
    for role in ROLES:
        name, bucket = _signing(stack, role)["bucket"]
        assert bucket["bucket"].startswith("payments-dr-code-")
        assert "object_lock_enabled" not in bucket  # packages must stay deletable
        [block] = [b for b in resources(stack, "aws_s3_bucket_public_access_block", role).values()
                   if b["bucket"] == ref("aws_s3_bucket", name, "id")]
        assert all(block[k] for k in ("block_public_acls", "block_public_policy",
                                      "ignore_public_acls", "restrict_public_buckets"))


def test_unsigned_fallback_keeps_the_public_layer_and_signs_nothing(tmp_path):
    """Compute(vendor_dir=None): no bundled Powertools, so the public layer and no signing."""
    import json

    from cdktf import App, TerraformStack, Testing

    from modules.compute import RegionalCompute
    from modules.keys import RegionalKey
    from modules.naming import Names
    from modules.regions import build_region, peer_of
    from modules.settings import Settings
    from modules.storage import AuditBucket
    from modules.tables import TableAccess

    settings = Settings()
    app = App(outdir=str(tmp_path))
    s = TerraformStack(app, "s")
    names = Names("dev")
    region = build_region(s, role="primary", name="us-east-1", settings=settings)
    key = RegionalKey(s, "key-primary", region=region, names=names)
    audit = AuditBucket(s, "storage", names=names, region=region, peer=peer_of(region, settings),
                        key=key, settings=settings)
    RegionalCompute(s, "c", region=region, settings=settings, names=names, key=key,
                    tables=TableAccess(names=names, region=region, key=key), audit=audit,
                    vendor_dir=None)
    synth = json.loads(Testing.synth(s))
    assert "aws_signer_signing_job" not in synth["resource"]
    for fn in synth["resource"]["aws_lambda_function"].values():
        assert "code_signing_config_arn" not in fn and fn["filename"].endswith(".zip")
        assert fn["layers"][0].startswith("${data.aws_ssm_parameter.")


def test_missing_vendor_directory_stops_the_synth_with_the_fix(tmp_path):
    from cdktf import App, TerraformStack

    from modules.compute import FunctionCode

    source = tmp_path / "code"
    source.mkdir()
    (source / "validator.py").write_text("x = 1\n")
    with pytest.raises(FileNotFoundError, match=r"vendor_lambda_deps\.py"):
        FunctionCode(TerraformStack(App(outdir=str(tmp_path / "out")), "s"), "code",
                     source_dir=source, vendor_dir=tmp_path / "empty",
                     package_dir=tmp_path / "pkg")
