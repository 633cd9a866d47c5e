"""A private network per region for the database tier and the VPC-attached functions.

Aurora lives in private subnets across three availability zones. Nothing in them needs the
internet, so there is no internet or NAT gateway; the database security group admits
PostgreSQL from the functions' security group only, the default security group is emptied, and VPC flow
logs go to an encrypted log group. The two regions use non-overlapping CIDRs so they can be
peered later without renumbering.

Functions (validator, health) run in the same private subnets. They reach DynamoDB and S3
through gateway endpoints on the private route table (no hourly or data charge), and X-Ray
(traces) through an interface endpoint; their security group allows egress only on 443, to
the two gateway prefix lists and the interface endpoints' security group: there is no
route, and no rule, to anything else. Other services without a gateway endpoint (KMS,
Secrets Manager...) need an interface endpoint each (`interface_endpoints`, about USD 7.30
per AZ per month each): docs/design.md's endpoint table says which calls need which.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.db_subnet_group import DbSubnetGroup
from cdktf_cdktf_provider_aws.default_security_group import DefaultSecurityGroup
from cdktf_cdktf_provider_aws.flow_log import FlowLog
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.route_table import RouteTable
from cdktf_cdktf_provider_aws.route_table_association import RouteTableAssociation
from cdktf_cdktf_provider_aws.security_group import SecurityGroup, SecurityGroupIngress
from cdktf_cdktf_provider_aws.subnet import Subnet
from cdktf_cdktf_provider_aws.vpc import Vpc
from cdktf_cdktf_provider_aws.vpc_endpoint import VpcEndpoint
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from contract import DRILL_REGIONAL_FAILOVER
from modules.drills import drill_tags
from modules.iam import Statement, assume_role_policy, policy_document, statement
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
HTTPS_PORT = 443
# The AWS services our VPC functions call that offer a gateway endpoint (free).
GATEWAY_SERVICES = ("s3", "dynamodb")
# Interface endpoints a caller may add (each: ~USD 0.01/h per AZ + USD 0.01/GB).
INTERFACE_SERVICES = ("xray", "kms", "secretsmanager", "logs", "monitoring")
# X-Ray by default: a VPC-connected function "sends all network traffic through your VPC"
# (AWS Compute Blog, Lambda IAM condition keys for VPC settings), the X-Ray daemon runs in
# the function's execution environment, and X-Ray has no gateway endpoint.
DEFAULT_INTERFACE_ENDPOINTS = ("xray",)


# What the VPC's functions call through each interface endpoint (the rest is refused there).
INTERFACE_ENDPOINT_ACTIONS = {
    "kms": ("kms:DescribeKey", "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"),
    # the authorizer reads the client keys (modules/client_keys.py)
    "secretsmanager": ("secretsmanager:GetSecretValue",),
    "xray": ("xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
             "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries"),
}


# What the Aurora master secret's rotation function (modules/database.py) calls through the
# Secrets Manager endpoint, on that secret only; GetRandomPassword has no resource type.
ROTATION_SECRET_ACTIONS = ("secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
                           "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage")
ROTATION_UNSCOPED_ACTIONS = ("secretsmanager:GetRandomPassword",)


def interface_endpoint_policy(service: str, region: Region, *, rotated_secret: str | None = None,
                              ) -> list[Statement]:
    """Data perimeter of an interface endpoint: only this account's principals, only the
    calls the functions make, and for KMS only this account's keys (another account's key
    cannot be used to wrap data on its way out), for Secrets Manager only this account's
    secrets. X-Ray's calls have no resource type. `rotated_secret` (a secret name, primary
    region): the rotation function's calls on that secret, and GetRandomPassword."""
    resources = ([region.arn("kms", "key/*")] if service == "kms"
                 else [region.arn("secretsmanager", "secret:*")] if service == "secretsmanager"
                 else ["*"])
    ours = {"StringEquals": {"aws:PrincipalAccount": region.account_id}}
    statements = [statement(f"OnlyThisAccount{service.capitalize()}Calls",
                            INTERFACE_ENDPOINT_ACTIONS[service], resources, principal={"AWS": "*"},
                            condition=ours)]
    if service == "secretsmanager" and rotated_secret:
        statements += [
            statement("TheMasterSecretsRotation", ROTATION_SECRET_ACTIONS,
                      [region.arn("secretsmanager", f"secret:{rotated_secret}-*")],
                      principal={"AWS": "*"}, condition=ours),
            statement("RotationPasswords", ROTATION_UNSCOPED_ACTIONS, ["*"],
                      principal={"AWS": "*"}, condition=ours),
        ]
    return statements


