"""Regions: one aliased AWS provider per role, passed explicitly to every tier.

A tier never guesses its region: it receives a `Region` and puts `provider=region.provider`
on every resource and data source it creates. Every provider is aliased (no default provider
exists), so a resource that forgets its provider fails `terraform validate` instead of
silently landing in the wrong region.

A regional stack knows its peer only as a `PeerRegion`: a name, with no provider. Anything it
needs of the peer (a bucket ARN, a key alias, a host name) is derived from names in the
contract, never from the peer's state, so it plans and applies while the peer is down.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.data_aws_partition import DataAwsPartition
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags
from constructs import Construct

from contract import DR, PRIMARY, other_role
from modules.settings import Settings


@dataclass(frozen=True)
class Region:
    role: str  # "primary" or "dr": the role at deploy time (failover swaps the writer, not this)
    name: str  # e.g. "us-east-1"
    provider: AwsProvider
    account_id: str  # token resolved at plan time
    partition: str  # token: aws, aws-cn, aws-us-gov

    @property
    def is_primary(self) -> bool:
        return self.role == PRIMARY

    def arn(self, service: str, resource: str, *, region: bool = True) -> str:
        """An ARN in this region and account, e.g. arn("dynamodb", "table/x")."""
        return f"arn:{self.partition}:{service}:{self.name if region else ''}:{self.account_id}:{resource}"


@dataclass(frozen=True)
class PeerRegion:
    """The other region, seen from a regional stack: a name and no provider.

    Same account and partition as `of`, so its ARNs are built from `of`'s identity tokens."""

    role: str
    name: str
    of: Region

    @property
    def account_id(self) -> str:
        return self.of.account_id

    @property
    def partition(self) -> str:
        return self.of.partition

    def arn(self, service: str, resource: str, *, region: bool = True) -> str:
        return f"arn:{self.partition}:{service}:{self.name if region else ''}:{self.account_id}:{resource}"


def peer_of(region: Region, settings: Settings) -> PeerRegion:
    role = other_role(region.role)
    name = settings.dr_region if role == DR else settings.primary_region
    return PeerRegion(role=role, name=name, of=region)


@dataclass(frozen=True)
class RegionPair:
    primary: Region
    dr: Region

    def __iter__(self) -> Iterator[Region]:
        return iter((self.primary, self.dr))

    def other(self, region: Region) -> Region:
        return self.dr if region.role == PRIMARY else self.primary


def account_guard(settings: Settings) -> dict[str, str]:
    """Stops every plan whose credentials are not for AWS_ACCOUNT_ID (or while it is unset):
    prod settings can never be applied to another account, nor a stack without its state
    bucket's real name.

    One expression for both cases: the caller's account must equal the configured one. Unset,
    the configured id is "", which no account id equals, so the plan stops with the message
    naming AWS_ACCOUNT_ID. (Terraform refuses a condition that refers to no object, such as
    `false`: internal/configs/checks.go.)"""
    configured = settings.aws_account_id or ""
    if not configured:
        message = ("AWS_ACCOUNT_ID is not set: set it to the 12-digit id of the account to "
                   "deploy to (it names the state bucket and guards every stack), synthesize "
                   "again, then plan. See README: Deploy into a new account.")
    else:
        message = (f"These credentials are not for AWS_ACCOUNT_ID={configured}: use "
                   "credentials of that account, or fix AWS_ACCOUNT_ID and synthesize again.")
    return {"condition": f'${{self.account_id == "{configured}"}}', "error_message": message}


def region_name(role: str, settings: Settings) -> str:
    return settings.primary_region if role == PRIMARY else settings.dr_region


def build_region(scope: Construct, *, role: str, name: str, settings: Settings) -> Region:
    """An aliased provider with the platform's default tags (aliases do not inherit them)."""
    provider = AwsProvider(
        scope,
        f"aws-{role}",
        alias=role,
        region=name,
        default_tags=[
            AwsProviderDefaultTags(
                tags={
                    "Environment": settings.environment_suffix,
                    "Application": "payments-dr",
                    "RegionRole": role,
                    "ManagedBy": "cdktf",
                    **settings.tags,
                }
            )
        ],
    )
    identity = DataAwsCallerIdentity(scope, f"identity-{role}", provider=provider)
    identity.add_override("lifecycle.postcondition", [account_guard(settings)])
    partition = DataAwsPartition(scope, f"partition-{role}", provider=provider)
    return Region(
        role=role,
        name=name,
        provider=provider,
        account_id=identity.account_id,
        partition=partition.partition,
    )


def build_region_pair(scope: Construct, settings: Settings) -> RegionPair:
    return RegionPair(
        primary=build_region(scope, role=PRIMARY, name=settings.primary_region, settings=settings),
        dr=build_region(scope, role=DR, name=settings.dr_region, settings=settings),
    )
