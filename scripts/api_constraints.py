"""AWS API constraints on what we ship: every literal value of a resource attribute that the
AWS provider sends to an API request member is checked against that member's shape in the
botocore service model (pattern, length, enum, range), plus the limits only the provider
knows (its own validation, which botocore cannot see).

Why: the provider validates few attributes at plan time (often only a length), so a value the
API refuses passes `terraform plan` and fails `apply` half-way through a stack (issue 18: WAF
descriptions with parentheses; a Route 53 `reference_name` of 29 characters).

Data-driven: `TABLE` maps each resource type to the API operation(s) that create it and, per
attribute path, the request member it becomes. A type the stacks use must be either in
`TABLE` or in `NO_LITERAL_MEMBERS` with the reason (tests/test_api_constraints.py lists the
unmapped ones), so a new resource type is one row.

Attribute paths (Terraform JSON side): dotted keys; lists (repeated blocks) are walked
through at every step; `**` is any depth (WAF statements nest); `@key`/`@value` are a map's
keys/values (tags, dimensions). Member paths (botocore side): dotted member names; `[]` is a
list's member; `@key`/`@value` a map's key/value shape. Values holding `${...}` are unknown
until apply and skipped. Resource `tags` are checked merged with the provider's
`default_tags` (what Terraform sends as `tags_all`).

AWS validates patterns against the whole value (Coral/Java `Pattern.matches`), so a pattern
must match the whole value here too.

    python scripts/api_constraints.py cdktf.out     # every stack; exit 0 / 1 (violations)
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session

# AWS patterns use Unicode classes (\p{L}) that `re` lacks; `regex` has them (no type stubs).
regex: Any = importlib.import_module("regex")


@dataclass(frozen=True)
class Api:
    """One API request and the attribute → request member mapping it carries."""
    service: str
    operation: str
    members: Mapping[str, str]


@dataclass(frozen=True)
class ProviderLimit:
    """A limit the provider enforces (or needs) that botocore's model does not state."""
    max_length: int | None = None
    one_of: tuple[Any, ...] | None = None
    min_items: int | None = None
    source: str = ""


_TAGS_LIST = {"tags.@key": "Tags[].Key", "tags.@value": "Tags[].Value"}
_TAGS_MAP = {"tags.@key": "Tags.@key", "tags.@value": "Tags.@value"}
_TAGS_MAP_LOWER = {"tags.@key": "tags.@key", "tags.@value": "tags.@value"}
_EC2_TAGS = {"tags.@key": "TagSpecifications[].Tags[].Key",
             "tags.@value": "TagSpecifications[].Tags[].Value"}
_WAF_STATEMENT = "Rules[].Statement"

