"""Terraform state: every platform stack's backend, and the bootstrap stack that creates it.

One state per stack (contract.PLATFORM_STACKS), all in one S3 bucket in `TF_STATE_REGION`, by
default the DR region: on the day the primary region is down, the DR stack's state, lock and
remote-state reads of the foundation stack are all outside it.

- The bucket name carries the account id and region (`payments-dr-tfstate-{env}-{account}-
  {region}`), unique across all AWS accounts without credentials at synth: the account comes
  from the AWS_ACCOUNT_ID setting. Without it a synth still works (tests, review) and every
  plan stops at the account guard (modules/regions.py) naming AWS_ACCOUNT_ID.
- State is encrypted with the bootstrap's CMK, named by alias (`kms_key_id`, accepted by the
  S3 backend since Terraform 1.10), and locked with an S3 lock file (`use_lockfile`): the
  DynamoDB lock table is deprecated since Terraform 1.11 and is gone.
- `required_version >= 1.11`: ephemeral resources and write-only arguments need it.
- Terraform Cloud (TFC_ORGANIZATION + TFC_WORKSPACE): one workspace per stack, named
  `{TFC_WORKSPACE}-{stack suffix}` (e.g. payments-dev-primary).

The bootstrap stack keeps its own small state on local disk (it cannot store state in the
bucket it creates), at a path relative to the repository root. With `CI_GITHUB_REPOSITORY`
set it also holds this environment's CI roles (modules/ci_roles.py), scoped to this bucket
and key.
"""

from __future__ import annotations

from cdktf import (
    CloudBackend,
    LocalBackend,
    NamedCloudWorkspace,
    S3Backend,
    TerraformOutput,
    TerraformStack,
)
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from constructs import Construct

from contract import BOOTSTRAP_STACK, Names
from modules.buckets import HardenedBucket
from modules.ci_roles import CiRoles
from modules.iam import policy_document, statement
from modules.regions import build_region
from modules.settings import Settings

# From cdktf.out/stacks/<stack>/ back to the repository root.
BOOTSTRAP_STATE_PATH = "../../../terraform.payments-dr-bootstrap.{env}.tfstate"
REQUIRED_TERRAFORM = ">= 1.11.0"
# The bindings (cdktf-cdktf-provider-aws 21.22.1) are generated from AWS provider 6.25.0 and
# pin it exactly. 6.25.0 plans a perpetual change of every on-demand GSI (`warm_throughput`
# read back but not configured: hashicorp/terraform-provider-aws#44692, fixed in 6.29.0), which
# would rebuild the customer and status indexes on each apply. The JSON uses nothing added
# after 6.25.0 (tests/test_terraform.py; CDK Terrain's 6.69 bindings synthesize the same JSON:
# docs/cdktn.md), so any 6.x from the fix on is accepted.
REQUIRED_AWS_PROVIDER = ">= 6.29.0, < 7.0.0"


def state_key_alias(settings: Settings) -> str:
    return f"alias/payments-dr-tfstate-{settings.environment_suffix}"


def workspace_name(settings: Settings, stack_name: str) -> str:
    return f"{settings.tfc_workspace}-{stack_name.removeprefix('payments-dr-')}"


def require_terraform(stack: TerraformStack) -> None:
    stack.add_override("terraform.required_version", REQUIRED_TERRAFORM)
    stack.add_override("terraform.required_providers.aws.version", REQUIRED_AWS_PROVIDER)


def configure_backend(stack: TerraformStack, settings: Settings, stack_name: str) -> None:
    """S3 (lock file, CMK) by default; a Terraform Cloud workspace per stack when TFC is set."""
    require_terraform(stack)
    if settings.uses_terraform_cloud:
        CloudBackend(stack, organization=settings.tfc_organization,
                     workspaces=NamedCloudWorkspace(name=workspace_name(settings, stack_name)))
        return
    S3Backend(
        stack,
        bucket=settings.state_bucket,
        key=Names(settings.environment_suffix).state_key(stack_name),
        region=settings.state_region,
        encrypt=True,
        kms_key_id=state_key_alias(settings),
    )
    # cdktf 0.21's S3Backend has no field for it (CDKTF_NOTES.md).
    stack.add_override("terraform.backend.s3.use_lockfile", True)


class StateBootstrapStack(TerraformStack):
    """Creates the state bucket and its key. Apply once per account and environment."""

    def __init__(self, scope: Construct, id: str = BOOTSTRAP_STACK, *, settings: Settings):
        super().__init__(scope, id)
        require_terraform(self)
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
        KmsAlias(self, "state-key-alias", provider=region.provider,
                 name=state_key_alias(settings), target_key_id=key.key_id)
        bucket = HardenedBucket(self, "state", region=region, bucket_name=settings.state_bucket,
                                key_arn=key.arn)
        TerraformOutput(self, "state_bucket", value=bucket.bucket.bucket)
        TerraformOutput(self, "state_key", value=state_key_alias(settings))
        TerraformOutput(self, "state_region", value=settings.state_region)
        # This environment's GitHub Actions roles (pr-plan, plan, apply), scoped to this
        # state; only with CI_GITHUB_REPOSITORY (the OIDC provider is in the account stack).
        self.ci_roles: CiRoles | None = None
        if settings.ci_github_repository:
            self.ci_roles = CiRoles(
                self, "ci", region=region, repository=settings.ci_github_repository,
                names=Names(settings.environment_suffix), state_bucket_arn=bucket.bucket.arn,
                state_key_arn=key.arn)
            for purpose, role in self.ci_roles.roles.items():
                TerraformOutput(self, f"ci_{purpose.replace('-', '_')}_role_arn", value=role.arn)
