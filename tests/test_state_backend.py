"""Terraform state: S3 backend outside the primary region, bootstrapped by its own stack."""

from __future__ import annotations

import json

from helpers import one


def test_platform_state_lives_in_s3_outside_the_primary_region_with_a_lock_table(platform):
    backend = platform["terraform"]["backend"]
    assert list(backend) == ["s3"]
    s3 = backend["s3"]
    assert s3 == {"bucket": "payments-dr-tfstate-dev", "key": "payments-dr/dev/terraform.tfstate",
                  "region": "us-east-2", "dynamodb_table": "payments-dr-tflock-dev", "encrypt": True}


def test_qa_backend_follows_its_settings(qa_platform):
    s3 = qa_platform["terraform"]["backend"]["s3"]
    assert s3["region"] == "us-west-2" and s3["bucket"] == "payments-dr-tfstate-qa"


def test_bootstrap_uses_a_relative_local_state_and_creates_the_backend(bootstrap, platform):
    local = bootstrap["terraform"]["backend"]["local"]
    assert local["path"] == "../../../terraform.payments-dr-bootstrap.dev.tfstate"
    [provider] = bootstrap["provider"]["aws"]
    assert provider["region"] == platform["terraform"]["backend"]["s3"]["region"]
    _, bucket = one(bootstrap, "aws_s3_bucket")
    assert bucket["bucket"] == "payments-dr-tfstate-dev"
    _, table = one(bootstrap, "aws_dynamodb_table")
    assert table["name"] == "payments-dr-tflock-dev" and table["hash_key"] == "LockID"
    assert table["point_in_time_recovery"] == {"enabled": True}
    assert table["deletion_protection_enabled"] is True
    _, versioning = one(bootstrap, "aws_s3_bucket_versioning")
    assert versioning["versioning_configuration"]["status"] == "Enabled"
    _, policy = one(bootstrap, "aws_s3_bucket_policy")
    assert "aws:SecureTransport" in policy["policy"]
    _, block = one(bootstrap, "aws_s3_bucket_public_access_block")
    assert block["restrict_public_buckets"] is True


def test_no_absolute_paths_leak_into_any_stack(stacks):
    for name, stack in stacks.items():
        text = json.dumps(stack)
        assert "/tmp/" not in text and "/work/" not in text and "/home/" not in text, name
