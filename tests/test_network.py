"""Private networks for the database tier."""

from __future__ import annotations

import json
import re

import pytest
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


def test_database_security_group_admits_postgres_from_the_function_group_only(platform):
    """Not the whole VPC CIDR (issue 21): an interface endpoint's or a future resource's
    address in the VPC is no reason to reach the database."""
    for role in ("primary", "dr"):
        _, sg = one(platform, "aws_security_group", role, "db-sg")
        functions, _ = one(platform, "aws_security_group", role, "functions-sg")
        assert sg["egress"] == []
        [rule] = sg["ingress"]
        assert (rule["from_port"], rule["to_port"], rule["protocol"]) == (5432, 5432, "tcp")
        # and in the primary region the master secret's rotation function (tests/test_database.py)
        rotation = ([ref("aws_security_group", one(platform, "aws_security_group", role, "rotation-sg")[0], "id")]
                    if role == "primary" else [])
        assert rule["security_groups"] == [ref("aws_security_group", functions, "id"), *rotation]
        assert not rule.get("cidr_blocks") and not rule.get("ipv6_cidr_blocks")
        _, default_sg = one(platform, "aws_default_security_group", role)
        assert default_sg["ingress"] == [] and default_sg["egress"] == []


def test_flow_logs_go_to_an_encrypted_log_group_in_the_same_region(platform):
    for role in ("primary", "dr"):
        group_name, _ = one(platform, "aws_cloudwatch_log_group", role, "flow-log-group")
        _, flow = one(platform, "aws_flow_log", role)
        assert flow["log_destination"] == ref("aws_cloudwatch_log_group", group_name, "arn")
        assert flow["traffic_type"] == "ALL"


# -- private functions (issue 12 item 5) -------------------------------------------------

REGIONS = (("primary", "us-east-1"), ("dr", "us-east-2"))


@pytest.fixture(scope="module", params=["dev", "prod"])
def any_platform(request, platform, prod_platform):
    return platform if request.param == "dev" else prod_platform


def test_gateway_endpoints_for_s3_and_dynamodb_on_the_private_route_table(any_platform):
    stack = any_platform
    for role, region in REGIONS:
        rt_name, rt = one(stack, "aws_route_table", role)
        assert "route" not in rt or rt["route"] == []  # no default route: no internet path
        subnets = {name for name in resources(stack, "aws_subnet", role)}
        associated = {a["subnet_id"] for a in resources(stack, "aws_route_table_association", role).values()
                      if a["route_table_id"] == ref("aws_route_table", rt_name, "id")}
        assert associated == {ref("aws_subnet", s, "id") for s in subnets}
        endpoints = _gateways(stack, role)
        assert sorted(e["service_name"] for e in endpoints.values()) == [
            f"com.amazonaws.{region}.dynamodb", f"com.amazonaws.{region}.s3"]
        for e in endpoints.values():
            assert e["route_table_ids"] == [ref("aws_route_table", rt_name, "id")]
            [perimeter] = json.loads(e["policy"])["Statement"]
            assert perimeter["Effect"] == "Allow"
            account = f"${{data.aws_caller_identity.identity-{role}.account_id}}"
            if e["service_name"].endswith(".s3"):
                assert perimeter["Action"] == ["s3:*"]
                assert perimeter["Condition"] == {"StringEquals": {"aws:ResourceAccount": account}}
            else:
                assert perimeter["Action"] == ["dynamodb:*"]
                [table_arns] = perimeter["Resource"]
                assert f":dynamodb:{region}:{account}:table/*" in table_arns
                assert "Condition" not in perimeter
        assert resources(stack, "aws_nat_gateway", role) == {}
        assert resources(stack, "aws_internet_gateway", role) == {}


def _gateways(stack, role):
    return {n: e for n, e in resources(stack, "aws_vpc_endpoint", role).items()
            if e["vpc_endpoint_type"] == "Gateway"}


def test_function_security_group_allows_only_https_to_the_endpoints(any_platform):
    stack = any_platform
    for role, _region in REGIONS:
        sg_name, sg = one(stack, "aws_security_group", role, "functions-sg")
        endpoint_sg, _ = one(stack, "aws_security_group", role, "endpoints-sg")
        # No inline rules: Terraform strips AWS's default allow-all egress from new groups.
        assert "egress" not in sg and "ingress" not in sg
        rules = [r for r in resources(stack, "aws_vpc_security_group_egress_rule", role).values()
                 if r["security_group_id"] == ref("aws_security_group", sg_name, "id")]
        assert sorted(r.get("prefix_list_id", "") for r in rules if "prefix_list_id" in r) == sorted(
            ref("aws_vpc_endpoint", name, "prefix_list_id") for name in _gateways(stack, role))
        assert [r["referenced_security_group_id"] for r in rules
                if "referenced_security_group_id" in r] == [
            ref("aws_security_group", endpoint_sg, "id")]
        assert len(rules) == 3
        for r in rules:
            assert (r["ip_protocol"], r["from_port"], r["to_port"]) == ("tcp", 443, 443)
            assert "cidr_ipv4" not in r and "cidr_ipv6" not in r
        assert [r for r in resources(stack, "aws_vpc_security_group_ingress_rule", role).values()
                if r["security_group_id"] == ref("aws_security_group", sg_name, "id")] == []


