"""Terraform state: the S3 backend of the platform stack and the bootstrap stack that creates it.

The state bucket and lock table live in `TF_STATE_REGION`, by default the DR region: on the
day the primary region is down, operators can still plan and apply. The bootstrap stack
keeps its own small state on local disk (it cannot store state in the bucket it creates),
at a path relative to the repository root so every checkout finds it in the same place.
"""

from __future__ import annotations

from constructs import Construct
from cdktf import (
    CloudBackend,
    LocalBackend,
    NamedCloudWorkspace,
    S3Backend,
    TerraformOutput,
    TerraformStack,
)
from cdktf_cdktf_provider_aws.dynamodb_table import (
    DynamodbTable,
    DynamodbTableAttribute,
    DynamodbTablePointInTimeRecovery,
    DynamodbTableServerSideEncryption,
)
from cdktf_cdktf_provider_aws.kms_key import KmsKey

from modules.iam import policy_document, statement
from modules.regions import build_region
from modules.settings import Settings
from modules.storage import HardenedBucket

BOOTSTRAP_STACK = "payments-dr-bootstrap"
# From cdktf.out/stacks/<stack>/ back to the repository root.
BOOTSTRAP_STATE_PATH = "../../../terraform.payments-dr-bootstrap.{env}.tfstate"


def state_key(settings: Settings) -> str:
    return f"payments-dr/{settings.environment_suffix}/terraform.tfstate"


def configure_platform_backend(stack: TerraformStack, settings: Settings) -> None:
    """S3 + DynamoDB lock by default; Terraform Cloud when TFC_ORGANIZATION/TFC_WORKSPACE are set."""
    if settings.uses_terraform_cloud:
        CloudBackend(stack, organization=settings.tfc_organization,
                     workspaces=NamedCloudWorkspace(name=settings.tfc_workspace))
        return
    S3Backend(
        stack,
        bucket=settings.state_bucket,
        key=state_key(settings),
        region=settings.state_region,
        dynamodb_table=settings.state_lock_table,
        encrypt=True,
    )


class StateBootstrapStack(TerraformStack):
    """Creates the state bucket and lock table. Apply once per account and environment."""

    def __init__(self, scope: Construct, id: str, *, settings: Settings):
        super().__init__(scope, id)
        LocalBackend(self, path=BOOTSTRAP_STATE_PATH.format(env=settings.environment_suffix))
        region = build_region(self, role="state", name=settings.state_region, settings=settings)
        key = KmsKey(
            self, "state-key", provider=region.provider,
            description=f"payments-dr {settings.environment_suffix} Terraform state",
            enable_key_rotation=True, deletion_window_in_days=30,
            policy=policy_document([statement(
                "AccountAdministersKeyThroughIam", ["kms:*"], ["*"],
                principal={"AWS": f"arn:{region.partition}:iam::{region.account_id}:root"})]),
        )
        bucket = HardenedBucket(self, "state", region=region, bucket_name=settings.state_bucket,
                                key_arn=key.arn)
        table = DynamodbTable(
            self, "lock-table", provider=region.provider,
            name=settings.state_lock_table, billing_mode="PAY_PER_REQUEST", hash_key="LockID",
            attribute=[DynamodbTableAttribute(name="LockID", type="S")],
            point_in_time_recovery=DynamodbTablePointInTimeRecovery(enabled=True),
            server_side_encryption=DynamodbTableServerSideEncryption(enabled=True, kms_key_arn=key.arn),
            deletion_protection_enabled=True,
        )
        TerraformOutput(self, "state_bucket", value=bucket.bucket.bucket)
        TerraformOutput(self, "state_lock_table", value=table.name)
        TerraformOutput(self, "state_region", value=settings.state_region)
