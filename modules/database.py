"""Aurora PostgreSQL global database: a writer cluster in the primary region and a secondary
cluster in the DR region, kept in sync by Aurora's storage replication.

Each region's stack holds its own member: `AuroraPrimary` (global cluster, primary cluster,
master secret) in the primary stack, `AuroraSecondary` in the DR stack. The secondary names
the global cluster by identifier (a contract name), never by reference, so the DR stack plans
and applies while the primary region is down.

Decisions a reviewer should know about:
- One source of truth for the master password: an *ephemeral* random password is written to
  the secret once (`secret_string_wo`); the cluster reads it back from that exact secret
  version through an ephemeral `aws_secretsmanager_secret_version` and takes it as
  `master_password_wo`, with a version number derived from the secret's version id. Whatever
  is re-created (cluster, secret or both, after a partial apply or a replacement), the
  cluster's password is the secret's; neither value is ever in plan or state. Aurora's own
  secret integration (`manage_master_user_password`) is not supported for global database
  members. The secret is replicated to the DR region with the DR key, so DR operators can
  log in when the primary region is down. Bump `MASTER_PASSWORD_VERSION` to rotate.
- Member clusters ignore `engine_version` (upgrades go through the global cluster, as the
  provider documents) and `replication_source_identifier`/`global_cluster_identifier`, which
  AWS rewrites on switchover and failover: a plan after a failover must not try to undo it.
- The secondary sets only what a secondary may set: no database name or credentials.
- Logs: only DDL statements and connection-level errors (terse, so no row values in DETAIL
  lines) go to CloudWatch; slow-statement logging is off because PostgreSQL logs a slow
  statement with its literal values (payment data). Performance Insights (normalised SQL)
  covers slow queries. The log group RDS writes to is created first, with the region's key
  and a retention, so RDS never auto-creates an unencrypted, never-expiring one.
- In-region HA: `AURORA_PRIMARY_INSTANCES` / `AURORA_DR_INSTANCES` instances per cluster
  (prod-like default 2 each: a writer and a reader in another zone; a zonal fault then costs
  an in-region failover of about 30 s instead of a regional failover).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

from cdktf import Fn, ITerraformDependable, TerraformResourceLifecycle, TerraformStack, Token
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.rds_cluster import RdsCluster, RdsClusterServerlessv2ScalingConfiguration
from cdktf_cdktf_provider_aws.rds_cluster_instance import RdsClusterInstance
from cdktf_cdktf_provider_aws.rds_cluster_parameter_group import (
    RdsClusterParameterGroup,
    RdsClusterParameterGroupParameter,
)
from cdktf_cdktf_provider_aws.rds_global_cluster import RdsGlobalCluster
from cdktf_cdktf_provider_aws.secretsmanager_secret import (
    SecretsmanagerSecret,
    SecretsmanagerSecretReplica,
)
from cdktf_cdktf_provider_aws.secretsmanager_secret_version import SecretsmanagerSecretVersion
from constructs import Construct

from modules.iam import managed_service_role
from modules.keys import RegionalKey
from modules.metrics import Metric
from modules.naming import Names
from modules.network import RegionalNetwork
from modules.regions import PeerRegion, Region
from modules.settings import Settings

ENGINE = "aurora-postgresql"
MASTER_PASSWORD_VERSION = 1  # bump to set a new generated master password (rotation)
PASSWORD_EPHEMERAL = "aurora_master_password"
PASSWORD_REF = f"ephemeral.aws_secretsmanager_random_password.{PASSWORD_EPHEMERAL}.random_password"
SECRET_EPHEMERAL = "aurora_master_secret"
SECRET_PASSWORD_REF = (
    f"jsondecode(ephemeral.aws_secretsmanager_secret_version.{SECRET_EPHEMERAL}.secret_string).password")
LOG_EXPORTS = ["postgresql"]
# Aurora Serverless v2 (AURORA_INSTANCE_CLASS=db.serverless, the dev profile's default): the
# smallest capacity that never pauses, and a ceiling for bursts. 0.5 ACU (about 1 GiB) is
# enough for the schema and the probes; 0 ACU (auto-pause) is not used: a paused writer takes
# seconds to resume, which the health and RPO checks would report as an outage.
SERVERLESS_MIN_ACU = 0.5
SERVERLESS_MAX_ACU = 4.0
# Drift that AWS itself creates on a global database; see the module docstring.
MEMBER_IGNORED_CHANGES = ["engine_version", "replication_source_identifier", "global_cluster_identifier"]


@dataclass(frozen=True)
class RegionalDatabaseInputs:
    region: Region
    key: RegionalKey
    network: RegionalNetwork


class MemberOnly(TypedDict, total=False):
    """The cluster arguments only one side sets (`AuroraMember(writer_only=...)`)."""

    database_name: str
    master_username: str
    master_password_wo: str
    master_password_wo_version: float
    skip_final_snapshot: bool
    final_snapshot_identifier: str
    source_region: str


class AuroraMember(Construct):
    """One member cluster with its parameter group, log group, monitoring role and instances.

    One code path for both regions; `writer_only` carries what only the primary may set.
    Outputs: `cluster`, `instances`, `log_group`; `metric_rpo_lag()`."""

    def __init__(self, scope: Construct, id: str, *, settings: Settings, names: Names,
                 inputs: RegionalDatabaseInputs, global_cluster_identifier: str,
                 engine_version: str, instance_count: int, writer_only: MemberOnly,
                 depends_on: Sequence[ITerraformDependable] | None = None):
        super().__init__(scope, id)
        region = inputs.region
        self.identifier = identifier = names.cluster(region.role)
        parameters = RdsClusterParameterGroup(
            self, "parameters", provider=region.provider,
            name=f"{identifier}-pg{settings.aurora_major_version}",
            family=f"aurora-postgresql{settings.aurora_major_version}",
            description="TLS-only connections; DDL and terse errors logged, no row values",
            parameter=[
                RdsClusterParameterGroupParameter(name="rds.force_ssl", value="1",
                                                  apply_method="pending-reboot"),
                # Slow-statement logging writes statements with their literal values: off.
                RdsClusterParameterGroupParameter(name="log_min_duration_statement", value="-1"),
                RdsClusterParameterGroupParameter(name="log_statement", value="ddl"),
                # TERSE drops DETAIL lines, which quote row values (e.g. a duplicate key).
                RdsClusterParameterGroupParameter(name="log_error_verbosity", value="terse"),
            ],
        )
        self.log_group = CloudwatchLogGroup(
            self, "postgresql-logs", provider=region.provider,
            name=f"/aws/rds/cluster/{identifier}/postgresql",
            retention_in_days=settings.log_retention_days, kms_key_id=inputs.key.arn,
        )
        self.cluster = RdsCluster(
            self, "cluster", provider=region.provider,
            cluster_identifier=identifier,
            engine=ENGINE, engine_version=engine_version,
            global_cluster_identifier=global_cluster_identifier,
            db_subnet_group_name=inputs.network.db_subnet_group.name,
            vpc_security_group_ids=[inputs.network.db_security_group.id],
            db_cluster_parameter_group_name=parameters.name,
            storage_encrypted=True, kms_key_id=inputs.key.arn,
            backup_retention_period=settings.backup_retention_days,
            preferred_backup_window="03:00-04:00",
            preferred_maintenance_window="sun:05:00-sun:06:00",
            copy_tags_to_snapshot=True,
            deletion_protection=settings.deletion_protection,
            iam_database_authentication_enabled=True,
            enabled_cloudwatch_logs_exports=LOG_EXPORTS,
            serverlessv2_scaling_configuration=RdsClusterServerlessv2ScalingConfiguration(
                min_capacity=SERVERLESS_MIN_ACU, max_capacity=SERVERLESS_MAX_ACU,
            ) if settings.aurora_serverless else None,
            lifecycle=TerraformResourceLifecycle(ignore_changes=MEMBER_IGNORED_CHANGES),
            depends_on=[self.log_group, *(depends_on or [])],
            **writer_only,
        )
        monitoring_role = managed_service_role(
            self, "monitoring-", region=region,
            name=names.regional("rds-monitoring", region.role),
            service="monitoring.rds.amazonaws.com",
            managed_policy="service-role/AmazonRDSEnhancedMonitoringRole",
        )
        monitoring_policy = self.node.find_child("monitoring-policy")
        assert isinstance(monitoring_policy, IamRolePolicyAttachment)  # made by managed_service_role
        self.instances = [
            RdsClusterInstance(
                self, f"instance-{number}", provider=region.provider,
                identifier=names.cluster_instance(region.role, number),
                cluster_identifier=self.cluster.id,
                engine=ENGINE, instance_class=settings.aurora_instance_class,
                db_subnet_group_name=inputs.network.db_subnet_group.name,
                publicly_accessible=False, auto_minor_version_upgrade=True,
                # The first instance is the preferred writer; readers fail over in tier order.
                promotion_tier=number - 1,
                performance_insights_enabled=True, performance_insights_kms_key_id=inputs.key.arn,
                performance_insights_retention_period=7,
                monitoring_interval=30, monitoring_role_arn=monitoring_role.arn,
                copy_tags_to_snapshot=True,
                # The role must be able to publish before RDS starts enhanced monitoring.
                depends_on=[monitoring_policy],
            )
            for number in range(1, instance_count + 1)
        ]

    def metric_rpo_lag(self) -> Metric:
        """Aurora PostgreSQL's RPO lag (ms) of this cluster while it is a secondary; a writer
        publishes nothing, so an alarm on it must treat missing data as not breaching."""
        return Metric("AWS/RDS", "AuroraGlobalDBRPOLag", {"DBClusterIdentifier": self.identifier},
                      statistic="Maximum", period=60, unit_label="ms")


class AuroraPrimary(Construct):
    """The primary region's side: global cluster, master secret (replicated to DR), writer.

    Outputs: `global_cluster`, `secret`, `member` (AuroraMember), `cluster`."""

    def __init__(self, scope: Construct, id: str, *, settings: Settings, names: Names,
                 inputs: RegionalDatabaseInputs, dr: PeerRegion, dr_key: RegionalKey):
        super().__init__(scope, id)
        self._settings, self._names = settings, names
        region = inputs.region
        self.global_cluster = RdsGlobalCluster(
            self, "global", provider=region.provider,
            global_cluster_identifier=names.global_cluster,
            engine=ENGINE, engine_version=settings.aurora_engine_version,
            database_name=names.database, storage_encrypted=True,
            deletion_protection=settings.deletion_protection,
        )
        self.secret, secret_version = self._master_secret(inputs, dr, dr_key)
        identifier = names.cluster(region.role)
        self.member = AuroraMember(
            self, "primary", settings=settings, names=names, inputs=inputs,
            global_cluster_identifier=self.global_cluster.id,
            engine_version=self.global_cluster.engine_version,
            instance_count=settings.aurora_primary_count,
            writer_only=MemberOnly(
                database_name=names.database,
                master_username=names.master_username,
                master_password_wo=f"${{{SECRET_PASSWORD_REF}}}",
                # Changes exactly when the secret gets a new version, so the cluster is told
                # the new password in the same apply and never drifts from the secret.
                master_password_wo_version=Token.as_number(Fn.parseint(
                    Fn.substr(Fn.sha256(secret_version.version_id), 0, 12), 16)),
                # Dev profile: no final snapshot, so teardown leaves nothing behind and can
                # run again (a second "-final" snapshot of the same name would fail).
                **(MemberOnly(skip_final_snapshot=True) if settings.is_dev_profile else MemberOnly(
                    skip_final_snapshot=False, final_snapshot_identifier=f"{identifier}-final")),
            ),
            depends_on=[secret_version],
        )
        self.cluster = self.member.cluster

    def _master_secret(self, inputs: RegionalDatabaseInputs, dr: PeerRegion, dr_key: RegionalKey,
                       ) -> tuple[SecretsmanagerSecret, SecretsmanagerSecretVersion]:
        region, names = inputs.region, self._names
        stack = TerraformStack.of(self)
        # Ephemeral resources have no cdktf binding yet: declared at the stack root.
        stack.add_override(
            f"ephemeral.aws_secretsmanager_random_password.{PASSWORD_EPHEMERAL}",
            {
                "provider": f"aws.{region.role}",
                "password_length": 40,
                # Aurora rejects '/', '@', '"' and spaces; letters and digits are plenty at 40.
                "exclude_punctuation": True,
            },
        )
        secret = SecretsmanagerSecret(
            self, "master-secret", provider=region.provider,
            name=names.db_secret,
            description="Aurora global database master credential (generated, write-only)",
            kms_key_id=inputs.key.arn,
            # Dev profile: deleted at once, so a redeploy after teardown can take the name again.
            recovery_window_in_days=(30 if self._settings.deletion_protection
                                     else 0 if self._settings.is_dev_profile else 7),
            replica=[SecretsmanagerSecretReplica(region=dr.name, kms_key_id=dr_key.arn)],
        )
        version = SecretsmanagerSecretVersion(
            self, "master-secret-value", provider=region.provider,
            secret_id=secret.id,
            secret_string_wo=(
                '${jsonencode({engine = "postgres", port = 5432, '
                f'dbname = "{names.database}", username = "{names.master_username}", '
                f"password = {PASSWORD_REF}}})}}"
            ),
            secret_string_wo_version=MASTER_PASSWORD_VERSION,
        )
        # The cluster's password is read back from exactly the version written above.
        stack.add_override(
            f"ephemeral.aws_secretsmanager_secret_version.{SECRET_EPHEMERAL}",
            {
                "provider": f"aws.{region.role}",
                "secret_id": secret.id,
                "version_id": version.version_id,
            },
        )
        return secret, version


class AuroraSecondary(Construct):
    """The DR region's member: a secondary of the global cluster, named by identifier.

    Outputs: `member` (AuroraMember), `cluster`."""

    def __init__(self, scope: Construct, id: str, *, settings: Settings, names: Names,
                 inputs: RegionalDatabaseInputs, primary: PeerRegion):
        super().__init__(scope, id)
        self.member = AuroraMember(
            self, "dr", settings=settings, names=names, inputs=inputs,
            global_cluster_identifier=names.global_cluster,
            engine_version=settings.aurora_engine_version,
            instance_count=settings.aurora_dr_count,
            writer_only=MemberOnly(
                # A secondary's final snapshot is refused by RDS; its data is the global cluster's.
                skip_final_snapshot=True,
                source_region=primary.name,
            ),
        )
        self.cluster = self.member.cluster
