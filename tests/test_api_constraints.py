"""AWS API constraints on every literal we ship (scripts/api_constraints.py): botocore's
request shapes (pattern, length, enum, range) and the provider's own limits, on every stack of
every settings profile. Every profile the suite synthesizes is also checked as it is
synthesized (tests/conftest.py `_aws_api_accepts`).

The old values of issue 18 (items 4 and 5) are kept here to show the check refuses them:
the apply would have failed on them half-way, after a clean plan.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
from test_terraform import PROFILES

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import api_constraints as ac

from modules.dns import REFERENCE_NAME_MAX, reference_name

WAF_PATTERN = "^[\\w+=:#@/\\-,\\.][\\w+=:#@/\\-,\\.\\s]+[\\w+=:#@/\\-,\\.]$"


def _resources(stacks: dict, rtype: str) -> list[tuple[str, str, dict]]:
    return [(stack_name, logical, body) for stack_name, stack in stacks.items()
            for logical, body in stack.get("resource", {}).get(rtype, {}).items()]


def _with(stack: dict, rtype: str, logical: str, **changes) -> dict:
    """A copy of `stack` with one resource's attributes changed."""
    changed = copy.deepcopy(stack)
    changed["resource"][rtype][logical].update(changes)
    return changed


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_profile_meets_the_api_constraints(profile, synth_stacks):
    report = ac.check_stacks(synth_stacks(**PROFILES[profile]))
    assert not report.unmapped, f"resource types missing from scripts/api_constraints.py: " \
                                f"{sorted(report.unmapped)}"
    assert not report.violations, "\n".join(map(str, report.violations))
    assert report.checked > 4000


def test_every_row_names_a_request_member_botocore_knows():
    for apis in ac.TABLE.values():
        for api in apis:
            for member in api.members.values():
                ac.member_shape(api.service, api.operation, member)   # KeyError names the row


def test_every_row_is_exercised_by_a_profile(synth_stacks):
    """A row no stack uses is dead or misspelt (a path that never matches checks nothing)."""
    seen: set[tuple[str, str]] = set()
    for environ in PROFILES.values():
        seen |= ac.check_stacks(synth_stacks(**environ)).seen
    rows = {(rtype, attribute) for rtype, apis in ac.TABLE.items()
            for api in apis for attribute in api.members} | set(ac.PROVIDER_LIMITS)
    assert rows - seen == set()


def test_a_type_in_neither_table_is_reported():
    report = ac.check_stacks({"s": {"resource": {"aws_brand_new": {"x": {"name": "a"}}}}})
    assert report.unmapped == {"aws_brand_new"}
    assert not set(ac.TABLE) & set(ac.NO_LITERAL_MEMBERS)


# -- item 4: WAFv2 descriptions with parentheses (EntityDescription pattern) ---------------

@pytest.mark.parametrize(("rtype", "old"), [
    ("aws_wafv2_web_acl",
     "Payments API (primary): Route 53-only health, rate, size, AWS managed rules"),
    ("aws_wafv2_ip_set", "Route 53 health-checker ranges (ip-ranges.amazonaws.com)"),
])
def test_the_waf_descriptions_we_used_to_write_are_refused(rtype, old, stacks):
    stack_name, logical, _ = _resources(stacks, rtype)[0]
    report = ac.check_stacks({stack_name: _with(stacks[stack_name], rtype, logical,
                                                description=old)})
    [violation] = report.violations
    assert violation.attribute == "description" and "does not match pattern" in violation.reason
    assert violation.member.startswith("wafv2:Create")
    assert WAF_PATTERN in violation.reason


def test_waf_descriptions_today_fit_the_api(stacks, prod_stacks):
    for all_stacks in (stacks, prod_stacks):
        for rtype in ("aws_wafv2_web_acl", "aws_wafv2_ip_set"):
            for _, _, body in _resources(all_stacks, rtype):
                shape = ac.member_shape("wafv2", "CreateIPSet", "Description")
                assert shape.metadata["pattern"] == WAF_PATTERN
                assert ac.shape_violations(shape, body["description"]) == []


# -- item 5: Route 53 reference_name (provider limit 27) -----------------------------------

def test_the_reference_name_we_used_to_write_is_refused(prod_stacks):
    [(stack_name, logical, body)] = [
        r for r in _resources(prod_stacks, "aws_route53_health_check")
        if r[2]["//"]["metadata"]["path"].endswith("failover/primary/routing-health-check")]
    report = ac.check_stacks({stack_name: _with(
        prod_stacks[stack_name], "aws_route53_health_check", logical,
        reference_name="payments-prod-primary-routing")})
    [violation] = report.violations
    assert violation.attribute == "reference_name" and violation.member == "provider"
    assert "length 29 > 27" in violation.reason
    assert len(body["reference_name"]) <= REFERENCE_NAME_MAX


