"""DR drills as code: AWS FIS experiment templates of one region (see docs/drills.md).

One `RegionalDrills` per region, placed in that region's stack: it names only resources of
its own region (the replication drill passes the peer region's *name* to S3, never a peer
resource: `peer` is a `PeerRegion`), so it plans and applies while the other region is down.

Inputs: the region, names, the region's key, the ARNs the drills may touch (audit bucket,
global-table replicas of this region, the health function - by default its contract name;
used to scope IAM, while FIS selects its targets by tags), the peer region, the
stop-condition alarm ARNs of each drill (alarms of this region: FIS stop conditions are alarms
in the experiment's region; `default_stop_alarm_arns`) and a log retention.

Outputs: `templates[drill]` (FisExperimentTemplate), `roles[drill]`, `log_group`,
`config_bucket`. For the health function (the lead wires these into compute; functions of the
region and names, so either tier can be built first): `FIS_EXTENSION_LAYER_PARAMETER`,
`health_function_environment(region, names)`, `grant_extension_read(region, names, key_arn)`.

Facts this module relies on (checked 2026-11; see docs/drills.md for the sources):
- `aws:lambda:invocation-error` (target `aws:lambda:function`, action target key `Functions`,
  accepted by the provider since 6.22.0) works only through the FIS Lambda extension: a layer,
  `AWS_LAMBDA_EXEC_WRAPPER=/opt/aws-fis/bootstrap`, and `AWS_FIS_CONFIGURATION_LOCATION` = an
  S3 location in the function's region that the experiment role writes and the function reads.
- `aws:dynamodb:global-table-pause-replication` (target `aws:dynamodb:global-table`, key
  `Tables`, parameter `duration`) pauses replication by putting a resource policy on the replica.
- `aws:s3:bucket-pause-replication` (target `aws:s3:bucket`, key `Buckets`, parameters
  `duration` and `region` = the destination region; optional `destinationBuckets`, `prefixes`).
- FIS only accepts a log group ARN with the `:*` suffix (hashicorp/terraform-provider-aws#35941).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.cloudwatch_log_resource_policy import CloudwatchLogResourcePolicy
from cdktf_cdktf_provider_aws.fis_experiment_template import (
    FisExperimentTemplate,
    FisExperimentTemplateAction,
    FisExperimentTemplateActionParameter,
    FisExperimentTemplateActionTarget,
    FisExperimentTemplateExperimentOptions,
    FisExperimentTemplateLogConfiguration,
    FisExperimentTemplateLogConfigurationCloudwatchLogsConfiguration,
    FisExperimentTemplateStopCondition,
    FisExperimentTemplateTarget,
    FisExperimentTemplateTargetResourceTag,
)
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from contract import (
    ALARM_DYNAMODB_REPLICATION,
    DRILL_REGIONAL_FAILOVER,
    DRILL_REPLICATION,
    DRILL_TAG,
    LAMBDA_ARCHITECTURE,
)
from modules.buckets import HardenedBucket
from modules.iam import policy_document, statement
from modules.keys import RegionalKey
from modules.naming import Names
from modules.regions import PeerRegion, Region

# Public SSM parameter (one per region) holding the FIS Lambda extension layer ARN for our
# functions' architecture (docs: "Available versions of the AWS FIS extension for Lambda").
FIS_EXTENSION_LAYER_PARAMETER = (
    f"/aws/service/fis/lambda-extension/AWS-FIS-extension-{LAMBDA_ARCHITECTURE}/1.x.x")
FIS_EXTENSION_WRAPPER = "/opt/aws-fis/bootstrap"
CONFIG_PREFIX = "FisConfigs/"
# The failover fault lasts long enough for detection + DNS TTL + a margin over the 5-minute
# RTO target; `drctl drill` stops it as soon as DR has served a request.
FAILOVER_FAULT_DURATION = "PT10M"
# S3's replication-latency alarm needs latency above the 15-minute RTC target for two 5-minute
# periods; a shorter pause would only ever exercise the DynamoDB and canary alarms.
REPLICATION_PAUSE_DURATION = "PT25M"
LOG_SCHEMA_VERSION = 2
EMPTY_TARGET_MODE = "fail"  # a template whose tags match nothing fails instead of passing


def drill_tags(drill: str, names: Names) -> dict[str, str]:
    """Tags a resource needs to be a target of `drill` (on top of the provider defaults)."""
    return {DRILL_TAG: drill, "Environment": names.env, "Application": "payments-dr"}


def alarm_arn(region: Region, alarm_name: str) -> str:
    return region.arn("cloudwatch", f"alarm:{alarm_name}")


def default_stop_alarm_arns(region: Region, names: Names) -> dict[str, list[str]]:
    """The stop conditions docs/drills.md argues for, as alarm ARNs of `region` (by name).

    Failover: the payment path must keep working and data must stay intact (not api-5xx: the
    failing health checks are 5XX by design). Replication: serving must not break (not the
    replication alarms: they are what the drill expects to fire).
    """
    def arn(what: str) -> str:
        return alarm_arn(region, names.alarm(what, region.role))

    return {DRILL_REGIONAL_FAILOVER: [arn("lambda-errors-validator"),
                                      arn(ALARM_DYNAMODB_REPLICATION.format(table="transactions"))],
            DRILL_REPLICATION: [arn("api-5xx"), arn("lambda-errors-validator")]}


# -- what the health function needs (the lead adds these in modules/compute.py) --------------
# Functions of names only (no construct), so compute and drills can be built in either order:
# the fault-configuration bucket has a contract name (Names.drill_config_bucket).

def fault_config_location(region: Region, names: Names) -> str:
    bucket = names.drill_config_bucket(region.account_id, region.name)
    return f"arn:{region.partition}:s3:::{bucket}/{CONFIG_PREFIX}"


def health_function_environment(region: Region, names: Names) -> dict[str, str]:
    """Environment variables that route the health function through the FIS extension."""
    return {"AWS_LAMBDA_EXEC_WRAPPER": FIS_EXTENSION_WRAPPER,
            "AWS_FIS_CONFIGURATION_LOCATION": fault_config_location(region, names)}


def grant_extension_read(region: Region, names: Names, key_arn: str) -> list[dict[str, Any]]:
    """Statements for the health function's role: the extension reads fault configurations."""
    bucket = f"arn:{region.partition}:s3:::{names.drill_config_bucket(region.account_id, region.name)}"
    return [
        statement("ListFaultConfigurations", ["s3:ListBucket"], [bucket],
                  condition={"StringLike": {"s3:prefix": [f"{CONFIG_PREFIX}*"]}}),
        statement("ReadFaultConfigurations", ["s3:GetObject"], [f"{bucket}/{CONFIG_PREFIX}*"]),
        statement("DecryptFaultConfigurations", ["kms:Decrypt"], [key_arn],
                  condition={"StringEquals": {"kms:ViaService": f"s3.{region.name}.amazonaws.com"}}),
    ]


