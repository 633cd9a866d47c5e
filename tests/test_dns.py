"""Failover: certificates, custom domains, health checks, PRIMARY/SECONDARY records, zone strategy."""

from __future__ import annotations

from helpers import data_sources, one, outputs, ref, resources

ROLES = (("primary", "us-east-1"), ("dr", "us-east-2"))
ZONE_ID = "Z0123456789ABCDEFGHIJ"


def _existing_zone(synth_stacks):
    return synth_stacks(HOSTED_ZONE_ID=ZONE_ID)["payments-dr"]


def _no_us_east_1(synth_stacks):
    return synth_stacks(PRIMARY_REGION="us-west-2", DR_REGION="us-east-2")["payments-dr"]


def test_a_certificate_per_region_validated_through_one_shared_record(platform):
    record_name, record = one(platform, "aws_route53_record", None, "certificate-validation-record")
    assert len(resources(platform, "aws_route53_record")) == 3  # validation + PRIMARY + SECONDARY
    assert record["allow_overwrite"] is True
    primary_cert, _ = one(platform, "aws_acm_certificate", "primary")
    assert f"aws_acm_certificate.{primary_cert}.domain_validation_options" in record["name"]
    for role, _ in ROLES:
        cert_name, cert = one(platform, "aws_acm_certificate", role)
        assert cert["domain_name"] == "payments-dev.example.com"
        assert cert["validation_method"] == "DNS"
        _, validation = one(platform, "aws_acm_certificate_validation", role)
        assert validation["certificate_arn"] == ref("aws_acm_certificate", cert_name, "arn")
        assert validation["validation_record_fqdns"] == [ref("aws_route53_record", record_name, "fqdn")]
        # A zone nobody delegated to must not make `apply` hang for ever.
        assert validation["timeouts"]["create"] == "45m"


def test_regional_custom_domain_with_tls12_mapped_to_prod(platform):
    for role, _ in ROLES:
        validation_name, _ = one(platform, "aws_acm_certificate_validation", role)
        domain_name, domain = one(platform, "aws_api_gateway_domain_name", role)
        assert domain["domain_name"] == "payments-dev.example.com"
        assert domain["endpoint_configuration"]["types"] == ["REGIONAL"]
        assert domain["security_policy"] == "TLS_1_2"
        assert domain["regional_certificate_arn"] == ref(
            "aws_acm_certificate_validation", validation_name, "certificate_arn")
        _, mapping = one(platform, "aws_api_gateway_base_path_mapping", role)
        api_name, _ = one(platform, "aws_api_gateway_rest_api", role)
        stage_name, _ = one(platform, "aws_api_gateway_stage", role)
        assert mapping["domain_name"] == ref("aws_api_gateway_domain_name", domain_name, "domain_name")
        assert mapping["api_id"] == ref("aws_api_gateway_rest_api", api_name, "id")
        assert mapping["stage_name"] == ref("aws_api_gateway_stage", stage_name, "stage_name")


def test_health_checks_probe_each_regions_execute_api_host(platform):
    checks = resources(platform, "aws_route53_health_check")
    assert len(checks) == 2
    for role, region in ROLES:
        _, check = one(platform, "aws_route53_health_check", None, f"failover/{role}/health-check")
        api_name, _ = one(platform, "aws_api_gateway_rest_api", role)
        # Never the custom domain: that name follows the failover itself.
        assert check["fqdn"] == f"{ref('aws_api_gateway_rest_api', api_name, 'id')}.execute-api.{region}.amazonaws.com"
        assert check["type"] == "HTTPS"
        assert check["port"] == 443
        assert check["resource_path"] == "/prod/health"
        assert check["request_interval"] == 10
        assert check["failure_threshold"] == 3
        assert check["measure_latency"] is True
        assert check["enable_sni"] is True


