"""CI's AWS identities as code: GitHub's OIDC provider and the three roles of one environment.

Created only when `CI_GITHUB_REPOSITORY` (owner/repo) is set; without it no OIDC provider and
no CI role exist, and the roles must be made by hand (docs/review-and-ci.md).

- `GithubOidcProvider` (account stack): IAM keeps one provider per URL per account, so it is
  an account singleton, like API Gateway's logging role.
- `CiRoles` (bootstrap stack, once per account and environment, like the state bucket whose
  objects and key they are scoped to):
  - `<env>-pr-plan`: pull requests. Trusted ONLY for the subject `repo:<o>/<r>:pull_request`
    (a job without a GitHub environment, on the `pull_request` event). ReadOnlyAccess for the
    refresh, the state objects and key, no lock, and explicit denies on every read of a
    secret value or of data (`DATA_READ_DENIES`): the PR's code runs with these credentials.
  - `<env>-plan`: push to main. Trusted only for `repo:<o>/<r>:environment:<env>`; the same
    denies (the plan never needs a secret's value: modules/database.py), plus the lock file.
  - `<env>-apply`: trusted only for `repo:<o>/<r>:environment:<env>-apply`; AdministratorAccess
    (the stacks create IAM roles, keys, clusters...), but it may not read secret values and
    may not change the CI identities (its own trust included).
  AWS evaluates only `sub` and `aud` of a GitHub token (it supports no custom claims), so
  which ref may use `<env>` and `<env>-apply` (main only) and who approves are GitHub
  environment protection rules, set by hand (docs/review-and-ci.md lists them).
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktf_cdktf_provider_aws.iam_openid_connect_provider import IamOpenidConnectProvider
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from constructs import Construct

from contract import Names
from modules.iam import Statement, policy_document, statement
from modules.regions import Region

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_AUDIENCE = "sts.amazonaws.com"  # what aws-actions/configure-aws-credentials requests
PR_PLAN, PLAN, APPLY = "pr-plan", "plan", "apply"

# Reads of a secret's value or of payment data. Denied to every CI role that does not need
# them; an explicit Deny wins over any Allow (ReadOnlyAccess grants several of these).
SECRET_VALUE_READS = ("secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue")
ITEM_READS = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan",
              "dynamodb:PartiQLSelect", "dynamodb:GetRecords", "dynamodb:ExportTableToPointInTime",
              "rds-data:*")
DATA_READ_DENIES = (
    *SECRET_VALUE_READS, *ITEM_READS,
    "rds:DownloadDBLogFilePortion", "rds:DownloadCompleteDBLogFile",
    "logs:GetLogEvents", "logs:FilterLogEvents", "logs:StartQuery", "logs:GetQueryResults",
    "logs:GetLogRecord", "logs:StartLiveTail",
    "sqs:ReceiveMessage", "xray:BatchGetTraces", "lambda:InvokeFunction", "sts:AssumeRole",
)
OBJECT_READS = ("s3:GetObject", "s3:GetObjectVersion")


def subject(repository: str, purpose: str, environment: str) -> str:
    """The OIDC `sub` GitHub issues to the job that uses the role (default subject format)."""
    if purpose == PR_PLAN:
        return f"repo:{repository}:pull_request"
    return f"repo:{repository}:environment:{environment}" + ("-apply" if purpose == APPLY else "")


def role_name(environment: str, purpose: str) -> str:
    return f"payments-dr-ci-{environment}-{purpose}"


def oidc_provider_arn(region: Region) -> str:
    return f"arn:{region.partition}:iam::{region.account_id}:oidc-provider/{GITHUB_OIDC_HOST}"


def trust_policy(provider_arn: str, sub: str) -> str:
    """Web identity from GitHub's provider, for exactly one subject and our audience."""
    return policy_document([statement(
        "GithubActionsJob", ["sts:AssumeRoleWithWebIdentity"], None,
        principal={"Federated": provider_arn},
        condition={"StringEquals": {f"{GITHUB_OIDC_HOST}:aud": GITHUB_AUDIENCE,
                                    f"{GITHUB_OIDC_HOST}:sub": sub}})])


