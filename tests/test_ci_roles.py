"""CI identities: who can assume which role, and what the plan roles can never read.

The synthesized trust and identity policies are evaluated the way IAM does (explicit Deny
wins, then Allow; StringEquals/StringLike/StringNotLike with IAM's missing-key rules) against
the claims GitHub puts in a job's OIDC token. AWS-managed policies (ReadOnlyAccess,
AdministratorAccess) are modelled as `Allow *`: whatever they grant, the denies must hold.
"""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import resources
from platform_support import PROD

from contract import ACCOUNT_STACK, BOOTSTRAP_STACK
from modules.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "review.yml"
REPO = PROD["CI_GITHUB_REPOSITORY"]
ACCOUNT = PROD["AWS_ACCOUNT_ID"]
HOST = "token.actions.githubusercontent.com"
STATE_BUCKET = f"arn:aws:s3:::payments-dr-tfstate-prod-{ACCOUNT}-us-east-2"
STATE_KEY = f"arn:aws:kms:us-east-2:{ACCOUNT}:key/state"
DATA_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/data"
MASTER_SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:payments-dr/prod/aurora-master-AbCdEf"
CLIENT_KEYS = f"arn:aws:secretsmanager:us-east-2:{ACCOUNT}:secret:payments-dr/prod/client-keys-AbCdEf"
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/payments-transactions-prod"
RECEIPT = "arn:aws:s3:::payments-audit-primary-prod/receipts/2026/12/07/tx-1.json"
CLUSTER = f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:payments-primary-prod"


# -- a small IAM evaluator ------------------------------------------------------------------

def _resolve(text: str) -> str:
    """Concrete values for the tokens the bootstrap stack's policies contain."""
    values = {"partition": "aws", "account_id": ACCOUNT}
    text = re.sub(r"\$\{aws_s3_bucket\.[^}]+\.arn\}", STATE_BUCKET, text)
    text = re.sub(r"\$\{aws_kms_key\.[^}]+\.arn\}", STATE_KEY, text)
    return re.sub(r"\$\{data\.[a-z_]+\.[^.}]+\.([a-z_]+)\}", lambda m: values[m.group(1)], text)


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _conditions_hold(condition: dict, context: dict[str, str]) -> bool:
    for operator, tests in condition.items():
        for key, wanted in tests.items():
            actual = context.get(key)
            patterns = _listed(wanted)
            if operator == "StringEquals":
                ok = actual is not None and actual in patterns
            elif operator in ("StringLike", "ArnLike", "ArnEquals"):  # Arn*: wildcards too
                ok = actual is not None and any(fnmatchcase(actual, p) for p in patterns)
            elif operator in ("StringNotLike", "ArnNotLike", "ArnNotEquals"):
                # a missing key satisfies a negated operator
                ok = actual is None or not any(fnmatchcase(actual, p) for p in patterns)
            else:
                raise AssertionError(f"evaluator does not know {operator}")
            if not ok:
                return False
    return True


def _matches(statement: dict, action: str, resource: str | None, context: dict[str, str]) -> bool:
    if not any(fnmatchcase(action.lower(), a.lower()) for a in _listed(statement["Action"])):
        return False
    if resource is not None:
        if "Resource" in statement:
            if not any(fnmatchcase(resource, r) for r in _listed(statement["Resource"])):
                return False
        elif any(fnmatchcase(resource, r) for r in _listed(statement["NotResource"])):
            return False
    return _conditions_hold(statement.get("Condition", {}), context)


def decide(statements: list[dict], action: str, resource: str | None = None,
           context: dict[str, str] | None = None) -> str:
    """'deny' (explicit), 'allow' or 'implicit-deny', as IAM decides within one account."""
    context = context or {}
    hits = [s for s in statements if _matches(s, action, resource, context)]
    if any(s["Effect"] == "Deny" for s in hits):
        return "deny"
    return "allow" if any(s["Effect"] == "Allow" for s in hits) else "implicit-deny"