class RegionalNetwork(Construct):
    """Outputs: `vpc`, `subnets`, `db_subnet_group`, `db_security_group`, `route_table`,
    `gateway_endpoints[service]`, `function_security_group`, `interface_endpoints[service]`.

    `interface_endpoints`: services (from INTERFACE_SERVICES) to reach through an interface
    endpoint in every private subnet; the function security group may then also reach them.
    Default: X-Ray only (`()` for none).
    """

    def __init__(self, scope: Construct, id: str, *, region: Region, names: Names,
                 settings: Settings, key: RegionalKey,
                 interface_endpoints: tuple[str, ...] = DEFAULT_INTERFACE_ENDPOINTS,
                 interface_endpoint_zones: int | None = None):
        super().__init__(scope, id)
        unknown = sorted(set(interface_endpoints) - set(INTERFACE_SERVICES))
        if unknown:
            raise ValueError(f"interface_endpoints {unknown} are not supported: use "
                             f"{', '.join(INTERFACE_SERVICES)}")
        self.region = region
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
                # The failover drill's target (modules/drills.py): FIS swaps in a copy of the
                # subnet's network ACL that denies DynamoDB, for the fault's duration.
                tags={"Name": names.regional(f"private-{zone}", region.role), "Tier": "private",
                      **drill_tags(DRILL_REGIONAL_FAILOVER, names)},
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
            # Ingress below, once the function security group exists.
            egress=[],  # the database initiates no connections
        )
        self._flow_logs(region, names, settings, key)
        self._endpoint_subnets = self.subnets[:interface_endpoint_zones]
        self._function_paths(region, names, interface_endpoints)
        rotation = self._rotation_paths(region, names) if region.is_primary else []
        # Only the VPC functions' security group (and, in the primary region, the master
        # secret's rotation function) may open a PostgreSQL connection, not the whole VPC
        # CIDR (issue 21). The group's description and name stay as they were: changing
        # either would replace the group under a running cluster.
        self.db_security_group.put_ingress([SecurityGroupIngress(
            description="PostgreSQL from the VPC functions' security group only", protocol="tcp",
            from_port=POSTGRES_PORT, to_port=POSTGRES_PORT,
            security_groups=[self.function_security_group.id, *rotation])])

    def _rotation_paths(self, region: Region, names: Names) -> list[str]:
        """The master secret's rotation function (modules/database.py): its own group, HTTPS
        to the interface endpoints (Secrets Manager) and PostgreSQL to the database, nothing
        else. The VPC functions keep no path to the database."""
        p = region.provider
        self.rotation_security_group = SecurityGroup(
            self, "rotation-sg", provider=p, vpc_id=self.vpc.id,
            name=names.regional("aurora-rotation", region.role),
            description="Aurora master secret rotation: Secrets Manager endpoint and PostgreSQL only",
        )
        VpcSecurityGroupEgressRule(
            self, "rotation-to-database", provider=p,
            security_group_id=self.rotation_security_group.id,
            description="PostgreSQL to the Aurora cluster", ip_protocol="tcp",
            from_port=POSTGRES_PORT, to_port=POSTGRES_PORT,
            referenced_security_group_id=self.db_security_group.id,
        )
        if self.interface_endpoints:
            self._https_path(
                region, source=self.rotation_security_group, target=self.endpoint_security_group,
                ingress=("endpoints-from-rotation", "HTTPS from the master secret's rotation function"),
                egress=("rotation-to-interface-endpoints", "HTTPS to the interface endpoints (Secrets Manager)"))
        return [self.rotation_security_group.id]

    def _function_paths(self, region: Region, names: Names, interface_services: Sequence[str]) -> None:
        p = region.provider
        # One explicit route table for the private subnets: it holds the gateway endpoints'
        # routes (prefix list -> endpoint) and nothing else; there is no default route.
        self.route_table = RouteTable(self, "private-routes", provider=p, vpc_id=self.vpc.id,
                                      tags={"Name": names.regional("private", region.role)})
        for index, subnet in enumerate(self.subnets):
            RouteTableAssociation(self, f"private-routes-{index}", provider=p,
                                  subnet_id=subnet.id, route_table_id=self.route_table.id)
        # Data perimeter: through these endpoints, only this account's buckets and tables
        # (IAM still decides which ones each role may touch); nothing in the VPC can copy
        # data to another account's bucket. S3 bucket ARNs carry no account, hence the
        # aws:ResourceAccount condition (S3's documented endpoint-policy pattern); DynamoDB
        # table ARNs do, so the resource itself is scoped.
        perimeter = {
            "s3": statement("OnlyThisAccountsBuckets", ["s3:*"], ["*"], principal={"AWS": "*"},
                            condition={"StringEquals": {"aws:ResourceAccount": region.account_id}}),
            "dynamodb": statement("OnlyThisAccountsTablesHere", ["dynamodb:*"],
                                  [region.arn("dynamodb", "table/*")], principal={"AWS": "*"}),
        }
        self.gateway_endpoints = {
            service: VpcEndpoint(
                self, f"{service}-gateway", provider=p, vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{region.name}.{service}",
                vpc_endpoint_type="Gateway", route_table_ids=[self.route_table.id],
                policy=policy_document([perimeter[service]]),
                tags={"Name": names.regional(f"{service}-gateway", region.role)},
            )
            for service in GATEWAY_SERVICES
        }
        # No inline rules: Terraform removes AWS's default allow-all egress from a new group,
        # so the group allows exactly the standalone rules below.
        self.function_security_group = SecurityGroup(
            self, "functions-sg", provider=p, vpc_id=self.vpc.id,
            name=names.regional("functions", region.role),
            description="Lambda functions: HTTPS to the gateway and interface endpoints only",
        )
        for service, endpoint in self.gateway_endpoints.items():
            VpcSecurityGroupEgressRule(
                self, f"functions-to-{service}", provider=p,
                security_group_id=self.function_security_group.id,
                description=f"HTTPS to {service} through its gateway endpoint",
                ip_protocol="tcp", from_port=HTTPS_PORT, to_port=HTTPS_PORT,
                prefix_list_id=endpoint.prefix_list_id,
            )
        self.interface_endpoints: dict[str, VpcEndpoint] = {}
        if interface_services:
            self._interface_endpoints(region, names, interface_services)

    def _interface_endpoints(self, region: Region, names: Names, services: Sequence[str]) -> None:
        p = region.provider
        self.endpoint_security_group = endpoint_sg = SecurityGroup(
            self, "endpoints-sg", provider=p, vpc_id=self.vpc.id,
            name=names.regional("interface-endpoints", region.role),
            description="Interface endpoints: HTTPS from the function security group only",
        )
        self._https_path(
            region, source=self.function_security_group, target=endpoint_sg,
            ingress=("endpoints-from-functions", "HTTPS from the VPC functions"),
            egress=("functions-to-interface-endpoints", "HTTPS to the interface endpoints"))
        for service in services:
            self.interface_endpoints[service] = VpcEndpoint(
                self, f"{service}-interface", provider=p, vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{region.name}.{service}",
                vpc_endpoint_type="Interface", private_dns_enabled=True,
                policy=policy_document(interface_endpoint_policy(
                    service, region, rotated_secret=names.db_secret if region.is_primary else None)),
                subnet_ids=[s.id for s in self._endpoint_subnets], security_group_ids=[endpoint_sg.id],
                tags={"Name": names.regional(f"{service}-interface", region.role)},
            )

    def _https_path(self, region: Region, *, source: SecurityGroup, target: SecurityGroup,
                    ingress: tuple[str, str], egress: tuple[str, str]) -> None:
        """HTTPS from one group to another needs both halves: the target's ingress rule and the
        source's egress rule (neither group has any other rule). `ingress`/`egress`: (id, description)."""
        VpcSecurityGroupIngressRule(
            self, ingress[0], provider=region.provider, security_group_id=target.id,
            description=ingress[1], ip_protocol="tcp", from_port=HTTPS_PORT, to_port=HTTPS_PORT,
            referenced_security_group_id=source.id,
        )
        VpcSecurityGroupEgressRule(
            self, egress[0], provider=region.provider, security_group_id=source.id,
            description=egress[1], ip_protocol="tcp", from_port=HTTPS_PORT, to_port=HTTPS_PORT,
            referenced_security_group_id=target.id,
        )

    @property
    def vpc_arn(self) -> str:
        return self.vpc.arn

    def grant_function_network_interfaces(self) -> list[Statement]:
        """What Lambda needs, through a function's execution role, to attach it here.

        The actions of AWSLambdaVPCAccessExecutionRole, narrowed where EC2 allows it:
        creating an interface only in these subnets with the function security group;
        the Describe* calls support no resource-level permissions ("*" is the only value).
        """
        region = self.region
        eni = region.arn("ec2", "network-interface/*")
        return [
            statement("CreateInterfacesInPrivateSubnets", ["ec2:CreateNetworkInterface"],
                      [eni, *[region.arn("ec2", f"subnet/{s.id}") for s in self.subnets],
                       region.arn("ec2", f"security-group/{self.function_security_group.id}")]),
            statement("ManageOwnInterfaces",
                      ["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
                       "ec2:UnassignPrivateIpAddresses"], [eni]),
            statement("DescribeNetwork",
                      ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"], ["*"]),
        ]

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
