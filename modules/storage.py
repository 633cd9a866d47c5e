"""Audit-log and receipt buckets: one per region, each replicating to the other.

Each region's validator writes receipts to its own region's bucket, so replication runs both
ways: primary -> DR keeps the DR copy current, DR -> primary brings receipts written during
a failover back for failback. S3 does not re-replicate replicas, so the pair does not loop.
Every rule uses Replication Time Control (15 minutes, with replication metrics), replicates
delete markers, re-encrypts with the destination region's key, and syncs replica metadata.

Where each piece lives:
- `AuditBucket` (each regional stack): the bucket, its lifecycle, grants and metrics. Nothing
  in it refers to the other region.
- `AuditReplication` (routing stack, one per direction): the replication role and rule. S3
  accepts a rule only when the destination bucket already exists and is versioned, and each
  region's bucket is created by its own stack, so the rules are wired after both regional
  stacks, like the Route 53 records. While one region is down the rules need no change:
  S3 queues replication to an unreachable destination and retries (the replication alarms and
  `OperationsPendingReplication` show the backlog, in the destination's region).

WORM receipts: both audit buckets are created with S3 Object Lock and a default retention
(`OBJECT_LOCK_MODE`/`OBJECT_LOCK_DAYS`: GOVERNANCE for dev, COMPLIANCE for prod-like). S3
stamps every new object version with that mode and a retain-until date; replication copies
the version's retention to the replica (the destination bucket must have Object Lock too,
and the replication role reads the source's retention and legal hold), so a replica is
locked exactly as long as its source. A delete only adds a delete marker (replicated), and
no locked version can be removed before its date, not even by the lifecycle rule, whose
noncurrent-version expiry is never shorter than the retention (modules/buckets.py).
"""

from __future__ import annotations

from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.s3_bucket_replication_configuration import (
    S3BucketReplicationConfigurationA,
    S3BucketReplicationConfigurationRule,
    S3BucketReplicationConfigurationRuleDeleteMarkerReplication,
    S3BucketReplicationConfigurationRuleDestination,
    S3BucketReplicationConfigurationRuleDestinationEncryptionConfiguration,
    S3BucketReplicationConfigurationRuleDestinationMetrics,
    S3BucketReplicationConfigurationRuleDestinationMetricsEventThreshold,
    S3BucketReplicationConfigurationRuleDestinationReplicationTime,
    S3BucketReplicationConfigurationRuleDestinationReplicationTimeTime,
    S3BucketReplicationConfigurationRuleFilter,
    S3BucketReplicationConfigurationRuleSourceSelectionCriteria,
    S3BucketReplicationConfigurationRuleSourceSelectionCriteriaReplicaModifications,
    S3BucketReplicationConfigurationRuleSourceSelectionCriteriaSseKmsEncryptedObjects,
)
from constructs import Construct

from contract import (
    DRILL_REPLICATION,
    HEALTH_PREFIX,
    HEARTBEAT_PREFIX,
    RECEIPTS_PREFIX,
    S3_REPLICATION_FAILED,
    S3_REPLICATION_LATENCY,
    S3_REPLICATION_PENDING,
    MetricSpec,
    s3_metric_region,
)
from contract import S3_REPLICATION_MINUTES as REPLICATION_MINUTES
from modules.buckets import HardenedBucket, ObjectLockRetention
from modules.drills import drill_tags
from modules.iam import Statement, assume_role_policy, policy_document, statement
from modules.keys import RegionalKey
from modules.metrics import Metric
from modules.naming import Names
from modules.regions import PeerRegion, Region
from modules.settings import Settings

# Keys the health check and the RPO heartbeat rewrite all the time (short-locked versions).
PROBE_PREFIXES = (HEALTH_PREFIX, HEARTBEAT_PREFIX)


