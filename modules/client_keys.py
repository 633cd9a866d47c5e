"""Client keys: the per-client HMAC keys the `/validate` authorizer verifies, in both regions.

Inputs: names, the primary and DR regions, the primary region's key. The replica is
encrypted with the DR region's key named by its alias (`Names.key_alias`), a stable name,
so the primary stack holds no reference to a resource of the DR stack.
Outputs: `ClientKeysSecret.secret` (primary-region secret with a DR replica) and
`grant_read(region, key_arn=...)` (module function: the statements an authorizer in that
region needs).

- One Secrets Manager secret in the primary region, replicated by Secrets Manager to the DR
  region and re-encrypted there with the DR region's key, so each region's authorizer
  reads its own region's copy and keeps working while the other region is down. A replica
  can be promoted to a standalone secret (`aws secretsmanager stop-replication-to-replica`)
  if the primary region is lost for good.
- The secret's VALUE is managed outside Terraform (no `aws_secretsmanager_secret_version`
  here): keys never enter the plan, the state or the repository. Operators seed and edit it
  with `drctl client-keys` (docs/runbook.md, "Client keys"); until the first key is added
  every signed request is rejected (fail closed).
- Its resource policy (modules/secret_policy.py, copied by Secrets Manager to the replica):
  only the two regions' authorizers, the client-key operators (`CLIENT_KEY_OPERATOR_ROLES`,
  default `payments-dr-client-keys-<env>`: `drctl client-keys`) and the key administrators
  read it; only the operators and administrators write it.
- `grant_read` names the secret by ARN pattern on its NAME (Secrets Manager appends 6 random
  characters to every secret ARN), so the DR stack needs no reference to a resource of the
  primary stack: it plans and applies while the primary region is down.
"""

from __future__ import annotations

from cdktf_cdktf_provider_aws.secretsmanager_secret import (
    SecretsmanagerSecret,
    SecretsmanagerSecretReplica,
)
from constructs import Construct

from modules.iam import Statement, function_role_name, statement
from modules.keys import RegionalKey
from modules.naming import Names
from modules.regions import PeerRegion, Region
from modules.secret_policy import secret_policy
from modules.settings import Settings

# The authorizer reads the secret NAME from contract.ENV_CLIENT_KEYS_SECRET (the same name in
# both regions: a replica keeps its primary's name).
RECOVERY_WINDOW_DAYS = 30
AUTHORIZER = "authorizer"  # the function's purpose in its name (modules/compute.py)


def client_keys_secret_name(names: Names) -> str:
    return names.client_keys_secret


def client_key_operators(settings: Settings, names: Names) -> tuple[str, ...]:
    """Who runs `drctl client-keys`: `CLIENT_KEY_OPERATOR_ROLES`, else one named role."""
    return settings.client_key_operator_roles or (f"payments-dr-client-keys-{names.env}",)


def authorizer_role_name(names: Names, role: str) -> str:
    """The authorizer's role in `role`'s region: the secret's reader."""
    return function_role_name(names.function(AUTHORIZER, role))


def grant_read(region: Region, names: Names, *, key_arn: str) -> list[Statement]:
    """Least privilege for a function in `region`: read that region's copy, decrypt with its key."""
    secret_arn = region.arn("secretsmanager", f"secret:{client_keys_secret_name(names)}-??????")
    return [
        statement("ReadClientKeys", ["secretsmanager:GetSecretValue"], [secret_arn]),
        statement("DecryptClientKeys", ["kms:Decrypt"], [key_arn], condition={"StringEquals": {
            "kms:ViaService": f"secretsmanager.{region.name}.amazonaws.com"}}),
    ]


class ClientKeysSecret(Construct):
    """The secret (primary region) and its replica (DR region, DR key). No value."""

    def __init__(self, scope: Construct, id: str, *, names: Names, primary: Region,
                 dr: Region | PeerRegion, primary_key: RegionalKey, dr_key: RegionalKey,
                 operators: tuple[str, ...], admins: tuple[str, ...]):
        super().__init__(scope, id)
        self.name = client_keys_secret_name(names)
        self.secret = SecretsmanagerSecret(
            self, "secret", provider=primary.provider, name=self.name,
            description="Per-client HMAC keys for POST /validate (value managed outside "
                        "Terraform: see docs/api-protection.md)",
            kms_key_id=primary_key.arn,
            replica=[SecretsmanagerSecretReplica(region=dr.name, kms_key_id=dr_key.arn)],
            recovery_window_in_days=RECOVERY_WINDOW_DAYS,
        )
        authorizers = [authorizer_role_name(names, r) for r in (primary.role, dr.role)]
        self.policy = secret_policy(self, "policy", region=primary, secret=self.secret,
                                    readers=[*authorizers, *operators], writers=operators,
                                    admins=admins)
