"""Terraform itself, on what we ship: every stack of every settings profile passes
`terraform init -backend=false` (the whole configuration decoded and checked, offline), and
the guards and expressions we write are evaluated by Terraform's own functions.

What this cannot show without the AWS provider: `terraform validate` (schemas) and `plan`
(docs/terraform.md says what is checked where). Every other profile the suite synthesizes
is checked too (tests/conftest.py `_terraform_accepts`).
"""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest
from helpers import resources
from platform_support import CI_DEV, PROD, QA, STANDARD, TUNED
from terraform_support import (
    assert_terraform_accepts,
    console,
    require_terraform,
    terraform_check,
)

from contract import PLATFORM_STACKS

TFC = {"TFC_ORGANIZATION": "acme-payments", "TFC_WORKSPACE": "payments-dr-dev"}
# The profiles a new user, CI and the docs use, and the suite's combined tuning profile
# (strong consistency, primary outside us-east-1, ...); every profile the suite synthesizes is
# checked as it is synthesized too (tests/conftest.py).
PROFILES = {
    "default": {},  # the dev cost profile
    "standard-profile": STANDARD,
    "ci-dev-with-account": CI_DEV,
    "prod-like": PROD,
    "terraform-cloud": TFC,
    "qa-us-west-2": QA,
    "tuned-primary-outside-us-east-1": TUNED,
}


@pytest.fixture(scope="module", autouse=True)
def _terraform():
    require_terraform()


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_terraform_accepts_every_stack(profile, synth_stacks):
    environ = PROFILES[profile]
    stacks = synth_stacks(**environ)
    assert set(PLATFORM_STACKS) <= set(stacks)
    assert_terraform_accepts(synth_stacks.outdir_of(**environ), profile)


# -- the check can fail: the forms Terraform refuses, as we used to write them --------------

def _document(**body) -> dict:
    return {"terraform": {"required_providers": {"aws": {"source": "hashicorp/aws"}}},
            "provider": {"aws": [{"region": "us-east-1"}]}, **body}


@pytest.mark.parametrize(("body", "error"), [
    ({"data": {"aws_caller_identity": {"me": {"lifecycle": {"postcondition": [
        {"condition": "${false}", "error_message": "AWS_ACCOUNT_ID is not set."}]}}}}},
     "Invalid postcondition expression"),
    ({"resource": {"aws_route53_zone": {"zone": {"name": "payments.example.com", "lifecycle": {
        "precondition": [{"condition": '${!can(regex("example\\\\.com$", "payments.example.com"))}',
                          "error_message": "DOMAIN_NAME is reserved."}]}}}}},
     "Invalid precondition expression"),
    ({"resource": {"aws_sns_topic": {"a": {"name": "a"}},
                   "aws_fis_experiment_template": {"t": {
                       "description": "d", "role_arn": "r",
                       "depends_on": ["${aws_sns_topic.a}"]}}}},
     "Invalid expression"),
])
def test_the_check_reports_what_terraform_refuses(body, error):
    result = terraform_check.check_document(_document(**body))
    assert not result.ok
    assert any(error in e for e in result.errors), result.errors


def test_a_valid_document_passes_and_reports_its_providers():
    result = terraform_check.check_document(_document(resource={"aws_sns_topic": {"a": {"name": "a"}}}))
    assert result.ok, result.errors
    assert set(result.providers) == {"hashicorp/aws"}


# -- guards that stop a plan, evaluated by Terraform ----------------------------------------

def _guards(stack: dict) -> list[tuple[str, dict]]:
    found = []
    for kind in ("resource", "data"):
        for rtype, items in stack.get(kind, {}).items():
            for name, body in items.items():
                for clause in ("precondition", "postcondition"):
                    for guard in body.get("lifecycle", {}).get(clause, []):
                        found.append((f"{kind}.{rtype}.{name}", guard))
    return found


def _evaluate(condition: str, stack: dict, account_id: str) -> bool:
    """A guard's condition with `self` standing for the caller identity `account_id`."""
    expression = condition.removeprefix("${").removesuffix("}").replace(
        "self.account_id", "local.caller.account_id")
    document = {"locals": {**stack.get("locals", {}), "caller": {"account_id": account_id}}}
    return {"true": True, "false": False}[console(expression, document)]