# resource type -> the API request(s) the provider builds from it.
TABLE: dict[str, tuple[Api, ...]] = {
    "aws_acm_certificate": (Api("acm", "RequestCertificate", {
        "domain_name": "DomainName", "subject_alternative_names": "SubjectAlternativeNames[]",
        "validation_method": "ValidationMethod", "key_algorithm": "KeyAlgorithm", **_TAGS_LIST}),),
    "aws_api_gateway_authorizer": (Api("apigateway", "CreateAuthorizer", {
        "name": "name", "type": "type", "identity_source": "identitySource",
        "authorizer_result_ttl_in_seconds": "authorizerResultTtlInSeconds"}),),
    "aws_api_gateway_domain_name": (Api("apigateway", "CreateDomainName", {
        "domain_name": "domainName", "security_policy": "securityPolicy",
        "endpoint_configuration.types": "endpointConfiguration.types[]", **_TAGS_MAP_LOWER}),),
    "aws_api_gateway_gateway_response": (Api("apigateway", "PutGatewayResponse", {
        "response_type": "responseType", "status_code": "statusCode",
        "response_parameters.@key": "responseParameters.@key",
        "response_parameters.@value": "responseParameters.@value",
        "response_templates.@key": "responseTemplates.@key",
        "response_templates.@value": "responseTemplates.@value"}),),
    "aws_api_gateway_integration": (Api("apigateway", "PutIntegration", {
        "type": "type", "integration_http_method": "integrationHttpMethod",
        "timeout_milliseconds": "timeoutInMillis"}),),
    "aws_api_gateway_method": (Api("apigateway", "PutMethod", {
        "http_method": "httpMethod", "authorization": "authorizationType",
        "api_key_required": "apiKeyRequired"}),),
    "aws_api_gateway_model": (Api("apigateway", "CreateModel", {
        "name": "name", "content_type": "contentType", "schema": "schema"}),),
    "aws_api_gateway_request_validator": (Api("apigateway", "CreateRequestValidator", {
        "name": "name", "validate_request_body": "validateRequestBody",
        "validate_request_parameters": "validateRequestParameters"}),),
    "aws_api_gateway_resource": (Api("apigateway", "CreateResource", {
        "path_part": "pathPart"}),),
    "aws_api_gateway_rest_api": (Api("apigateway", "CreateRestApi", {
        "name": "name", "description": "description",
        "disable_execute_api_endpoint": "disableExecuteApiEndpoint",
        "api_key_source": "apiKeySource",
        "endpoint_configuration.types": "endpointConfiguration.types[]", **_TAGS_MAP_LOWER}),),
    "aws_api_gateway_stage": (Api("apigateway", "CreateStage", {
        "stage_name": "stageName", "xray_tracing_enabled": "tracingEnabled",
        **_TAGS_MAP_LOWER}),),
    "aws_api_gateway_usage_plan": (Api("apigateway", "CreateUsagePlan", {
        "name": "name", "description": "description",
        "throttle_settings.rate_limit": "throttle.rateLimit",
        "throttle_settings.burst_limit": "throttle.burstLimit", **_TAGS_MAP_LOWER}),),
    # Method settings are applied as UpdateStage patch operations ("/*/*/logging/loglevel"),
    # whose values are untyped strings in the model: the enum is the provider's (below).
    "aws_api_gateway_method_settings": (Api("apigateway", "UpdateStage", {}),),
    "aws_cloudwatch_dashboard": (Api("cloudwatch", "PutDashboard", {
        "dashboard_name": "DashboardName", "dashboard_body": "DashboardBody"}),),
    "aws_cloudwatch_event_rule": (Api("events", "PutRule", {
        "name": "Name", "description": "Description", "schedule_expression": "ScheduleExpression",
        **_TAGS_LIST}),),
    "aws_cloudwatch_log_group": (Api("logs", "CreateLogGroup", {
        "name": "logGroupName", "tags.@key": "tags.@key",
        "tags.@value": "tags.@value"}),
        Api("logs", "PutRetentionPolicy", {"retention_in_days": "retentionInDays"})),
    "aws_cloudwatch_log_metric_filter": (Api("logs", "PutMetricFilter", {
        "name": "filterName", "pattern": "filterPattern",
        "metric_transformation.name": "metricTransformations[].metricName",
        "metric_transformation.namespace": "metricTransformations[].metricNamespace",
        "metric_transformation.value": "metricTransformations[].metricValue",
        "metric_transformation.unit": "metricTransformations[].unit",
        "metric_transformation.dimensions.@key": "metricTransformations[].dimensions.@key",
        "metric_transformation.dimensions.@value": "metricTransformations[].dimensions.@value"}),),
    "aws_cloudwatch_log_resource_policy": (Api("logs", "PutResourcePolicy", {
        "policy_name": "policyName", "policy_document": "policyDocument"}),),
    "aws_cloudwatch_metric_alarm": (Api("cloudwatch", "PutMetricAlarm", {
        "alarm_name": "AlarmName", "alarm_description": "AlarmDescription",
        "comparison_operator": "ComparisonOperator", "evaluation_periods": "EvaluationPeriods",
        "datapoints_to_alarm": "DatapointsToAlarm", "metric_name": "MetricName",
        "namespace": "Namespace", "period": "Period", "statistic": "Statistic",
        "extended_statistic": "ExtendedStatistic", "threshold": "Threshold",
        "treat_missing_data": "TreatMissingData",
        "dimensions.@key": "Dimensions[].Name", "dimensions.@value": "Dimensions[].Value",
        "metric_query.id": "Metrics[].Id", "metric_query.expression": "Metrics[].Expression",
        "metric_query.label": "Metrics[].Label",
        "metric_query.metric.metric_name": "Metrics[].MetricStat.Metric.MetricName",
        "metric_query.metric.namespace": "Metrics[].MetricStat.Metric.Namespace",
        "metric_query.metric.period": "Metrics[].MetricStat.Period",
        "metric_query.metric.stat": "Metrics[].MetricStat.Stat",
        "metric_query.metric.dimensions.@key": "Metrics[].MetricStat.Metric.Dimensions[].Name",
        "metric_query.metric.dimensions.@value":
            "Metrics[].MetricStat.Metric.Dimensions[].Value",
        **_TAGS_LIST}),),
    "aws_db_subnet_group": (Api("rds", "CreateDBSubnetGroup", {
        "name": "DBSubnetGroupName", "description": "DBSubnetGroupDescription", **_TAGS_LIST}),),
    "aws_default_security_group": (Api("ec2", "CreateTags", {**_TAGS_LIST}),),
    "aws_dynamodb_table": (Api("dynamodb", "CreateTable", {
        "name": "TableName", "billing_mode": "BillingMode", "hash_key": "KeySchema[].AttributeName",
        "range_key": "KeySchema[].AttributeName", "attribute.name":
            "AttributeDefinitions[].AttributeName",
        "attribute.type": "AttributeDefinitions[].AttributeType",
        "global_secondary_index.name": "GlobalSecondaryIndexes[].IndexName",
        "global_secondary_index.hash_key": "GlobalSecondaryIndexes[].KeySchema[].AttributeName",
        "global_secondary_index.range_key": "GlobalSecondaryIndexes[].KeySchema[].AttributeName",
        "global_secondary_index.projection_type": "GlobalSecondaryIndexes[].Projection.ProjectionType",
        "stream_view_type": "StreamSpecification.StreamViewType",
        "deletion_protection_enabled": "DeletionProtectionEnabled", **_TAGS_LIST}),
        Api("dynamodb", "UpdateTimeToLive", {
            "ttl.attribute_name": "TimeToLiveSpecification.AttributeName"}),
        Api("dynamodb", "UpdateContinuousBackups", {
            "point_in_time_recovery.recovery_period_in_days":
                "PointInTimeRecoverySpecification.RecoveryPeriodInDays"}),
        Api("dynamodb", "UpdateTable", {
            "replica.region_name": "ReplicaUpdates[].Create.RegionName"})),
    "aws_fis_experiment_template": (Api("fis", "CreateExperimentTemplate", {
        "description": "description",
        "action.action_id": "actions.@value.actionId",
        "action.name": "actions.@key",
        "action.parameter.key": "actions.@value.parameters.@key",
        "action.parameter.value": "actions.@value.parameters.@value",
        "action.target.key": "actions.@value.targets.@key",
        "action.target.value": "actions.@value.targets.@value",
        "stop_condition.source": "stopConditions[].source",
        "target.name": "targets.@key",
        "target.resource_type": "targets.@value.resourceType",
        "target.selection_mode": "targets.@value.selectionMode",
        "target.resource_tag.key": "targets.@value.resourceTags.@key",
        "target.resource_tag.value": "targets.@value.resourceTags.@value",
        "experiment_options.account_targeting": "experimentOptions.accountTargeting",
        "experiment_options.empty_target_resolution_mode":
            "experimentOptions.emptyTargetResolutionMode",
        "log_configuration.log_schema_version": "logConfiguration.logSchemaVersion",
        "tags.@key": "tags.@key", "tags.@value": "tags.@value"}),),
    "aws_flow_log": (Api("ec2", "CreateFlowLogs", {
        "log_destination_type": "LogDestinationType", "traffic_type": "TrafficType",
        "max_aggregation_interval": "MaxAggregationInterval",
        **_EC2_TAGS}),),
    "aws_backup_plan": (Api("backup", "CreateBackupPlan", {
        "name": "BackupPlan.BackupPlanName", "rule.rule_name": "BackupPlan.Rules[].RuleName",
        "rule.schedule": "BackupPlan.Rules[].ScheduleExpression",
        "rule.start_window": "BackupPlan.Rules[].StartWindowMinutes",
        "rule.completion_window": "BackupPlan.Rules[].CompletionWindowMinutes",
        "rule.lifecycle.delete_after": "BackupPlan.Rules[].Lifecycle.DeleteAfterDays",
        "rule.copy_action.lifecycle.delete_after":
            "BackupPlan.Rules[].CopyActions[].Lifecycle.DeleteAfterDays"}),),
    "aws_backup_selection": (Api("backup", "CreateBackupSelection", {
        "name": "BackupSelection.SelectionName"}),),
    "aws_backup_vault": (Api("backup", "CreateBackupVault", {
        "name": "BackupVaultName", "tags.@key": "BackupVaultTags.@key",
        "tags.@value": "BackupVaultTags.@value"}),),
    "aws_backup_vault_lock_configuration": (Api("backup", "PutBackupVaultLockConfiguration", {
        "backup_vault_name": "BackupVaultName", "min_retention_days": "MinRetentionDays",
        "max_retention_days": "MaxRetentionDays", "changeable_for_days": "ChangeableForDays"}),),
    "aws_iam_openid_connect_provider": (Api("iam", "CreateOpenIDConnectProvider", {
        "url": "Url", "client_id_list": "ClientIDList[]",
        **_TAGS_LIST}),),
    "aws_iam_role": (Api("iam", "CreateRole", {
        "name": "RoleName", "description": "Description",
        "assume_role_policy": "AssumeRolePolicyDocument", **_TAGS_LIST}),),
    "aws_iam_role_policy": (Api("iam", "PutRolePolicy", {
        "name": "PolicyName", "policy": "PolicyDocument"}),),
    "aws_kms_alias": (Api("kms", "CreateAlias", {"name": "AliasName"}),),
    "aws_kms_key": (Api("kms", "CreateKey", {
        "description": "Description", "policy": "Policy",
        "tags.@key": "Tags[].TagKey", "tags.@value": "Tags[].TagValue"}),
        Api("kms", "EnableKeyRotation", {"rotation_period_in_days": "RotationPeriodInDays"}),
        Api("kms", "ScheduleKeyDeletion", {"deletion_window_in_days": "PendingWindowInDays"})),
    "aws_lambda_code_signing_config": (Api("lambda", "CreateCodeSigningConfig", {
        "description": "Description",
        "policies.untrusted_artifact_on_deployment":
            "CodeSigningPolicies.UntrustedArtifactOnDeployment", **_TAGS_MAP}),),
    "aws_lambda_function": (Api("lambda", "CreateFunction", {
        "function_name": "FunctionName", "runtime": "Runtime",
        "handler": "Handler", "timeout": "Timeout", "memory_size": "MemorySize",
        "architectures": "Architectures[]",
        "environment.variables.@key": "Environment.Variables.@key",
        "environment.variables.@value": "Environment.Variables.@value",
        "tracing_config.mode": "TracingConfig.Mode",
        "logging_config.log_format": "LoggingConfig.LogFormat",
        **_TAGS_MAP}),),
    # reserved_concurrent_executions is not mapped: -1 is the provider's "no reservation" (it
    # calls DeleteFunctionConcurrency instead of sending it to PutFunctionConcurrency).
    "aws_lambda_function_event_invoke_config": (Api("lambda", "PutFunctionEventInvokeConfig", {
        "maximum_event_age_in_seconds": "MaximumEventAgeInSeconds",
        "maximum_retry_attempts": "MaximumRetryAttempts"}),),
    "aws_lambda_event_source_mapping": (Api("lambda", "CreateEventSourceMapping", {
        "starting_position": "StartingPosition", "batch_size": "BatchSize",
        "maximum_batching_window_in_seconds": "MaximumBatchingWindowInSeconds",
        "parallelization_factor": "ParallelizationFactor",
        "maximum_retry_attempts": "MaximumRetryAttempts",
        "maximum_record_age_in_seconds": "MaximumRecordAgeInSeconds",
        "function_response_types": "FunctionResponseTypes[]",
        "filter_criteria.filter.pattern": "FilterCriteria.Filters[].Pattern"}),),
    "aws_lambda_permission": (Api("lambda", "AddPermission", {
        "statement_id": "StatementId", "action": "Action", "principal": "Principal"}),),
    "aws_rds_cluster": (Api("rds", "CreateDBCluster", {
        "cluster_identifier": "DBClusterIdentifier", "database_name": "DatabaseName",
        "engine": "Engine", "engine_version": "EngineVersion",
        "backup_retention_period": "BackupRetentionPeriod",
        "preferred_backup_window": "PreferredBackupWindow",
        "preferred_maintenance_window": "PreferredMaintenanceWindow",
        "master_username": "MasterUsername",
        "enabled_cloudwatch_logs_exports": "EnableCloudwatchLogsExports[]",
        "global_cluster_identifier": "GlobalClusterIdentifier",
        "source_region": "SourceRegion", **_TAGS_LIST}),
        Api("rds", "DeleteDBCluster", {
            "final_snapshot_identifier": "FinalDBSnapshotIdentifier"})),
    "aws_rds_cluster_instance": (Api("rds", "CreateDBInstance", {
        "identifier": "DBInstanceIdentifier", "instance_class": "DBInstanceClass",
        "engine": "Engine", "monitoring_interval": "MonitoringInterval",
        "performance_insights_retention_period": "PerformanceInsightsRetentionPeriod",
        "promotion_tier": "PromotionTier", **_TAGS_LIST}),),
    "aws_rds_cluster_parameter_group": (Api("rds", "CreateDBClusterParameterGroup", {
        "name": "DBClusterParameterGroupName", "family": "DBParameterGroupFamily",
        "description": "Description", **_TAGS_LIST}),
        Api("rds", "ModifyDBClusterParameterGroup", {
            "parameter.name": "Parameters[].ParameterName",
            "parameter.value": "Parameters[].ParameterValue",
            "parameter.apply_method": "Parameters[].ApplyMethod"})),
    "aws_rds_global_cluster": (Api("rds", "CreateGlobalCluster", {
        "global_cluster_identifier": "GlobalClusterIdentifier", "engine": "Engine",
        "engine_version": "EngineVersion", "database_name": "DatabaseName", **_TAGS_LIST}),),
    "aws_route53_health_check": (Api("route53", "CreateHealthCheck", {
        "type": "HealthCheckConfig.Type", "fqdn": "HealthCheckConfig.FullyQualifiedDomainName",
        "port": "HealthCheckConfig.Port", "resource_path": "HealthCheckConfig.ResourcePath",
        "search_string": "HealthCheckConfig.SearchString",
        "request_interval": "HealthCheckConfig.RequestInterval",
        "failure_threshold": "HealthCheckConfig.FailureThreshold",
        "regions": "HealthCheckConfig.Regions[]",
        "child_health_threshold": "HealthCheckConfig.HealthThreshold",
        "cloudwatch_alarm_name": "HealthCheckConfig.AlarmIdentifier.Name",
        "cloudwatch_alarm_region": "HealthCheckConfig.AlarmIdentifier.Region",
        "insufficient_data_health_status": "HealthCheckConfig.InsufficientDataHealthStatus",
        "reference_name": "CallerReference"}),
        Api("route53", "ChangeTagsForResource", {
            "tags.@key": "AddTags[].Key", "tags.@value": "AddTags[].Value"})),
    "aws_route53_record": (Api("route53", "ChangeResourceRecordSets", {
        "name": "ChangeBatch.Changes[].ResourceRecordSet.Name",
        "type": "ChangeBatch.Changes[].ResourceRecordSet.Type",
        "set_identifier": "ChangeBatch.Changes[].ResourceRecordSet.SetIdentifier",
        "ttl": "ChangeBatch.Changes[].ResourceRecordSet.TTL",
        "records": "ChangeBatch.Changes[].ResourceRecordSet.ResourceRecords[].Value",
        "failover_routing_policy.type": "ChangeBatch.Changes[].ResourceRecordSet.Failover"}),),
    "aws_route53_zone": (Api("route53", "CreateHostedZone", {
        "name": "Name", "comment": "HostedZoneConfig.Comment"}),
        Api("route53", "ChangeTagsForResource", {
            "tags.@key": "AddTags[].Key", "tags.@value": "AddTags[].Value"})),
    "aws_route_table": (Api("ec2", "CreateRouteTable", {**_EC2_TAGS}),),
    "aws_s3_bucket": (Api("s3", "CreateBucket", {"bucket": "Bucket"}),
        Api("s3", "PutBucketTagging", {
            "tags.@key": "Tagging.TagSet[].Key", "tags.@value": "Tagging.TagSet[].Value"})),
    "aws_s3_bucket_lifecycle_configuration": (Api("s3", "PutBucketLifecycleConfiguration", {
        "rule.id": "LifecycleConfiguration.Rules[].ID",
        "rule.status": "LifecycleConfiguration.Rules[].Status",
        "rule.filter.prefix": "LifecycleConfiguration.Rules[].Filter.Prefix",
        "rule.noncurrent_version_expiration.noncurrent_days":
            "LifecycleConfiguration.Rules[].NoncurrentVersionExpiration.NoncurrentDays",
        "rule.noncurrent_version_transition.noncurrent_days":
            "LifecycleConfiguration.Rules[].NoncurrentVersionTransitions[].NoncurrentDays",
        "rule.noncurrent_version_transition.storage_class":
            "LifecycleConfiguration.Rules[].NoncurrentVersionTransitions[].StorageClass",
        "rule.abort_incomplete_multipart_upload.days_after_initiation":
            "LifecycleConfiguration.Rules[].AbortIncompleteMultipartUpload.DaysAfterInitiation"}),),
    "aws_s3_bucket_object_lock_configuration": (Api("s3", "PutObjectLockConfiguration", {
        "rule.default_retention.mode": "ObjectLockConfiguration.Rule.DefaultRetention.Mode",
        "rule.default_retention.days": "ObjectLockConfiguration.Rule.DefaultRetention.Days"}),),
    "aws_s3_bucket_ownership_controls": (Api("s3", "PutBucketOwnershipControls", {
        "rule.object_ownership": "OwnershipControls.Rules[].ObjectOwnership"}),),
    "aws_s3_bucket_replication_configuration": (Api("s3", "PutBucketReplication", {
        "rule.id": "ReplicationConfiguration.Rules[].ID",
        "rule.priority": "ReplicationConfiguration.Rules[].Priority",
        "rule.status": "ReplicationConfiguration.Rules[].Status",
        "rule.filter.prefix": "ReplicationConfiguration.Rules[].Filter.Prefix",
        "rule.delete_marker_replication.status":
            "ReplicationConfiguration.Rules[].DeleteMarkerReplication.Status",
        "rule.destination.storage_class":
            "ReplicationConfiguration.Rules[].Destination.StorageClass",
        "rule.destination.metrics.status":
            "ReplicationConfiguration.Rules[].Destination.Metrics.Status",
        "rule.destination.metrics.event_threshold.minutes":
            "ReplicationConfiguration.Rules[].Destination.Metrics.EventThreshold.Minutes",
        "rule.destination.replication_time.status":
            "ReplicationConfiguration.Rules[].Destination.ReplicationTime.Status",
        "rule.destination.replication_time.time.minutes":
            "ReplicationConfiguration.Rules[].Destination.ReplicationTime.Time.Minutes",
        "rule.source_selection_criteria.replica_modifications.status":
            "ReplicationConfiguration.Rules[].SourceSelectionCriteria.ReplicaModifications.Status",
        "rule.source_selection_criteria.sse_kms_encrypted_objects.status":
            "ReplicationConfiguration.Rules[].SourceSelectionCriteria.SseKmsEncryptedObjects"
            ".Status"}),),
    "aws_s3_bucket_server_side_encryption_configuration": (Api("s3", "PutBucketEncryption", {
        "rule.apply_server_side_encryption_by_default.sse_algorithm":
            "ServerSideEncryptionConfiguration.Rules[].ApplyServerSideEncryptionByDefault"
            ".SSEAlgorithm"}),),
    "aws_s3_bucket_versioning": (Api("s3", "PutBucketVersioning", {
        "versioning_configuration.status": "VersioningConfiguration.Status"}),),
    "aws_s3_object": (Api("s3", "PutObject", {"key": "Key"}),
        Api("s3", "PutObjectTagging", {
            "tags.@key": "Tagging.TagSet[].Key", "tags.@value": "Tagging.TagSet[].Value"})),
    "aws_secretsmanager_secret": (Api("secretsmanager", "CreateSecret", {
        "name": "Name", "description": "Description",
        "replica.region": "AddReplicaRegions[].Region", **_TAGS_LIST}),
        Api("secretsmanager", "DeleteSecret", {
            "recovery_window_in_days": "RecoveryWindowInDays"})),
    "aws_secretsmanager_secret_rotation": (Api("secretsmanager", "RotateSecret", {
        "rotation_rules.automatically_after_days": "RotationRules.AutomaticallyAfterDays"}),),
    "aws_serverlessapplicationrepository_cloudformation_stack": (
        Api("serverlessrepo", "CreateCloudFormationChangeSet", {
            "name": "StackName", "application_id": "ApplicationId", "capabilities": "Capabilities[]",
            "parameters.@key": "ParameterOverrides[].Name",
            "parameters.@value": "ParameterOverrides[].Value"}),),
    "aws_secretsmanager_secret_policy": (Api("secretsmanager", "PutResourcePolicy", {
        "policy": "ResourcePolicy", "block_public_policy": "BlockPublicPolicy"}),),
    "aws_security_group": (Api("ec2", "CreateSecurityGroup", {
        "name": "GroupName", "description": "Description", **_EC2_TAGS}),
        Api("ec2", "AuthorizeSecurityGroupIngress", {
            # The database group admits a security group, not a CIDR (modules/network.py).
            "ingress.description": "IpPermissions[].UserIdGroupPairs[].Description",
            "ingress.protocol": "IpPermissions[].IpProtocol",
            "ingress.from_port": "IpPermissions[].FromPort",
            "ingress.to_port": "IpPermissions[].ToPort"})),
    "aws_signer_signing_job": (Api("signer", "StartSigningJob", {
        "destination.s3.prefix": "destination.s3.prefix"}),),
    "aws_signer_signing_profile": (Api("signer", "PutSigningProfile", {
        "platform_id": "platformId", **_TAGS_MAP_LOWER}),),
    "aws_sns_topic": (Api("sns", "CreateTopic", {"name": "Name", **_TAGS_LIST}),),
    "aws_sns_topic_subscription": (Api("sns", "Subscribe", {
        "protocol": "Protocol", "endpoint": "Endpoint"}),),
    "aws_ssm_parameter": (Api("ssm", "PutParameter", {
        "name": "Name", "description": "Description", "type": "Type", "value": "Value",
        **_TAGS_LIST}),),
    "aws_subnet": (Api("ec2", "CreateSubnet", {
        "availability_zone": "AvailabilityZone", "cidr_block": "CidrBlock", **_EC2_TAGS}),),
    "aws_vpc": (Api("ec2", "CreateVpc", {"cidr_block": "CidrBlock", **_EC2_TAGS}),),
    "aws_vpc_endpoint": (Api("ec2", "CreateVpcEndpoint", {
        "service_name": "ServiceName", "vpc_endpoint_type": "VpcEndpointType", **_EC2_TAGS}),),
    "aws_vpc_security_group_egress_rule": (Api("ec2", "AuthorizeSecurityGroupEgress", {
        "description": "IpPermissions[].IpRanges[].Description",
        "ip_protocol": "IpPermissions[].IpProtocol", "from_port": "IpPermissions[].FromPort",
        "to_port": "IpPermissions[].ToPort",
        **_EC2_TAGS}),),
    "aws_vpc_security_group_ingress_rule": (Api("ec2", "AuthorizeSecurityGroupIngress", {
        "description": "IpPermissions[].IpRanges[].Description",
        "ip_protocol": "IpPermissions[].IpProtocol", "from_port": "IpPermissions[].FromPort",
        "to_port": "IpPermissions[].ToPort",
        **_EC2_TAGS}),),
    "aws_wafv2_ip_set": (Api("wafv2", "CreateIPSet", {
        "name": "Name", "description": "Description", "scope": "Scope",
        "ip_address_version": "IPAddressVersion", "addresses": "Addresses[]", **_TAGS_LIST}),),
    "aws_wafv2_web_acl": (Api("wafv2", "CreateWebACL", {
        "name": "Name", "description": "Description", "scope": "Scope",
        "visibility_config.metric_name": "VisibilityConfig.MetricName",
        "custom_response_body.key": "CustomResponseBodies.@key",
        "custom_response_body.content": "CustomResponseBodies.@value.Content",
        "custom_response_body.content_type": "CustomResponseBodies.@value.ContentType",
        "rule.name": "Rules[].Name", "rule.priority": "Rules[].Priority",
        "rule.visibility_config.metric_name": "Rules[].VisibilityConfig.MetricName",
        "rule.action.block.custom_response.response_code":
            "Rules[].Action.Block.CustomResponse.ResponseCode",
        "rule.action.block.custom_response.custom_response_body_key":
            "Rules[].Action.Block.CustomResponse.CustomResponseBodyKey",
        "rule.action.block.custom_response.response_header.name":
            "Rules[].Action.Block.CustomResponse.ResponseHeaders[].Name",
        "rule.action.block.custom_response.response_header.value":
            "Rules[].Action.Block.CustomResponse.ResponseHeaders[].Value",
        "rule.**.byte_match_statement.search_string":
            f"{_WAF_STATEMENT}.ByteMatchStatement.SearchString",
        "rule.**.byte_match_statement.positional_constraint":
            f"{_WAF_STATEMENT}.ByteMatchStatement.PositionalConstraint",
        # every statement's TextTransformation is the same shape (byte match, size, ...)
        "rule.**.text_transformation.priority":
            f"{_WAF_STATEMENT}.ByteMatchStatement.TextTransformations[].Priority",
        "rule.**.text_transformation.type":
            f"{_WAF_STATEMENT}.ByteMatchStatement.TextTransformations[].Type",
        "rule.**.managed_rule_group_statement.name":
            f"{_WAF_STATEMENT}.ManagedRuleGroupStatement.Name",
        "rule.**.managed_rule_group_statement.vendor_name":
            f"{_WAF_STATEMENT}.ManagedRuleGroupStatement.VendorName",
        "rule.**.managed_rule_group_statement.rule_action_override.name":
            f"{_WAF_STATEMENT}.ManagedRuleGroupStatement.RuleActionOverrides[].Name",
        "rule.**.rate_based_statement.limit": f"{_WAF_STATEMENT}.RateBasedStatement.Limit",
        "rule.**.rate_based_statement.aggregate_key_type":
            f"{_WAF_STATEMENT}.RateBasedStatement.AggregateKeyType",
        "rule.**.rate_based_statement.evaluation_window_sec":
            f"{_WAF_STATEMENT}.RateBasedStatement.EvaluationWindowSec",
        "rule.**.size_constraint_statement.comparison_operator":
            f"{_WAF_STATEMENT}.SizeConstraintStatement.ComparisonOperator",
        "rule.**.size_constraint_statement.size": f"{_WAF_STATEMENT}.SizeConstraintStatement.Size",
        "rule.**.size_constraint_statement.field_to_match.body.oversize_handling":
            f"{_WAF_STATEMENT}.SizeConstraintStatement.FieldToMatch.Body.OversizeHandling",
        **_TAGS_LIST}),),
    "aws_wafv2_web_acl_logging_configuration": (Api("wafv2", "PutLoggingConfiguration", {
        "redacted_fields.single_header.name":
            "LoggingConfiguration.RedactedFields[].SingleHeader.Name"}),),
}