def test_failover_pair_primary_and_secondary(platform):
    expected = {"primary": "PRIMARY", "dr": "SECONDARY"}
    zone_name, _ = one(platform, "aws_route53_zone", None)
    identifiers = set()
    for role, region in ROLES:
        _, record = one(platform, "aws_route53_record", None, f"failover/{role}/failover-record")
        check_name, _ = one(platform, "aws_route53_health_check", None, f"failover/{role}/health-check")
        domain_name, _ = one(platform, "aws_api_gateway_domain_name", role)
        assert record["name"] == "payments-dev.example.com" and record["type"] == "A"
        assert record["zone_id"] == ref("aws_route53_zone", zone_name, "zone_id")
        assert record["failover_routing_policy"] == {"type": expected[role]}
        assert record["health_check_id"] == ref("aws_route53_health_check", check_name, "id")
        assert record["alias"] == {
            "name": ref("aws_api_gateway_domain_name", domain_name, "regional_domain_name"),
            "zone_id": ref("aws_api_gateway_domain_name", domain_name, "regional_zone_id"),
            "evaluate_target_health": True,
        }
        identifiers.add(record["set_identifier"])
        assert region in record["set_identifier"]
    assert len(identifiers) == 2


def test_default_synth_creates_a_zone_and_outputs_its_name_servers(platform):
    zone_name, zone = one(platform, "aws_route53_zone", None)
    assert zone["name"] == "payments-dev.example.com"
    out = outputs(platform)
    assert out["hosted_zone_id"]["value"] == ref("aws_route53_zone", zone_name, "zone_id")
    assert out["hosted_zone_name_servers"]["value"] == ref("aws_route53_zone", zone_name, "name_servers")
    assert out["custom_domain_url"]["value"] == "https://payments-dev.example.com"
    assert not data_sources(platform, "aws_route53_zone")


def test_existing_zone_is_used_by_id_and_no_zone_is_created(synth_stacks):
    stack = _existing_zone(synth_stacks)
    assert not resources(stack, "aws_route53_zone")
    [(zone_name, zone)] = data_sources(stack, "aws_route53_zone").items()
    assert zone["zone_id"] == ZONE_ID
    zone_ref = f"${{data.aws_route53_zone.{zone_name}.zone_id}}"
    records = resources(stack, "aws_route53_record")
    assert len(records) == 3 and all(r["zone_id"] == zone_ref for r in records.values())
    out = outputs(stack)
    assert out["hosted_zone_id"]["value"] == zone_ref
    assert "hosted_zone_name_servers" not in out


def test_route53_resources_use_the_us_east_1_provider(platform, synth_stacks):
    # Default pair: the primary is us-east-1.
    for rtype in ("aws_route53_health_check", "aws_route53_record", "aws_route53_zone"):
        assert {r["provider"] for r in resources(platform, rtype).values()} == {"aws.primary"}
    # Neither region is us-east-1: a third provider, "global", pinned to us-east-1.
    stack = _no_us_east_1(synth_stacks)
    regions = {p["alias"]: p["region"] for p in stack["provider"]["aws"]}
    assert regions == {"primary": "us-west-2", "dr": "us-east-2", "global": "us-east-1"}
    for rtype in ("aws_route53_health_check", "aws_route53_record", "aws_route53_zone"):
        assert {r["provider"] for r in resources(stack, rtype).values()} == {"aws.global"}
    for role, region in (("primary", "us-west-2"), ("dr", "us-east-2")):
        assert one(stack, "aws_acm_certificate", role)[1]["provider"] == f"aws.{role}"
        _, check = one(stack, "aws_route53_health_check", None, f"failover/{role}/health-check")
        assert check["fqdn"].endswith(f".execute-api.{region}.amazonaws.com")


def test_health_check_outputs(platform):
    out = outputs(platform)
    for role, _ in ROLES:
        check_name, _ = one(platform, "aws_route53_health_check", None, f"failover/{role}/health-check")
        assert out[f"{role}_health_check_id"]["value"] == ref("aws_route53_health_check", check_name, "id")


def test_zone_address_matches_the_delegation_steps_in_the_docs(platform):
    # docs/failover.md tells users to `apply -target=` this exact address before delegating.
    from pathlib import Path

    zone_name, _ = one(platform, "aws_route53_zone", None)
    docs = (Path(__file__).resolve().parent.parent / "docs" / "failover.md").read_text()
    assert f"-target=aws_route53_zone.{zone_name}" in docs
