"""Resource policies of the secrets: who may read, write and manage each one, whatever IAM grants.

Inputs: the region of the secret, its readers, writers and the key administrators (role
names). Output: `SecretPolicy` (an `aws_secretsmanager_secret_policy`), or nothing when the
environment has no administrators (`secret_policy`).

- Deny-only: same-account access is still granted by IAM (each function's role names its
  secret: modules/client_keys.py `grant_read`); the policy takes it away from everyone else,
  AdministratorAccess and the root user included, as an explicit Deny wins over any Allow.
  Principals are named by ARN (`aws:PrincipalArn`: an assumed role's session is judged by its
  role), so a deleted role can be recreated under its name by the account's IAM
  administrators. A call without a principal ARN (an AWS service) is denied too: no service
  reads these secrets (Secrets Manager invokes the rotation function; the function's own role
  reads and writes).
- `rotators`: role-name *patterns* that may read and write the value (not manage the secret):
  the Aurora master secret's rotation function, whose role CloudFormation names
  (modules/database.py); an `ArnNotLike` next to the `ArnNotEquals` (both must hold to deny).
- Three tiers: reading the value (readers and administrators); writing it (writers and
  administrators); managing the secret (its policy, deletion, replication, KMS key, tags:
  administrators only). The administrators are the key administrators (`KEY_ADMIN_ROLES`:
  the CI apply role, which creates and updates the secret, and the break-glass role
  `payments-dr-key-admin-<env>`). Break-glass: the break-glass role may do everything here,
  including replacing the policy; the apply role cannot read values (its own IAM policy denies
  it: modules/ci_roles.py).
- One resource for both regions: Secrets Manager copies a secret's resource policy to its
  replicas (AWS's replication guide: "encrypted secret data and metadata such as tags and
  resource policies"), so the DR copy carries the same policy. That a promoted replica
  (`stop-replication-to-replica`) keeps it is expected, not verified here: check with
  `aws secretsmanager get-resource-policy` after a promotion (runbook section 9). Role ARNs
  are global, so the same names hold in the DR region.
- The dev cost profile without `KEY_ADMIN_ROLES` has no administrators, so no policy (as for
  the keys, modules/keys.py): any account administrator must be able to apply, destroy and
  edit client keys of a dev environment.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktf_cdktf_provider_aws.secretsmanager_secret import SecretsmanagerSecret
from cdktf_cdktf_provider_aws.secretsmanager_secret_policy import SecretsmanagerSecretPolicy
from constructs import Construct

from modules.iam import Statement, policy_document, statement
from modules.regions import Region

VALUE_READS = ("secretsmanager:GetSecretValue",)
VALUE_WRITES = ("secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage",
                # promoting the DR replica (drctl client-keys --promote-replica)
                "secretsmanager:StopReplicationToReplica")
MANAGEMENT = (
    "secretsmanager:UpdateSecret", "secretsmanager:DeleteSecret", "secretsmanager:RestoreSecret",
    "secretsmanager:PutResourcePolicy", "secretsmanager:DeleteResourcePolicy",
    "secretsmanager:ReplicateSecretToRegions", "secretsmanager:RemoveRegionsFromReplication",
    "secretsmanager:RotateSecret", "secretsmanager:CancelRotateSecret",
    "secretsmanager:TagResource", "secretsmanager:UntagResource",
)


def secret_policy_document(region: Region, *, readers: Sequence[str], writers: Sequence[str],
                           admins: Sequence[str], rotators: Sequence[str] = ()) -> str:
    def arns(*groups: Sequence[str]) -> list[str]:
        names = dict.fromkeys(n for group in groups for n in group)
        return [region.arn("iam", f"role/{n}", region=False) for n in names]

    def unless(allowed: list[str], patterns: Sequence[str]) -> dict[str, dict[str, list[str]]]:
        condition = {"ArnNotEquals": {"aws:PrincipalArn": allowed}}
        if patterns:
            condition["ArnNotLike"] = {"aws:PrincipalArn": arns(patterns)}
        return condition

    tiers: list[Statement] = [
        statement(sid, actions, ["*"], effect="Deny", principal={"AWS": "*"},
                  condition=unless(allowed, patterns))
        for sid, actions, allowed, patterns in (
            ("OnlyReadersReadTheValue", VALUE_READS, arns(readers, admins), rotators),
            ("OnlyWritersWriteTheValue", VALUE_WRITES, arns(writers, admins), rotators),
            ("OnlyAdministratorsManageTheSecret", MANAGEMENT, arns(admins), ()),
        )
    ]
    return policy_document(tiers)


def secret_policy(scope: Construct, id: str, *, region: Region, secret: SecretsmanagerSecret,
                  readers: Sequence[str], writers: Sequence[str], admins: Sequence[str],
                  rotators: Sequence[str] = ()) -> SecretsmanagerSecretPolicy | None:
    """The secret's policy (replicated with it), or None without administrators."""
    if not admins:
        return None
    return SecretsmanagerSecretPolicy(
        scope, id, provider=region.provider, secret_arn=secret.arn,
        policy=secret_policy_document(region, readers=readers, writers=writers, admins=admins,
                                      rotators=rotators),
        # Secrets Manager refuses a policy that would give access outside the account.
        block_public_policy=True)
