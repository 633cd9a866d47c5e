"""Who can read each secret: the secrets' resource policies, evaluated as Secrets Manager does
for a principal of the secret's own account (an explicit Deny in the resource policy wins;
otherwise the principal's IAM policy decides, modelled as AdministratorAccess, the strongest
grant there is). One policy per secret, in the primary stack: Secrets Manager copies it to
the DR replica (modules/secret_policy.py).
"""

from __future__ import annotations

import json

import pytest
from helpers import resources
from test_ci_roles import decide
from test_keys import ACCOUNT, _resolve, role

from modules.settings import Settings, SettingsError

IAM_ADMIN = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
AUTHORIZERS = [role("payment-authorizer-primary-prod-role"), role("payment-authorizer-dr-prod-role")]
OPERATOR = role("payments-dr-client-keys-prod")
APPLY, BREAK_GLASS = role("payments-dr-ci-prod-apply"), role("payments-dr-key-admin-prod")
OTHERS = [role("payment-validator-primary-prod-role"), role("payment-reconcile-dr-prod-role"),
          role("payments-dr-ci-prod-plan"), role("AWSReservedSSO_AdministratorAccess_0123abcd"),
          f"arn:aws:iam::{ACCOUNT}:root", f"arn:aws:iam::{ACCOUNT}:user/alice"]
EVERYONE = [*AUTHORIZERS, OPERATOR, APPLY, BREAK_GLASS, *OTHERS]


def secret_policies(stacks) -> dict[str, list[dict] | None]:
    """Every secret of a synth (by its name) and its resource policy's statements, or None."""
    found: dict[str, list[dict] | None] = {}
    for stack in stacks.values():
        policies = resources(stack, "aws_secretsmanager_secret_policy")
        for name, secret in resources(stack, "aws_secretsmanager_secret").items():
            attached = [json.loads(_resolve(p["policy"]))["Statement"] for p in policies.values()
                        if p["secret_arn"] == f"${{aws_secretsmanager_secret.{name}.arn}}"]
            assert len(attached) <= 1, name
            found[secret["name"]] = attached[0] if attached else None
    return found


def secrets_manager_decides(policy: list[dict] | None, action: str, principal_arn: str) -> str:
    """Same account: allowed unless the resource policy denies (IAM grants everything)."""
    context = {"aws:PrincipalArn": principal_arn}
    if policy is not None and decide(policy, action, "*", context) == "deny":
        return "deny"
    return decide(IAM_ADMIN, action, "*", context)


def who(policy: list[dict] | None, action: str) -> set[str]:
    return {p for p in EVERYONE if secrets_manager_decides(policy, action, p) == "allow"}


def test_only_the_authorizers_operators_and_break_glass_read_or_write_the_client_keys(prod_stacks):
    policy = secret_policies(prod_stacks)["payments-dr/prod/client-keys"]
    assert policy is not None, "the client-keys secret has no resource policy"
    # The apply role is a key administrator, but its own IAM policy denies it secret values
    # (tests/test_ci_roles.py): here only the resource policy is judged.
    assert who(policy, "secretsmanager:GetSecretValue") == {*AUTHORIZERS, OPERATOR, APPLY,
                                                           BREAK_GLASS}
    for action in ("secretsmanager:PutSecretValue", "secretsmanager:StopReplicationToReplica"):
        assert who(policy, action) == {OPERATOR, APPLY, BREAK_GLASS}, action
    for action in ("secretsmanager:PutResourcePolicy", "secretsmanager:DeleteResourcePolicy",
                   "secretsmanager:DeleteSecret", "secretsmanager:UpdateSecret",
                   "secretsmanager:RemoveRegionsFromReplication", "secretsmanager:TagResource"):
        assert who(policy, action) == {APPLY, BREAK_GLASS}, action
    # Reading what the secret is (no value) stays with IAM: plans and drctl status need it.
    assert who(policy, "secretsmanager:DescribeSecret") == set(EVERYONE)


def test_nobody_but_the_administrators_reads_or_writes_the_aurora_master_secret(prod_stacks):
    policy = secret_policies(prod_stacks)["payments-dr/prod/aurora-master"]
    assert policy is not None, "the master secret has no resource policy"
    # The applier writes the password at apply time (SET_MASTER_PASSWORD, PutSecretValue);
    # a person reads it through the break-glass role. No function, no plan role, no root.
    assert who(policy, "secretsmanager:GetSecretValue") == {APPLY, BREAK_GLASS}
    assert who(policy, "secretsmanager:PutSecretValue") == {APPLY, BREAK_GLASS}
    assert who(policy, "secretsmanager:DeleteResourcePolicy") == {APPLY, BREAK_GLASS}


