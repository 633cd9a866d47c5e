"""Code signing, per region: the function package is signed by AWS Signer during the deploy.

Inputs: one `Region`, names, and the `FunctionCode` asset. Everything lives in that region
and references nothing in the other one, so each region's stack can plan and apply alone:

    code bucket (versioned) -> unsigned object (the asset zip, key = asset hash)
      -> signing job (profile, source object *version*) -> signed object (signed/<job>.zip)
    signing profile (AWSLambda-SHA384-ECDSA) -> code signing config (Enforce)
    function: s3_bucket/s3_key = the job's signed object, code_signing_config_arn = the config

Decisions:
- Its own bucket per region, not a prefix of the audit bucket: the audit buckets are
  Object Lock (COMPLIANCE in prod) and replicate both ways, so packages there could not be
  deleted for years and would be copied into the other region for nothing.
- SSE-S3, not the region's KMS key: a package holds no secrets (environment variables are
  encrypted by Lambda with the region key), and SSE-S3 keeps KMS grants out of the path by
  which Signer and Lambda read the package (not verifiable here, so not risked).
- Signer only signs from a versioned bucket in the profile's own region (StartSigningJob
  API reference), which this layout satisfies in each region.
- `name_prefix`, not `name`: Signer never frees a cancelled profile's name, so a destroyed
  and re-created stack would fail on a fixed name.
- Signer's default signature validity (135 months) is kept: Lambda checks expiry at every
  deployment of the package, including re-creating a function from state after an outage.
- A new zip (new asset hash) is a new object key, hence a new signing job (every argument
  of `aws_signer_signing_job` forces replacement) and a new signed key the functions move to.
  Signing jobs cannot be deleted; old signed packages stay in the bucket as history.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cdktf_cdktf_provider_aws.lambda_code_signing_config import (
    LambdaCodeSigningConfig,
    LambdaCodeSigningConfigAllowedPublishers,
    LambdaCodeSigningConfigPolicies,
)
from cdktf_cdktf_provider_aws.s3_object import S3Object
from cdktf_cdktf_provider_aws.signer_signing_job import (
    SignerSigningJob,
    SignerSigningJobDestination,
    SignerSigningJobDestinationS3,
    SignerSigningJobSource,
    SignerSigningJobSourceS3,
)
from cdktf_cdktf_provider_aws.signer_signing_profile import SignerSigningProfile
from constructs import Construct

from modules.buckets import HardenedBucket
from modules.naming import Names
from modules.regions import Region

if TYPE_CHECKING:
    from modules.compute import FunctionCode

# The only Signer platform for Lambda zip packages.
SIGNING_PLATFORM = "AWSLambda-SHA384-ECDSA"
UNSIGNED_PREFIX = "unsigned/"
SIGNED_PREFIX = "signed/"


class RegionalCodeSigning(Construct):
    """Outputs: `bucket`, `profile`, `job`, `config`, and `s3_bucket`/`s3_key`/
    `code_signing_config_arn` for `aws_lambda_function`."""

    def __init__(self, scope: Construct, id: str, *, region: Region, names: Names,
                 code: FunctionCode, force_destroy: bool = False):
        super().__init__(scope, id)
        p = region.provider
        # force_destroy (the dev profile): Signer writes the signed packages, which Terraform
        # does not manage, so without it `terraform destroy` stops at a non-empty bucket. The
        # bucket holds build outputs only, re-created by the next apply.
        self.bucket = HardenedBucket(
            self, "code-bucket", region=region, key_arn=None,
            bucket_name=names.code_bucket(region.account_id, region.name),
            force_destroy=force_destroy,
        )
        # Signer signs an exact object version, so the upload waits for versioning.
        self.unsigned = S3Object(
            self, "unsigned", provider=p, bucket=self.bucket.bucket.id,
            key=f"{UNSIGNED_PREFIX}{code.hash}.zip", source=code.path,
            depends_on=[self.bucket.versioning],
        )
        env = names.env.replace("-", "_")  # profile names: letters, digits and '_' only
        self.profile = SignerSigningProfile(
            self, "profile", provider=p, platform_id=SIGNING_PLATFORM,
            name_prefix=f"payments_dr_{env}_{region.role}_",
        )
        self.job = SignerSigningJob(
            self, "job", provider=p, profile_name=self.profile.name,
            source=SignerSigningJobSource(s3=SignerSigningJobSourceS3(
                bucket=self.bucket.bucket.id, key=self.unsigned.key,
                version=self.unsigned.version_id)),
            destination=SignerSigningJobDestination(s3=SignerSigningJobDestinationS3(
                bucket=self.bucket.bucket.id, prefix=SIGNED_PREFIX)),
        )
        self.config = LambdaCodeSigningConfig(
            self, "config", provider=p,
            description=f"payments-dr {names.env} {region.role}: only packages signed by "
                        "this region's profile may deploy",
            allowed_publishers=LambdaCodeSigningConfigAllowedPublishers(
                signing_profile_version_arns=[self.profile.version_arn]),
            policies=LambdaCodeSigningConfigPolicies(untrusted_artifact_on_deployment="Enforce"),
        )

    @property
    def s3_bucket(self) -> str:
        return self.job.signed_object.get(0).s3.get(0).bucket

    @property
    def s3_key(self) -> str:
        return self.job.signed_object.get(0).s3.get(0).key

    @property
    def code_signing_config_arn(self) -> str:
        return self.config.arn
