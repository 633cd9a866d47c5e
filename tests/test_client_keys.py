"""Client keys: one secret replicated to DR, no value in Terraform, per-region least privilege."""

from __future__ import annotations

from api_stack import protected, protected_stacks  # noqa: F401
from helpers import one, ref, resources


def test_secret_in_primary_replicated_to_dr_with_the_dr_key_and_no_value(protected):
    (_, secret), = resources(protected, "aws_secretsmanager_secret").items()
    key_name, _ = one(protected, "aws_kms_key", "primary", "key-primary")
    assert secret["provider"] == "aws.primary"
    assert secret["name"] == "payments-dr/dev/client-keys"
    assert secret["kms_key_id"] == ref("aws_kms_key", key_name, "arn")
    # The DR key by alias: a stable name, no reference into the DR stack.
    assert secret["replica"] == [{"region": "us-east-2", "kms_key_id": "alias/payments-dr-dev-dr"}]
    assert not resources(protected, "aws_secretsmanager_secret_version")  # value never in state


def test_authorizer_reads_only_its_regions_copy(protected):
    import json
    for role, region in (("primary", "us-east-1"), ("dr", "us-east-2")):
        _, policy = one(protected, "aws_iam_role_policy", role, f"authorizer-{role}/policy")
        key_name, _ = one(protected, "aws_kms_key", role, f"key-{role}")
        statements = {s["Sid"]: s for s in json.loads(policy["policy"])["Statement"]}
        read = statements["ReadClientKeys"]
        assert read["Action"] == ["secretsmanager:GetSecretValue"]
        assert read["Resource"] == [
            f"arn:${{data.aws_partition.partition-{role}.partition}}:secretsmanager:{region}:"
            f"${{data.aws_caller_identity.identity-{role}.account_id}}:secret:payments-dr/dev/client-keys-??????"]
        decrypt = statements["DecryptClientKeys"]
        assert decrypt["Resource"] == [ref("aws_kms_key", key_name, "arn")]
        assert decrypt["Condition"] == {"StringEquals": {
            "kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}}
