"""Account baseline: API Gateway's CloudWatch role once per account, in both regions.

The `payments-dr-account` stack of main.build_app (applied by hand once per account)."""

from __future__ import annotations

import json

from helpers import ref, resources

from contract import ACCOUNT_STACK as ACCOUNT


def test_account_stack_keeps_local_state_without_an_environment(stacks):
    stack = stacks[ACCOUNT]
    assert stack["terraform"]["backend"] == {
        "local": {"path": "../../../terraform.payments-dr-account.tfstate"}}
    for provider in stack["provider"]["aws"]:
        tags = provider["default_tags"][0]["tags"]
        assert "Environment" not in tags and tags["Scope"] == "account"
    assert {p["region"] for p in stack["provider"]["aws"]} == {"us-east-1", "us-east-2"}


def test_one_role_and_account_setting_per_region(stacks):
    stack = stacks[ACCOUNT]
    (role_name, role), = resources(stack, "aws_iam_role").items()
    assert role["name"] == "payments-dr-apigateway-cloudwatch"  # no environment in it
    trust = json.loads(role["assume_role_policy"])["Statement"]
    # No aws:SourceAccount condition: API Gateway is not documented to send it (module docstring).
    assert trust == [{"Sid": "TrustService", "Effect": "Allow", "Action": ["sts:AssumeRole"],
                      "Principal": {"Service": "apigateway.amazonaws.com"}}]
    (attachment_name, attachment), = resources(stack, "aws_iam_role_policy_attachment").items()
    assert attachment["policy_arn"].endswith(
        ":iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs")
    accounts = resources(stack, "aws_api_gateway_account")
    assert sorted(a["provider"] for a in accounts.values()) == ["aws.dr", "aws.primary"]
    for account in accounts.values():
        assert account["cloudwatch_role_arn"] == ref("aws_iam_role", role_name, "arn")
        assert account["depends_on"] == [f"aws_iam_role_policy_attachment.{attachment_name}"]


def test_platform_declares_no_account_singleton(stacks):
    for name, stack in stacks.items():
        if name != ACCOUNT:
            assert not resources(stack, "aws_api_gateway_account"), name
