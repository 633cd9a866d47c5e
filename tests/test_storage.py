"""Audit buckets in both regions (each in its regional stack) with two-way replication
(RTC 15 minutes) wired by the routing stack."""

from __future__ import annotations

import json

import pytest
from helpers import one, ref, resources


def _bucket(platform, role):
    return one(platform, "aws_s3_bucket", role, f"storage-{role}/audit/bucket")


def test_each_region_has_a_hardened_bucket(platform):
    for role, region in (("primary", "us-east-1"), ("dr", "us-east-2")):
        bucket_name, bucket = _bucket(platform, role)
        assert bucket["bucket"].startswith("payments-dr-audit-dev-")
        assert bucket["bucket"].endswith(f"-{region}")
        bucket_ref = ref("aws_s3_bucket", bucket_name, "id")
        for rtype in ("aws_s3_bucket_versioning", "aws_s3_bucket_public_access_block",
                      "aws_s3_bucket_server_side_encryption_configuration", "aws_s3_bucket_policy",
                      "aws_s3_bucket_lifecycle_configuration", "aws_s3_bucket_ownership_controls"):
            matches = [r for r in resources(platform, rtype, role).values() if r["bucket"] == bucket_ref]
            assert len(matches) == 1, f"{rtype} missing for {role} bucket"
        [versioning] = [r for r in resources(platform, "aws_s3_bucket_versioning", role).values()
                        if r["bucket"] == bucket_ref]
        assert versioning["versioning_configuration"]["status"] == "Enabled"
        [block] = [r for r in resources(platform, "aws_s3_bucket_public_access_block", role).values()
                   if r["bucket"] == bucket_ref]
        assert all(block[k] is True for k in ("block_public_acls", "block_public_policy",
                                               "ignore_public_acls", "restrict_public_buckets"))


