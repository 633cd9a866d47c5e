#!/usr/bin/env python3
"""What a stack's plan and apply need from a region that is down (issue 18, item 8).

    scripts/outage_plan.py STACK_DIR [--down us-east-1] [--plan PLAN_JSON]

Without --plan: lists every address of STACK_DIR/cdk.tf.json that needs the --down region,
and why. With --plan (the output of `terraform show -json` of a saved plan): exit 1 if any
planned change, or any data source read at plan time, needs the --down region; exit 0 if
the plan can be applied with that region down. Exit 2 on unreadable input.

Why: IAM is a global service whose one control plane (every public IAM API, reads included:
GetRole, GetRolePolicy) is in us-east-1; the regional IAM data planes only authenticate and
authorize (AWS Fault Isolation Boundaries whitepaper, "Global services" and Appendix A; IAM
User Guide, "Resilience in IAM"). So during a us-east-1 outage an existing role still works
for Lambda, RDS and Backup in the DR region, but Terraform can neither read (refresh) nor
change it. The DR stack holds its functions' roles, so its ordinary `terraform plan`, which
refreshes them, fails in exactly the outage it is for. The runbook's outage-day procedure is
`plan -refresh=false`, then this check over the saved plan, then `apply` of that plan
(docs/runbook.md, "Terraform during a primary-region outage").
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

# Resource type prefix -> (service, region of its one control plane), from the whitepaper's
# lists of partitional and edge-network global services, for the `aws` partition.
GLOBAL_CONTROL_PLANES: dict[str, tuple[str, str]] = {
    "aws_iam_": ("IAM", "us-east-1"),
    "aws_organizations_": ("Organizations", "us-east-1"),
    "aws_account_": ("Account Management", "us-east-1"),
    "aws_route53_": ("Route 53", "us-east-1"),
    "aws_cloudfront_": ("CloudFront", "us-east-1"),
    "aws_shield_": ("Shield Advanced", "us-east-1"),
    "aws_route53recoverycontrolconfig_": ("Application Recovery Controller", "us-west-2"),
    "aws_globalaccelerator_": ("Global Accelerator", "us-west-2"),
    "aws_networkmanager_": ("Network Manager", "us-west-2"),
}
# Types under those prefixes that are regional, or no API call at all.
NOT_GLOBAL = ("aws_route53_resolver_",)
LOCAL_DATA_SOURCES = {"aws_iam_policy_document", "aws_partition"}


def _provider_regions(stack: dict[str, Any]) -> dict[str, str]:
    """'aws' / 'aws.<alias>' -> region of that provider configuration."""
    regions = {}
    for config in stack.get("provider", {}).get("aws", []):
        key = f"aws.{config['alias']}" if config.get("alias") else "aws"
        regions[key] = config.get("region", "")
    return regions


def _global_reason(resource_type: str, down: str) -> str | None:
    if resource_type.startswith(NOT_GLOBAL):
        return None
    for prefix, (service, region) in GLOBAL_CONTROL_PLANES.items():
        if resource_type.startswith(prefix) and region == down:
            return f"{service} control plane is in {region}"
    return None


def _reason(stack: dict[str, Any], mode: str, resource_type: str, name: str,
            down: str) -> str | None:
    """Why reading or changing this resource (or data source) needs the `down` region."""
    if mode == "data" and resource_type in LOCAL_DATA_SOURCES:
        return None
    if mode == "data" and resource_type == "terraform_remote_state":
        config = stack["data"][resource_type][name]
        region = config.get("config", {}).get("region")
        return f"its state is read from {region}" if region == down else None
    section = stack.get("data" if mode == "data" else "resource", {})
    body = section.get(resource_type, {}).get(name, {})
    region = _provider_regions(stack).get(body.get("provider", "aws"))
    return _global_reason(resource_type, down) or (
        f"its provider is in {down}" if region == down else None)


def stack_needs(stack: dict[str, Any], down: str) -> dict[str, str]:
    """Address -> reason, for everything in the stack's configuration that needs `down`."""
    needs: dict[str, str] = {}
    backend = stack.get("terraform", {}).get("backend", {}).get("s3", {})
    if backend.get("region") == down:
        needs["(backend)"] = f"the state bucket is in {down}"
    for mode, section in (("managed", "resource"), ("data", "data")):
        for resource_type, blocks in stack.get(section, {}).items():
            for name in blocks:
                reason = _reason(stack, mode, resource_type, name, down)
                if reason:
                    prefix = "data." if mode == "data" else ""
                    needs[f"{prefix}{resource_type}.{name}"] = reason
    return needs


def plan_needs(plan: dict[str, Any], stack: dict[str, Any], down: str) -> dict[str, str]:
    """Address -> reason, for each change in a saved plan that would call the `down` region.

    A no-op change makes no API call at apply, and a plan made with -refresh=false read no
    managed resource; data sources are read at every plan, so the configuration's data
    sources that need `down` count as well (they would have failed the plan itself).
    """
    needs = {address: reason for address, reason in stack_needs(stack, down).items()
             if address.startswith(("data.", "(backend)"))}
    for change in plan.get("resource_changes", []):
        if change.get("change", {}).get("actions") in (["no-op"], ["read"]):
            continue
        if change.get("mode", "managed") != "managed" or change.get("module_address"):
            continue
        reason = _reason(stack, "managed", change["type"], change["name"], down)
        if reason:
            needs[change["address"]] = f"{'/'.join(change['change']['actions'])}: {reason}"
    return needs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stack_dir", type=Path)
    parser.add_argument("--down", default="us-east-1", help="the region that is down")
    parser.add_argument("--plan", type=Path, help="`terraform show -json` of a saved plan")
    args = parser.parse_args(argv)
    try:
        stack = json.loads((args.stack_dir / "cdk.tf.json").read_text())
        plan = json.loads(args.plan.read_text()) if args.plan else None
    except (OSError, ValueError) as error:
        print(f"outage_plan: {error}", file=sys.stderr)
        return 2
    if plan is None:
        for address, reason in sorted(stack_needs(stack, args.down).items()):
            print(f"{address}: {reason}")
        return 0
    blocked = plan_needs(plan, stack, args.down)
    for address, reason in sorted(blocked.items()):
        print(f"needs {args.down}: {address}: {reason}")
    if blocked:
        print(f"{len(blocked)} change(s) need {args.down}: do not apply this plan while it is "
              "down (docs/runbook.md)", file=sys.stderr)
        return 1
    print(f"no change in this plan needs {args.down}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
