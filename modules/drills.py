"""DR drills as code: AWS FIS experiment templates of one region (see docs/drills.md).

One `RegionalDrills` per region, placed in that region's stack after its monitoring: it names
only resources of its own region (the replication drill passes the peer region's *name* to
S3, never a peer resource: `peer` is a `PeerRegion`), so it plans and applies while the other
region is down.

Inputs: the region, names, the region's key, the ARNs the replication drill may touch (audit
bucket, global-table replicas of this region; used to scope IAM, while FIS selects its
targets by tags: `drill_tags`), the peer region, the stop-condition alarm ARNs of each drill
(alarms of this region: FIS stop conditions are alarms in the experiment's region;
`default_stop_alarm_arns`) and a log retention.

Outputs: `templates[drill]` (FisExperimentTemplate), `roles[drill]`, `log_group`.

Targets are selected by tags the tiers set: the private subnets (modules/network.py) carry
`DrDrill=regional-failover`, the global tables (modules/tables.py) and audit buckets
(modules/storage.py) `DrDrill=replication`.

Why a network fault for the failover drill: the FIS Lambda actions need the FIS extension
layer on the function, and every function here has a code signing config with `Enforce`
(modules/signing.py), which rejects any layer not signed by our own Signer profile.

Facts this module relies on (checked 2026-11; see docs/drills.md for the sources):
- `aws:network:disrupt-connectivity` (target `aws:ec2:subnet`, action target key `Subnets`,
  parameters `duration` and `scope`; `scope=dynamodb` denies traffic to and from the
  Regional DynamoDB endpoint) clones each target subnet's network ACL, adds deny entries,
  swaps the association for the duration and restores it. AWS-managed policy:
  `service-role/AWSFaultInjectionSimulatorNetworkAccess`.
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
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from constructs import Construct

from contract import (
    ALARM_AURORA_RPO_LAG,
    ALARM_DOMAIN_UNREACHABLE,
    ALARM_DYNAMODB_REPLICATION,
    ALARM_PEER_UNREACHABLE,
    DRILL_REGIONAL_FAILOVER,
    DRILL_REPLICATION,
    DRILL_TAG,
)
from modules.iam import policy_document, statement
from modules.keys import RegionalKey
from modules.naming import Names
from modules.regions import PeerRegion, Region

# The failover fault lasts long enough for detection + DNS TTL + a margin over the 5-minute
# RTO target; `drctl drill` stops it as soon as DR has served a request.
FAILOVER_FAULT_DURATION = "PT10M"
# The health path (lambda/payments/health.py) needs both tables; the functions reach DynamoDB
# only through the gateway endpoint of their private subnets. Aurora (5432 inside the VPC), S3
# (its own gateway endpoint) and the interface endpoints stay reachable.
FAILOVER_FAULT_SCOPE = "dynamodb"
# AWS maintains it with the action's permissions: NACL create/entry/delete only on ACLs tagged
# managedByFIS=true, the association swap, and the Describe*/prefix-list reads.
NETWORK_ACCESS_POLICY = "service-role/AWSFaultInjectionSimulatorNetworkAccess"
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


def aws_managed_policy_arn(region: Region, name: str) -> str:
    return f"arn:{region.partition}:iam::aws:policy/{name}"


def default_stop_alarm_arns(region: Region, names: Names) -> dict[str, list[str]]:
    """The stop conditions docs/drills.md argues for, as alarm ARNs of `region` (by name).

    Failover: the fault itself breaks this region's payment path and health (validator errors,
    API 5XX, DependencyFailure are expected), so the stops mean "failing over is unsafe" or
    "it is not working": the other region is unreachable from here (`peer-unreachable`, this
    region's probe, outside the VPC), clients cannot reach the domain at all
    (`domain-unreachable`), or data is at risk (replication latency, Aurora RPO lag).
    Replication: serving must not break (not the replication alarms: they are what the drill
    expects to fire).
    """
    def arn(what: str) -> str:
        return alarm_arn(region, names.alarm(what, region.role))

    return {DRILL_REGIONAL_FAILOVER: [arn(ALARM_PEER_UNREACHABLE), arn(ALARM_DOMAIN_UNREACHABLE),
                                      arn(ALARM_DYNAMODB_REPLICATION.format(table="transactions")),
                                      arn(ALARM_AURORA_RPO_LAG)],
            DRILL_REPLICATION: [arn("api-5xx-rate"), arn("lambda-errors-validator")]}


class RegionalDrills(Construct):
    """The FIS drills of one region: a failover drill and a replication drill."""

    def __init__(self, scope: Construct, id: str, *, region: Region, names: Names,
                 key: RegionalKey, peer: PeerRegion, audit_bucket_arn: str,
                 table_arns: Sequence[str],
                 stop_alarm_arns: Mapping[str, Sequence[str]], log_retention_days: int):
        super().__init__(scope, id)
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
        self.roles: dict[str, IamRole] = {}
        self.templates: dict[str, FisExperimentTemplate] = {}
        self._template(
            DRILL_REGIONAL_FAILOVER,
            description=f"{names.env} {region.role}: the private subnets cannot reach DynamoDB "
                        "(temporary network ACL), so /health answers 503 and Route 53 moves "
                        "traffic to the other region; Aurora, S3 and the data stay intact",
            # Hand-written EC2 statements would copy (and drift from) what AWS maintains.
            permissions=[],
            managed_policies=[aws_managed_policy_arn(region, NETWORK_ACCESS_POLICY)],
            targets={"subnets": ("aws:ec2:subnet", "Subnets",
                                 self._tags(DRILL_REGIONAL_FAILOVER, region_role=True))},
            actions=[("deny-dynamodb", "aws:network:disrupt-connectivity", "subnets", {
                "duration": FAILOVER_FAULT_DURATION, "scope": FAILOVER_FAULT_SCOPE})],
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
                  stop_alarms: Sequence[str], managed_policies: Sequence[str] = ()) -> None:
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
                # Account-level list calls: DescribeResourcePolicies has no resource type, so
                # a log-group ARN never matches it (parliament RESOURCE_MISMATCH) and vended
                # delivery could not check the group's policy. They read names, not logs.
                statement("FindExperimentLogGroup",
                          ["logs:DescribeLogGroups", "logs:DescribeResourcePolicies"], ["*"]),
            ]))
        for index, policy_arn in enumerate(managed_policies):
            IamRolePolicyAttachment(self, f"{drill}-managed-{index}", provider=p, role=role.name,
                                    policy_arn=policy_arn)
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