def cloudformation_role_name(stack: str, logical_id: str, suffix: str = "AB1CD2EF3GH4I") -> str:
    """The name CloudFormation gives a role it names itself: `<stack>-<logical id>-<random>`
    within IAM's 64 characters (the parts cut as CloudFormation does, to fit)."""
    room = 64 - len(suffix) - 2
    stack_part = stack[: max(room - len(logical_id), (room + 1) // 2)]
    return f"{stack_part}-{logical_id[: room - len(stack_part)]}-{suffix}"


def test_the_role_name_model_gives_the_name_cloudformation_gave_this_templates_role():
    """Calibration: a role of AWS's single-user PostgreSQL rotation template, created by
    CloudFormation from a stack whose name starts `SecretsManagerRDSPostgreSQL...`, is named
    `SecretsManagerRDSPostgreS-SecretsManagerRDSPostgre-1ROSS4UUXCVRJ` (seen in an imported
    Terraform state; its inline policies `...SingleUserRolePolicy0/1` give the logical id)."""
    from modules.database import ROTATION_ROLE_LOGICAL_ID

    real = "SecretsManagerRDSPostgreS-SecretsManagerRDSPostgre-1ROSS4UUXCVRJ"
    for stack in ("SecretsManagerRDSPostgreSQLRotationSingleUser",
                  "SecretsManagerRDSPostgreSQLRotationSingleUser-1A2B3C4D5E6F"):
        assert cloudformation_role_name(stack, ROTATION_ROLE_LOGICAL_ID, "1ROSS4UUXCVRJ") == real


def test_the_rotation_functions_role_reads_and_writes_the_master_secret_and_manages_nothing(prod_stacks):
    """AWS's rotation function (modules/database.py) runs under a role CloudFormation names
    after the SAR stack (`serverlessrepo-<stack>`): the policy admits it for the value, not
    for the secret's policy, deletion or replication; another environment's rotator is out."""
    from contract import Names
    from modules.database import rotation_stack_name

    policy = secret_policies(prod_stacks)["payments-dr/prod/aurora-master"]
    logical = "SecretsManagerRDSPostgreSQLRotationSingleUserRole"
    stack = f"serverlessrepo-{rotation_stack_name(Names('prod'))}"
    rotator = role(cloudformation_role_name(stack, logical))
    stranger = role(cloudformation_role_name(f"serverlessrepo-{rotation_stack_name(Names('qa'))}", logical))
    # Another application deployed from SAR under a name that starts the same way (its role has
    # another logical id) is not the rotator.
    neighbour = role(cloudformation_role_name(f"{stack}-reports", "ReportsFunctionRole"))
    for action in ("secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
                   "secretsmanager:UpdateSecretVersionStage"):
        assert secrets_manager_decides(policy, action, rotator) == "allow", action
        assert secrets_manager_decides(policy, action, stranger) == "deny", action
        assert secrets_manager_decides(policy, action, neighbour) == "deny", action
    for action in ("secretsmanager:PutResourcePolicy", "secretsmanager:DeleteSecret",
                   "secretsmanager:RotateSecret", "secretsmanager:RemoveRegionsFromReplication"):
        assert secrets_manager_decides(policy, action, rotator) == "deny", action
    # The client keys are not the rotator's.
    keys = secret_policies(prod_stacks)["payments-dr/prod/client-keys"]
    assert secrets_manager_decides(keys, "secretsmanager:GetSecretValue", rotator) == "deny"


def test_every_secret_of_prod_like_and_standard_synths_has_a_policy(prod_stacks, standard_stacks):
    for stacks in (prod_stacks, standard_stacks):
        policies = secret_policies(stacks)
        assert len(policies) == 2
        assert all(p is not None for p in policies.values()), policies
        for stack in stacks.values():
            for policy in resources(stack, "aws_secretsmanager_secret_policy").values():
                assert policy["block_public_policy"] is True


def test_the_readers_named_are_the_authorizer_roles_the_stacks_create(prod_stacks):
    """A reader named in the policy that no stack creates would lock the authorizer out."""
    created = {_resolve(r["name"]) for stack in prod_stacks.values()
               for r in resources(stack, "aws_iam_role").values()}
    for arn in AUTHORIZERS:
        assert arn.rsplit("/", 1)[1] in created, arn


def test_the_replica_carries_the_primarys_policy_so_the_dr_stack_has_none(prod_stacks):
    secrets = [s for stack in prod_stacks.values()
               for s in resources(stack, "aws_secretsmanager_secret").values()]
    assert all(s["replica"] for s in secrets)
    assert not resources(prod_stacks["payments-dr-dr"], "aws_secretsmanager_secret_policy")


@pytest.mark.parametrize("secret", ["payments-dr/dev/client-keys", "payments-dr/dev/aurora-master"])
def test_the_dev_profile_without_key_administrators_has_no_secret_policy(stacks, secret):
    """As for the keys: any account administrator applies, destroys and edits client keys."""
    assert secret_policies(stacks)[secret] is None


def test_client_key_operator_roles_setting_names_role_names():
    assert Settings.from_env({"CLIENT_KEY_OPERATOR_ROLES": "ops-a, ops-b"}
                             ).client_key_operator_roles == ("ops-a", "ops-b")
    with pytest.raises(SettingsError, match="CLIENT_KEY_OPERATOR_ROLES"):
        Settings.from_env({"CLIENT_KEY_OPERATOR_ROLES": "arn:aws:iam::1:role/x"})