class RegionalDrills(Construct):
    """The FIS drills of one region: a failover drill and a replication drill."""

    def __init__(self, scope: Construct, id: str, *, region: Region, names: Names,
                 key: RegionalKey, peer: PeerRegion, audit_bucket_arn: str,
                 table_arns: Sequence[str],
                 stop_alarm_arns: Mapping[str, Sequence[str]], log_retention_days: int,
                 health_function_arn: str | None = None):
        super().__init__(scope, id)
        # Default: the contract name, so this construct needs nothing from the compute tier.
        health_function_arn = health_function_arn or region.arn(
            "lambda", f"function:{names.function('health', region.role)}")
        for drill in (DRILL_REGIONAL_FAILOVER, DRILL_REPLICATION):
            if not list(stop_alarm_arns.get(drill, ())):
                raise ValueError(f"stop_alarm_arns[{drill!r}] is empty: a drill without a "
                                 "CloudWatch-alarm stop condition cannot be stopped by FIS")
        if peer.name == region.name:
            raise ValueError(f"peer region {peer.name!r} is this region")
        self.region, self.names = region, names
        p = region.provider

        self.log_group = CloudwatchLogGroup(
            self, "logs", provider=p, name=f"/aws/fis/payments-dr-{names.env}-{region.role}",
            retention_in_days=log_retention_days, kms_key_id=key.arn)
        # FIS delivers experiment logs as "vended logs": the log group's resource policy must
        # let the delivery service write. Written here, so nobody needs logs:PutResourcePolicy.
        CloudwatchLogResourcePolicy(
            self, "log-delivery", provider=p,
            policy_name=f"payments-dr-{names.env}-{region.role}-fis-log-delivery",
            policy_document=policy_document([
                statement("FisExperimentLogDelivery",
                          ["logs:CreateLogStream", "logs:PutLogEvents"],
                          [f"{self.log_group.arn}:log-stream:*"],
                          principal={"Service": "delivery.logs.amazonaws.com"},
                          condition={"StringEquals": {"aws:SourceAccount": region.account_id},
                                     "ArnLike": {"aws:SourceArn": region.arn("logs", "*")}}),
            ]))
        self.config_bucket = HardenedBucket(
            self, "config", region=region,
            bucket_name=names.drill_config_bucket(region.account_id, region.name),
            key_arn=key.arn, force_destroy=True)
        self._config_objects = f"{self.config_bucket.bucket.arn}/{CONFIG_PREFIX}*"

        self.roles: dict[str, IamRole] = {}
        self.templates: dict[str, FisExperimentTemplate] = {}
        self._template(
            DRILL_REGIONAL_FAILOVER,
            description=f"{names.env} {region.role}: every invocation of the health function "
                        "fails (data path untouched) so Route 53 moves traffic to the other region",
            permissions=[
                statement("WriteFaultConfigurations", ["s3:PutObject", "s3:DeleteObject"],
                          [self._config_objects]),
                statement("EncryptFaultConfigurations", ["kms:GenerateDataKey", "kms:Decrypt"],
                          [key.arn], condition={"StringEquals": {
                              "kms:ViaService": f"s3.{region.name}.amazonaws.com"}}),
                statement("InspectHealthFunction", ["lambda:GetFunction"], [health_function_arn]),
            ],
            targets={"health": ("aws:lambda:function", "Functions",
                                self._tags(DRILL_REGIONAL_FAILOVER, region_role=True))},
            actions=[("fail-health", "aws:lambda:invocation-error", "health", {
                "duration": FAILOVER_FAULT_DURATION, "invocationPercentage": "100",
                # The health handler never runs: no read of the data stores, no side effect.
                "preventExecution": "true"})],
            stop_alarms=stop_alarm_arns[DRILL_REGIONAL_FAILOVER])
        table_arns = list(table_arns)
        self._template(
            DRILL_REPLICATION,
            description=f"{names.env} {region.role}: DynamoDB replication of this region's "
                        f"replicas and S3 replication {region.name} -> {peer.name} "
                        "paused, so the replication alarms and the RPO canary must notice",
            permissions=[
                statement("PauseTableReplication",
                          ["dynamodb:PutResourcePolicy", "dynamodb:DeleteResourcePolicy",
                           "dynamodb:GetResourcePolicy", "dynamodb:DescribeTable",
                           "dynamodb:InjectError"], table_arns),
                statement("PauseBucketReplication",
                          ["s3:GetReplicationConfiguration", "s3:PauseReplication"],
                          [audit_bucket_arn]),
                # Only the pause FIS itself performs; never an arbitrary replication change.
                statement("PauseBucketReplicationConfiguration",
                          ["s3:PutReplicationConfiguration"], [audit_bucket_arn],
                          condition={"Bool": {"s3:isReplicationPauseRequest": "true"}}),
                # ListAllMyBuckets supports no resource-level permission.
                statement("ResolveBuckets", ["s3:ListAllMyBuckets"], ["*"]),
            ],
            targets={
                # No RegionRole tag here: replicas carry the tags propagated from the table in
                # the primary region. FIS resolves targets in the experiment's region only.
                "tables": ("aws:dynamodb:global-table", "Tables",
                           self._tags(DRILL_REPLICATION, region_role=False)),
                "buckets": ("aws:s3:bucket", "Buckets",
                            self._tags(DRILL_REPLICATION, region_role=True)),
            },
            actions=[
                ("pause-tables", "aws:dynamodb:global-table-pause-replication", "tables",
                 {"duration": REPLICATION_PAUSE_DURATION}),
                ("pause-buckets", "aws:s3:bucket-pause-replication", "buckets",
                 {"duration": REPLICATION_PAUSE_DURATION, "region": peer.name}),
            ],
            stop_alarms=stop_alarm_arns[DRILL_REPLICATION])

    def _tags(self, drill: str, *, region_role: bool) -> dict[str, str]:
        tags = drill_tags(drill, self.names)
        if region_role:
            tags["RegionRole"] = self.region.role
        return tags

    def _template(self, drill: str, *, description: str, permissions: list[dict[str, Any]],
                  targets: dict[str, tuple[str, str, dict[str, str]]],
                  actions: list[tuple[str, str, str, dict[str, str]]],
                  stop_alarms: Sequence[str]) -> None:
        region, p = self.region, self.region.provider
        role = IamRole(
            self, f"{drill}-role", provider=p, name=self.names.regional(f"fis-{drill}", region.role),
            assume_role_policy=policy_document([
                statement("FisExperimentsOfThisAccount", ["sts:AssumeRole"], None,
                          principal={"Service": "fis.amazonaws.com"},
                          condition={"StringEquals": {"aws:SourceAccount": region.account_id},
                                     "ArnLike": {"aws:SourceArn":
                                                 region.arn("fis", "experiment/*")}}),
            ]))
        IamRolePolicy(
            self, f"{drill}-policy", provider=p, role=role.id, name="least-privilege",
            policy=policy_document([
                *permissions,
                # FIS resolves tag-selected targets with the Resource Groups Tagging API, which
                # supports no resource-level permission.
                statement("ResolveTargetsByTag", ["tag:GetResources"], ["*"]),
                # Vended log delivery to the (already authorised) log group.
                statement("DeliverExperimentLogs", ["logs:CreateLogDelivery"], ["*"]),
                statement("FindExperimentLogGroup",
                          ["logs:DescribeLogGroups", "logs:DescribeResourcePolicies"],
                          [region.arn("logs", "log-group:*")]),
            ]))
        self.roles[drill] = role
        self.templates[drill] = FisExperimentTemplate(
            self, drill, provider=p, description=description, role_arn=role.arn,
            stop_condition=[FisExperimentTemplateStopCondition(source="aws:cloudwatch:alarm",
                                                               value=arn)
                            for arn in stop_alarms],
            target=[FisExperimentTemplateTarget(
                name=name, resource_type=rtype, selection_mode="ALL",
                resource_tag=[FisExperimentTemplateTargetResourceTag(key=k, value=v)
                              for k, v in sorted(tags.items())])
                for name, (rtype, _, tags) in targets.items()],
            action=[FisExperimentTemplateAction(
                name=name, action_id=action_id,
                target=FisExperimentTemplateActionTarget(key=targets[target][1], value=target),
                parameter=[FisExperimentTemplateActionParameter(key=k, value=v)
                           for k, v in sorted(params.items())])
                for name, action_id, target, params in actions],
            experiment_options=FisExperimentTemplateExperimentOptions(
                account_targeting="single-account",
                empty_target_resolution_mode=EMPTY_TARGET_MODE),
            log_configuration=FisExperimentTemplateLogConfiguration(
                log_schema_version=LOG_SCHEMA_VERSION,
                cloudwatch_logs_configuration=(
                    FisExperimentTemplateLogConfigurationCloudwatchLogsConfiguration(
                        log_group_arn=f"{self.log_group.arn}:*"))),
            tags={"Name": self.names.regional(f"drill-{drill}", region.role), DRILL_TAG: drill},
        )
