"""Audit-log and receipt buckets, one per region, replicating to each other.

Each region's validator writes receipts to its own region's bucket, so replication runs both
ways: primary -> DR keeps the DR copy current, DR -> primary brings receipts written during
a failover back for failback. S3 does not re-replicate replicas, so the pair does not loop.
Every rule uses Replication Time Control (15 minutes, with replication metrics), replicates
delete markers, re-encrypts with the destination region's key, and syncs replica metadata.

WORM receipts: both audit buckets are created with S3 Object Lock and a default retention
(`OBJECT_LOCK_MODE`/`OBJECT_LOCK_DAYS`: GOVERNANCE for dev, COMPLIANCE for prod-like). S3
stamps every new object version with that mode and a retain-until date; replication copies
the version's retention to the replica (the destination bucket must have Object Lock too,
and the replication role reads the source's retention and legal hold), so a replica is
locked exactly as long as its source. A delete only adds a delete marker (replicated), and
no locked version can be removed before its date, not even by the lifecycle rule below,
whose noncurrent-version expiry is never shorter than the retention.
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload,
    S3BucketLifecycleConfigurationRuleFilter,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionTransition,
)
from cdktf_cdktf_provider_aws.s3_bucket_object_lock_configuration import (
    S3BucketObjectLockConfigurationA,
    S3BucketObjectLockConfigurationRuleA,
    S3BucketObjectLockConfigurationRuleDefaultRetentionA,
)
from cdktf_cdktf_provider_aws.s3_bucket_ownership_controls import (
    S3BucketOwnershipControls,
    S3BucketOwnershipControlsRule,
)
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
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
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketServerSideEncryptionConfigurationRuleA,
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from cdktf_cdktf_provider_aws.s3_bucket_versioning import (
    S3BucketVersioningA,
    S3BucketVersioningVersioningConfiguration,
)

from modules.iam import assume_role_policy, policy_document, statement
from modules.keys import RegionalKey
from modules.naming import Names
from modules.regions import Region, RegionPair
from modules.settings import Settings

REPLICATION_MINUTES = 15
NONCURRENT_TO_IA_DAYS = 30
NONCURRENT_EXPIRY_DAYS = 365


@dataclass(frozen=True)
class ObjectLockRetention:
    """Default retention S3 applies to every new object version of a bucket."""

    mode: str  # GOVERNANCE or COMPLIANCE
    days: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "ObjectLockRetention":
        return cls(settings.object_lock_mode, settings.object_lock_days)


class HardenedBucket(Construct):
    """A versioned, KMS-encrypted, private, TLS-only bucket. Also used for Terraform state.

    `object_lock` (audit buckets only; never the Terraform state bucket, whose old state
    versions must stay deletable) creates the bucket with Object Lock enabled and sets the
    default retention. Object Lock can only be set at creation in this construct: for an
    existing bucket see the README (S3 accepts `PutObjectLockConfiguration` on an existing
    versioned bucket, but Terraform would still plan to replace an `aws_s3_bucket` whose
    `object_lock_enabled` changed).
    """

    def __init__(self, scope: Construct, id: str, *, region: Region, bucket_name: str,
                 key_arn: str | None, force_destroy: bool = False,
                 object_lock: ObjectLockRetention | None = None):
        super().__init__(scope, id)
        self.bucket = S3Bucket(self, "bucket", provider=region.provider, bucket=bucket_name,
                               force_destroy=force_destroy,
                               object_lock_enabled=True if object_lock else None)
        self.versioning = S3BucketVersioningA(
            self, "versioning", provider=region.provider, bucket=self.bucket.id,
            versioning_configuration=S3BucketVersioningVersioningConfiguration(status="Enabled"),
        )
        self.object_lock = None
        if object_lock:
            self.object_lock = S3BucketObjectLockConfigurationA(
                self, "object-lock", provider=region.provider, bucket=self.bucket.id,
                rule=S3BucketObjectLockConfigurationRuleA(
                    default_retention=S3BucketObjectLockConfigurationRuleDefaultRetentionA(
                        mode=object_lock.mode, days=object_lock.days)),
                depends_on=[self.versioning],
            )
        # Lifecycle never fights Object Lock: S3 does not expire a version under retention,
        # and a version turns noncurrent only after it was written, so expiring noncurrent
        # versions no sooner than the retention period means the lock has always run out.
        noncurrent_expiry = max(NONCURRENT_EXPIRY_DAYS, object_lock.days if object_lock else 0)
        S3BucketServerSideEncryptionConfigurationA(
            self, "encryption", provider=region.provider, bucket=self.bucket.id,
            rule=[S3BucketServerSideEncryptionConfigurationRuleA(
                apply_server_side_encryption_by_default=(
                    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                        sse_algorithm="aws:kms" if key_arn else "AES256",
                        kms_master_key_id=key_arn)),
                bucket_key_enabled=bool(key_arn),
            )],
        )
        self.public_access_block = S3BucketPublicAccessBlock(
            self, "public-access-block", provider=region.provider, bucket=self.bucket.id,
            block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True,
        )
        S3BucketOwnershipControls(
            self, "ownership", provider=region.provider, bucket=self.bucket.id,
            rule=S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"),
        )
        S3BucketPolicy(
            self, "tls-only", provider=region.provider, bucket=self.bucket.id,
            policy=policy_document([
                statement("DenyInsecureTransport", ["s3:*"],
                          [self.bucket.arn, f"{self.bucket.arn}/*"], effect="Deny",
                          principal={"AWS": "*"},
                          condition={"Bool": {"aws:SecureTransport": "false"}}),
                statement("DenyTlsBelow12", ["s3:*"],
                          [self.bucket.arn, f"{self.bucket.arn}/*"], effect="Deny",
                          principal={"AWS": "*"},
                          condition={"NumericLessThan": {"s3:TlsVersion": "1.2"}}),
            ]),
            # A bucket policy put before the block exists races with S3's public-policy check.
            depends_on=[self.public_access_block],
        )
        S3BucketLifecycleConfiguration(
            self, "lifecycle", provider=region.provider, bucket=self.bucket.id,
            rule=[S3BucketLifecycleConfigurationRule(
                id="noncurrent-versions-and-stale-uploads", status="Enabled",
                filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                noncurrent_version_transition=[
                    S3BucketLifecycleConfigurationRuleNoncurrentVersionTransition(
                        noncurrent_days=NONCURRENT_TO_IA_DAYS, storage_class="STANDARD_IA")],
                noncurrent_version_expiration=[
                    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                        noncurrent_days=noncurrent_expiry)],
                abort_incomplete_multipart_upload=[
                    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(
                        days_after_initiation=7)],
            )],
            depends_on=[self.versioning],
        )


class AuditStorage(Construct):
    """Outputs: `primary_bucket`, `dr_bucket` (HardenedBucket), `replication_roles`."""

    def __init__(self, scope: Construct, id: str, *, names: Names, regions: RegionPair,
                 keys: dict[str, RegionalKey], settings: Settings | None = None):
        super().__init__(scope, id)
        self._keys = keys
        # Object Lock is always on for audit buckets; without settings, the dev defaults.
        self.retention = ObjectLockRetention.from_settings(settings or Settings())
        self.buckets = {
            region.role: HardenedBucket(
                self, f"{region.role}-audit", region=region, key_arn=keys[region.role].arn,
                bucket_name=names.audit_bucket(region.account_id, region.name),
                object_lock=self.retention,
            )
            for region in regions
        }
        self.primary_bucket = self.buckets[regions.primary.role]
        self.dr_bucket = self.buckets[regions.dr.role]
        self.replication_roles = {}
        self.replication_configs = {}
        for source in regions:
            destination = regions.other(source)
            self._replicate(names, source, destination)

    def _replicate(self, names: Names, source: Region, destination: Region) -> None:
        src, dst = self.buckets[source.role], self.buckets[destination.role]
        src_key, dst_key = self._keys[source.role], self._keys[destination.role]
        role = IamRole(
            self, f"replication-role-{source.role}-to-{destination.role}",
            provider=source.provider,
            name=names.regional(f"s3-replication-to-{destination.role}", source.role),
            assume_role_policy=assume_role_policy("s3.amazonaws.com", source_account=source.account_id),
        )
        src_arn, dst_arn = src.bucket.arn, dst.bucket.arn
        IamRolePolicy(
            self, f"replication-policy-{source.role}-to-{destination.role}",
            provider=source.provider, role=role.id, name="replicate-audit-bucket",
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
                statement("WriteReplicasToDestination",
                          ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags",
                           "s3:ObjectOwnerOverrideToBucketOwner"], [f"{dst_arn}/*"]),
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
        self.replication_roles[source.role] = role
        self.replication_configs[source.role] = S3BucketReplicationConfigurationA(
            self, f"replication-{source.role}-to-{destination.role}", provider=source.provider,
            bucket=src.bucket.id, role=role.arn,
            rule=[S3BucketReplicationConfigurationRule(
                id=f"all-objects-to-{destination.role}", status="Enabled", priority=1,
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
            # S3 rejects a replication configuration unless both buckets are already versioned;
            # the locks exist first so no version replicates before retention applies.
            depends_on=[src.versioning, dst.versioning, src.object_lock, dst.object_lock],
        )

    def grant_receipts_write(self, region: Region) -> list[dict]:
        """The validator in `region` writes receipts to that region's bucket only."""
        bucket = self.buckets[region.role].bucket
        key = self._keys[region.role]
        return [
            statement(f"WriteReceipts{region.role.title()}", ["s3:PutObject"],
                      [f"{bucket.arn}/receipts/*"]),
            statement(f"ReceiptsKeyViaS3{region.role.title()}",
                      ["kms:GenerateDataKey", "kms:Decrypt"], [key.arn],
                      condition={"StringEquals": {"kms:ViaService": f"s3.{region.name}.amazonaws.com"}}),
        ]