# Types whose attributes in our stacks are only references, booleans or Terraform-side
# settings: nothing literal reaches an API member that has constraints.
NO_LITERAL_MEMBERS: dict[str, str] = {
    "aws_acm_certificate_validation": "certificate ARN and record FQDNs are references; "
                                      "`timeouts` is Terraform's",
    "aws_api_gateway_account": "the CloudWatch role ARN is a reference",
    "aws_api_gateway_base_path_mapping": "API id, stage and domain are references",
    "aws_api_gateway_deployment": "API id and `triggers` (Terraform-only) are references",
    "aws_api_gateway_rest_api_policy": "the policy is a rendered reference",
    "aws_cloudwatch_event_target": "rule and function ARN are references; the target id "
                                   "is the provider's",
    "aws_iam_role_policy_attachment": "role and policy ARN are references",
    "aws_route_table_association": "subnet and route table ids are references",
    "aws_s3_bucket_policy": "the policy is a rendered reference",
    "aws_s3_bucket_public_access_block": "booleans only",
    "aws_secretsmanager_secret_version": "value is write-only and generated; the version "
                                         "counter is Terraform's",
    "aws_sns_topic_policy": "the policy is a rendered reference",
    "aws_wafv2_web_acl_association": "both ARNs are references",
    "terraform_data": "Terraform's own resource: no AWS API request (its apply-time local-exec "
                      "runs the aws CLI: tests/test_database.py runs it against moto)",
}