class AuditBucket(Construct):
    """One region's audit bucket. Outputs: `bucket` (HardenedBucket), `name`, `rule_id`,
    `peer_bucket_name`; `grant_receipts_write()`, `metric_*replication_*()`."""

    def __init__(self, scope: Construct, id: str, *, names: Names, region: Region,
                 peer: PeerRegion, key: RegionalKey, settings: Settings):
        super().__init__(scope, id)
        self.region, self.peer, self._key = region, peer, key
        self.retention = ObjectLockRetention.from_settings(settings)
        self.bucket = HardenedBucket(
            self, "audit", region=region, key_arn=key.arn,
            bucket_name=names.audit_bucket(region.account_id, region.name),
            object_lock=self.retention, short_lived_prefixes=PROBE_PREFIXES,
            # Dev profile (GOVERNANCE lock, enforced in settings): `terraform destroy` empties
            # the bucket, bypassing GOVERNANCE retention (the provider sends
            # BypassGovernanceRetention; the caller needs s3:BypassGovernanceRetention).
            force_destroy=settings.is_dev_profile,
            # The replication drill pauses this bucket's replication (modules/drills.py).
            tags=drill_tags(DRILL_REPLICATION, names),
            lock_administrators=tuple(region.arn("iam", f"role/{name}", region=False)
                                      for name in key.admins))
        self.peer_bucket_name = names.audit_bucket(peer.account_id, peer.name)
        self.rule_id = replication_rule_id(peer.role)

    @property
    def name(self) -> str:
        return self.bucket.bucket.bucket

    # -- grants and metrics -------------------------------------------------------------

    def grant_receipts_write(self) -> list[Statement]:
        """The validator writes receipts to its own region's bucket only."""
        return [
            statement(f"WriteReceipts{self.region.role.title()}", ["s3:PutObject"],
                      [f"{self.bucket.bucket.arn}/{RECEIPTS_PREFIX}*"]),
            *self.grant_key_via_s3("Receipts"),
        ]

    def grant_key_via_s3(self, sid: str) -> list[Statement]:
        """Encrypt/decrypt this bucket's objects with the region key, through S3 only."""
        return [statement(f"{sid}KeyViaS3{self.region.role.title()}",
                          ["kms:GenerateDataKey", "kms:Decrypt"], [self._key.arn],
                          condition={"StringEquals": {"kms:ViaService": f"s3.{self.region.name}.amazonaws.com"}})]

    def grant_health_probe(self) -> list[Statement]:
        """The health check writes one short-locked object under health/ (lambda/payments/
        health.py): the same write path, key and lock a receipt takes."""
        return [statement(f"HealthProbeObject{self.region.role.title()}",
                          ["s3:PutObject", "s3:PutObjectRetention"],
                          [f"{self.bucket.bucket.arn}/{HEALTH_PREFIX}*"]),
                *self.grant_key_via_s3("HealthProbe")]

    # AWS publishes each S3 replication metric in one region only (contract.s3_metric_region):
    # failed operations in the source's, latency and pending operations in the destination's.
    # This region's CloudWatch therefore holds failed operations of this bucket -> the peer's
    # and latency/pending of the peer's bucket -> this one; those are the metrics offered here.

    def _replication_metric(self, spec: MetricSpec, *, incoming: bool) -> Metric:
        source, destination, rule_id = self.name, self.peer_bucket_name, self.rule_id
        regions = (self.region.name, self.peer.name)
        if incoming:
            source, destination = destination, source
            rule_id, regions = replication_rule_id(self.region.role), regions[::-1]
        if s3_metric_region(spec, source=regions[0], destination=regions[1]) != self.region.name:
            raise ValueError(f"{spec.name} of {'incoming' if incoming else 'outgoing'} "
                             f"replication is not published in {self.region.name}")
        return Metric(spec.namespace, spec.name, spec.dims(source, destination, rule_id),
                      statistic=spec.statistic, period=300)

    def metric_incoming_replication_latency(self) -> Metric:
        """Most seconds this bucket is behind the peer's (peer -> here), as published here."""
        return self._replication_metric(S3_REPLICATION_LATENCY, incoming=True)

    def metric_incoming_replication_pending(self) -> Metric:
        return self._replication_metric(S3_REPLICATION_PENDING, incoming=True)

    def metric_replication_failed(self) -> Metric:
        """Operations that failed to replicate this bucket -> the peer's, as published here."""
        return self._replication_metric(S3_REPLICATION_FAILED, incoming=False)


def replication_rule_id(destination_role: str) -> str:
    return f"all-objects-to-{destination_role}"


