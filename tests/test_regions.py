"""Every resource and data source sits on an aliased regional provider of its own stack."""

from __future__ import annotations

from helpers import resources

from contract import PLATFORM_STACKS


def test_aliased_providers_with_default_tags(platform):
    providers = {p["alias"]: p for p in platform["provider"]["aws"]}
    assert set(providers) >= {"primary", "dr"}
    assert providers["primary"]["region"] == "us-east-1"
    assert providers["dr"]["region"] == "us-east-2"
    for role in ("primary", "dr"):
        tags = providers[role]["default_tags"][0]["tags"]
        assert tags == {"Environment": "dev", "Application": "payments-dr",
                        "RegionRole": role, "ManagedBy": "cdktf"}
    assert all("alias" in p for p in platform["provider"]["aws"]), "no unaliased default provider"


def test_every_resource_and_data_source_names_an_aliased_provider_of_its_stack(stacks):
    for name in PLATFORM_STACKS:
        stack = stacks[name]
        aliases = {f"aws.{p['alias']}" for p in stack["provider"]["aws"]}
        for kind in ("resource", "data"):
            for rtype, items in stack.get(kind, {}).items():
                if rtype == "terraform_remote_state":
                    continue  # reads the state bucket through the backend, not a provider
                if rtype == "terraform_data":
                    continue  # Terraform's own resource, no provider (its local-exec names the region)
                for logical, body in items.items():
                    assert body.get("provider") in aliases, f"{name}: {kind} {rtype}.{logical}"


def test_every_plan_is_guarded_by_the_account_setting(stacks, prod_stacks):
    """Every caller identity of every stack carries the guard; Terraform evaluates it in
    tests/test_terraform.py (unset: stops naming AWS_ACCOUNT_ID; set: only that account)."""
    for name in PLATFORM_STACKS:
        for identity in stacks[name]["data"]["aws_caller_identity"].values():
            [guard] = identity["lifecycle"]["postcondition"]
            assert guard["condition"] == '${self.account_id == ""}'
            assert guard["error_message"].startswith("AWS_ACCOUNT_ID is not set")
        for identity in prod_stacks[name]["data"]["aws_caller_identity"].values():
            [guard] = identity["lifecycle"]["postcondition"]
            assert guard["condition"] == '${self.account_id == "123456789012"}'
            assert "AWS_ACCOUNT_ID=123456789012" in guard["error_message"]


def test_non_default_regions_change_the_output(qa_platform):
    providers = {p["alias"]: p for p in qa_platform["provider"]["aws"]}
    assert providers["dr"]["region"] == "us-west-2"
    assert providers["dr"]["default_tags"][0]["tags"]["Environment"] == "qa"
    subnets = resources(qa_platform, "aws_subnet", "dr")
    assert sorted(s["availability_zone"] for s in subnets.values()) == [
        "us-west-2a", "us-west-2b", "us-west-2c"]