@pytest.mark.parametrize("profile", ["dev", "standard", "prod"])
def test_xray_kms_and_secrets_manager_are_the_only_paid_endpoints_and_serve_every_private_subnet(
        profile, platform, standard_platform, prod_platform):
    """X-Ray for the VPC functions' traces; KMS because the health check (in the VPC) calls
    kms:DescribeKey on the region key: without an endpoint it could never answer healthy;
    Secrets Manager because the authorizer (in the VPC) reads the client keys.
    The dev profile traces nothing (no X-Ray endpoint) and keeps KMS and Secrets Manager in
    one zone: with private DNS the functions of every subnet reach them."""
    stack = {"dev": platform, "standard": standard_platform, "prod": prod_platform}[profile]
    for role, region in REGIONS:
        interface = {e["service_name"]: e for e in resources(stack, "aws_vpc_endpoint", role).values()
                     if e["vpc_endpoint_type"] == "Interface"}
        subnets = sorted(ref("aws_subnet", s, "id") for s in resources(stack, "aws_subnet", role))
        if profile == "dev":
            assert sorted(interface) == [f"com.amazonaws.{region}.kms",
                                         f"com.amazonaws.{region}.secretsmanager"]
            for endpoint in interface.values():
                assert len(endpoint["subnet_ids"]) == 1
                assert set(endpoint["subnet_ids"]) <= set(subnets)
        else:
            assert sorted(interface) == [f"com.amazonaws.{region}.kms",
                                         f"com.amazonaws.{region}.secretsmanager",
                                         f"com.amazonaws.{region}.xray"]
            for endpoint in interface.values():
                assert sorted(endpoint["subnet_ids"]) == subnets
        for endpoint in interface.values():
            assert endpoint["private_dns_enabled"] is True
        _, health = one(stack, "aws_lambda_function", role, f"compute-{role}/health/function")
        assert "vpc_config" in health
        _, policy = one(stack, "aws_iam_role_policy", role, f"compute-{role}/health/policy")
        assert "kms:DescribeKey" in policy["policy"]


def test_validator_health_and_authorizer_run_in_the_private_subnets_of_their_region(any_platform):
    """The authorizer holds every client's key: in the VPC it has no internet egress (issue
    21; the CKV_AWS_117 acceptance for it is gone)."""
    stack = any_platform
    for role, _ in REGIONS:
        sg_name, _ = one(stack, "aws_security_group", role, "functions-sg")
        subnets = sorted(ref("aws_subnet", s, "id") for s in resources(stack, "aws_subnet", role))
        for purpose in ("validator", "health", "authorizer"):
            _, fn = one(stack, "aws_lambda_function", role, f"compute-{role}/{purpose}/function")
            assert sorted(fn["vpc_config"]["subnet_ids"]) == subnets
            assert fn["vpc_config"]["security_group_ids"] == [ref("aws_security_group", sg_name, "id")]


def test_execution_role_may_attach_only_to_its_own_subnets_and_group(any_platform):
    stack = any_platform
    for role, region in REGIONS:
        sg_name, _ = one(stack, "aws_security_group", role, "functions-sg")
        subnets = sorted(resources(stack, "aws_subnet", role))
        for purpose in ("validator", "health", "authorizer"):
            _, policy = one(stack, "aws_iam_role_policy", role, f"compute-{role}/{purpose}/policy")
            sts = {s["Sid"]: s for s in json.loads(policy["policy"])["Statement"]}
            create = sts["CreateInterfacesInPrivateSubnets"]
            assert create["Action"] == ["ec2:CreateNetworkInterface"]
            text = json.dumps(create["Resource"])
            assert all(f"subnet/${{aws_subnet.{s}.id}}" in text for s in subnets)
            assert f"security-group/${{aws_security_group.{sg_name}.id}}" in text
            assert all(f":ec2:{region}:" in r for r in create["Resource"])
            assert sts["ManageOwnInterfaces"]["Action"] == [
                "ec2:AssignPrivateIpAddresses", "ec2:DeleteNetworkInterface",
                "ec2:UnassignPrivateIpAddresses"]
            assert sts["ManageOwnInterfaces"]["Resource"][0].endswith(":network-interface/*")
            assert sts["DescribeNetwork"]["Resource"] == ["*"]