# Provider-side limits botocore cannot see (terraform-provider-aws source).
PROVIDER_LIMITS: dict[tuple[str, str], ProviderLimit] = {
    # 64 (CallerReference) - 26 (id.UniqueIDSuffixLength) - 11: the provider appends
    # "-terraform-<26 digits>" to reference_name (StringLenBetween(0, 27)).
    ("aws_route53_health_check", "reference_name"): ProviderLimit(
        max_length=27, source="internal/service/route53/health_check.go"),
    ("aws_route53_health_check", "request_interval"): ProviderLimit(
        one_of=(10, 30), source="internal/service/route53/health_check.go"),
    ("aws_route53_health_check", "regions"): ProviderLimit(
        min_items=3, source="internal/service/route53/health_check.go"),
    ("aws_cloudwatch_log_group", "retention_in_days"): ProviderLimit(
        one_of=(0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                2192, 2557, 2922, 3288, 3653),
        source="internal/service/logs/group.go (validation.IntInSlice)"),
    ("aws_api_gateway_method_settings", "settings.logging_level"): ProviderLimit(
        one_of=("OFF", "ERROR", "INFO"), source="internal/service/apigateway/method_settings.go"),
}


@dataclass
class Violation:
    stack: str
    resource: str
    attribute: str
    value: Any
    member: str
    reason: str

    def __str__(self) -> str:
        return (f"{self.stack}: {self.resource}.{self.attribute} = {self.value!r} "
                f"({self.member}): {self.reason}")


