"""Aurora PostgreSQL global database across the two regions."""

from __future__ import annotations

from helpers import one, outputs, ref, resources


def test_global_cluster_is_encrypted_postgres_on_the_current_lts_version(platform):
    _, g = one(platform, "aws_rds_global_cluster", "primary")
    assert g["engine"] == "aurora-postgresql"
    assert g["engine_version"] == "17.7"
    assert g["storage_encrypted"] is True
    assert g["global_cluster_identifier"] == "payments-global-dev"


def test_primary_and_dr_clusters_join_the_global_cluster_each_in_its_region(platform):
    global_name, _ = one(platform, "aws_rds_global_cluster")
    _, primary = one(platform, "aws_rds_cluster", "primary")
    _, dr = one(platform, "aws_rds_cluster", "dr")
    assert primary["global_cluster_identifier"] == ref("aws_rds_global_cluster", global_name, "id")
    assert primary["engine_version"] == ref("aws_rds_global_cluster", global_name, "engine_version")
    # The DR stack names the global cluster; it holds no reference into the primary's state.
    assert dr["global_cluster_identifier"] == "payments-global-dev"
    assert dr["engine_version"] == "17.7"
    for cluster in (primary, dr):
        assert cluster["storage_encrypted"] is True
        assert cluster["backup_retention_period"] == 35
        assert cluster["iam_database_authentication_enabled"] is True
        assert set(cluster["lifecycle"]["ignore_changes"]) == {
            "engine_version", "replication_source_identifier", "global_cluster_identifier"}
    assert primary["cluster_identifier"] == "payments-primary-dev"
    assert dr["cluster_identifier"] == "payments-dr-dev"


def test_each_cluster_uses_the_key_of_its_own_region(platform):
    keys = {role: one(platform, "aws_kms_key", role)[0] for role in ("primary", "dr")}
    for role in ("primary", "dr"):
        _, cluster = one(platform, "aws_rds_cluster", role)
        assert cluster["kms_key_id"] == ref("aws_kms_key", keys[role], "arn")


def test_only_the_primary_carries_credentials_and_the_password_is_write_only(platform):
    _, primary = one(platform, "aws_rds_cluster", "primary")
    _, dr = one(platform, "aws_rds_cluster", "dr")
    assert primary["master_username"] == "payments_admin"
    assert "master_password" not in primary, "a plain master_password would land in state"
    # One source of truth: the cluster reads the password back from the secret version.
    assert primary["master_password_wo"] == (
        "${jsondecode(ephemeral.aws_secretsmanager_secret_version.aurora_master_secret"
        ".secret_string).password}")
    version_name, _ = one(platform, "aws_secretsmanager_secret_version", "primary")
    assert primary["master_password_wo_version"] == (
        f"${{parseint(substr(sha256(aws_secretsmanager_secret_version.{version_name}.version_id), "
        "0, 12), 16)}")
    assert f"aws_secretsmanager_secret_version.{version_name}" in primary["depends_on"]
    for forbidden in ("master_username", "master_password", "master_password_wo", "database_name"):
        assert forbidden not in dr, f"a secondary cluster may not set {forbidden}"
    ephemeral = platform["ephemeral"]["aws_secretsmanager_random_password"]["aurora_master_password"]
    assert ephemeral["provider"] == "aws.primary"
    assert ephemeral["password_length"] >= 32


def test_the_cluster_reads_exactly_the_secret_version_terraform_wrote(platform):
    """Re-creating the cluster or the secret can never leave them with different passwords:
    the ephemeral read names the version id, and that id versions the cluster's password."""
    secret_name, _ = one(platform, "aws_secretsmanager_secret", "primary", "master-secret")
    version_name, version = one(platform, "aws_secretsmanager_secret_version", "primary")
    reader = platform["ephemeral"]["aws_secretsmanager_secret_version"]["aurora_master_secret"]
    assert reader == {"provider": "aws.primary",
                      "secret_id": ref("aws_secretsmanager_secret", secret_name, "id"),
                      "version_id": ref("aws_secretsmanager_secret_version", version_name, "version_id")}
    assert version["secret_string_wo_version"] == 1
    assert "secret_string" not in version and "password" in version["secret_string_wo"]


def test_dr_cluster_is_a_secondary_of_the_primary_region_and_skips_final_snapshot(platform):
    _, dr = one(platform, "aws_rds_cluster", "dr")
    assert dr["skip_final_snapshot"] is True
    assert dr["source_region"] == "us-east-1"
    _, primary = one(platform, "aws_rds_cluster", "primary")
    assert primary["skip_final_snapshot"] is False
    assert primary["final_snapshot_identifier"] == "payments-primary-dev-final"


