"""Aurora PostgreSQL global database across the two regions."""

from __future__ import annotations

from pathlib import Path

from helpers import one, outputs, ref, resources

ROOT = Path(__file__).resolve().parent.parent


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
        assert cluster["backup_retention_period"] == 1  # the dev profile (35: standard, below)
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
    # Only to create the cluster: a random value nobody knows, replaced at apply (below).
    assert primary["master_password_wo"] == (
        "${ephemeral.aws_secretsmanager_random_password.aurora_master_password.random_password}")
    assert primary["master_password_wo_version"] == 1
    for forbidden in ("master_username", "master_password", "master_password_wo", "database_name"):
        assert forbidden not in dr, f"a secondary cluster may not set {forbidden}"
    ephemeral = platform["ephemeral"]["aws_secretsmanager_random_password"]["aurora_master_password"]
    assert ephemeral["provider"] == "aws.primary"
    assert ephemeral["password_length"] >= 32


def test_no_plan_reads_a_secret_value(platform, prod_platform):
    """The CI plan roles are denied secretsmanager:GetSecretValue (tests/test_ci_roles.py):
    nothing in any stack may make a plan call it. Refreshing an aws_secretsmanager_secret_version
    is a GetSecretValue (provider: secret_version.go, resourceSecretVersionRead), and so is
    opening an ephemeral secret version or reading the data sources."""
    for view in (platform, prod_platform):
        assert not resources(view, "aws_secretsmanager_secret_version")
        assert "aws_secretsmanager_secret_version" not in view.get("ephemeral", {})
        for kind in ("aws_secretsmanager_secret_version", "aws_secretsmanager_secret_versions"):
            assert kind not in view.get("data", {})


def test_the_password_is_set_at_apply_whenever_cluster_or_secret_is_new(platform):
    """Cluster and secret cannot end up with different passwords: the provisioner re-runs when
    either is re-created or MASTER_PASSWORD_VERSION is bumped, after the instances exist."""
    cluster_name, _ = one(platform, "aws_rds_cluster", "primary")
    secret_name, _ = one(platform, "aws_secretsmanager_secret", "primary", "master-secret")
    (data,) = platform["resource"]["terraform_data"].values()
    assert data["triggers_replace"] == {
        "cluster": ref("aws_rds_cluster", cluster_name, "cluster_resource_id"),
        "secret": ref("aws_secretsmanager_secret", secret_name, "arn"), "version": 1}
    instances = [f"aws_rds_cluster_instance.{n}" for n in resources(platform, "aws_rds_cluster_instance", "primary")]
    assert data["depends_on"] == instances
    (provisioner,) = data["provisioner"]
    local = provisioner["local-exec"]
    assert local["interpreter"] == ["/bin/bash", "-c"]
    assert local["environment"] == {
        "REGION": "us-east-1", "CLUSTER": ref("aws_rds_cluster", cluster_name, "cluster_identifier"),
        "SECRET": ref("aws_secretsmanager_secret", secret_name, "arn"),
        "HOST": ref("aws_rds_cluster", cluster_name, "endpoint"),
        "DBNAME": "payments", "USERNAME": "payments_admin"}


