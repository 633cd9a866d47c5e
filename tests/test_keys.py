"""KMS key policies and the audit pages: only the key administrators may destroy, disable or re-policy a data key,
the deployer is one of them (no lock-out), and every such call pages; so does every call
that deletes log data or shortens its retention, and log groups are deletion-protected.

Key policies are evaluated the way KMS does for a principal of the key's own account: an
explicit Deny in the key policy wins; otherwise the root statement delegates to IAM, and the
principal is modelled with AdministratorAccess (`Allow *`), the strongest IAM grant there is.
"""

from __future__ import annotations

import json
import re

import pytest
from helpers import resources
from test_ci_roles import decide

from modules.keys import DESTRUCTIVE_KEY_ACTIONS
from modules.settings import Settings, SettingsError

ACCOUNT = "123456789012"
IAM_ADMIN = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]


def _resolve(text: str) -> str:
    text = re.sub(r"\$\{data\.aws_partition\.[^}]+\.partition\}", "aws", text)
    return re.sub(r"\$\{data\.aws_caller_identity\.[^}]+\.account_id\}", ACCOUNT, text)


def data_keys(stacks) -> dict[str, list[dict]]:
    """Every data key (RegionalKey) of a synth: its key policy statements, by stack/name."""
    found = {}
    for stack_name, stack in stacks.items():
        for name, key in resources(stack, "aws_kms_key").items():
            if "/key-" in key["//"]["metadata"]["path"]:
                found[f"{stack_name}/{name}"] = json.loads(_resolve(key["policy"]))["Statement"]
    return found


def kms_decides(policy: list[dict], action: str, principal_arn: str) -> str:
    """KMS's answer for a principal of this account holding AdministratorAccess."""
    context = {"aws:PrincipalArn": principal_arn}
    applicable = [s for s in policy
                  if s.get("Principal", {}).get("AWS") in ("*", f"arn:aws:iam::{ACCOUNT}:root")]
    key_policy = decide(applicable, action, "*", context)
    if key_policy == "deny":
        return "deny"
    delegated = any(s.get("Principal", {}).get("AWS") == f"arn:aws:iam::{ACCOUNT}:root"
                    and s["Effect"] == "Allow" for s in applicable)
    return decide(IAM_ADMIN, action, "*", context) if delegated else key_policy


