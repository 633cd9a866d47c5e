"""The DR stack during a us-east-1 outage: what its plan and apply need from us-east-1 (issue 18,
item 8; scripts/outage_plan.py; docs/runbook.md, "Terraform during a primary-region outage").

IAM's one control plane is in us-east-1 (AWS Fault Isolation Boundaries whitepaper), so the DR
stack's roles and policies can be neither refreshed nor changed that day. These tests pin the
list (a new global-control-plane resource in the DR stack shows up here), and show the check
an operator runs over the saved outage-day plan refuses any change that would call us-east-1.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from contract import DR, PRIMARY, REGIONAL_STACKS, ROUTING_STACK

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import outage_plan

DR_STACK, PRIMARY_STACK = REGIONAL_STACKS[DR], REGIONAL_STACKS[PRIMARY]


@pytest.mark.parametrize("profile", ["stacks", "prod_stacks"])
def test_the_dr_stack_needs_us_east_1_only_for_its_iam_roles_and_policies(profile, request):
    dr = request.getfixturevalue(profile)[DR_STACK]
    needs = outage_plan.stack_needs(dr, "us-east-1")
    assert set(needs.values()) == {"IAM control plane is in us-east-1"}, needs
    kinds = Counter(address.split(".")[0] for address in needs)
    assert kinds == {"aws_iam_role": 11, "aws_iam_role_policy": 10,
                     "aws_iam_role_policy_attachment": 3}
    # what the plan reads every time (state, remote state, data sources) is all outside us-east-1
    assert not [address for address in needs if address.startswith(("data.", "(backend)"))]


def test_the_check_sees_providers_state_and_route53_in_the_down_region(stacks):
    routing = outage_plan.stack_needs(stacks[ROUTING_STACK], "us-east-1")
    assert any(r == "Route 53 control plane is in us-east-1" for r in routing.values())
    assert any(r == "its provider is in us-east-1" for r in routing.values())
    primary = outage_plan.stack_needs(stacks[PRIMARY_STACK], "us-east-1")
    assert "data.aws_caller_identity.identity-primary" in primary
    moved = json.loads(json.dumps(stacks[DR_STACK]))
    moved["terraform"]["backend"]["s3"]["region"] = "us-east-1"
    assert outage_plan.stack_needs(moved, "us-east-1")["(backend)"] == \
        "the state bucket is in us-east-1"
    # and with us-east-2 down instead, the DR stack needs it for everything it manages
    dr_down = outage_plan.stack_needs(stacks[DR_STACK], "us-east-2")
    managed = {f"{kind}.{name}" for kind, blocks in stacks[DR_STACK]["resource"].items()
               for name in blocks}
    assert managed <= dr_down.keys() and "(backend)" in dr_down


def _address(stack: dict, resource_type: str) -> tuple[str, str]:
    name = sorted(stack["resource"][resource_type])[0]
    return f"{resource_type}.{name}", name


def _change(stack: dict, resource_type: str, actions: list[str]) -> dict:
    address, name = _address(stack, resource_type)
    return {"address": address, "mode": "managed", "type": resource_type, "name": name,
            "provider_name": "registry.terraform.io/hashicorp/aws",
            "change": {"actions": actions}}


def _plan(*changes: dict) -> dict:
    """The shape of `terraform show -json <saved plan>` (format_version 1.2), trimmed."""
    return {"format_version": "1.2", "terraform_version": "1.11.4",
            "resource_changes": list(changes)}


def test_an_outage_day_scale_up_plan_passes(stacks):
    dr = stacks[DR_STACK]
    plan = _plan(_change(dr, "aws_rds_cluster_instance", ["create"]),
                 _change(dr, "aws_lambda_function", ["update"]),
                 _change(dr, "aws_iam_role", ["no-op"]),
                 _change(dr, "aws_iam_role_policy", ["no-op"]))
    assert outage_plan.plan_needs(plan, dr, "us-east-1") == {}


@pytest.mark.parametrize("actions", [["update"], ["create"], ["delete", "create"], ["delete"]])
def test_a_plan_that_changes_an_iam_policy_is_refused(stacks, actions):
    dr = stacks[DR_STACK]
    plan = _plan(_change(dr, "aws_rds_cluster_instance", ["create"]),
                 _change(dr, "aws_iam_role_policy", actions))
    address, _ = _address(dr, "aws_iam_role_policy")
    assert outage_plan.plan_needs(plan, dr, "us-east-1") == {
        address: f"{'/'.join(actions)}: IAM control plane is in us-east-1"}


def test_the_command_exits_1_on_a_plan_that_needs_us_east_1(stacks, synth_stacks, tmp_path,
                                                             capsys):
    stack_dir = synth_stacks.outdir_of() / "stacks" / DR_STACK
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(_plan(_change(stacks[DR_STACK], "aws_lambda_function",
                                             ["update"]))))
    bad.write_text(json.dumps(_plan(_change(stacks[DR_STACK], "aws_iam_role", ["update"]))))
    assert outage_plan.main([str(stack_dir), "--plan", str(good)]) == 0
    assert outage_plan.main([str(stack_dir), "--plan", str(bad)]) == 1
    assert "do not apply this plan" in capsys.readouterr().err
    assert outage_plan.main([str(stack_dir), "--plan", str(tmp_path / "missing.json")]) == 2
    assert outage_plan.main([str(stack_dir)]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 24 and all("IAM control plane" in line for line in listed)
