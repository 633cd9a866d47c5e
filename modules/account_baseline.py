"""Account baseline: settings AWS keeps once per region per ACCOUNT, shared by every environment.

`aws_api_gateway_account` (the CloudWatch role API Gateway logs through) is a per-region,
per-account singleton: declared by each environment, two environments in one account
overwrite each other's role and destroying one breaks logging for the other (the provider's
delete is a no-op, but the role it points at is destroyed). So it lives here, in its own
stack with its own state, with names that carry no environment:

- one IAM role (IAM is global) `ACCOUNT_LOGGING_ROLE`, trusted by apigateway.amazonaws.com,
  with the AWS-managed AmazonAPIGatewayPushToCloudWatchLogs policy;
- one `aws_api_gateway_account` per region (primary and DR of the settings) pointing at it;
- with `CI_GITHUB_REPOSITORY` set, GitHub Actions' OIDC provider (one per account; the CI
  roles of each environment are in its bootstrap stack: modules/ci_roles.py).

Apply it once per account, before the platform stacks: a stage with execution logging fails
to deploy while its region has no CloudWatch role. Environments whose region pairs differ
(dev us-east-1/us-east-2, qa us-east-1/us-west-2) need every region covered: apply it from
each such configuration; the role is shared (same name), so the second apply must import
it (`terraform import aws_iam_role.<name> payments-dr-apigateway-cloudwatch`) — the plan
fails with EntityAlreadyExists otherwise, it never silently takes it over.

State: local (like the bootstrap stack): this stack exists before any state bucket and
changes about never. Keep the state file with the bootstrap's.

Trust policy without aws:SourceAccount/aws:SourceArn: AWS documents this role's trust policy
with the service principal only (API Gateway developer guide, "Set up CloudWatch logging
for REST APIs"; AWS::ApiGateway::Account examples), and nowhere documents that API Gateway
sends those keys when it assumes the role. UpdateAccount assumes the role to validate it
(the provider retries on "The role ARN does not have required permissions",
internal/service/apigateway/account.go); a condition API Gateway does not satisfy would fail
the apply for good. The role can only write CloudWatch Logs in this account.
"""

from __future__ import annotations

from cdktf import LocalBackend, TerraformOutput, TerraformStack
from cdktf_cdktf_provider_aws.api_gateway_account import ApiGatewayAccount
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.provider import AwsProviderDefaultTags
from constructs import Construct

from contract import ACCOUNT_STACK, DR, PRIMARY
from modules.ci_roles import GithubOidcProvider
from modules.iam import assume_role_policy
from modules.regions import Region, build_region
from modules.settings import Settings
from modules.state_backend import require_terraform

ACCOUNT_LOGGING_ROLE = "payments-dr-apigateway-cloudwatch"
# From cdktf.out/stacks/<stack>/ back to the repository root; no environment in the name.
ACCOUNT_STATE_PATH = f"../../../terraform.{ACCOUNT_STACK}.tfstate"


class AccountBaselineStack(TerraformStack):
    """Account-wide singletons for the regions of `settings`. Apply once per account."""

    def __init__(self, scope: Construct, id: str = ACCOUNT_STACK, *, settings: Settings):
        super().__init__(scope, id)
        LocalBackend(self, path=ACCOUNT_STATE_PATH)
        require_terraform(self)
        self.regions: dict[str, Region] = {}
        for role, name in ((PRIMARY, settings.primary_region), (DR, settings.dr_region)):
            region = build_region(self, role=role, name=name, settings=settings)
            # Shared by every environment: no Environment tag (it would flap between them).
            region.provider.default_tags = [AwsProviderDefaultTags(tags={
                "Application": "payments-dr", "Scope": "account", "ManagedBy": "cdktf",
                **settings.tags})]
            self.regions[role] = region
        primary = self.regions[PRIMARY]
        self.role = IamRole(
            self, "apigateway-cloudwatch-role", provider=primary.provider,
            name=ACCOUNT_LOGGING_ROLE,
            description="API Gateway execution/access logging, every region of this account",
            assume_role_policy=assume_role_policy("apigateway.amazonaws.com"))
        self.policy = IamRolePolicyAttachment(
            self, "apigateway-cloudwatch-policy", provider=primary.provider, role=self.role.name,
            policy_arn=f"arn:{primary.partition}:iam::aws:policy/service-role/"
                       "AmazonAPIGatewayPushToCloudWatchLogs")
        self.accounts = {
            role: ApiGatewayAccount(
                self, f"apigateway-account-{role}", provider=region.provider,
                cloudwatch_role_arn=self.role.arn,
                # API Gateway validates the role's permissions when the setting is made.
                depends_on=[self.policy])
            for role, region in self.regions.items()
        }
        TerraformOutput(self, "apigateway_cloudwatch_role_arn", value=self.role.arn,
                        description="Role API Gateway logs through, in every region")
        # GitHub Actions' OIDC issuer (one per account), only when CI_GITHUB_REPOSITORY is set.
        self.github_oidc: GithubOidcProvider | None = None
        if settings.ci_github_repository:
            self.github_oidc = GithubOidcProvider(self, "github-oidc", region=primary)
            TerraformOutput(self, "github_oidc_provider_arn", value=self.github_oidc.provider.arn)