def test_interface_endpoints_are_chosen_and_reachable_only_from_the_functions(tmp_path):
    from cdktf import App, TerraformStack, Testing

    from modules.keys import RegionalKey
    from modules.naming import Names
    from modules.network import RegionalNetwork
    from modules.regions import build_region_pair
    from modules.settings import Settings

    settings = Settings()
    s = TerraformStack(App(outdir=str(tmp_path)), "s")
    names, regions = Names("dev"), build_region_pair(s, settings)
    key = RegionalKey(s, "key", region=regions.primary, names=names)
    RegionalNetwork(s, "net", region=regions.primary, names=names, settings=settings, key=key,
                    interface_endpoints=("xray", "kms"))
    synth = json.loads(Testing.synth(s))
    interface = {e["service_name"]: e for e in synth["resource"]["aws_vpc_endpoint"].values()
                 if e["vpc_endpoint_type"] == "Interface"}
    assert sorted(interface) == ["com.amazonaws.us-east-1.kms", "com.amazonaws.us-east-1.xray"]
    assert all(e["private_dns_enabled"] is True and len(e["subnet_ids"]) == 3
               for e in interface.values())
    sgs = synth["resource"]["aws_security_group"]
    fn_sg = next(n for n, g in sgs.items() if "functions" in g["name"])
    ep_sg = next(n for n, g in sgs.items() if "interface-endpoints" in g["name"])
    rot_sg = next(n for n, g in sgs.items() if "aurora-rotation" in g["name"])
    ingress = synth["resource"]["aws_vpc_security_group_ingress_rule"].values()
    assert all(rule["security_group_id"] == ref("aws_security_group", ep_sg, "id")
               and rule["from_port"] == rule["to_port"] == 443 for rule in ingress)
    # the functions and, in the primary region, the master secret's rotation function
    assert sorted(rule["referenced_security_group_id"] for rule in ingress) == sorted(
        ref("aws_security_group", sg, "id") for sg in (fn_sg, rot_sg))
    RegionalNetwork(s, "none", region=regions.primary, names=names, settings=settings, key=key,
                    interface_endpoints=())
    none = json.loads(Testing.synth(s))["resource"]["aws_vpc_endpoint"]
    assert len([n for n in none if n.startswith("none_") and "interface" in n]) == 0
    with pytest.raises(ValueError, match="not supported"):
        RegionalNetwork(s, "net2", region=regions.primary, names=names, settings=settings,
                        key=key, interface_endpoints=("ec2",))


def test_interface_endpoints_admit_only_this_accounts_principals_and_keys(prod_platform):
    """Endpoint policies (issue 21): without one, an interface endpoint admits any call by
    any principal, e.g. another account's credentials wrapping data with that account's key."""
    from test_ci_roles import decide

    account = "123456789012"
    endpoints = [e for e in resources(prod_platform, "aws_vpc_endpoint").values()
                 if e["vpc_endpoint_type"] == "Interface"]
    assert {e["service_name"].rsplit(".", 1)[1] for e in endpoints} == {"kms", "xray", "secretsmanager"}
    for endpoint in endpoints:
        region = endpoint["service_name"].split(".")[2]
        text = re.sub(r"\$\{data\.aws_partition\.[^}]+\}", "aws", endpoint["policy"])
        text = re.sub(r"\$\{data\.aws_caller_identity\.[^}]+\}", account, text)
        policy = json.loads(text)["Statement"]
        ours, theirs = {"aws:PrincipalAccount": account}, {"aws:PrincipalAccount": "999999999999"}
        if endpoint["service_name"].endswith("kms"):
            key = f"arn:aws:kms:{region}:{account}:key/1234"
            assert decide(policy, "kms:DescribeKey", key, ours) == "allow"
            assert decide(policy, "kms:DescribeKey", key, theirs) != "allow"
            assert decide(policy, "kms:Encrypt", f"arn:aws:kms:{region}:999999999999:key/1",
                          ours) != "allow"
            assert decide(policy, "kms:ScheduleKeyDeletion", key, ours) != "allow"
        elif endpoint["service_name"].endswith("secretsmanager"):
            secret = f"arn:aws:secretsmanager:{region}:{account}:secret:payments-dr/prod/client-keys-AbCdEf"
            assert decide(policy, "secretsmanager:GetSecretValue", secret, ours) == "allow"
            assert decide(policy, "secretsmanager:GetSecretValue", secret, theirs) != "allow"
            assert decide(policy, "secretsmanager:GetSecretValue",
                          secret.replace(account, "999999999999"), ours) != "allow"
            assert decide(policy, "secretsmanager:PutSecretValue", secret, ours) != "allow"
            # The master secret's rotation function (primary region only): its calls, on
            # that secret only.
            master = secret.replace("client-keys", "aurora-master")
            primary = region == "us-east-1"
            for action in ("secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"):
                assert (decide(policy, action, master, ours) == "allow") == primary, action
                assert decide(policy, action, master, theirs) != "allow"
            assert (decide(policy, "secretsmanager:GetRandomPassword", "*", ours) == "allow") == primary
            assert decide(policy, "secretsmanager:DeleteSecret", master, ours) != "allow"
        else:
            assert decide(policy, "xray:PutTraceSegments", "*", ours) == "allow"
            assert decide(policy, "xray:PutTraceSegments", "*", theirs) != "allow"
            assert decide(policy, "xray:BatchGetTraces", "*", ours) != "allow"