class AuditReplication(Construct):
    """Routing stack: one direction of audit replication, `source` -> `destination`.

    Buckets are named by the contract (each regional stack created its own); keys come from
    the foundation stack. Outputs: `role`, `policy`, `configuration`."""

    def __init__(self, scope: Construct, id: str, *, names: Names, source: Region,
                 destination: Region, keys: dict[str, RegionalKey]):
        super().__init__(scope, id)
        src_arn = f"arn:{source.partition}:s3:::{names.audit_bucket(source.account_id, source.name)}"
        dst_arn = (f"arn:{destination.partition}:s3:::"
                   f"{names.audit_bucket(destination.account_id, destination.name)}")
        src_key, dst_key = keys[source.role], keys[destination.role]
        self.role = IamRole(
            self, "role", provider=source.provider,
            name=names.regional(f"s3-replication-to-{destination.role}", source.role),
            assume_role_policy=assume_role_policy("s3.amazonaws.com", source_account=source.account_id),
        )
        self.policy = IamRolePolicy(
            self, "policy", provider=source.provider, role=self.role.id,
            name="replicate-audit-bucket",
            policy=policy_document([
                statement("ReadSourceConfiguration",
                          ["s3:GetReplicationConfiguration", "s3:ListBucket"], [src_arn]),
                # GetObjectRetention/GetObjectLegalHold: S3 copies each version's lock to
                # the replica only if the role can read it ("Using Object Lock with S3
                # Replication", S3 User Guide).
                statement("ReadSourceVersions",
                          ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl",
                           "s3:GetObjectVersionTagging", "s3:GetObjectRetention",
                           "s3:GetObjectLegalHold"], [f"{src_arn}/*"]),
                # No s3:ObjectOwnerOverrideToBucketOwner: S3 needs it only for a rule with
                # access_control_translation (owner override, cross-account); both buckets
                # are ours, in one account, with ACLs disabled.
                statement("WriteReplicasToDestination",
                          ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                          [f"{dst_arn}/*"]),
                # With S3 Bucket Keys the encryption context is the bucket ARN, else the object's.
                statement("DecryptWithSourceKeyViaS3", ["kms:Decrypt"], [src_key.arn],
                          condition={"StringEquals": {"kms:ViaService": f"s3.{source.name}.amazonaws.com"},
                                     "StringLike": {"kms:EncryptionContext:aws:s3:arn": [src_arn, f"{src_arn}/*"]}}),
                statement("EncryptWithDestinationKeyViaS3", ["kms:Encrypt", "kms:GenerateDataKey"],
                          [dst_key.arn],
                          condition={"StringEquals": {"kms:ViaService": f"s3.{destination.name}.amazonaws.com"},
                                     "StringLike": {"kms:EncryptionContext:aws:s3:arn": [dst_arn, f"{dst_arn}/*"]}}),
            ]),
        )
        self.configuration = S3BucketReplicationConfigurationA(
            self, "configuration", provider=source.provider,
            bucket=names.audit_bucket(source.account_id, source.name), role=self.role.arn,
            rule=[S3BucketReplicationConfigurationRule(
                id=replication_rule_id(destination.role), status="Enabled", priority=1,
                filter=S3BucketReplicationConfigurationRuleFilter(prefix=""),
                delete_marker_replication=S3BucketReplicationConfigurationRuleDeleteMarkerReplication(
                    status="Enabled"),
                source_selection_criteria=S3BucketReplicationConfigurationRuleSourceSelectionCriteria(
                    sse_kms_encrypted_objects=(
                        S3BucketReplicationConfigurationRuleSourceSelectionCriteriaSseKmsEncryptedObjects(
                            status="Enabled")),
                    replica_modifications=(
                        S3BucketReplicationConfigurationRuleSourceSelectionCriteriaReplicaModifications(
                            status="Enabled")),
                ),
                destination=S3BucketReplicationConfigurationRuleDestination(
                    bucket=dst_arn, storage_class="STANDARD",
                    encryption_configuration=(
                        S3BucketReplicationConfigurationRuleDestinationEncryptionConfiguration(
                            replica_kms_key_id=dst_key.arn)),
                    replication_time=S3BucketReplicationConfigurationRuleDestinationReplicationTime(
                        status="Enabled",
                        time=S3BucketReplicationConfigurationRuleDestinationReplicationTimeTime(
                            minutes=REPLICATION_MINUTES)),
                    metrics=S3BucketReplicationConfigurationRuleDestinationMetrics(
                        status="Enabled",
                        event_threshold=S3BucketReplicationConfigurationRuleDestinationMetricsEventThreshold(
                            minutes=REPLICATION_MINUTES)),
                ),
            )],
            # The role must be able to act before S3 accepts the rule; both buckets are
            # versioned and locked by their regional stacks, applied before this one, so no
            # version replicates before its retention applies.
            depends_on=[self.policy],
        )