def test_the_apply_time_script_gives_cluster_and_secret_one_password(platform, moto_url, tmp_path):
    """Runs the synthesized provisioner command (bash + aws CLI) against moto: afterwards the
    secret's password is the cluster's, and the password was never on a command line."""
    import json
    import os
    import subprocess

    import boto3
    from moto.rds.models import rds_backends

    # The aws CLI from its own locked environment (tools/awscli, installed by `make setup`);
    # the apply runners use GitHub's preinstalled CLI v2.
    aws_bin = ROOT / "tools" / "awscli" / ".venv" / "bin"
    assert (aws_bin / "aws").exists(), "run `make setup` (scripts/setup.sh awscli)"
    (data,) = platform["resource"]["terraform_data"].values()
    local = data["provisioner"][0]["local-exec"]
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_ENDPOINT_URL": moto_url, "PATH": f"{aws_bin}:{os.environ['PATH']}",
           "HOME": str(tmp_path)}
    # us-west-2 here: aws CLI v1 (this machine) sends RDS calls in us-east-1 to the legacy
    # name rds.amazonaws.com whatever AWS_ENDPOINT_URL says (awscli overridesslcommonname.py).
    region = "us-west-2"
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                            region_name=region)
    rds = session.client("rds", endpoint_url=moto_url)
    rds.create_db_cluster(DBClusterIdentifier="payments-primary-dev", Engine="aurora-postgresql",
                          MasterUsername="payments_admin", MasterUserPassword="initial-unknown-1")
    secrets = session.client("secretsmanager", endpoint_url=moto_url)
    arn = secrets.create_secret(Name="payments-dr/dev/aurora-master")["ARN"]
    assert local["environment"]["REGION"] == "us-east-1"
    assert local["environment"]["HOST"] == ref("aws_rds_cluster", one(platform, "aws_rds_cluster", None,
                                                                      "primary")[0], "endpoint")
    host = "payments-primary-dev.cluster-abc.us-west-2.rds.amazonaws.com"
    variables = {**local["environment"], "CLUSTER": "payments-primary-dev", "SECRET": arn,
                 "REGION": region, "HOST": host}
    for run in range(2):  # a re-run (replacement, rotation) sets a new one, again in both
        proc = subprocess.run([*local["interpreter"], local["command"]], env={**env, **variables},
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        stored = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])
        assert stored["username"] == "payments_admin" and stored["dbname"] == "payments"
        # what AWS's single-user rotation function reads to connect (engine, host, port)
        assert (stored["engine"], stored["host"], stored["port"]) == ("postgres", host, 5432)
        # A bool: the function's get_ssl_config then connects with sslmode=verify-full only;
        # without the key it falls back to sslmode=disable when TLS fails.
        assert stored["ssl"] is True
        assert len(stored["password"]) == 40 and stored["password"].isalnum()
        cluster = rds_backends["123456789012"][region].clusters["payments-primary-dev"]
        # RDS never returns a password; moto keeps what ModifyDBCluster set in this field.
        assert cluster._master_user_password == stored["password"], run
        assert stored["password"] not in proc.stdout + proc.stderr + local["command"]


def test_both_clusters_take_a_final_snapshot_when_deleted(platform, standard_platform):
    """The provider detaches a global member (RemoveFromGlobalCluster) before DeleteDBCluster
    (internal/service/rds/cluster.go, resourceClusterDelete), so the DR cluster can keep its
    data in a final snapshot too: skipping it would lose the last copy if it goes last.
    The dev profile takes none, so teardown can run again under the same names."""
    _, dr = one(standard_platform, "aws_rds_cluster", "dr")
    assert dr["source_region"] == "us-east-1"
    _, primary = one(standard_platform, "aws_rds_cluster", "primary")
    for cluster in (primary, dr):
        assert cluster["skip_final_snapshot"] is False
    assert primary["final_snapshot_identifier"] == "payments-primary-dev-final"
    assert dr["final_snapshot_identifier"] == "payments-dr-dev-final"
    assert primary["backup_retention_period"] == 35
    for role in ("primary", "dr"):
        _, cluster = one(platform, "aws_rds_cluster", role)
        assert cluster["skip_final_snapshot"] is True and "final_snapshot_identifier" not in cluster


def test_dev_profile_runs_serverless_v2_at_its_minimum_in_both_members(platform, standard_platform):
    from modules.database import SERVERLESS_MAX_ACU, SERVERLESS_MIN_ACU
    for role in ("primary", "dr"):
        _, cluster = one(platform, "aws_rds_cluster", role)
        # RDS refuses a db.serverless instance in a cluster without a capacity range.
        assert cluster["serverlessv2_scaling_configuration"] == {
            "min_capacity": SERVERLESS_MIN_ACU, "max_capacity": SERVERLESS_MAX_ACU}
        assert 0.5 <= SERVERLESS_MIN_ACU < SERVERLESS_MAX_ACU  # 0 would auto-pause the writer
        _, instance = one(platform, "aws_rds_cluster_instance", role)
        assert instance["instance_class"] == "db.serverless"
        _, cluster = one(standard_platform, "aws_rds_cluster", role)
        assert "serverlessv2_scaling_configuration" not in cluster


def test_instances_are_private_r6g_large_in_their_region(standard_platform):
    platform = standard_platform
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
        assert log_group["retention_in_days"] == 14  # the dev profile; LOG_RETENTION_DAYS
        assert cluster["enabled_cloudwatch_logs_exports"] == ["postgresql"]
        assert f"aws_cloudwatch_log_group.{log_name}" in cluster["depends_on"]


