"""The stack split: what each stack holds, which regions it touches, how stacks depend on each
other, and that the DR region can be planned and applied with the primary region down."""

from __future__ import annotations

import json
import re

import pytest
from helpers import resources
from platform_support import QA

from contract import PLATFORM_STACKS

FOUNDATION, PRIMARY_STACK, DR_STACK, ROUTING = PLATFORM_STACKS
SERVING_AND_DATA = ("aws_rds_cluster", "aws_rds_cluster_instance", "aws_s3_bucket",
                    "aws_lambda_function", "aws_api_gateway_rest_api", "aws_api_gateway_stage",
                    "aws_api_gateway_domain_name", "aws_sns_topic", "aws_cloudwatch_metric_alarm",
                    "aws_vpc", "aws_secretsmanager_secret")


def _regions(stack: dict) -> set[str]:
    return {p["region"] for p in stack["provider"]["aws"]}


def _remote_states(stack: dict) -> set[str]:
    return set(stack.get("data", {}).get("terraform_remote_state", {}))


@pytest.mark.parametrize("env", [{}, QA], ids=["default", "dr-us-west-2"])
def test_the_dr_stack_needs_nothing_in_the_primary_region(synth_stacks, env):
    stacks = synth_stacks(**env)
    dr = stacks[DR_STACK]
    dr_region = env.get("DR_REGION", "us-east-2")
    assert _regions(dr) == {dr_region}, "only the DR region's provider"
    # It reads only the foundation's outputs, from the state bucket in the DR region.
    [remote] = dr["data"]["terraform_remote_state"].values()
    assert remote["config"]["region"] == dr_region
    assert remote["config"]["key"].endswith(f"/{FOUNDATION}.tfstate")
    assert not any(PRIMARY_STACK in name for name in _remote_states(dr))
    # The state it lives in is outside the primary region too.
    assert dr["terraform"]["backend"]["s3"]["region"] == dr_region
    # And it holds the DR region's serving and data resources.
    for rtype in SERVING_AND_DATA:
        if rtype == "aws_secretsmanager_secret":
            continue  # the master secret's DR copy is a replica of the primary's secret
        assert resources(dr, rtype, "dr"), f"DR stack lacks {rtype}"


def test_the_primary_stack_needs_nothing_of_the_dr_stack(stacks):
    primary = stacks[PRIMARY_STACK]
    assert _regions(primary) == {"us-east-1"}
    assert not any(DR_STACK in name for name in _remote_states(primary))


def test_regional_stacks_reference_each_other_only_by_contract_names(stacks):
    """No `${...}` in the DR stack mentions a primary-stack resource (and the reverse)."""
    for name, other in ((DR_STACK, PRIMARY_STACK), (PRIMARY_STACK, DR_STACK)):
        text = json.dumps(stacks[name])
        other_ids = {f"{t}.{n}" for t, items in stacks[other].get("resource", {}).items() for n in items}
        used = set(re.findall(r"\b(aws_[a-z0-9_]+\.[A-Za-z0-9_-]+)\b", text))
        own = {f"{t}.{n}" for t, items in stacks[name].get("resource", {}).items() for n in items}
        assert not (used & other_ids) - own


def test_apply_order_is_recorded_for_cdktf_deploy(synth_stacks):
    synth_stacks()
    manifest = json.loads((synth_stacks.outdir_of() / "manifest.json").read_text())
    deps = {name: set(stack["dependencies"]) for name, stack in manifest["stacks"].items()}
    assert deps[FOUNDATION] == set()
    assert deps[PRIMARY_STACK] == {FOUNDATION}
    assert deps[DR_STACK] == {FOUNDATION, PRIMARY_STACK}  # it joins the primary's global cluster
    assert deps[ROUTING] == {FOUNDATION, PRIMARY_STACK, DR_STACK}


def test_each_stack_has_its_own_state_and_terraform_1_11(stacks):
    keys = set()
    for name in PLATFORM_STACKS:
        terraform = stacks[name]["terraform"]
        assert terraform["required_version"] == ">= 1.11.0"
        s3 = terraform["backend"]["s3"]
        keys.add(s3["key"])
        assert s3["key"] == f"payments-dr/dev/{name}.tfstate"
    assert len(keys) == len(PLATFORM_STACKS)


def test_logical_ids_are_unique_across_stacks(stacks):
    seen: dict[tuple[str, str], str] = {}
    for name in PLATFORM_STACKS:
        for rtype, items in stacks[name].get("resource", {}).items():
            for logical in items:
                assert (rtype, logical) not in seen, f"{rtype}.{logical} in {seen.get((rtype, logical))} and {name}"
                seen[(rtype, logical)] = name


def test_foundation_and_routing_hold_only_their_share(stacks):
    foundation_types = set(stacks[FOUNDATION]["resource"])
    assert foundation_types == {"aws_kms_key", "aws_kms_alias", "aws_acm_certificate",
                                "aws_acm_certificate_validation", "aws_route53_record",
                                "aws_route53_zone"}
    routing_types = set(stacks[ROUTING]["resource"])
    assert routing_types == {"aws_iam_role", "aws_iam_role_policy",
                             "aws_s3_bucket_replication_configuration", "aws_route53_health_check",
                             "aws_route53_record", "aws_cloudwatch_metric_alarm"}
