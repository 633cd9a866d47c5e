"""Private networks for the database tier."""

from __future__ import annotations

from helpers import one, ref, resources


def test_each_region_has_a_private_vpc_with_three_pinned_zones(platform):
    for role, cidr, region in (("primary", "10.10.0.0/16", "us-east-1"), ("dr", "10.20.0.0/16", "us-east-2")):
        vpc_name, vpc = one(platform, "aws_vpc", role)
        assert vpc["cidr_block"] == cidr
        subnets = resources(platform, "aws_subnet", role)
        assert sorted(s["availability_zone"] for s in subnets.values()) == [
            f"{region}a", f"{region}b", f"{region}c"]
        assert all(s["map_public_ip_on_launch"] is False for s in subnets.values())
        assert all(s["vpc_id"] == ref("aws_vpc", vpc_name, "id") for s in subnets.values())
    assert not resources(platform, "aws_internet_gateway")
    assert not resources(platform, "aws_nat_gateway")


def test_database_security_group_admits_postgres_from_the_vpc_only(platform):
    for role, cidr in (("primary", "10.10.0.0/16"), ("dr", "10.20.0.0/16")):
        _, sg = one(platform, "aws_security_group", role, "db-sg")
        assert sg["egress"] == []
        [rule] = sg["ingress"]
        assert (rule["from_port"], rule["to_port"], rule["protocol"]) == (5432, 5432, "tcp")
        assert rule["cidr_blocks"] == [cidr]
        _, default_sg = one(platform, "aws_default_security_group", role)
        assert default_sg["ingress"] == [] and default_sg["egress"] == []


def test_flow_logs_go_to_an_encrypted_log_group_in_the_same_region(platform):
    for role in ("primary", "dr"):
        group_name, _ = one(platform, "aws_cloudwatch_log_group", role, "flow-log-group")
        _, flow = one(platform, "aws_flow_log", role)
        assert flow["log_destination"] == ref("aws_cloudwatch_log_group", group_name, "arn")
        assert flow["traffic_type"] == "ALL"