def plan_statements(*, state_bucket_arn: str, state_key_arn: str, code_objects: Sequence[str],
                    lock: bool) -> list[Statement]:
    """What `terraform plan` of the platform stacks needs beyond ReadOnlyAccess, and the denies.

    Object reads are denied except the state (and the other stacks' outputs in it) and the
    function packages (the refresh of `aws_s3_object` is a HeadObject, i.e. s3:GetObject);
    kms:Decrypt is denied except the state key and Lambda showing a function's environment
    (configuration, not secrets: the plan compares it)."""
    state_objects = f"{state_bucket_arn}/payments-dr/*"
    allowed_objects = [state_objects, *code_objects]
    grants = [
        statement("StateList", ["s3:ListBucket"], [state_bucket_arn]),
        statement("StateRead", OBJECT_READS, allowed_objects),
        statement("StateKey", ["kms:Decrypt", "kms:DescribeKey"], [state_key_arn]),
        # The ephemeral random password (modules/database.py): a fresh random string, no secret.
        statement("RandomPassword", ["secretsmanager:GetRandomPassword"], ["*"]),
        statement("FunctionEnvironment", ["kms:Decrypt"], ["*"],
                  condition={"StringLike": {"kms:ViaService": "lambda.*.amazonaws.com"}}),
    ]
    if lock:
        grants += [
            statement("StateLock", ["s3:PutObject", "s3:DeleteObject"],
                      [f"{state_bucket_arn}/payments-dr/*.tflock"]),
            statement("StateLockKey", ["kms:GenerateDataKey", "kms:Encrypt"], [state_key_arn]),
        ]
    denies = [
        statement("NoSecretOrDataReads", DATA_READ_DENIES, ["*"], effect="Deny"),
        {**statement("NoObjectReadsButStateAndPackages", OBJECT_READS, None, effect="Deny"),
         "NotResource": allowed_objects},
        {**statement("NoDecryptButStateAndFunctionConfig", ["kms:Decrypt", "kms:ReEncryptFrom"],
                     None, effect="Deny",
                     condition={"StringNotLike": {"kms:ViaService": "lambda.*.amazonaws.com"}}),
         "NotResource": [state_key_arn]},
    ]
    if not lock:
        denies.append(statement("NoStateWrites", ["s3:PutObject", "s3:DeleteObject"],
                                [state_objects], effect="Deny"))
    return grants + denies


def apply_denies(ci_role_arns: Sequence[str], provider_arn: str) -> list[Statement]:
    """The apply role needs every write, but no secret value and no CI identity.

    Item reads are NOT denied: adding a global-table replica requires the caller to hold
    dynamodb:Scan, Query, GetItem... in the replica's region (DynamoDB developer guide,
    "DynamoDB global tables security"); the apply role is reached only after approval."""
    return [
        statement("NoSecretValues", SECRET_VALUE_READS, ["*"], effect="Deny"),
        statement("NoChangesToCiIdentities",
                  ["iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
                   "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:DeleteRole",
                   "iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary",
                   "iam:UpdateRole", "iam:TagRole", "iam:UntagRole",
                   "iam:UpdateOpenIDConnectProviderThumbprint",
                   "iam:AddClientIDToOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider"],
                  [*ci_role_arns, provider_arn], effect="Deny"),
    ]


class GithubOidcProvider(Construct):
    """GitHub Actions' OIDC issuer, trusted for the audience sts.amazonaws.com only."""

    def __init__(self, scope: Construct, id: str, *, region: Region):
        super().__init__(scope, id)
        # No thumbprint: IAM verifies GitHub's certificate through its own trusted CAs
        # (thumbprint_list is optional since AWS provider 5.81).
        self.provider = IamOpenidConnectProvider(
            self, "provider", provider=region.provider, url=f"https://{GITHUB_OIDC_HOST}",
            client_id_list=[GITHUB_AUDIENCE])


class CiRoles(Construct):
    """The pr-plan, plan and apply roles of one environment. Outputs: `roles` by purpose."""

    def __init__(self, scope: Construct, id: str, *, region: Region, repository: str,
                 names: Names, state_bucket_arn: str, state_key_arn: str):
        super().__init__(scope, id)
        env = names.env
        provider_arn = oidc_provider_arn(region)
        code_objects = [f"arn:{region.partition}:s3:::payments-dr-code-{env}-{region.account_id}-*/*"]
        self.roles: dict[str, IamRole] = {}
        for purpose in (PR_PLAN, PLAN, APPLY):
            self.roles[purpose] = IamRole(
                self, f"{purpose}-role", provider=region.provider, name=role_name(env, purpose),
                description=f"GitHub Actions {purpose} for payments-dr {env} ({repository})",
                max_session_duration=3600 * (2 if purpose == APPLY else 1),
                assume_role_policy=trust_policy(provider_arn, subject(repository, purpose, env)))
        for purpose in (PR_PLAN, PLAN):
            IamRolePolicyAttachment(
                self, f"{purpose}-read-only", provider=region.provider,
                role=self.roles[purpose].name,
                policy_arn=f"arn:{region.partition}:iam::aws:policy/ReadOnlyAccess")
            IamRolePolicy(
                self, f"{purpose}-policy", provider=region.provider, role=self.roles[purpose].id,
                name="plan", policy=policy_document(plan_statements(
                    state_bucket_arn=state_bucket_arn, state_key_arn=state_key_arn,
                    code_objects=code_objects, lock=purpose == PLAN)))
        IamRolePolicyAttachment(
            self, "apply-admin", provider=region.provider, role=self.roles[APPLY].name,
            policy_arn=f"arn:{region.partition}:iam::aws:policy/AdministratorAccess")
        ci_role_arns = [region.arn("iam", f"role/{role_name(env, p)}", region=False)
                        for p in (PR_PLAN, PLAN, APPLY)]
        IamRolePolicy(
            self, "apply-denies", provider=region.provider, role=self.roles[APPLY].id,
            name="denies", policy=policy_document(apply_denies(ci_role_arns, provider_arn)))