def test_buckets_use_their_regions_key_and_deny_plain_http(platform):
    for role in ("primary", "dr"):
        key_name, _ = one(platform, "aws_kms_key", role)
        bucket_name, _ = _bucket(platform, role)
        bucket_ref = ref("aws_s3_bucket", bucket_name, "id")
        [sse] = [r for r in resources(platform, "aws_s3_bucket_server_side_encryption_configuration", role).values()
                 if r["bucket"] == bucket_ref]
        rule = sse["rule"][0]
        assert rule["apply_server_side_encryption_by_default"] == {
            "sse_algorithm": "aws:kms", "kms_master_key_id": ref("aws_kms_key", key_name, "arn")}
        [policy] = [r for r in resources(platform, "aws_s3_bucket_policy", role).values()
                    if r["bucket"] == bucket_ref]
        doc = json.loads(policy["policy"])
        deny = {s["Sid"]: s for s in doc["Statement"]}
        assert deny["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert deny["DenyInsecureTransport"]["Effect"] == "Deny"


def _replication(platform, source):
    return one(platform, "aws_s3_bucket_replication_configuration", source, f"replication-{source}/")


def test_replication_runs_both_ways_with_rtc_metrics_and_destination_keys(platform):
    for source, destination in (("primary", "dr"), ("dr", "primary")):
        _, src_bucket = _bucket(platform, source)
        _, dst_bucket = _bucket(platform, destination)
        dst_key, _ = one(platform, "aws_kms_key", destination)
        _, config = _replication(platform, source)
        # By name: the routing stack refers to neither regional stack's buckets by reference.
        assert config["bucket"] == src_bucket["bucket"]
        [rule] = config["rule"]
        assert rule["id"] == f"all-objects-to-{destination}"
        assert rule["status"] == "Enabled"
        assert rule["delete_marker_replication"] == {"status": "Enabled"}
        assert rule["filter"] == {"prefix": ""}
        dest = rule["destination"]
        assert dest["bucket"] == (f"arn:${{data.aws_partition.partition-{destination}.partition}}"
                                  f":s3:::{dst_bucket['bucket']}")
        assert dest["replication_time"] == {"status": "Enabled", "time": {"minutes": 15}}
        assert dest["metrics"] == {"status": "Enabled", "event_threshold": {"minutes": 15}}
        assert dest["encryption_configuration"] == {"replica_kms_key_id": ref("aws_kms_key", dst_key, "arn")}
        assert rule["source_selection_criteria"]["sse_kms_encrypted_objects"] == {"status": "Enabled"}


def test_replication_rules_live_in_the_routing_stack_after_both_buckets(stacks):
    """S3 accepts a rule only once the destination bucket exists and is versioned: the rules
    are in the stack applied after both regional stacks, and wait for their role's policy."""
    routing = stacks["payments-dr-routing"]
    configs = resources(routing, "aws_s3_bucket_replication_configuration")
    assert len(configs) == 2
    for name in ("payments-dr-primary", "payments-dr-dr"):
        assert not resources(stacks[name], "aws_s3_bucket_replication_configuration")
    for config in configs.values():
        [policy_ref] = config["depends_on"]
        assert policy_ref.startswith("aws_iam_role_policy.")


def test_bucket_configuration_is_ordered_to_avoid_conflicting_operations(platform):
    for role in ("primary", "dr"):
        pab, _ = one(platform, "aws_s3_bucket_public_access_block", role, f"storage-{role}/")
        policy, body = one(platform, "aws_s3_bucket_policy", role, f"storage-{role}/")
        _, ownership = one(platform, "aws_s3_bucket_ownership_controls", role, f"storage-{role}/")
        assert body["depends_on"] == [f"aws_s3_bucket_public_access_block.{pab}"]
        assert sorted(ownership["depends_on"]) == sorted([
            f"aws_s3_bucket_public_access_block.{pab}", f"aws_s3_bucket_policy.{policy}"])
        versioning, _ = one(platform, "aws_s3_bucket_versioning", role, f"storage-{role}/")
        _, lifecycle = one(platform, "aws_s3_bucket_lifecycle_configuration", role, f"storage-{role}/")
        assert lifecycle["depends_on"] == [f"aws_s3_bucket_versioning.{versioning}"]


def test_replication_role_is_least_privilege_for_its_direction(platform):
    for source, destination in (("primary", "dr"), ("dr", "primary")):
        _, src_bucket = _bucket(platform, source)
        _, dst_bucket = _bucket(platform, destination)
        role_name, role = one(platform, "aws_iam_role", source, f"replication-{source}/role")
        trust = json.loads(role["assume_role_policy"])["Statement"][0]
        assert trust["Principal"] == {"Service": "s3.amazonaws.com"}
        assert role["name"] == f"payments-s3-replication-to-{destination}-{source}-dev"
        _, config = _replication(platform, source)
        assert config["role"] == ref("aws_iam_role", role_name, "arn")
        _, policy = one(platform, "aws_iam_role_policy", source, f"replication-{source}/policy")
        statements = {s["Sid"]: s for s in json.loads(policy["policy"])["Statement"]}
        src_arn = f"arn:${{data.aws_partition.partition-{source}.partition}}:s3:::{src_bucket['bucket']}"
        dst_arn = f"arn:${{data.aws_partition.partition-{destination}.partition}}:s3:::{dst_bucket['bucket']}"
        assert statements["ReadSourceVersions"]["Resource"] == [f"{src_arn}/*"]
        assert statements["WriteReplicasToDestination"]["Resource"] == [f"{dst_arn}/*"]
        assert "s3:ReplicateObject" in statements["WriteReplicasToDestination"]["Action"]
        # Owner override is for rules that translate ownership (cross-account); ours do not.
        assert all("access_control_translation" not in rule["destination"] for rule in config["rule"])
        assert not any("s3:ObjectOwnerOverrideToBucketOwner" in s["Action"] for s in statements.values())
        for s in statements.values():
            assert all(not a.endswith("*") for a in s["Action"]), s
            assert "*" not in s["Resource"]


def test_lifecycle_expires_old_versions_not_current_objects(platform):
    for role in ("primary", "dr"):
        _, lifecycle = one(platform, "aws_s3_bucket_lifecycle_configuration", role, f"storage-{role}/")
        rules = {r["id"]: r for r in lifecycle["rule"]}
        assert set(rules) == {"noncurrent-versions-and-stale-uploads", "probe-objects-health",
                              "probe-objects-heartbeat"}
        rule = rules["noncurrent-versions-and-stale-uploads"]
        assert rule["noncurrent_version_expiration"] == [{"noncurrent_days": 365}]
        for r in rules.values():
            assert "expiration" not in r, "current objects (audit records) are never expired"
        # Probe objects are locked for one day (lambda/): their old versions go after two.
        for prefix in ("health/", "heartbeat/"):
            probe = rules[f"probe-objects-{prefix.strip('/')}"]
            assert probe["filter"] == [{"prefix": prefix}]
            assert probe["noncurrent_version_expiration"] == [{"noncurrent_days": 2}]


def test_bucket_outputs(platform):
    for role in ("primary", "dr"):
        bucket_name, _ = _bucket(platform, role)
        assert platform["output"][f"{role}_s3_bucket"]["value"] == ref("aws_s3_bucket", bucket_name, "bucket")


# -- WORM receipts (issue 12 item 6) ------------------------------------------------------


@pytest.mark.parametrize("env, mode, days", [("dev", "GOVERNANCE", 1), ("standard", "GOVERNANCE", 365),
                                             ("prod", "COMPLIANCE", 365)])
def test_both_audit_buckets_are_object_locked_with_the_environments_retention(
        env, mode, days, platform, standard_platform, prod_platform):
    stack = {"dev": platform, "standard": standard_platform, "prod": prod_platform}[env]
    for role in ("primary", "dr"):
        bucket_name, bucket = one(stack, "aws_s3_bucket", role, f"storage-{role}/audit/bucket")
        assert bucket["object_lock_enabled"] is True  # only possible at creation in Terraform
        # Only the dev profile's buckets can be emptied by `terraform destroy` (GOVERNANCE is
        # bypassed by force_destroy; COMPLIANCE never is, and settings refuse it for dev).
        assert bucket.get("force_destroy", False) is (env == "dev")
        _, lock = one(stack, "aws_s3_bucket_object_lock_configuration", role, f"storage-{role}/audit/")
        assert lock["bucket"] == ref("aws_s3_bucket", bucket_name, "id")
        assert lock["rule"]["default_retention"] == {"mode": mode, "days": days}
        versioning, _ = one(stack, "aws_s3_bucket_versioning", role, f"storage-{role}/audit/versioning")
        assert lock["depends_on"] == [f"aws_s3_bucket_versioning.{versioning}"]


def test_retention_days_follow_the_setting_and_lifecycle_never_expires_a_locked_version(tuned_platform):
    stack = tuned_platform  # OBJECT_LOCK_DAYS=2000
    for role in ("primary", "dr"):
        _, lock = one(stack, "aws_s3_bucket_object_lock_configuration", role, f"storage-{role}/audit/")
        assert lock["rule"]["default_retention"]["days"] == 2000
        _, lifecycle = one(stack, "aws_s3_bucket_lifecycle_configuration", role, f"storage-{role}/audit/")
        [rule] = [r for r in lifecycle["rule"] if r["id"] == "noncurrent-versions-and-stale-uploads"]
        assert rule["noncurrent_version_expiration"][0]["noncurrent_days"] >= 2000


def test_replication_role_reads_retention_and_legal_hold_so_replicas_keep_their_lock(platform):
    for source in ("primary", "dr"):
        _, policy = one(platform, "aws_iam_role_policy", source, f"replication-{source}/policy")
        statements = {s["Sid"]: s for s in json.loads(policy["policy"])["Statement"]}
        read = statements["ReadSourceVersions"]
        assert {"s3:GetObjectRetention", "s3:GetObjectLegalHold"} <= set(read["Action"])
        assert read["Resource"][0].endswith("/*")


def test_state_bucket_and_code_buckets_are_not_object_locked(bootstrap, platform):
    _, state = one(bootstrap, "aws_s3_bucket", None, "state/bucket")
    assert "object_lock_enabled" not in state
    assert resources(bootstrap, "aws_s3_bucket_object_lock_configuration") == {}
    locked = {lock["bucket"] for lock in
              resources(platform, "aws_s3_bucket_object_lock_configuration").values()}
    assert len(locked) == 2 and all("_audit_bucket" in b for b in locked)
