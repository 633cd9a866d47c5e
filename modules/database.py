"""Aurora PostgreSQL global database: a writer cluster in the primary region and a secondary
cluster in the DR region, kept in sync by Aurora's storage replication.

Each region's stack holds its own member: `AuroraPrimary` (global cluster, primary cluster,
master secret) in the primary stack, `AuroraSecondary` in the DR stack. The secondary names
the global cluster by identifier (a contract name), never by reference, so the DR stack plans
and applies while the primary region is down.

Decisions a reviewer should know about:
- The master password: no plan ever reads a secret's value (the CI plan roles are denied
  secretsmanager:GetSecretValue: modules/ci_roles.py). Terraform creates the cluster with an
  *ephemeral* random password that is stored nowhere (`master_password_wo`, known to nobody),
  then `terraform_data.master-password` sets the real one at APPLY time: a local-exec
  (`SET_MASTER_PASSWORD`, aws CLI with the applier's credentials) generates a password,
  ModifyDBCluster gives it to the cluster, PutSecretValue stores it in the secret. It runs
  again whenever the cluster or the secret is re-created or `MASTER_PASSWORD_VERSION` is
  bumped (rotation); if it fails, the resource is tainted and the next apply re-runs it, so
  the cluster and the secret cannot stay apart. Neither value is in plan or state, and no
  `aws_secretsmanager_secret_version` exists (refreshing one is a GetSecretValue). Aurora's
  own secret integration (`manage_master_user_password`) is not supported for "DB clusters
  that are part of an Aurora global database" (Aurora User Guide, Secrets Manager
  integration, limitations; the provider passes it through, AWS refuses it). The secret is
  replicated to the DR region with the DR key, so DR operators can log in when the primary
  region is down. The apply needs the aws CLI. Its resource policy
  (modules/secret_policy.py, replicated with it) lets only the key administrators and the
  rotation function read or write it: the applier writes the first password; nothing but a
  person through the break-glass role `payments-dr-key-admin-<env>` ever reads it (no
  function connects to Aurora).
- Rotation (`MASTER_ROTATION_DAYS`): Secrets Manager rotates the secret with AWS's own
  single-user PostgreSQL rotation function (Serverless Application Repository,
  `ROTATION_APPLICATION`), deployed in the primary region's private subnets with its own
  security group (Secrets Manager endpoint and PostgreSQL only: modules/network.py). It
  connects to the primary cluster's endpoint (`host` in the secret) and runs ALTER USER; the
  new password reaches the DR cluster by storage replication and the DR replica of the secret
  by Secrets Manager's replication. While the primary cluster is not the writer (after a
  failover) rotation fails and the last password stays valid in both. The function's role is
  CloudFormation's, named `serverlessrepo-<stack>-<logical id>-<random>` with its parts
  cut to fit 64 characters (25 of the stack name, which hold the environment, and 24 of the
  logical id: `rotation_role_pattern`), so only a role of that name can read the value. The
  application's version is pinned (`ROTATION_APPLICATION_VERSION`), and the secret says
  `"ssl": true`, so the function never falls back to an unencrypted connection.
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

from cdktf import (
    DataResource,
    Fn,
    ITerraformDependable,
    LocalExecProvisioner,
    TerraformResourceLifecycle,
    TerraformStack,
)
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
from cdktf_cdktf_provider_aws.secretsmanager_secret_rotation import (
    SecretsmanagerSecretRotation,
    SecretsmanagerSecretRotationRotationRules,
)
from cdktf_cdktf_provider_aws.serverlessapplicationrepository_cloudformation_stack import (
    ServerlessapplicationrepositoryCloudformationStack,
)
from constructs import Construct

from contract import AURORA_RPO_LAG
from modules.iam import managed_service_role
from modules.keys import RegionalKey, key_admins
from modules.metrics import Metric
from modules.naming import Names
from modules.network import RegionalNetwork
from modules.regions import PeerRegion, Region
from modules.secret_policy import secret_policy
from modules.settings import Settings

ENGINE = "aurora-postgresql"
MASTER_PASSWORD_VERSION = 1  # bump to set a new generated master password (rotation)
PASSWORD_EPHEMERAL = "aurora_master_password"
PASSWORD_REF = f"ephemeral.aws_secretsmanager_random_password.{PASSWORD_EPHEMERAL}.random_password"
# Apply-time only (a provisioner never runs during plan). The password lives in a shell
# variable: never on a command line (other processes can read argv) or in Terraform's output.
# ModifyDBCluster first: the secret never holds a password the cluster does not have for long.
SET_MASTER_PASSWORD = """set -euo pipefail
password=$(aws secretsmanager get-random-password --region "$REGION" --password-length 40 \\
  --exclude-punctuation --require-each-included-type --query RandomPassword --output text)
