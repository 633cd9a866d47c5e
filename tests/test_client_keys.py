"""Client keys: one secret replicated to DR, no value in Terraform, per-region least privilege.

On the platform stacks as built: `client-keys` in the primary stack, its replica encrypted
with the DR region's key from the foundation stack; each region's authorizer
(`compute-{role}/authorizer`) reads its own region's copy.
"""

from __future__ import annotations

import json

from helpers import one, ref, refs_in, resources

from contract import FOUNDATION_STACK, REGIONAL_STACKS


def _client_keys(stack):
    return one(stack, "aws_secretsmanager_secret", "primary", "/client-keys/secret")


def test_secret_in_primary_replicated_to_dr_with_the_dr_key_and_no_value(platform, stacks):
    secret_name, secret = _client_keys(platform)
    key_name, _ = one(platform, "aws_kms_key", "primary", "key-primary")
    dr_key_name, _ = one(platform, "aws_kms_key", "dr", "key-dr")
    assert secret["provider"] == "aws.primary"
    assert secret["name"] == "payments-dr/dev/client-keys"
    assert secret["kms_key_id"] == ref("aws_kms_key", key_name, "arn")
    assert secret["replica"] == [{"region": "us-east-2", "kms_key_id": ref("aws_kms_key", dr_key_name, "arn")}]
    # Only the primary stack declares it (the DR stack reads its replica by name); both keys
    # come from the foundation stack, so the primary stack needs nothing of the DR stack.
    for name, stack in stacks.items():
        declared = {n for n, s in stack.get("resource", {}).get("aws_secretsmanager_secret", {}).items()
                    if s["name"] == secret["name"]}
        assert declared == ({secret_name} if name == REGIONAL_STACKS["primary"] else set()), name
    raw = stacks[REGIONAL_STACKS["primary"]]["resource"]["aws_secretsmanager_secret"][secret_name]
    assert f"cross-stack-reference-input-{FOUNDATION_STACK}.outputs." in raw["replica"][0]["kms_key_id"]
    # The value never enters the plan or the state: no version of this secret is declared.
    for version in resources(platform, "aws_secretsmanager_secret_version").values():
        assert f"aws_secretsmanager_secret.{secret_name}" not in refs_in(version)


def test_authorizer_reads_only_its_regions_copy(platform):
    _secret_name, secret = _client_keys(platform)
    for role, region in (("primary", "us-east-1"), ("dr", "us-east-2")):
        _fn_name, fn = one(platform, "aws_lambda_function", role, f"compute-{role}/authorizer/function")
        role_name, _ = one(platform, "aws_iam_role", role, f"compute-{role}/authorizer/role")
        _, policy = one(platform, "aws_iam_role_policy", role, f"compute-{role}/authorizer/policy")
        key_name, _ = one(platform, "aws_kms_key", role, f"key-{role}")
        assert fn["role"] == ref("aws_iam_role", role_name, "arn")
        assert policy["role"] == ref("aws_iam_role", role_name, "id")
        statements = {s["Sid"]: s for s in json.loads(policy["policy"])["Statement"]}
        read = statements["ReadClientKeys"]
        assert read["Action"] == ["secretsmanager:GetSecretValue"]
        assert read["Resource"] == [
            f"arn:${{data.aws_partition.partition-{role}.partition}}:secretsmanager:{region}:"
            f"${{data.aws_caller_identity.identity-{role}.account_id}}:secret:{secret['name']}-??????"]
        decrypt = statements["DecryptClientKeys"]
        assert decrypt["Resource"] == [ref("aws_kms_key", key_name, "arn")]
        assert decrypt["Condition"] == {"StringEquals": {
            "kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}}
        # No other statement reaches Secrets Manager.
        others = [s for sid, s in statements.items() if sid != "ReadClientKeys"
                  and any(a.startswith("secretsmanager:") for a in s["Action"])]
        assert others == []


def test_prod_like_authorizers_refuse_keys_without_an_end_and_others_accept_them(prod_stacks, stacks):
    """CLIENT_KEYS_REQUIRE_EXPIRY (lambda/authorizer.py): keys without notAfter are refused in
    prod-like environments only (docs/calling-the-api.md: the upgrade path for dev and qa)."""
    for synth, expected in ((prod_stacks, "true"), (stacks, "false")):
        for stack_name in REGIONAL_STACKS.values():
            functions = [f for f in resources(synth[stack_name], "aws_lambda_function").values()
                         if f["handler"] == "authorizer.lambda_handler"]
            assert len(functions) == 1
            variables = functions[0]["environment"]["variables"]
            assert variables["CLIENT_KEYS_REQUIRE_EXPIRY"] == expected, stack_name
