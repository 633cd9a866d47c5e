"""AWS Backup (modules/backup.py): locked daily recovery points in both regions, the Aurora
writer and the transactions table selected, copies of the primary's into the DR vault.

What a deployed backup would prove only in AWS (a job that completes, a copy that lands, a
restore) is a drill item (docs/drills.md); here: the JSON AWS Backup would be given."""

from __future__ import annotations

import json
import re

from helpers import one, ref, resources

from modules.backup import COMPLIANCE_GRACE_DAYS, MIN_RETENTION_DAYS


def _vault(platform, role):
    return one(platform, "aws_backup_vault", role)


def test_each_region_has_a_vault_encrypted_with_its_own_key_and_locked(platform):
    for role in ("primary", "dr"):
        vault_name, vault = _vault(platform, role)
        assert vault["name"] == f"payments-dr-dev-{role}"
        # the region's data key, from the foundation (a reference, not the AWS-managed key)
        assert re.search(rf"key-{role}_key_\w+\.?arn", vault["kms_key_arn"]), vault["kms_key_arn"]
        [lock] = [r for r in resources(platform, "aws_backup_vault_lock_configuration", role).values()
                  if r["backup_vault_name"] == ref("aws_backup_vault", vault_name, "name")]
        assert lock["min_retention_days"] == MIN_RETENTION_DAYS
        # dev: GOVERNANCE mode (no changeable_for_days), so a dev environment can be removed
        assert "changeable_for_days" not in lock
        assert vault["force_destroy"] is True


def test_prod_locks_in_compliance_mode_and_keeps_its_vaults(prod_platform):
    for role in ("primary", "dr"):
        _, vault = _vault(prod_platform, role)
        assert vault["force_destroy"] is False
        [lock] = resources(prod_platform, "aws_backup_vault_lock_configuration", role).values()
        assert lock["changeable_for_days"] == COMPLIANCE_GRACE_DAYS


def test_the_primary_plan_backs_up_the_writer_and_the_ledger_and_copies_to_dr(platform):
    plan_name, plan = one(platform, "aws_backup_plan", "primary")
    [rule] = plan["rule"]
    vault_name, _ = _vault(platform, "primary")
    assert rule["target_vault_name"] == ref("aws_backup_vault", vault_name, "name")
    assert rule["lifecycle"]["delete_after"] >= MIN_RETENTION_DAYS
    [copy] = rule["copy_action"]
    # the DR stack's vault, by its ARN in the DR region (the DR stack owns it)
    assert re.fullmatch(r"arn:\$\{[^}]+\}:backup:us-east-2:\$\{[^}]+\}:backup-vault:"
                        r"payments-dr-dev-dr", copy["destination_vault_arn"])
    assert copy["lifecycle"]["delete_after"] == rule["lifecycle"]["delete_after"]
    _, dr_vault = _vault(platform, "dr")
    assert copy["destination_vault_arn"].endswith(":" + dr_vault["name"])

    [selection] = resources(platform, "aws_backup_selection", "primary").values()
    assert selection["plan_id"] == ref("aws_backup_plan", plan_name, "id")
    cluster_name, _ = one(platform, "aws_rds_cluster", "primary")
    assert ref("aws_rds_cluster", cluster_name, "arn") in selection["resources"]
    assert any(r.endswith(":table/payment-transactions-dev") and ":us-east-1:" in r
               for r in selection["resources"])


def test_the_dr_plan_keeps_the_replica_in_dr_and_copies_nothing(platform):
    [plan] = resources(platform, "aws_backup_plan", "dr").values()
    [rule] = plan["rule"]
    assert "copy_action" not in rule
    [selection] = resources(platform, "aws_backup_selection", "dr").values()
    assert selection["resources"] == [
        r for r in selection["resources"] if ":us-east-2:" in r and r.endswith(
            ":table/payment-transactions-dev")]
    assert len(selection["resources"]) == 1


def test_backup_roles_are_trusted_by_backup_for_this_account_and_use_both_data_keys(platform):
    for role in ("primary", "dr"):
        [selection] = resources(platform, "aws_backup_selection", role).values()
        role_name = selection["iam_role_arn"].split(".")[1]
        body = resources(platform, "aws_iam_role", role)[role_name]
        trust = json.loads(body["assume_role_policy"])
        [stmt] = trust["Statement"]
        assert stmt["Principal"] == {"Service": "backup.amazonaws.com"}
        assert "aws:SourceAccount" in stmt["Condition"]["StringEquals"]
        attachments = [a for a in resources(platform, "aws_iam_role_policy_attachment", role).values()
                       if a["role"] == ref("aws_iam_role", role_name, "name")]
        assert [a["policy_arn"].rsplit("/", 1)[1] for a in attachments] == [
            "AWSBackupServiceRolePolicyForBackup"]
        [inline] = [p for p in resources(platform, "aws_iam_role_policy", role).values()
                    if p["role"] == ref("aws_iam_role", role_name, "id")]
        [keys] = json.loads(inline["policy"])["Statement"]
        assert "kms:*" not in keys["Action"] and len(keys["Resource"]) == 2
        assert {bool(re.search(r"key-primary_key_", k)) for k in keys["Resource"]} == {True, False}