def test_instances_are_private_r6g_large_in_their_region(platform):
    for role in ("primary", "dr"):
        cluster_name, _ = one(platform, "aws_rds_cluster", role)
        _, instance = one(platform, "aws_rds_cluster_instance", role)
        attachment, _ = one(platform, "aws_iam_role_policy_attachment", role, "monitoring-policy")
        assert instance["depends_on"] == [f"aws_iam_role_policy_attachment.{attachment}"]
        assert instance["instance_class"] == "db.r6g.large"
        assert instance["publicly_accessible"] is False
        assert instance["cluster_identifier"] == ref("aws_rds_cluster", cluster_name, "id")
        assert instance["performance_insights_enabled"] is True
        assert instance["monitoring_interval"] > 0


def test_parameter_groups_force_tls_and_match_the_engine_major(platform):
    for role in ("primary", "dr"):
        name, group = one(platform, "aws_rds_cluster_parameter_group", role)
        assert group["family"] == "aurora-postgresql17"
        params = {p["name"]: p["value"] for p in group["parameter"]}
        assert params["rds.force_ssl"] == "1"
        _, cluster = one(platform, "aws_rds_cluster", role)
        assert cluster["db_cluster_parameter_group_name"] == ref(
            "aws_rds_cluster_parameter_group", name, "name")


def test_master_secret_is_replicated_to_dr_with_the_dr_key(platform):
    dr_key, _ = one(platform, "aws_kms_key", "dr")
    _, secret = one(platform, "aws_secretsmanager_secret", "primary", "master-secret")
    assert secret["replica"] == [{"region": "us-east-2", "kms_key_id": ref("aws_kms_key", dr_key, "arn")}]
    _, version = one(platform, "aws_secretsmanager_secret_version", "primary")
    assert "secret_string" not in version
    assert "ephemeral.aws_secretsmanager_random_password.aurora_master_password" in version["secret_string_wo"]


def test_no_payment_data_in_database_logs_and_the_log_group_is_ours(platform):
    for role in ("primary", "dr"):
        _, group = one(platform, "aws_rds_cluster_parameter_group", role)
        params = {p["name"]: p["value"] for p in group["parameter"]}
        assert params["log_min_duration_statement"] == "-1", "slow statements log literal values"
        assert params["log_statement"] == "ddl"
        assert params["log_error_verbosity"] == "terse", "DETAIL lines quote row values"
        log_name, log_group = one(platform, "aws_cloudwatch_log_group", role, "postgresql-logs")
        key_name, _ = one(platform, "aws_kms_key", role)
        _, cluster = one(platform, "aws_rds_cluster", role)
        assert log_group["name"] == f"/aws/rds/cluster/{cluster['cluster_identifier']}/postgresql"
        assert log_group["kms_key_id"] == ref("aws_kms_key", key_name, "arn")
        assert log_group["retention_in_days"] == 365
        assert cluster["enabled_cloudwatch_logs_exports"] == ["postgresql"]
        assert f"aws_cloudwatch_log_group.{log_name}" in cluster["depends_on"]


def test_instances_per_region_follow_settings_and_prod_gets_a_reader_in_each(platform, prod_platform,
                                                                             tuned_platform):
    for role in ("primary", "dr"):
        assert len(resources(platform, "aws_rds_cluster_instance", role)) == 1
        instances = resources(prod_platform, "aws_rds_cluster_instance", role)
        assert sorted(i["identifier"] for i in instances.values()) == [
            f"payments-{role}-prod-1", f"payments-{role}-prod-2"]
        assert sorted(i["promotion_tier"] for i in instances.values()) == [0, 1]
    three = tuned_platform  # AURORA_PRIMARY_INSTANCES=3, AURORA_DR_INSTANCES=2
    assert len(resources(three, "aws_rds_cluster_instance", "primary")) == 3
    assert len(resources(three, "aws_rds_cluster_instance", "dr")) == 2


def test_deletion_protection_is_on_for_prod(prod_platform, platform):
    for role in ("primary", "dr"):
        assert one(prod_platform, "aws_rds_cluster", role)[1]["deletion_protection"] is True
        assert one(platform, "aws_rds_cluster", role)[1]["deletion_protection"] is False
    assert one(prod_platform, "aws_rds_global_cluster")[1]["deletion_protection"] is True


def test_aurora_outputs(platform):
    out = outputs(platform)
    primary_name, _ = one(platform, "aws_rds_cluster", "primary")
    dr_name, _ = one(platform, "aws_rds_cluster", "dr")
    assert out["primary_aurora_endpoint"]["value"] == ref("aws_rds_cluster", primary_name, "endpoint")
    assert out["dr_aurora_endpoint"]["value"] == ref("aws_rds_cluster", dr_name, "endpoint")
    assert "aurora_global_writer_endpoint" in out


def test_qa_environment_names_the_clusters_after_it(qa_platform):
    assert one(qa_platform, "aws_rds_cluster", "dr")[1]["cluster_identifier"] == "payments-dr-qa"
    _, secret = one(qa_platform, "aws_secretsmanager_secret", "primary", "master-secret")
    assert one(qa_platform, "aws_rds_cluster", "dr")[1]["source_region"] == "us-east-1"
    assert secret["replica"][0]["region"] == "us-west-2"