def ci_roles(prod_stacks) -> dict[str, dict]:
    """Every role the prod-like synth creates, with its trust and effective statements."""
    roles: dict[str, dict] = {}
    for stack in prod_stacks.values():
        for name, role in resources(stack, "aws_iam_role").items():
            statements: list[dict] = []
            for attachment in resources(stack, "aws_iam_role_policy_attachment").values():
                if attachment["role"] == f"${{aws_iam_role.{name}.name}}":
                    statements.append({"Effect": "Allow", "Action": "*", "Resource": "*",
                                       "Sid": attachment["policy_arn"]})
            for policy in resources(stack, "aws_iam_role_policy").values():
                if policy["role"] == f"${{aws_iam_role.{name}.id}}":
                    statements += json.loads(_resolve(policy["policy"]))["Statement"]
            roles[_resolve(role["name"])] = {
                "trust": json.loads(_resolve(role["assume_role_policy"]))["Statement"],
                "statements": statements}
    return roles


def assumable(roles: dict[str, dict], *, sub: str, aud: str = "sts.amazonaws.com") -> set[str]:
    """Roles a GitHub job with these claims can assume (AssumeRoleWithWebIdentity)."""
    provider = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{HOST}"
    claims = {f"{HOST}:sub": sub, f"{HOST}:aud": aud}
    return {name for name, role in roles.items()
            if any(s.get("Principal", {}).get("Federated") == provider
                   and decide([s], "sts:AssumeRoleWithWebIdentity", None, claims) == "allow"
                   for s in role["trust"])}


PR_PLAN, PLAN, APPLY = (f"payments-dr-ci-prod-{p}" for p in ("pr-plan", "plan", "apply"))


# -- trust ---------------------------------------------------------------------------------

def test_a_pull_request_can_assume_only_the_pr_plan_role(prod_stacks):
    roles = ci_roles(prod_stacks)
    assert {PR_PLAN, PLAN, APPLY} <= set(roles)
    assert assumable(roles, sub=f"repo:{REPO}:pull_request") == {PR_PLAN}


@pytest.mark.parametrize("sub, expected", [
    (f"repo:{REPO}:environment:prod", {PLAN}),
    (f"repo:{REPO}:environment:prod-apply", {APPLY}),
    # A branch push without an environment, another environment, another repository, a fork:
    (f"repo:{REPO}:ref:refs/heads/main", set()),
    (f"repo:{REPO}:ref:refs/heads/feature", set()),
    (f"repo:{REPO}:environment:prod-pr-plan", set()),
    (f"repo:{REPO}:environment:dev", set()),
    ("repo:attacker/payments-dr:pull_request", set()),
    ("repo:acme-pay/payments-dr-fork:environment:prod", set()),
    (f"repo:{REPO}:environment:prod*", set()),
])
def test_each_subject_reaches_exactly_its_role(prod_stacks, sub, expected):
    assert assumable(ci_roles(prod_stacks), sub=sub) == expected


def test_the_audience_must_be_sts(prod_stacks):
    roles = ci_roles(prod_stacks)
    for sub in (f"repo:{REPO}:pull_request", f"repo:{REPO}:environment:prod"):
        assert assumable(roles, sub=sub, aud="https://github.com/acme-pay") == set()


def test_trust_conditions_are_exact_and_the_provider_exists(prod_stacks):
    """StringEquals on sub and aud (no wildcard); the provider is declared once, in the account
    stack, for the sts.amazonaws.com audience."""
    for name in (PR_PLAN, PLAN, APPLY):
        (trust,) = ci_roles(prod_stacks)[name]["trust"]
        assert set(trust["Condition"]) == {"StringEquals"}
        assert set(trust["Condition"]["StringEquals"]) == {f"{HOST}:sub", f"{HOST}:aud"}
        assert "*" not in json.dumps(trust["Condition"])
    (provider,) = resources(prod_stacks[ACCOUNT_STACK], "aws_iam_openid_connect_provider").values()
    assert provider["url"] == f"https://{HOST}" and provider["client_id_list"] == ["sts.amazonaws.com"]
    for name, stack in prod_stacks.items():
        if name != ACCOUNT_STACK:
            assert not resources(stack, "aws_iam_openid_connect_provider"), name


def test_no_other_role_trusts_github(prod_stacks):
    trusting = {name for name, role in ci_roles(prod_stacks).items()
                if HOST in json.dumps(role["trust"])}
    assert trusting == {PR_PLAN, PLAN, APPLY}


# -- what the roles may do -----------------------------------------------------------------

