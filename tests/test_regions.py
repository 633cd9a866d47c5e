"""Every resource and data source sits on one of the two aliased regional providers."""

from __future__ import annotations

from helpers import resources


def test_two_aliased_providers_with_default_tags(platform):
    providers = {p["alias"]: p for p in platform["provider"]["aws"]}
    assert set(providers) >= {"primary", "dr"}
    assert providers["primary"]["region"] == "us-east-1"
    assert providers["dr"]["region"] == "us-east-2"
    for role in ("primary", "dr"):
        tags = providers[role]["default_tags"][0]["tags"]
        assert tags == {"Environment": "dev", "Application": "payments-dr",
                        "RegionRole": role, "ManagedBy": "cdktf"}
    assert all("alias" in p for p in platform["provider"]["aws"]), "no unaliased default provider"


def test_every_resource_and_data_source_names_an_aliased_provider(platform):
    aliases = {f"aws.{p['alias']}" for p in platform["provider"]["aws"]}
    for kind in ("resource", "data"):
        for rtype, items in platform.get(kind, {}).items():
            for name, body in items.items():
                assert body.get("provider") in aliases, f"{kind} {rtype}.{name} has no regional provider"


def test_non_default_regions_change_the_output(qa_platform):
    providers = {p["alias"]: p for p in qa_platform["provider"]["aws"]}
    assert providers["dr"]["region"] == "us-west-2"
    assert providers["dr"]["default_tags"][0]["tags"]["Environment"] == "qa"
    subnets = resources(qa_platform, "aws_subnet", "dr")
    assert sorted(s["availability_zone"] for s in subnets.values()) == [
        "us-west-2a", "us-west-2b", "us-west-2c"]