def test_without_an_account_id_every_plan_stops_naming_it(stacks):
    for name, stack in stacks.items():
        guards = [g for _, g in _guards(stack) if "self.account_id" in g["condition"]]
        assert guards, name
        for guard in guards:
            assert _evaluate(guard["condition"], stack, "123456789012") is False
            assert guard["error_message"].startswith("AWS_ACCOUNT_ID is not set")


def test_with_an_account_id_only_its_credentials_plan(prod_stacks):
    for name, stack in prod_stacks.items():
        guards = [g for _, g in _guards(stack) if "self.account_id" in g["condition"]]
        assert guards, name
        for guard in guards:
            assert _evaluate(guard["condition"], stack, "123456789012") is True
            assert _evaluate(guard["condition"], stack, "210987654321") is False
            assert "AWS_ACCOUNT_ID=123456789012" in guard["error_message"]


def test_a_reserved_domain_stops_every_plan_that_would_serve_it(stacks, prod_stacks):
    """Default DOMAIN_NAME (payments-dev.example.com): the zone, both certificates and the four
    API domains stop the plan, naming DOMAIN_NAME; a real name passes."""
    def domain_guards(stack_set):
        return [(where, guard, stack) for stack in stack_set.values()
                for where, guard in _guards(stack) if "served_domain_names" in guard["condition"]]

    default = domain_guards(stacks)
    assert sorted(w.split(".")[1] for w, _, _ in default) == sorted(
        ["aws_route53_zone"] + ["aws_acm_certificate"] * 2 + ["aws_api_gateway_domain_name"] * 4)
    for where, guard, stack in default:
        assert _evaluate(guard["condition"], stack, "123456789012") is False, where
        assert "DOMAIN_NAME" in guard["error_message"] and "HOSTED_ZONE_ID" in guard["error_message"]
    prod = domain_guards(prod_stacks)
    assert len(prod) == 6  # HOSTED_ZONE_ID given: no zone is created
    for where, guard, stack in prod:
        assert _evaluate(guard["condition"], stack, "123456789012") is True, where


def test_terraform_and_the_contract_agree_on_reserved_names(stacks):
    from contract import reserved_domain

    stack = stacks["payments-dr-foundation"]
    [(_, guard)] = [(w, g) for w, g in _guards(stack) if w.startswith("resource.aws_route53_zone")]
    names = ["example.com", "payments-dev.example.com", "a.example.net", "x.example.org",
             "pay.example", "pay.test", "pay.invalid", "pay.localhost",
             "payments.acme-pay.com", "example.com.au", "myexample.com", "test.acme.io"]
    expression = guard["condition"].removeprefix("${").removesuffix("}")
    reference = expression[expression.index("local.served_domain_names["):].rstrip(")")
    for name in names:
        verdict = console(expression.replace(reference, json.dumps(name)))
        assert (verdict == "false") == (reserved_domain(name) is not None), name


# -- item 3: validation records keyed by what is known at the first plan --------------------

def test_certificate_validation_records_iterate_the_set_by_domain_name(stacks):
    [record] = resources(stacks["payments-dr-foundation"], "aws_route53_record").values()
    for_each = record["for_each"]
    assert "tolist(" not in for_each  # a partly unknown set -> wholly unknown list at plan
    options = [{"domain_name": d, "resource_record_name": f"_x.{d}.",
                "resource_record_type": "CNAME", "resource_record_value": f"_y.{d}.acm."}
               for d in ("payments-dev.example.com", "us-east-1.payments-dev.example.com")]
    reference = for_each[for_each.index(" in ") + 4:for_each.index(" :")]
    expression = for_each.removeprefix("${").removesuffix("}").replace(reference, "toset(local.options)")
    keys = json.loads(json.loads(console(f"jsonencode(keys({expression}))",
                                         {"locals": {"options": options}})))
    assert keys == sorted(o["domain_name"] for o in options)


# -- item 6: the provider versions Terraform may choose ---------------------------------------

