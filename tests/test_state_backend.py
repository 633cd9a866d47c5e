"""Terraform state: one S3 state per stack, outside the primary region, encrypted with the
bootstrap's key, locked with a lock file; the bootstrap stack creates bucket and key."""

from __future__ import annotations

import json

from helpers import one, resources

from contract import PLATFORM_STACKS


def test_each_platform_stack_has_its_s3_state_outside_the_primary_region(stacks):
    for name in PLATFORM_STACKS:
        backend = stacks[name]["terraform"]["backend"]
        assert list(backend) == ["s3"]
        assert backend["s3"] == {
            "bucket": "payments-dr-tfstate-dev-aws-account-id-unset-us-east-2",
            "key": f"payments-dr/dev/{name}.tfstate",
            "region": "us-east-2",
            "encrypt": True,
            # The bootstrap's CMK by alias (accepted by the S3 backend since Terraform 1.10);
            # without it `encrypt` means SSE-S3, not our key.
            "kms_key_id": "alias/payments-dr-tfstate-dev",
            # S3 lock files: the DynamoDB lock table is deprecated since Terraform 1.11.
            "use_lockfile": True,
        }
        assert "dynamodb_table" not in backend["s3"]


def test_the_state_bucket_name_carries_the_account_and_region(prod_stacks):
    for name in PLATFORM_STACKS:
        s3 = prod_stacks[name]["terraform"]["backend"]["s3"]
        assert s3["bucket"] == "payments-dr-tfstate-prod-123456789012-us-east-2"


def test_qa_backend_follows_its_settings(qa_stacks):
    s3 = qa_stacks["payments-dr-dr"]["terraform"]["backend"]["s3"]
    assert s3["region"] == "us-west-2"
    assert s3["bucket"] == "payments-dr-tfstate-qa-aws-account-id-unset-us-west-2"


def test_bootstrap_uses_a_relative_local_state_and_creates_bucket_and_key(bootstrap, stacks):
    local = bootstrap["terraform"]["backend"]["local"]
    assert local["path"] == "../../../terraform.payments-dr-bootstrap.dev.tfstate"
    assert bootstrap["terraform"]["required_version"] == ">= 1.11.0"
    [provider] = bootstrap["provider"]["aws"]
    s3 = stacks["payments-dr-dr"]["terraform"]["backend"]["s3"]
    assert provider["region"] == s3["region"]
    _, bucket = one(bootstrap, "aws_s3_bucket")
    assert bucket["bucket"] == s3["bucket"]
    key_name, _ = one(bootstrap, "aws_kms_key")
    _, alias = one(bootstrap, "aws_kms_alias")
    assert alias["name"] == s3["kms_key_id"]
    assert alias["target_key_id"] == f"${{aws_kms_key.{key_name}.key_id}}"
    assert not resources(bootstrap, "aws_dynamodb_table"), "no lock table any more"
    _, versioning = one(bootstrap, "aws_s3_bucket_versioning")
    assert versioning["versioning_configuration"]["status"] == "Enabled"
    _, sse = one(bootstrap, "aws_s3_bucket_server_side_encryption_configuration")
    assert sse["rule"][0]["apply_server_side_encryption_by_default"]["kms_master_key_id"] == (
        f"${{aws_kms_key.{key_name}.arn}}")
    _, policy = one(bootstrap, "aws_s3_bucket_policy")
    assert "aws:SecureTransport" in policy["policy"]
    _, block = one(bootstrap, "aws_s3_bucket_public_access_block")
    assert block["restrict_public_buckets"] is True


def test_bootstrap_does_not_import_the_audit_tier():
    import ast
    from pathlib import Path

    source = (Path(__file__).resolve().parent.parent / "modules" / "state_backend.py").read_text()
    imported = {node.module for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)}
    assert "modules.storage" not in imported and "modules.buckets" in imported


def test_no_absolute_paths_leak_into_any_stack(stacks):
    for name, stack in stacks.items():
        text = json.dumps(stack)
        assert "/tmp/" not in text and "/work/" not in text and "/home/" not in text, name
