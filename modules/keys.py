"""Customer-managed KMS keys, one per region (in the foundation stack: both regional stacks
need both keys, the DR key for the primary's table and secret replicas).

Every store of payment data (Aurora, DynamoDB, S3, Secrets Manager) and every log group and
SNS topic in a region is encrypted with that region's key. A key never leaves its region,
so cross-region copies (Aurora secondary, DynamoDB replica, S3 replicas, secret replica)
are re-encrypted with the destination region's key: each region stays usable when the
other region, and its KMS, is down.

Key administration: the key policy delegates use to IAM (the account root statement), but
denies the actions that destroy or take over a key (`DESTRUCTIVE_KEY_ACTIONS`: scheduling
deletion, disabling, replacing the policy...) to every principal except the key
administrators (`KEY_ADMIN_ROLES`, default: the environment's CI apply role and the
break-glass role `payments-dr-key-admin-<env>`; none, so no Deny, in the dev cost profile
unless `KEY_ADMIN_ROLES` is set: `key_admins`). An explicit Deny in a key policy wins over
any IAM grant, AdministratorAccess and the root user included. The deployer must be an
administrator: KMS refuses (at CreateKey and PutKeyPolicy) a policy that would deny the
caller PutKeyPolicy, and `terraform destroy` schedules the key's deletion. The Deny names
the roles by ARN (`aws:PrincipalArn`), not by unique id, so a deleted administrator role
can be recreated under the same name by the account's IAM administrators: no permanent
lock-out. Every call to these actions is paged (modules/monitoring.py `AuditEventPages`).
"""

from __future__ import annotations

from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from constructs import Construct

from modules.ci_roles import APPLY, role_name
from modules.iam import Statement, policy_document, statement
from modules.naming import Names
from modules.regions import Region
from modules.settings import Settings

# What only a key administrator may do: each either destroys the key (and so crypto-shreds
# every record, receipt and backup encrypted under it) or takes it over.
DESTRUCTIVE_KEY_ACTIONS = (
    "kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy", "kms:DisableKeyRotation",
    "kms:DeleteImportedKeyMaterial", "kms:ImportKeyMaterial", "kms:UpdatePrimaryRegion",
    "kms:ReplicateKey",
)


def default_key_admins(names: Names) -> tuple[str, ...]:
    """The CI apply role (it creates and updates the keys) and a break-glass role."""
    return (role_name(names.env, APPLY), f"payments-dr-key-admin-{names.env}")


def key_admins(settings: Settings, names: Names) -> tuple[str, ...]:
    """The key administrators of an environment: `KEY_ADMIN_ROLES` when set; none in the dev
    cost profile (no deny: a newcomer's first apply and `terraform destroy`, run by any account
    administrator, must work, and a dev environment holds no real card data); else the
    defaults. The audit buckets' lock guard (modules/buckets.py) follows the same list."""
    if settings.key_admin_roles:
        return settings.key_admin_roles
    return () if settings.is_dev_profile else default_key_admins(names)


def key_admin_statements(region: Region, admins: tuple[str, ...]) -> list[Statement]:
    if not admins:
        return []
    admin_arns = [region.arn("iam", f"role/{name}", region=False) for name in admins]
    return [statement(
        "OnlyKeyAdministratorsDestroyOrRepolicyTheKey", DESTRUCTIVE_KEY_ACTIONS, ["*"],
        effect="Deny", principal={"AWS": "*"},
        condition={"ArnNotEquals": {"aws:PrincipalArn": admin_arns}})]


class RegionalKey(Construct):
    """The data key of one region. `arn` is what resources reference."""

    def __init__(self, scope: Construct, id: str, *, region: Region, names: Names,
                 admins: tuple[str, ...] = ()):
        super().__init__(scope, id)
        root = f"arn:{region.partition}:iam::{region.account_id}:root"
        self.admins = admins
        policy = policy_document([
            # Delegates to IAM: only principals whose IAM policies name this key may use it.
            statement("AccountAdministersKeyThroughIam", ["kms:*"], ["*"],
                      principal={"AWS": root}),
            *key_admin_statements(region, self.admins),
            # Only the calls that carry the log group's encryption context: CloudWatch Logs'
            # example also lists kms:Describe*, which this condition can never admit
            # (a describe call has no encryption context; parliament-accepted.yaml).
            statement(
                "CloudWatchLogsEncryptsOurLogGroups",
                ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
                ["*"],
                principal={"Service": f"logs.{region.name}.amazonaws.com"},
                condition={"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                       region.arn("logs", "log-group:*")}},
            ),
            # CloudWatch alarms publish to encrypted SNS topics only if they may use the key.
            statement(
                "CloudWatchAlarmsPublishToEncryptedTopics",
                ["kms:Decrypt", "kms:GenerateDataKey*"],
                ["*"],
                principal={"Service": "cloudwatch.amazonaws.com"},
                condition={"StringEquals": {"aws:SourceAccount": region.account_id}},
            ),
            # EventBridge delivers the key-state events to the (encrypted) alarm topic.
            statement(
                "EventBridgePublishesToEncryptedTopics",
                ["kms:Decrypt", "kms:GenerateDataKey*"],
                ["*"],
                principal={"Service": "events.amazonaws.com"},
                condition={"StringEquals": {"aws:SourceAccount": region.account_id}},
            ),
        ])
        self.key = KmsKey(
            self,
            "key",
            provider=region.provider,
            description=f"payments-dr {names.env} data key ({region.role}, {region.name})",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=30,
            policy=policy,
        )
        # The peer region's stack names this key by its alias (S3 replication, IAM conditions).
        self.alias = KmsAlias(self, "alias", provider=region.provider,
                              name=names.key_alias(region.role), target_key_id=self.key.key_id)

    @property
    def arn(self) -> str:
        return self.key.arn