def _mirror(root: Path, versions: list[str]) -> Path:
    for version in versions:
        folder = root / "registry.terraform.io/hashicorp/aws" / version / "linux_amd64"
        folder.mkdir(parents=True)
        binary = folder / f"terraform-provider-aws_v{version}"
        binary.write_text("#!/bin/sh\nexit 1\n")  # never run by init
        binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    return root


def _init_with_mirror(stack: dict, mirror: Path, work: Path) -> subprocess.CompletedProcess:
    work.mkdir()
    (work / "cdk.tf.json").write_text(json.dumps(stack))
    cli = work.parent / "cli.tfrc"
    cli.write_text(f'provider_installation {{\n filesystem_mirror {{\n  path = "{mirror}"\n'
                   f'  include = ["registry.terraform.io/*/*"]\n }}\n}}\n')
    return subprocess.run(["terraform", "init", "-backend=false", "-input=false", "-no-color"],
                          cwd=work, capture_output=True, text=True, timeout=120, check=False,
                          env=terraform_check._env(cli))


def test_terraform_picks_a_provider_with_the_drift_fixes(stacks, tmp_path):
    """6.25.0 (what the bindings were generated from) plans perpetual GSI changes: Terraform
    must refuse it and choose the newest 6.x from 6.29.0 on, never 7.x."""
    stack = stacks["payments-dr-primary"]
    old_only = _init_with_mirror(stack, _mirror(tmp_path / "m1", ["6.25.0"]), tmp_path / "w1")
    assert old_only.returncode != 0
    assert "no available releases match the given constraints" in old_only.stdout + old_only.stderr
    choice = _init_with_mirror(stack, _mirror(tmp_path / "m2", ["6.25.0", "6.29.0", "6.69.0",
                                                                 "7.0.0"]), tmp_path / "w2")
    assert choice.returncode == 0, choice.stdout + choice.stderr
    assert "Installing hashicorp/aws v6.69.0" in choice.stdout


def test_https_health_checks_name_their_checker_regions(platform):
    """Without `regions`, provider 6.25-6.28 plans a change the API refuses (#45824)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("route53")
    allowed = set(model.shape_for("HealthCheckRegion").enum)
    checks = [c for c in resources(platform, "aws_route53_health_check").values()
              if c["type"] == "HTTPS_STR_MATCH"]
    assert len(checks) == 2
    for check in checks:
        assert set(check["regions"]) == allowed  # Route 53's default set, written out


# -- item 7: one state owns each physical resource ---------------------------------------------

_PHYSICAL_NAME = {"aws_sns_topic": "name", "aws_sqs_queue": "name",
                  "aws_dynamodb_table": "name", "aws_s3_bucket": "bucket",
                  "aws_lambda_function": "function_name", "aws_iam_role": "name",
                  "aws_cloudwatch_log_group": "name", "aws_cloudwatch_metric_alarm": "alarm_name",
                  "aws_kms_alias": "name", "aws_secretsmanager_secret": "name",
                  "aws_ssm_parameter": "name", "aws_api_gateway_rest_api": "name",
                  "aws_wafv2_web_acl": "name", "aws_route53_health_check": "reference_name"}
_GLOBAL_TYPES = {"aws_iam_role", "aws_route53_health_check"}


@pytest.mark.parametrize("profile", ["default", "tuned-primary-outside-us-east-1"])
def test_no_physical_resource_is_declared_twice(profile, synth_stacks):
    """Two declarations of one physical resource (two states, or two resources in one) means
    destroying either deletes the other's."""
    stacks = synth_stacks(**PROFILES[profile])
    seen: dict[tuple[str, str, str], str] = {}
    for stack_name, stack in stacks.items():
        regions = {f"aws.{p['alias']}": p["region"] for p in stack.get("provider", {}).get("aws", [])}
        for rtype, attribute in _PHYSICAL_NAME.items():
            for logical, body in stack.get("resource", {}).get(rtype, {}).items():
                name = body.get(attribute)
                if not isinstance(name, str) or "${" in name:
                    continue
                region = "global" if rtype in _GLOBAL_TYPES else regions[body["provider"]]
                key = (rtype, region, name)
                where = f"{stack_name}:{rtype}.{logical}"
                assert key not in seen, f"{key} declared by {seen[key]} and {where}"
                seen[key] = where
    assert any(k[0] == "aws_sns_topic" for k in seen)