def role(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


OUTSIDERS = [role("payments-dr-ci-prod-plan"), role("payments-validator-primary-prod"),
             role("AWSReservedSSO_AdministratorAccess_0123abcd"), f"arn:aws:iam::{ACCOUNT}:root",
             f"arn:aws:iam::{ACCOUNT}:user/alice"]
ADMINS = [role("payments-dr-ci-prod-apply"), role("payments-dr-key-admin-prod")]


def test_every_data_key_denies_destruction_to_all_but_its_administrators(prod_stacks):
    keys = data_keys(prod_stacks)
    assert len(keys) == 2
    for name, policy in keys.items():
        for action in ("kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy",
                       "kms:DisableKeyRotation"):
            for outsider in OUTSIDERS:
                assert kms_decides(policy, action, outsider) == "deny", (name, action, outsider)
            for admin in ADMINS:
                assert kms_decides(policy, action, admin) == "allow", (name, action, admin)


def test_the_deployer_can_still_manage_the_keys_it_creates(prod_stacks):
    """KMS refuses CreateKey/PutKeyPolicy with a policy that denies the caller PutKeyPolicy;
    Terraform (the apply role) also updates rotation and schedules deletion on destroy."""
    for name, policy in data_keys(prod_stacks).items():
        for action in ("kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:EnableKeyRotation",
                       "kms:TagResource", "kms:DescribeKey", "kms:CancelKeyDeletion"):
            assert kms_decides(policy, action, role("payments-dr-ci-prod-apply")) == "allow", name


def test_using_a_key_is_still_delegated_to_iam(prod_stacks):
    for policy in data_keys(prod_stacks).values():
        for action in ("kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt", "kms:DescribeKey"):
            assert kms_decides(policy, action, role("payments-validator-primary-prod")) == "allow"


def test_key_admin_roles_setting_replaces_the_defaults(tuned_stacks):
    keys = data_keys(tuned_stacks)
    # The tuned primary is in us-west-2: the routing stack has a key for Route 53's region.
    assert len(keys) == 3
    for policy in keys.values():
        assert kms_decides(policy, "kms:ScheduleKeyDeletion", role("ops-key-admin")) == "allow"
        assert kms_decides(policy, "kms:ScheduleKeyDeletion",
                           role("payments-dr-key-admin-dev")) == "deny"


@pytest.mark.parametrize("value", ["arn:aws:iam::123456789012:role/x", "a b", "x" * 65])
def test_key_admin_roles_are_role_names(value):
    with pytest.raises(SettingsError, match="KEY_ADMIN_ROLES"):
        Settings.from_env({"KEY_ADMIN_ROLES": value})
    assert Settings.from_env({"KEY_ADMIN_ROLES": "a, b"}).key_admin_roles == ("a", "b")


# -- the page on key-state changes ------------------------------------------------------------

def _matches(pattern: dict, event: dict) -> bool:
    """EventBridge's matching for exact-value patterns (lists of strings, nested objects)."""
    for field, wanted in pattern.items():
        if field not in event:
            return False
        if isinstance(wanted, dict):
            if not isinstance(event[field], dict) or not _matches(wanted, event[field]):
                return False
        elif event[field] not in wanted:
            return False
    return True


def _cloudtrail_event(source: str, name: str, region: str) -> dict:
    return {"version": "0", "source": f"aws.{source}", "account": ACCOUNT, "region": region,
            "detail-type": "AWS API Call via CloudTrail",
            "detail": {"eventSource": f"{source}.amazonaws.com", "eventName": name,
                       "requestParameters": {"keyId": "1234abcd"},
                       "errorCode": "AccessDeniedException"}}


def _rules(platform, part: str) -> dict[str, tuple[str, dict]]:
    return {r["provider"]: (n, r) for n, r in resources(platform, "aws_cloudwatch_event_rule").items()
            if part in r["name"]}


@pytest.mark.parametrize("part, source, calls, harmless", [
    ("key-state-changes", "kms", [a.split(":")[1] for a in DESTRUCTIVE_KEY_ACTIONS],
     ["Decrypt", "GenerateDataKey", "CreateKey", "EnableKeyRotation"]),
    ("log-changes", "logs", ["DeleteLogGroup", "DeleteLogStream", "PutRetentionPolicy",
                             "DeleteRetentionPolicy", "PutLogGroupDeletionProtection"],
     ["CreateLogGroup", "PutLogEvents", "FilterLogEvents", "TagResource"]),
])
def test_each_region_pages_on_destructive_key_and_log_calls(prod_stacks, prod_platform, part,
                                                            source, calls, harmless):
    topics = {t["provider"]: n for n, t in resources(prod_platform, "aws_sns_topic").items()}
    rules = _rules(prod_platform, part)
    assert set(rules) == {"aws.primary", "aws.dr"}
    for provider, (rule_name, rule) in rules.items():
        region = "us-east-1" if provider == "aws.primary" else "us-east-2"
        pattern = json.loads(rule["event_pattern"])
        for call in calls:
            # Denied attempts page as well as successful calls.
            assert _matches(pattern, _cloudtrail_event(source, call, region)), call
        for call in harmless:
            assert not _matches(pattern, _cloudtrail_event(source, call, region))
        (target,) = [t for t in resources(prod_platform, "aws_cloudwatch_event_target").values()
                     if t["rule"] == f"${{aws_cloudwatch_event_rule.{rule_name}.name}}"]
        assert target["arn"] == f"${{aws_sns_topic.{topics[provider]}.arn}}"
        # The encrypted topic accepts the rule (topic policy) and EventBridge may use the key.
        (policy,) = [p for p in resources(prod_platform, "aws_sns_topic_policy").values()
                     if p["arn"] == target["arn"]]
        rule_arn = f"arn:aws:events:{region}:{ACCOUNT}:rule/{rule['name']}"
        statements = json.loads(_resolve(policy["policy"]))["Statement"]
        events = [s for s in statements if s["Principal"] == {"Service": "events.amazonaws.com"}]
        assert decide(events, "sns:Publish", None, {"aws:SourceArn": rule_arn}) == "allow"
        assert decide(events, "sns:Publish", None, {"aws:SourceArn": rule_arn + "x"}) != "allow"
    for policy in data_keys(prod_stacks).values():
        events = [s for s in policy if s.get("Principal") == {"Service": "events.amazonaws.com"}]
        assert decide(events, "kms:GenerateDataKey", "*", {"aws:SourceAccount": ACCOUNT}) == "allow"


def test_log_groups_are_protected_from_deletion_where_deletion_protection_is_on(
        prod_stacks, stacks):
    """CloudWatch Logs' deletion protection on every group of a protected environment (the
    aspect reaches groups added later); the dev profile stays destroyable."""
    for synth, expected in ((prod_stacks, True), (stacks, None)):
        groups = [g for s in synth.values()
                  for g in resources(s, "aws_cloudwatch_log_group").values()]
        assert len(groups) >= 24
        assert {g.get("deletion_protection_enabled") for g in groups} == {expected}


def test_only_administrators_change_an_audit_buckets_lock_lifecycle_or_policy(prod_platform):
    """The bucket policy half of the receipts' WORM (issue 21): COMPLIANCE retention protects
    the versions written, this protects the default retention of those to come."""
    audit = [p for p in resources(prod_platform, "aws_s3_bucket_policy").values()
             if "storage-" in p["//"]["metadata"]["path"]]
    assert len(audit) == 2
    bucket = "arn:aws:s3:::payments-audit-primary-prod"
    for policy in audit:
        text = re.sub(r"\$\{aws_s3_bucket\.[^}]+\.arn\}", bucket, _resolve(policy["policy"]))
        # The TLS denies (Bool, NumericLessThan) are tested in tests/test_storage.py.
        statements = [s for s in json.loads(text)["Statement"] if "aws:PrincipalArn" in
                      json.dumps(s.get("Condition", {}))]
        assert len(statements) == 1
        for action in ("s3:PutBucketObjectLockConfiguration", "s3:PutLifecycleConfiguration",
                       "s3:BypassGovernanceRetention", "s3:PutBucketPolicy"):
            for outsider in OUTSIDERS:
                context = {"aws:PrincipalArn": outsider}
                assert decide(statements, action, bucket, context) == "deny", (action, outsider)
            for admin in ADMINS:
                context = {"aws:PrincipalArn": admin}
                assert decide(statements, action, bucket, context) != "deny", (action, admin)
        # Replication into the bucket and the drill's pause of replication are not in the way.
        for action in ("s3:ReplicateObject", "s3:PutReplicationConfiguration", "s3:PutObject"):
            assert decide(statements, action, bucket + "/receipts/x",
                          {"aws:PrincipalArn": OUTSIDERS[1]}) != "deny"


def test_the_dev_profile_has_no_key_administrators_so_any_account_administrator_applies_and_destroys(stacks):
    """The default synth (dev cost profile, KEY_ADMIN_ROLES unset): no Deny in the key policies
    (KMS would refuse a newcomer's CreateKey, and `terraform destroy` its ScheduleKeyDeletion)."""
    keys = data_keys(stacks)
    assert keys
    for name, policy in keys.items():
        for action in ("kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DisableKey"):
            assert kms_decides(policy, action, role("AdministratorAccess-someone")) == "allow", (name, action)
