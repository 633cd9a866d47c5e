"""A private network per region for the database tier.

Aurora lives in private subnets across three availability zones. Nothing in them needs the
internet, so there is no internet or NAT gateway; the database security group admits
PostgreSQL from inside the VPC only, the default security group is emptied, and VPC flow
logs go to an encrypted log group. The two regions use non-overlapping CIDRs so they can be
peered later without renumbering.
"""

from __future__ import annotations

import ipaddress

from constructs import Construct
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.db_subnet_group import DbSubnetGroup
from cdktf_cdktf_provider_aws.default_security_group import DefaultSecurityGroup
from cdktf_cdktf_provider_aws.flow_log import FlowLog
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.security_group import SecurityGroup, SecurityGroupIngress
from cdktf_cdktf_provider_aws.subnet import Subnet
from cdktf_cdktf_provider_aws.vpc import Vpc

from modules.iam import assume_role_policy, policy_document, statement
from modules.keys import RegionalKey
from modules.naming import Names
from modules.regions import Region
from modules.settings import Settings

VPC_CIDRS = {"primary": "10.10.0.0/16", "dr": "10.20.0.0/16"}
# Zones are pinned by name, not read from a data source: when AWS adds a zone, a data source's
# list shifts and Terraform would move subnets (and so the database) to other zones.
# Zone letters differ per account in a few regions; these are the common ones.
ZONE_LETTERS = {"us-west-1": ("a", "c"), "ca-central-1": ("a", "b", "d")}
DEFAULT_ZONE_LETTERS = ("a", "b", "c")


def availability_zones(region_name: str) -> list[str]:
    return [region_name + letter for letter in ZONE_LETTERS.get(region_name, DEFAULT_ZONE_LETTERS)]

POSTGRES_PORT = 5432


class RegionalNetwork(Construct):
    """Outputs: `vpc`, `db_subnet_group`, `db_security_group`."""

    def __init__(self, scope: Construct, id: str, *, region: Region, names: Names,
                 settings: Settings, key: RegionalKey):
        super().__init__(scope, id)
        cidr = VPC_CIDRS[region.role]
        self.vpc = Vpc(
            self, "vpc", provider=region.provider, cidr_block=cidr,
            enable_dns_support=True, enable_dns_hostnames=True,
            tags={"Name": names.regional("vpc", region.role)},
        )
        # No rules at all: nothing may use the default group by accident.
        DefaultSecurityGroup(self, "default-sg", provider=region.provider, vpc_id=self.vpc.id,
                             ingress=[], egress=[])
        self.subnets = [
            Subnet(
                self, f"private-{index}", provider=region.provider, vpc_id=self.vpc.id,
                cidr_block=str(list(ipaddress.ip_network(cidr).subnets(new_prefix=20))[index]),
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={"Name": names.regional(f"private-{zone}", region.role), "Tier": "private"},
            )
            for index, zone in enumerate(availability_zones(region.name))
        ]
        self.db_subnet_group = DbSubnetGroup(
            self, "db-subnets", provider=region.provider,
            name=names.regional("db-subnets", region.role),
            description="Private subnets for the Aurora cluster",
            subnet_ids=[s.id for s in self.subnets],
        )
        self.db_security_group = SecurityGroup(
            self, "db-sg", provider=region.provider, vpc_id=self.vpc.id,
            name=names.regional("aurora", region.role),
            description="Aurora PostgreSQL: port 5432 from inside the VPC only",
            ingress=[SecurityGroupIngress(
                description="PostgreSQL from inside the VPC", protocol="tcp",
                from_port=POSTGRES_PORT, to_port=POSTGRES_PORT, cidr_blocks=[cidr],
            )],
            egress=[],  # the database initiates no connections
        )
        self._flow_logs(region, names, settings, key)

    def _flow_logs(self, region: Region, names: Names, settings: Settings, key: RegionalKey) -> None:
        log_group = CloudwatchLogGroup(
            self, "flow-log-group", provider=region.provider,
            name=f"/payments-dr/{names.env}/{region.role}/vpc-flow-logs",
            retention_in_days=settings.log_retention_days, kms_key_id=key.arn,
        )
        role = IamRole(
            self, "flow-log-role", provider=region.provider,
            name=names.regional("flow-logs", region.role),
            assume_role_policy=assume_role_policy("vpc-flow-logs.amazonaws.com",
                                                  source_account=region.account_id),
        )
        IamRolePolicy(
            self, "flow-log-policy", provider=region.provider, role=role.id, name="write-flow-logs",
            policy=policy_document([statement(
                "WriteThisLogGroupOnly",
                ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                [log_group.arn, f"{log_group.arn}:*"],
            )]),
        )
        FlowLog(
            self, "flow-log", provider=region.provider, vpc_id=self.vpc.id, traffic_type="ALL",
            log_destination_type="cloud-watch-logs", log_destination=log_group.arn,
            iam_role_arn=role.arn, max_aggregation_interval=60,
        )