def test_connections_and_privilege_changes_are_audited_without_values(platform, prod_platform):
    """PCI DSS 10.2.1: who connected, when, and who changed schema or privileges."""
    for stacks in (platform, prod_platform):
        for role in ("primary", "dr"):
            _, group = one(stacks, "aws_rds_cluster_parameter_group", role)
            params = {p["name"]: p for p in group["parameter"]}
            assert params["log_connections"]["value"] == params["log_disconnections"]["value"] == "1"
            libraries = params["shared_preload_libraries"]
            # A static parameter: RDS refuses "immediate" for it.
            assert libraries["apply_method"] == "pending-reboot"
            assert set(libraries["value"].split(",")) == {"pgaudit", "pg_stat_statements"}
            assert set(params["pgaudit.log"]["value"].split(",")) == {"ddl", "role"}
            assert params["pgaudit.log_parameter"]["value"] == "0", "parameters are row values"


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


def test_the_master_secret_is_rotated_by_aws_rotation_function_inside_the_vpc(prod_platform):
    """CKV2_AWS_57 (issue 21): RDS-managed passwords are refused for global database members,
    so Secrets Manager rotates the secret with AWS's single-user PostgreSQL function (SAR),
    in the primary region's private subnets, reaching Secrets Manager through its endpoint."""
    from modules.database import (
        MASTER_ROTATION_DAYS,
        ROTATION_APPLICATION,
        ROTATION_APPLICATION_VERSION,
        ROTATION_OUTPUT,
        ROTATION_PARAMETERS,
    )

    (secret_name, _), = [(n, s) for n, s in resources(prod_platform, "aws_secretsmanager_secret").items()
                         if s["name"] == "payments-dr/prod/aurora-master"]
    (rotation,) = resources(prod_platform, "aws_secretsmanager_secret_rotation").values()
    assert rotation["secret_id"] == ref("aws_secretsmanager_secret", secret_name, "id")
    assert rotation["rotation_rules"]["automatically_after_days"] == MASTER_ROTATION_DAYS <= 90
    (app_name, app), = resources(prod_platform,
                                 "aws_serverlessapplicationrepository_cloudformation_stack").items()
    assert rotation["rotation_lambda_arn"] == (
        f'${{aws_serverlessapplicationrepository_cloudformation_stack.{app_name}.outputs["{ROTATION_OUTPUT}"]}}')
    assert app["application_id"] == ROTATION_APPLICATION and app["provider"] == "aws.primary"
    # Pinned: without it the provider deploys the newest version at each apply.
    assert app["semantic_version"] == ROTATION_APPLICATION_VERSION
    # CloudFormation refuses a parameter its template does not declare.
    assert set(app["parameters"]) <= ROTATION_PARAMETERS
    assert {"CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"} <= set(app["capabilities"])
    # The first rotation needs the value (password and host) the apply writes.
    (data_name,) = resources(prod_platform, "terraform_data")
    assert f"terraform_data.{data_name}" in rotation["depends_on"]
    params = app["parameters"]
    assert params["endpoint"] == "https://secretsmanager.us-east-1.amazonaws.com"
    subnets = {ref("aws_subnet", n, "id") for n, s in resources(prod_platform, "aws_subnet").items()
               if s["provider"] == "aws.primary"}
    assert set(params["vpcSubnetIds"].removeprefix("${join(\",\", [").removesuffix("])}")
               .replace("${", "").replace("}", "").split(", ")) == {r[2:-1] for r in subnets}
    rotation_sg, _ = one(prod_platform, "aws_security_group", "primary", "rotation-sg")
    db_sg, db = one(prod_platform, "aws_security_group", "primary", "db-sg")
    endpoint_sg, _ = one(prod_platform, "aws_security_group", "primary", "endpoints-sg")
    assert params["vpcSecurityGroupIds"] == ref("aws_security_group", rotation_sg, "id")
    assert params["kmsKeyArn"].startswith("${aws_kms_key.")
    # Its group: PostgreSQL to the database and HTTPS to the endpoints, nothing else.
    egress = {(r["from_port"], r["referenced_security_group_id"])
              for r in resources(prod_platform, "aws_vpc_security_group_egress_rule").values()
              if r["security_group_id"] == ref("aws_security_group", rotation_sg, "id")}
    assert egress == {(5432, ref("aws_security_group", db_sg, "id")),
                      (443, ref("aws_security_group", endpoint_sg, "id"))}
    (ingress,) = db["ingress"]
    assert ref("aws_security_group", rotation_sg, "id") in ingress["security_groups"]
    assert any(r["security_group_id"] == ref("aws_security_group", endpoint_sg, "id")
               and r["referenced_security_group_id"] == ref("aws_security_group", rotation_sg, "id")
               for r in resources(prod_platform, "aws_vpc_security_group_ingress_rule").values())
    # The DR region has no rotation function (a replica cannot be rotated).
    assert not [n for n in resources(prod_platform, "aws_security_group") if "dr" in n and "rotation" in n]