@dataclass
class Report:
    violations: list[Violation] = field(default_factory=list)
    checked: int = 0                                   # literal values checked
    seen: set[tuple[str, str]] = field(default_factory=set)   # (type, attribute) with any value
    unmapped: set[str] = field(default_factory=set)    # resource types in neither table


# -- botocore side -------------------------------------------------------------------------

@cache
def _service(name: str) -> Any:
    return botocore.session.get_session().get_service_model(name)


@cache
def member_shape(service: str, operation: str, path: str) -> Any:
    """The botocore shape of one request member path (KeyError when the model lacks it)."""
    shape = _service(service).operation_model(operation).input_shape
    for segment in path.split("."):
        if segment == "@key":
            shape = shape.key
            continue
        if segment == "@value":
            shape = shape.value
            continue
        name, is_list = segment.removesuffix("[]"), segment.endswith("[]")
        if shape.type_name == "map":
            shape = shape.value
        if name not in shape.members:
            raise KeyError(f"{service}.{operation}: no member {name!r} in {shape.name} "
                           f"(path {path})")
        shape = shape.members[name]
        if is_list:
            if shape.type_name != "list":
                raise KeyError(f"{service}.{operation}: {name} is not a list (path {path})")
            shape = shape.member
    return shape


@cache
def _compiled(pattern: str) -> Any:
    return regex.compile(pattern)