def test_reference_names_fit_and_stay_distinct_for_the_longest_environment():
    env = "a" * 12                       # modules/settings.py: ENVIRONMENT_SUFFIX is 1-12 chars
    names = [reference_name(env, role, *kind) for role in ("primary", "dr")
             for kind in ((), ("routing",))] + [reference_name(env, "failback-gate")]
    assert all(len(n) <= REFERENCE_NAME_MAX for n in names), names
    assert len(set(names)) == len(names)
    assert reference_name("prod", "primary", "routing") == "prod-primary-routing"


# -- what the checker reads and refuses -----------------------------------------------------

def _alarm(**attributes) -> dict:
    body = {"alarm_name": "a", "comparison_operator": "GreaterThanThreshold",
            "evaluation_periods": 1, "metric_name": "Errors", "namespace": "AWS/Lambda",
            "period": 60, "statistic": "Sum", "threshold": 1, "treat_missing_data": "ignore",
            **attributes}
    return {"provider": {"aws": [{"alias": "primary", "default_tags": [{"tags": {
        "Application": "payments-dr"}}]}]},
        "resource": {"aws_cloudwatch_metric_alarm": {"x": {"provider": "aws.primary", **body}}}}


def _reasons(document: dict) -> dict[str, str]:
    return {v.attribute: v.reason for v in ac.check_stacks({"s": document}).violations}


def test_a_valid_alarm_passes():
    assert _reasons(_alarm()) == {}


@pytest.mark.parametrize(("attributes", "attribute", "reason"), [
    ({"comparison_operator": "GreaterThan"}, "comparison_operator", "not one of"),
    ({"statistic": "P99"}, "statistic", "not one of"),
    ({"evaluation_periods": 0}, "evaluation_periods", "< min 1"),
    ({"alarm_name": "x" * 256}, "alarm_name", "length 256 > max 255"),
    ({"dimensions": {"": "v"}}, "dimensions.", "length 0 < min 1"),
    ({"metric_query": [{"id": "", "expression": "m1"}]}, "metric_query[0].id",
     "length 0 < min 1"),
    ({"tags": {"Owner": "x" * 257}}, "tags.Owner", "length 257 > max 256"),
])
def test_the_checker_refuses_what_the_api_refuses(attributes, attribute, reason):
    reasons = _reasons(_alarm(**attributes))
    assert attribute in reasons and reason in reasons[attribute], reasons


def test_provider_default_tags_are_checked_as_the_resource_sends_them():
    document = _alarm()
    document["provider"]["aws"][0]["default_tags"][0]["tags"]["K" * 129] = "v"
    assert "length 129 > max 128" in _reasons(document)["tags." + "K" * 129]
    document["resource"]["aws_cloudwatch_metric_alarm"]["x"]["provider"] = "aws.other"
    assert _reasons(document) == {}            # another provider's default tags do not apply


def test_unknown_values_are_skipped_and_nested_waf_statements_are_reached():
    assert _reasons(_alarm(alarm_name="${var.name}x" * 30)) == {}
    acl = {"name": "acl", "scope": "REGIONAL", "rule": [{"name": "r", "priority": 0,
           "statement": {"and_statement": {"statement": [{"not_statement": {"statement": {
               "byte_match_statement": {"search_string": "/h", "positional_constraint": "NEAR",
                                        "text_transformation": [
                                            {"priority": 0, "type": "SQUASH"}]}}}}]}}}]}
    reasons = _reasons({"resource": {"aws_wafv2_web_acl": {"x": acl}}})
    nested = "rule[0].statement.and_statement.statement[0].not_statement.statement." \
             "byte_match_statement."
    assert "not one of" in reasons[nested + "positional_constraint"]
    assert "not one of" in reasons[nested + "text_transformation[0].type"]
    assert set(reasons) == {nested + "positional_constraint",
                            nested + "text_transformation[0].type"}


def test_provider_only_limits():
    check = {"type": "HTTPS", "fqdn": "a.example.com", "request_interval": 20,
             "regions": ["us-east-1", "eu-west-1"]}
    reasons = _reasons({"resource": {"aws_route53_health_check": {"x": check}}})
    assert "not one of [10, 30]" in reasons["request_interval"]
    assert "2 items < 3" in reasons["regions"]