SECRET_AND_DATA_READS = [
    ("secretsmanager:GetSecretValue", MASTER_SECRET, {}),
    ("secretsmanager:GetSecretValue", CLIENT_KEYS, {}),
    ("secretsmanager:GetSecretValue", "*", {}),
    ("secretsmanager:BatchGetSecretValue", "*", {}),
    ("dynamodb:Scan", TABLE, {}),
    ("dynamodb:GetItem", TABLE, {}),
    ("dynamodb:Query", f"{TABLE}/index/customer", {}),
    ("dynamodb:PartiQLSelect", TABLE, {}),
    ("s3:GetObject", RECEIPT, {}),
    ("s3:GetObjectVersion", RECEIPT, {}),
    ("kms:Decrypt", DATA_KEY, {}),
    ("kms:Decrypt", DATA_KEY, {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}),
    ("kms:Decrypt", DATA_KEY, {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}),
    ("kms:Decrypt", DATA_KEY, {"kms:ViaService": "s3.us-east-1.amazonaws.com"}),
    ("rds-data:ExecuteStatement", CLUSTER, {}),
    ("rds:DownloadDBLogFilePortion", CLUSTER, {}),
    ("logs:GetLogEvents", "*", {}),
    ("logs:StartQuery", "*", {}),
    ("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/payments-validator-primary-prod", {}),
]


@pytest.mark.parametrize("role", [PR_PLAN, PLAN])
@pytest.mark.parametrize("action, resource, context", SECRET_AND_DATA_READS)
def test_plan_roles_cannot_read_secrets_or_data(prod_stacks, role, action, resource, context):
    """Explicit Deny, so no managed policy (ReadOnlyAccess grants Scan, GetObject...) and no
    later attachment can open it."""
    assert decide(ci_roles(prod_stacks)[role]["statements"], action, resource, context) == "deny"


@pytest.mark.parametrize("role", [PR_PLAN, PLAN])
def test_plan_roles_still_read_what_a_plan_needs(prod_stacks, role):
    """The denies leave the plan working: state, its key, packages (HeadObject), the random
    password generator and Lambda showing a function's environment."""
    statements = ci_roles(prod_stacks)[role]["statements"]
    state = f"{STATE_BUCKET}/payments-dr/prod/payments-dr-primary.tfstate"
    package = f"arn:aws:s3:::payments-dr-code-prod-{ACCOUNT}-us-east-1/unsigned/abc.zip"
    assert decide(statements, "s3:GetObject", state) == "allow"
    assert decide(statements, "s3:GetObject", package) == "allow"
    assert decide(statements, "kms:Decrypt", STATE_KEY,
                  {"kms:ViaService": "s3.us-east-2.amazonaws.com"}) == "allow"
    assert decide(statements, "kms:Decrypt", DATA_KEY,
                  {"kms:ViaService": "lambda.us-east-1.amazonaws.com"}) == "allow"
    assert decide(statements, "secretsmanager:GetRandomPassword", "*") == "allow"


def test_only_mains_plan_takes_the_state_lock(prod_stacks):
    roles = ci_roles(prod_stacks)
    lock = f"{STATE_BUCKET}/payments-dr/prod/payments-dr-primary.tfstate.tflock"
    assert decide(roles[PLAN]["statements"], "s3:PutObject", lock) == "allow"
    assert decide(roles[PR_PLAN]["statements"], "s3:PutObject", lock) == "deny"
    assert decide(roles[PR_PLAN]["statements"], "s3:PutObject",
                  f"{STATE_BUCKET}/payments-dr/prod/payments-dr-primary.tfstate") == "deny"


def test_apply_role_reads_no_secret_and_cannot_change_ci_identities(prod_stacks):
    statements = ci_roles(prod_stacks)[APPLY]["statements"]
    assert decide(statements, "rds:ModifyDBCluster", CLUSTER) == "allow"
    assert decide(statements, "secretsmanager:PutSecretValue", MASTER_SECRET) == "allow"
    assert decide(statements, "secretsmanager:GetSecretValue", CLIENT_KEYS) == "deny"
    # Not denied: creating a global-table replica needs the caller's Scan/Query/GetItem.
    assert decide(statements, "dynamodb:Scan", TABLE) == "allow"
    for role in (PR_PLAN, PLAN, APPLY):
        arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
        assert decide(statements, "iam:UpdateAssumeRolePolicy", arn) == "deny"
        assert decide(statements, "iam:AttachRolePolicy", arn) == "deny"
    assert decide(statements, "iam:UpdateAssumeRolePolicy",
                  f"arn:aws:iam::{ACCOUNT}:role/payments-validator-primary-prod") == "allow"