def shape_violations(shape: Any, value: Any) -> list[str]:
    """What botocore's model says the API refuses about `value`."""
    found: list[str] = []
    meta = shape.metadata
    kind = shape.type_name
    if kind in ("string", "blob"):
        text = value if isinstance(value, str) else json.dumps(value) \
            if not isinstance(value, (int, float)) else str(value)
        length = len(text.encode()) if kind == "blob" else len(text)
        if "min" in meta and length < meta["min"]:
            found.append(f"length {length} < min {meta['min']}")
        if "max" in meta and length > meta["max"]:
            found.append(f"length {length} > max {meta['max']}")
        if kind == "string" and "pattern" in meta and \
                not _compiled(meta["pattern"]).fullmatch(text):
            found.append(f"does not match pattern {meta['pattern']}")
        enum = getattr(shape, "enum", None)
        if enum and text not in enum:
            found.append(f"not one of {sorted(enum)}")
    elif kind in ("integer", "long", "double", "float"):
        try:
            number = float(value)
        except (TypeError, ValueError):
            return [f"not a number ({kind})"]
        if kind in ("integer", "long") and number != int(number):
            found.append(f"not an integer ({kind})")
        if "min" in meta and number < meta["min"]:
            found.append(f"{value} < min {meta['min']}")
        if "max" in meta and number > meta["max"]:
            found.append(f"{value} > max {meta['max']}")
    elif kind == "boolean" and not isinstance(value, bool):
        found.append("not a boolean")
    return found


