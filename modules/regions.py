"""The region pair: one aliased AWS provider per role, passed explicitly to every tier.

A tier never guesses its region: it receives a `Region` and puts `provider=region.provider`
on every resource and data source it creates. Both providers are aliased (no default
provider exists), so a resource that forgets its provider fails `terraform validate`
instead of silently landing in the wrong region.
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct
from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.data_aws_partition import DataAwsPartition
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags

from modules.settings import Settings

PRIMARY = "primary"
DR = "dr"


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
class RegionPair:
    primary: Region
    dr: Region

    def __iter__(self):
        return iter((self.primary, self.dr))

    def other(self, region: Region) -> Region:
        return self.dr if region.role == PRIMARY else self.primary


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