printf '%s' "$password" | aws rds modify-db-cluster --region "$REGION" \\
  --db-cluster-identifier "$CLUSTER" --master-user-password file:///dev/stdin \\
  --apply-immediately > /dev/null
# The fields AWS's single-user rotation function reads (host: the primary cluster's endpoint).
# ssl: true, or the function falls back to sslmode=disable when a TLS connection fails.
format='{"engine":"postgres","host":"%s","port":5432,"dbname":"%s","username":"%s",'
format+='"password":"%s","dbClusterIdentifier":"%s","ssl":true}'
printf "$format" "$HOST" "$DBNAME" "$USERNAME" "$password" "$CLUSTER" \\
  | aws secretsmanager put-secret-value --region "$REGION" \\
  --secret-id "$SECRET" --secret-string file:///dev/stdin > /dev/null
echo "master password of $CLUSTER set and stored in its secret"
"""
# AWS's single-user PostgreSQL rotation function (the Secrets Manager rotation templates),
# pinned: without `semantic_version` the provider deploys whatever version is newest at apply,
# so the same plan could run different code. 1.1.671 is the version AWS CDK's
# `SecretRotationApplication.POSTGRES_ROTATION_SINGLE_USER` deploys in the aws partition
# (aws-cdk-lib/aws-secretsmanager/lib/secret-rotation.ts); the parameter names below are the
# ones that construct passes to the same application (endpoint with its scheme, functionName,
# vpcSubnetIds comma-joined, vpcSecurityGroupIds, kmsKeyArn; excludeCharacters left at the
# function's default `:/@"'\`, all of which Aurora would refuse or a shell would mangle).
ROTATION_APPLICATION = ("arn:aws:serverlessrepo:us-east-1:297356227824:applications/"
                        "SecretsManagerRDSPostgreSQLRotationSingleUser")
ROTATION_APPLICATION_VERSION = "1.1.671"
ROTATION_PARAMETERS = frozenset({"endpoint", "functionName", "vpcSubnetIds", "vpcSecurityGroupIds",
                                 "excludeCharacters", "kmsKeyArn", "masterSecretArn",
                                 "masterSecretKmsKeyArn"})
ROTATION_OUTPUT = "RotationLambdaARN"
MASTER_ROTATION_DAYS = 30
# CloudFormation names the function's role `<stack>-<logical id>-<13 random>` within IAM's 64
# characters, cutting a long stack name to 25 and the logical id to 24: a role of this very
# template, deployed by CloudFormation, is named
# `SecretsManagerRDSPostgreS-SecretsManagerRDSPostgre-1ROSS4UUXCVRJ` (its inline policies are
# `SecretsManagerRDSPostgreSQLRotationSingleUserRolePolicy0/1`, so the logical id is
# `SecretsManagerRDSPostgreSQLRotationSingleUserRole`).
ROTATION_ROLE_PREFIX_CHARS = 25
ROTATION_ROLE_LOGICAL_ID = "SecretsManagerRDSPostgreSQLRotationSingleUserRole"
ROTATION_ROLE_LOGICAL_CHARS = 24
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
            description="TLS-only connections; connections, DDL, role changes and terse errors "
                        "logged, no row values",
            parameter=[
                RdsClusterParameterGroupParameter(name="rds.force_ssl", value="1",
                                                  apply_method="pending-reboot"),
                # Slow-statement logging writes statements with their literal values: off.
                RdsClusterParameterGroupParameter(name="log_min_duration_statement", value="-1"),
                RdsClusterParameterGroupParameter(name="log_statement", value="ddl"),
                # TERSE drops DETAIL lines, which quote row values (e.g. a duplicate key).
                RdsClusterParameterGroupParameter(name="log_error_verbosity", value="terse"),
                # PCI DSS 10.2: every connection and disconnection (user, host, duration).
                RdsClusterParameterGroupParameter(name="log_connections", value="1"),
                RdsClusterParameterGroupParameter(name="log_disconnections", value="1"),
                # pgaudit session logging of DDL and role/privilege changes, attributed to the
                # session's user; never statement parameters (they are row values). Loaded at
                # start (static); `CREATE EXTENSION pgaudit` is the operator's one step
                # (docs/compliance.md, 10). pg_stat_statements is Aurora's default library.
                RdsClusterParameterGroupParameter(name="shared_preload_libraries",
                                                  value="pg_stat_statements,pgaudit",
                                                  apply_method="pending-reboot"),
                RdsClusterParameterGroupParameter(name="pgaudit.log", value="ddl,role"),
                RdsClusterParameterGroupParameter(name="pgaudit.log_parameter", value="0"),
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
        return Metric(AURORA_RPO_LAG.namespace, AURORA_RPO_LAG.name, AURORA_RPO_LAG.dims(self.identifier),
                      statistic=AURORA_RPO_LAG.statistic, period=60, unit_label="ms")


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
        self.secret = self._master_secret(inputs, dr, dr_key)
        self.secret_policy = secret_policy(
            self, "master-secret-policy", region=inputs.region, secret=self.secret,
            readers=(), writers=(), admins=key_admins(settings, names),
            rotators=(rotation_role_pattern(names),))
        identifier = names.cluster(region.role)
        self.member = AuroraMember(
            self, "primary", settings=settings, names=names, inputs=inputs,
            global_cluster_identifier=self.global_cluster.id,
            engine_version=self.global_cluster.engine_version,
            instance_count=settings.aurora_primary_count,
            writer_only=MemberOnly(
                database_name=names.database,
                master_username=names.master_username,
                # Only to create the cluster (the API requires one): nobody ever knows it;
                # `master_password` below replaces it in the same apply.
                master_password_wo=f"${{{PASSWORD_REF}}}",
                master_password_wo_version=1,
                # Dev profile: no final snapshot, so teardown leaves nothing behind and can
                # run again (a second "-final" snapshot of the same name would fail).
                **(MemberOnly(skip_final_snapshot=True) if settings.is_dev_profile else MemberOnly(
                    skip_final_snapshot=False, final_snapshot_identifier=f"{identifier}-final")),
            ),
        )
        self.cluster = self.member.cluster
        self.master_password = DataResource(
            self, "master-password",
            triggers_replace={"cluster": self.cluster.cluster_resource_id,
                              "secret": self.secret.arn, "version": MASTER_PASSWORD_VERSION},
            # After the instances: the cluster is in use and available when the password changes.
            depends_on=list(self.member.instances),
            provisioners=[LocalExecProvisioner(
                type="local-exec", command=SET_MASTER_PASSWORD, interpreter=["/bin/bash", "-c"],
                environment={"REGION": region.name, "CLUSTER": self.cluster.cluster_identifier,
                             "HOST": self.cluster.endpoint,
                             "SECRET": self.secret.arn, "DBNAME": names.database,
                             "USERNAME": names.master_username})],
        )
        self.rotation = self._rotation(inputs)

    def _rotation(self, inputs: RegionalDatabaseInputs) -> SecretsmanagerSecretRotation:
        """AWS's rotation function in the private subnets, and the secret's schedule."""
        region, network = inputs.region, inputs.network
        if "secretsmanager" not in network.interface_endpoints:
            raise ValueError("the master secret's rotation needs the Secrets Manager interface "
                             "endpoint (no NAT): add it to the region's interface endpoints")
        function = rotation_stack_name(self._names)
        application = ServerlessapplicationrepositoryCloudformationStack(
            self, "rotation-function", provider=region.provider,
            name=function, application_id=ROTATION_APPLICATION,
            semantic_version=ROTATION_APPLICATION_VERSION,
            capabilities=["CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"],
            parameters={
                # resolved to the VPC's interface endpoint (private DNS)
                "endpoint": f"https://secretsmanager.{region.name}.amazonaws.com",
                "functionName": function,
                "vpcSubnetIds": Fn.join(",", [s.id for s in network.subnets]),
                "vpcSecurityGroupIds": network.rotation_security_group.id,
                "kmsKeyArn": inputs.key.arn,
            },
        )
        return SecretsmanagerSecretRotation(
            self, "master-rotation", provider=region.provider,
            secret_id=self.secret.id,
            rotation_lambda_arn=application.outputs.lookup(ROTATION_OUTPUT),
            rotation_rules=SecretsmanagerSecretRotationRotationRules(
                automatically_after_days=MASTER_ROTATION_DAYS),
            # The first rotation runs at once: the secret must hold the password and host.
            depends_on=[self.master_password],
        )

    def _master_secret(self, inputs: RegionalDatabaseInputs, dr: PeerRegion, dr_key: RegionalKey,
                       ) -> SecretsmanagerSecret:
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
        # Its value is written at apply time only (SET_MASTER_PASSWORD): no version resource.
        return SecretsmanagerSecret(
            self, "master-secret", provider=region.provider,
            name=names.db_secret,
            description="Aurora global database master credential (set at apply, never planned)",
            kms_key_id=inputs.key.arn,
            # Dev profile: deleted at once, so a redeploy after teardown can take the name again.
            recovery_window_in_days=(30 if self._settings.deletion_protection
                                     else 0 if self._settings.is_dev_profile else 7),
            replica=[SecretsmanagerSecretReplica(region=dr.name, kms_key_id=dr_key.arn)],
        )


def rotation_stack_name(names: Names) -> str:
    """The rotation function's name and its SAR stack's (the environment first, so it
    survives CloudFormation's truncation of the role name)."""
    return f"{names.env}-aurora-rotation"


def rotation_role_pattern(names: Names) -> str:
    """The rotation function's role name as a pattern: CloudFormation's generated name is the
    SAR stack's (`serverlessrepo-<name>`) first ROTATION_ROLE_PREFIX_CHARS, the role's logical
    id's first ROTATION_ROLE_LOGICAL_CHARS, then a random suffix."""
    stack = f"serverlessrepo-{rotation_stack_name(names)}"  # always longer than the cut
    return (f"{stack[:ROTATION_ROLE_PREFIX_CHARS]}-"
            f"{ROTATION_ROLE_LOGICAL_ID[:ROTATION_ROLE_LOGICAL_CHARS]}-*")


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
                # A final snapshot here too: the provider (>= 6.x, hashicorp/terraform-provider-
                # aws#40333) removes a member from its global cluster before DeleteDBCluster,
                # so the DR cluster is standalone when it is deleted and RDS takes the snapshot.
                # If it is the last copy (primary already gone), its data survives. Dev profile:
                # none, as for the primary (a teardown that can run again).
                **(MemberOnly(skip_final_snapshot=True) if settings.is_dev_profile else MemberOnly(
                    skip_final_snapshot=False,
                    final_snapshot_identifier=f"{names.cluster(inputs.region.role)}-final")),
                source_region=primary.name,
            ),
        )
        self.cluster = self.member.cluster