def provider_violations(limit: ProviderLimit, value: Any) -> list[str]:
    found: list[str] = []
    where = f" (provider: {limit.source})"
    if limit.max_length is not None and isinstance(value, str) and len(value) > limit.max_length:
        found.append(f"length {len(value)} > {limit.max_length}{where}")
    if limit.one_of is not None and value not in limit.one_of:
        found.append(f"not one of {list(limit.one_of)}{where}")
    return found


# -- Terraform JSON side -------------------------------------------------------------------

def _is_token(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def attribute_values(body: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(concrete path, value) for every value at `path`; lists are walked through."""
    yield from _walk(body, path.split(".") if path else [], "")


def _walk(node: Any, segments: list[str], where: str) -> Iterator[tuple[str, Any]]:
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, segments, f"{where}[{index}]")
        return
    if not segments:
        if node is not None:
            yield where.lstrip("."), node
        return
    head, rest = segments[0], segments[1:]
    if not isinstance(node, dict):
        return
    if head == "**":
        yield from _walk(node, rest, where)
        for key, child in node.items():
            if isinstance(child, (dict, list)):
                yield from _walk(child, segments, f"{where}.{key}")
        return
    if head in ("@key", "@value"):
        for key, child in node.items():
            yield f"{where}.{key}".lstrip("."), key if head == "@key" else child
        return
    if head in node:
        yield from _walk(node[head], rest, f"{where}.{head}")


def _default_tags(stack: Mapping[str, Any], provider_ref: str | None) -> dict[str, Any]:
    alias = (provider_ref or "aws").partition(".")[2] or None
    for block in stack.get("provider", {}).get("aws", []):
        if block.get("alias") == alias:
            tags: dict[str, Any] = {}
            for item in block.get("default_tags", []) or []:
                tags.update(item.get("tags", {}))
            return tags
    return {}


def check_stack(name: str, stack: Mapping[str, Any], report: Report | None = None) -> Report:
    report = report if report is not None else Report()
    for rtype, resources in stack.get("resource", {}).items():
        apis = TABLE.get(rtype)
        if apis is None:
            if rtype not in NO_LITERAL_MEMBERS:
                report.unmapped.add(rtype)
            continue
        for logical, body in resources.items():
            body = dict(body)
            if any("tags.@key" in api.members for api in apis):
                body["tags"] = {**_default_tags(stack, body.get("provider")),
                                **(body.get("tags") or {})}
            _check_resource(name, rtype, logical, body, apis, report)
    return report


def _check_resource(stack: str, rtype: str, logical: str, body: Mapping[str, Any],
                    apis: tuple[Api, ...], report: Report) -> None:
    for api in apis:
        for attribute, member in api.members.items():
            shape = member_shape(api.service, api.operation, member)
            for where, value in attribute_values(body, attribute):
                report.seen.add((rtype, attribute))
                if _is_token(value):
                    continue
                report.checked += 1
                for reason in shape_violations(shape, value):
                    report.violations.append(Violation(
                        stack, f"{rtype}.{logical}", where, value,
                        f"{api.service}:{api.operation} {member}", reason))
    for (limited_type, attribute), limit in PROVIDER_LIMITS.items():
        if limited_type != rtype:
            continue
        values = list(attribute_values(body, attribute))
        for where, value in values:
            report.seen.add((rtype, attribute))
            if _is_token(value):
                continue
            report.checked += 1
            for reason in provider_violations(limit, value):
                report.violations.append(Violation(
                    stack, f"{rtype}.{logical}", where, value, "provider", reason))
        if limit.min_items is not None and values and \
                not any(_is_token(v) for _, v in values) and len(values) < limit.min_items:
            report.violations.append(Violation(
                stack, f"{rtype}.{logical}", attribute, [v for _, v in values], "provider",
                f"{len(values)} items < {limit.min_items} (provider: {limit.source})"))


def check_stacks(stacks: Mapping[str, Mapping[str, Any]]) -> Report:
    report = Report()
    for name, stack in sorted(stacks.items()):
        check_stack(name, stack, report)
    return report


def load_outdir(outdir: Path) -> dict[str, dict[str, Any]]:
    return {d.name: json.loads((d / "cdk.tf.json").read_text())
            for d in sorted((outdir / "stacks").iterdir()) if (d / "cdk.tf.json").is_file()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path, nargs="?", default=Path("cdktf.out"))
    args = parser.parse_args(argv)
    report = check_stacks(load_outdir(args.outdir))
    for violation in report.violations:
        print(violation)
    for rtype in sorted(report.unmapped):
        print(f"unmapped resource type {rtype}: add it to TABLE or NO_LITERAL_MEMBERS "
              "(scripts/api_constraints.py)")
    print(f"{report.checked} literal values checked, {len(report.violations)} refused, "
          f"{len(report.unmapped)} unmapped types")
    return 1 if report.violations or report.unmapped else 0


if __name__ == "__main__":
    sys.exit(main())
