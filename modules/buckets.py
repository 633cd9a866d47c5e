"""A hardened S3 bucket: versioned, KMS-encrypted, private, TLS-only, with a lifecycle.

Used by the audit tier (modules/storage.py) and by the Terraform state bootstrap, which must
not depend on the audit tier. Creation order follows terraform-aws-modules/s3-bucket: the
public-access block, then the bucket policy, then ownership controls (concurrent bucket-level
calls fail with "A conflicting conditional operation is currently in progress"); lifecycle
rules after versioning. An audit bucket's replication rule is written by a later stack
(modules/storage.py), so it never races with these.
"""

from __future__ import annotations

from dataclasses import dataclass

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
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketServerSideEncryptionConfigurationRuleA,
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from cdktf_cdktf_provider_aws.s3_bucket_versioning import (
    S3BucketVersioningA,
    S3BucketVersioningVersioningConfiguration,
)
from constructs import Construct

from modules.iam import Statement, policy_document, statement
from modules.regions import Region
from modules.settings import Settings

NONCURRENT_TO_IA_DAYS = 30
NONCURRENT_EXPIRY_DAYS = 365
# Probe objects are locked for one day (lambda/payments/health.py, lambda/heartbeat.py).
PROBE_OBJECT_NONCURRENT_DAYS = 2


@dataclass(frozen=True)
class ObjectLockRetention:
    """Default retention S3 applies to every new object version of a bucket."""

    mode: str  # GOVERNANCE or COMPLIANCE
    days: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ObjectLockRetention:
        return cls(settings.object_lock_mode, settings.object_lock_days)


# What would weaken a locked bucket's retention for objects to come, or let versions go
# sooner: denied to everyone but the administrators (`lock_guard`).
LOCK_CHANGING_ACTIONS = (
    "s3:PutBucketObjectLockConfiguration", "s3:PutLifecycleConfiguration",
    "s3:PutBucketVersioning", "s3:BypassGovernanceRetention", "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
)


def lock_guard(bucket_arn: str, administrator_arns: tuple[str, ...]) -> list[Statement]:
    """The audit bucket's policy half of the lock: only the administrators (the roles that
    administer the keys: they deploy the bucket) may change its lock, lifecycle, versioning
    or policy. Replication and the drill's pause are not affected."""
    if not administrator_arns:
        return []
    return [statement("OnlyAdministratorsChangeLockOrLifecycle", LOCK_CHANGING_ACTIONS,
                      [bucket_arn, f"{bucket_arn}/*"], effect="Deny", principal={"AWS": "*"},
                      condition={"ArnNotEquals": {"aws:PrincipalArn": list(administrator_arns)}})]


class HardenedBucket(Construct):
    """A versioned, KMS-encrypted, private, TLS-only bucket. Also used for Terraform state.

    `object_lock` (audit buckets only; never the Terraform state bucket, whose old state
    versions must stay deletable) creates the bucket with Object Lock enabled and sets the
    default retention. Object Lock can only be set at creation in this construct: for an
    existing bucket see docs/design.md, "Existing buckets" (S3 accepts `PutObjectLockConfiguration` on an existing
    versioned bucket, but Terraform would still plan to replace an `aws_s3_bucket` whose
    `object_lock_enabled` changed).

    `short_lived_prefixes`: keys rewritten all the time by probes (health, heartbeat), which
    lock each version for one day only (lambda/): their old versions go after two days.

    `tags`: on the bucket, on top of the provider's default tags (e.g. a drill's target tags).
    """

    def __init__(self, scope: Construct, id: str, *, region: Region, bucket_name: str,
                 key_arn: str | None, force_destroy: bool = False,
                 object_lock: ObjectLockRetention | None = None,
                 short_lived_prefixes: tuple[str, ...] = (),
                 tags: dict[str, str] | None = None,
                 lock_administrators: tuple[str, ...] = ()):
        super().__init__(scope, id)
        self.region = region
        self.bucket = S3Bucket(self, "bucket", provider=region.provider, bucket=bucket_name,
                               force_destroy=force_destroy,
                               object_lock_enabled=True if object_lock else None, tags=tags)
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
        self.policy = S3BucketPolicy(
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
                *lock_guard(self.bucket.arn, lock_administrators if object_lock else ()),
            ]),
            # A bucket policy put before the block exists races with S3's public-policy check.
            depends_on=[self.public_access_block],
        )
        S3BucketOwnershipControls(
            self, "ownership", provider=region.provider, bucket=self.bucket.id,
            rule=S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"),
            depends_on=[self.public_access_block, self.policy],
        )
        # Noncurrent versions to Standard-IA after 30 days, gone after a year; stale uploads.
        self.lifecycle = S3BucketLifecycleConfiguration(
            self, "lifecycle", provider=self.region.provider, bucket=self.bucket.id,
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
            ), *[S3BucketLifecycleConfigurationRule(
                # Where rules overlap, S3 applies the shortest expiration.
                id=f"probe-objects-{prefix.strip('/')}", status="Enabled",
                filter=[S3BucketLifecycleConfigurationRuleFilter(prefix=prefix)],
                noncurrent_version_expiration=[
                    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                        noncurrent_days=PROBE_OBJECT_NONCURRENT_DAYS)],
            ) for prefix in short_lived_prefixes]],
            depends_on=[self.versioning],
        )
