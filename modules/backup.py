"""AWS Backup: daily recovery points that replication cannot overwrite (PCI DSS 12.10, 10.5).

Why on top of Aurora's automated backups, PITR and the global copies: every one of those
follows the live data. A bad migration, a bug that rewrites records or a deleted table is
copied to the other region within a second and rolled into PITR; an attacker with the apply
role can shorten Aurora's retention or delete the table with its backups. AWS Backup keeps
recovery points in a vault whose lock forbids deleting them early, encrypted with the
region's key.

One vault per region (`payments-dr-<env>-<role>`), each with a vault lock:
- prod-like environments: COMPLIANCE mode (`changeable_for_days` = 3: after those three days
  nobody, root included, can delete a recovery point before its retention ends, nor remove
  the lock);
- other environments: GOVERNANCE mode (no `changeable_for_days`): the lock holds against
  everyone but principals allowed `backup:DeleteBackupVaultLockConfiguration`, so a dev
  environment can be torn down.

One plan per region, daily at 05:00 UTC, retention `max(BACKUP_RETENTION_DAYS, 7)` days (the
lock's minimum is 7), backing up what lives in that region:
- primary: the Aurora primary cluster and the transactions table; each recovery point is
  also copied to the DR region's vault (named, not referenced: the DR stack owns it);
- DR: the transactions table's DR replica (DynamoDB backs up a global-table replica like any
  table), kept in the DR vault. The Aurora secondary is not selected: while it is a global
  database secondary its data is the primary's, which is already copied into the DR vault.

Limits, stated in docs/failover.md: a copy into the DR vault fails until the DR stack has
created that vault (the first night after a fresh primary apply, at most); after a failover
the promoted DR cluster is not in any plan until it is added (`AURORA` in the DR plan is one
line here) - its own automated backups and PITR keep running. DynamoDB recovery points are
not copied across regions (that needs the account-wide "advanced DynamoDB backup" opt-in);
each region keeps its own.
"""

from __future__ import annotations

from cdktf_cdktf_provider_aws.backup_plan import (
    BackupPlan,
    BackupPlanRule,
    BackupPlanRuleCopyAction,
    BackupPlanRuleCopyActionLifecycle,
    BackupPlanRuleLifecycle,
)
from cdktf_cdktf_provider_aws.backup_selection import BackupSelection
from cdktf_cdktf_provider_aws.backup_vault import BackupVault
from cdktf_cdktf_provider_aws.backup_vault_lock_configuration import (
    BackupVaultLockConfiguration,
)
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from contract import PRIMARY, Names
from modules.iam import managed_service_role, policy_document, statement
from modules.keys import RegionalKey
from modules.regions import PeerRegion, Region
from modules.settings import Settings

SCHEDULE = "cron(0 5 ? * * *)"
# Recovery points are kept at least this long: the vault lock refuses shorter retention.
MIN_RETENTION_DAYS = 7
MAX_RETENTION_DAYS = 365
# COMPLIANCE mode's grace period: within it the lock can still be removed; after it, never.
COMPLIANCE_GRACE_DAYS = 3


def vault_name(names: Names, role: str) -> str:
    return f"payments-dr-{names.env}-{role}"


def retention_days(settings: Settings) -> int:
    return max(settings.backup_retention_days, MIN_RETENTION_DAYS)


class RegionalBackup(Construct):
    """The vault of one region, its lock, and a daily plan over `resource_arns` (may be empty:
    then only the vault, as a copy destination)."""

    def __init__(self, scope: Construct, id: str, *, settings: Settings, names: Names,
                 region: Region, peer: PeerRegion, key: RegionalKey, peer_key_arn: str,
                 resource_arns: list[str]):
        super().__init__(scope, id)
        p = region.provider
        self.name = vault_name(names, region.role)
        self.vault = BackupVault(
            self, "vault", provider=p, name=self.name, kms_key_arn=key.arn,
            # A dev vault with recovery points can be destroyed; prod's cannot.
            force_destroy=not settings.deletion_protection)
        compliance = settings.is_prod_like
        self.lock = BackupVaultLockConfiguration(
            self, "lock", provider=p, backup_vault_name=self.vault.name,
            min_retention_days=MIN_RETENTION_DAYS, max_retention_days=MAX_RETENTION_DAYS,
            changeable_for_days=COMPLIANCE_GRACE_DAYS if compliance else None)
        self.plan: BackupPlan | None = None
        if not resource_arns:
            return
        days = retention_days(settings)
        copy = []
        if region.role == PRIMARY:
            copy = [BackupPlanRuleCopyAction(
                destination_vault_arn=peer.arn(
                    "backup", f"backup-vault:{vault_name(names, peer.role)}"),
                lifecycle=BackupPlanRuleCopyActionLifecycle(delete_after=days))]
        self.plan = BackupPlan(
            self, "plan", provider=p, name=self.name,
            rule=[BackupPlanRule(
                rule_name="daily", target_vault_name=self.vault.name, schedule=SCHEDULE,
                start_window=60, completion_window=360,
                lifecycle=BackupPlanRuleLifecycle(delete_after=days),
                copy_action=copy or None)])
        self.role = managed_service_role(
            self, "service-", region=region, name=names.regional("backup", region.role),
            service="backup.amazonaws.com",
            managed_policy="service-role/AWSBackupServiceRolePolicyForBackup")
        # The data is encrypted with this region's key and copies are re-encrypted with the
        # peer's: the managed policy grants no customer-managed key.
        IamRolePolicy(
            self, "keys", provider=p, role=self.role.id, name="backup-data-keys",
            policy=policy_document([statement(
                "UseDataKeys",
                ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*",
                 "kms:ReEncrypt*", "kms:CreateGrant"],
                [key.arn, peer_key_arn])]))
        self.selection = BackupSelection(
            self, "selection", provider=p, name=f"{names.env}-{region.role}-data",
            plan_id=self.plan.id, iam_role_arn=self.role.arn, resources=resource_arns)