# -- settings ------------------------------------------------------------------------------

def test_without_a_repository_no_ci_identity_exists(stacks):
    for name, stack in stacks.items():
        assert not resources(stack, "aws_iam_openid_connect_provider"), name
        assert not any("payments-dr-ci-" in r["name"] for r in resources(stack, "aws_iam_role").values())
    assert resources(stacks[BOOTSTRAP_STACK], "aws_iam_role") == {}


@pytest.mark.parametrize("value", ["acme", "acme/", "/repo", "acme/pay dr", "acme/..",
                                   "-acme/repo", "acme--x/repo", "acme/repo/extra", "acme/re*"])
def test_invalid_repository_is_refused(value):
    with pytest.raises(SettingsError, match="CI_GITHUB_REPOSITORY"):
        Settings.from_env({"CI_GITHUB_REPOSITORY": value})


def test_valid_repository_is_accepted():
    assert Settings.from_env({"CI_GITHUB_REPOSITORY": "Acme-Pay/payments.dr_2"}).ci_github_repository \
        == "Acme-Pay/payments.dr_2"


# -- the workflow --------------------------------------------------------------------------

def _evaluate(expression: str, github: dict[str, str]) -> bool:
    """GitHub's `if:` for the few constructs the workflow uses (==, !=, &&, ||, always())."""
    python = expression.replace("${{", "").replace("}}", "")
    python = python.replace("&&", " and ").replace("||", " or ").replace("always()", "True")
    python = re.sub(r"needs\.[a-z_-]+\.result", "'success'", python)
    python = re.sub(r"\bgithub\.[a-z_.]+\b", lambda m: repr(github[m.group(0)]), python)
    return bool(eval(python, {"__builtins__": {}}, {}))  # our own workflow file, no builtins


PULL_REQUEST = {"github.event_name": "pull_request", "github.ref": "refs/pull/7/merge",
                "github.repository": REPO,
                "github.event.pull_request.head.repo.full_name": REPO}
PUSH_TO_MAIN = {"github.event_name": "push", "github.ref": "refs/heads/main",
                "github.repository": REPO, "github.event.pull_request.head.repo.full_name": ""}


def _jobs_with_id_token() -> dict[str, dict]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    return {name: job for name, job in workflow["jobs"].items()
            if job.get("permissions", {}).get("id-token") == "write"}


def _roles_assumed(job: dict) -> list[str]:
    return [step["with"]["role-to-assume"] for step in job["steps"]
            if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]


def test_a_pull_request_job_gets_only_the_pr_plan_role_and_no_environment():
    """Its OIDC subject is then `repo:<o>/<r>:pull_request`, which only the PR-plan role trusts."""
    running = {n: j for n, j in _jobs_with_id_token().items()
               if _evaluate(j.get("if", "true"), PULL_REQUEST)}
    assert running, "no pull-request plan job"
    for name, job in running.items():
        assert "environment" not in job, name
        assert _roles_assumed(job) == ["${{ env.AWS_PR_PLAN_ROLE_ARN }}"], name
        # ... set only from PR_PLAN_SETTINGS, validated (scripts/ci_settings.py --pull-request)
        assert job["env"]["PR_PLAN_SETTINGS"] == "${{ vars.PR_PLAN_SETTINGS }}"
        assert "--pull-request" in next(s["run"] for s in job["steps"] if s.get("id") == "settings")


def test_main_jobs_use_their_environment_and_never_the_pr_role():
    running = {n: j for n, j in _jobs_with_id_token().items()
               if _evaluate(j.get("if", "true"), PUSH_TO_MAIN)}
    environments = {name: job.get("environment") for name, job in running.items()}
    assert environments == {"plan": "${{ matrix.environment }}",
                            "apply": "${{ matrix.environment }}-apply"}
    assert _roles_assumed(running["plan"]) == ["${{ vars.AWS_PLAN_ROLE_ARN }}"]
    assert _roles_assumed(running["apply"]) == ["${{ vars.AWS_APPLY_ROLE_ARN }}"]
    for name, job in _jobs_with_id_token().items():
        if "environment" in job:
            assert not _evaluate(job["if"], PULL_REQUEST), f"{name} has an environment on PRs"
