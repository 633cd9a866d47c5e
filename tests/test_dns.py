"""DNS and failover: certificates (foundation), custom domains (regional stacks), health checks,
PRIMARY/SECONDARY records and the failback gate (routing), zone strategy, reserved names."""

from __future__ import annotations

import pytest
from helpers import data_sources, one, outputs, ref, resources
from platform_support import PROD, TUNED
from route53_gate_model import gate_statuses

ROLES = (("primary", "us-east-1"), ("dr", "us-east-2"))
DOMAIN = "payments-dev.example.com"


def _records(platform):
    return resources(platform, "aws_route53_record")


def test_one_certificate_per_region_for_the_domain_and_each_regions_own_name(platform):
    primary_cert, _ = one(platform, "aws_acm_certificate", "primary")
    records_name, records = one(platform, "aws_route53_record", None, "certificate-validation-records")
    # One record per validated name, from the primary's certificate, shared by both (ACM gives
    # the same CNAME per name and account in every region).
    # The set itself, keyed by domain_name (known at the first plan; tests/test_terraform.py
    # evaluates the expression with Terraform).
    assert records["for_each"] == (
        f"${{{{ for option in aws_acm_certificate.{primary_cert}.domain_validation_options : "
        "option.domain_name => option }}")
    assert records["allow_overwrite"] is True
    for role, _ in ROLES:
        cert_name, cert = one(platform, "aws_acm_certificate", role)
        assert cert["domain_name"] == DOMAIN
        assert cert["subject_alternative_names"] == [f"us-east-1.{DOMAIN}", f"us-east-2.{DOMAIN}"]
        assert cert["validation_method"] == "DNS"
        _, validation = one(platform, "aws_acm_certificate_validation", role)
        assert validation["certificate_arn"] == ref("aws_acm_certificate", cert_name, "arn")
        assert validation["validation_record_fqdns"] == (
            f"${{[ for key, val in aws_route53_record.{records_name}: val.fqdn]}}")
        # A zone nobody delegated to must not make `apply` hang for ever.
        assert validation["timeouts"]["create"] == "45m"


def test_each_region_serves_the_domain_and_its_own_name_on_its_stage(platform):
    for role, region in ROLES:
        validation_name, _ = one(platform, "aws_acm_certificate_validation", role)
        domains = resources(platform, "aws_api_gateway_domain_name", role)
        assert sorted(d["domain_name"] for d in domains.values()) == [DOMAIN, f"{region}.{DOMAIN}"]
        _, _stage = one(platform, "aws_api_gateway_stage", role)
        for name, domain in domains.items():
            assert domain["regional_certificate_arn"] == ref(
                "aws_acm_certificate_validation", validation_name, "certificate_arn")
            assert domain["endpoint_configuration"] == {"types": ["REGIONAL"]}
            assert domain["security_policy"] == "TLS_1_2"
            [mapping] = [m for m in resources(platform, "aws_api_gateway_base_path_mapping", role).values()
                         if m["domain_name"] == ref("aws_api_gateway_domain_name", name, "domain_name")]
            assert "base_path" not in mapping, "served at the root: https://<domain>/validate"


@pytest.mark.parametrize("profile, interval, latency", [("dev", 30, False), ("standard", 10, True)])
def test_health_checks_match_the_search_string_on_each_regions_own_name(
        profile, interval, latency, platform, standard_platform):
    stack = platform if profile == "dev" else standard_platform
    for role, region in ROLES:
        _, check = one(stack, "aws_route53_health_check", None, f"failover/{role}/health-check")
        assert check["type"] == "HTTPS_STR_MATCH"
        assert check["fqdn"] == f"{region}.{DOMAIN}"
        assert check["resource_path"] == "/health"
        assert check["search_string"] == "PAYMENTS_HEALTHY"
        # The dev profile checks every 30 s without latency graphs (a third of the requests).
        assert (check["port"], check["request_interval"], check["failure_threshold"]) == (443, interval, 3)
        assert check["measure_latency"] is latency
        assert check["enable_sni"] is True


def test_failover_pair_and_the_failback_gate_on_the_primary(platform):
    gate_name, gate = one(platform, "aws_route53_health_check", None, "failover/failback-gate")
    assert gate["type"] == "CLOUDWATCH_METRIC"
    assert gate["cloudwatch_alarm_name"] == "payments-dev-failback-blocked-dr"
    assert gate["cloudwatch_alarm_region"] == "us-east-2"
    # Missing data never moves the gate (test_failback_gate_missing_data_keeps_the_gate_as_it_was).
    assert gate["insufficient_data_health_status"] == "LastKnownStatus"
    primary_check, _ = one(platform, "aws_route53_health_check", None, "failover/primary/health-check")
    routing_name, routing = one(platform, "aws_route53_health_check", None,
                                "failover/primary/routing-health-check")
    assert routing["type"] == "CALCULATED" and routing["child_health_threshold"] == 2
    assert sorted(routing["child_healthchecks"]) == sorted([
        ref("aws_route53_health_check", primary_check, "id"),
        ref("aws_route53_health_check", gate_name, "id")])
    dr_check, _ = one(platform, "aws_route53_health_check", None, "failover/dr/health-check")
    expected = {"primary": ("PRIMARY", routing_name), "dr": ("SECONDARY", dr_check)}
    for role, region in ROLES:
        _, record = one(platform, "aws_route53_record", None, f"failover/{role}/failover-record")
        failover_type, check_name = expected[role]
        domain, _ = one(platform, "aws_api_gateway_domain_name", role, f"domains-{role}/shared-domain")
        assert record["name"] == DOMAIN and record["type"] == "A"
        assert record["failover_routing_policy"] == {"type": failover_type}
        assert record["set_identifier"] == f"{role}-{region}"
        assert record["health_check_id"] == ref("aws_route53_health_check", check_name, "id")
        assert record["alias"] == {
            "name": ref("aws_api_gateway_domain_name", domain, "regional_domain_name"),
            "zone_id": ref("aws_api_gateway_domain_name", domain, "regional_zone_id"),
            "evaluate_target_health": True}
        _, own = one(platform, "aws_route53_record", None, f"failover/{role}/own-record")
        own_domain, _ = one(platform, "aws_api_gateway_domain_name", role, f"domains-{role}/own-domain")
        assert own["name"] == f"{region}.{DOMAIN}"
        assert own["alias"]["name"] == ref("aws_api_gateway_domain_name", own_domain,
                                           "regional_domain_name")


def test_route53_lives_only_in_the_foundation_and_routing_stacks(stacks):
    """No regional stack plans anything in Route 53, whose control plane is in us-east-1."""
    for name in ("payments-dr-primary", "payments-dr-dr"):
        for rtype in ("aws_route53_record", "aws_route53_health_check", "aws_route53_zone"):
            assert not resources(stacks[name], rtype), (name, rtype)


def test_default_synth_creates_a_zone_and_outputs_its_name_servers(platform):
    zone_name, zone = one(platform, "aws_route53_zone")
    assert zone["name"] == DOMAIN
    assert outputs(platform)["hosted_zone_name_servers"]["value"] == ref(
        "aws_route53_zone", zone_name, "name_servers")
    assert outputs(platform)["hosted_zone_id"]["value"] == ref("aws_route53_zone", zone_name, "zone_id")


def test_existing_zone_is_used_by_id_and_no_zone_is_created(tuned_platform):
    stack = tuned_platform
    assert not resources(stack, "aws_route53_zone")
    [(zone_name, zone)] = data_sources(stack, "aws_route53_zone").items()
    assert zone["zone_id"] == TUNED["HOSTED_ZONE_ID"]
    for record in _records(stack).values():
        assert record["zone_id"] == f"${{data.aws_route53_zone.{zone_name}.zone_id}}"
    assert "hosted_zone_name_servers" not in outputs(stack)


def test_route53_alarms_and_checks_use_a_us_east_1_provider(platform, tuned_platform):
    for check in resources(platform, "aws_route53_health_check").values():
        assert check["provider"] == "aws.primary"  # us-east-1 is the primary region here
    stack = tuned_platform  # PRIMARY_REGION=us-west-2
    [global_provider] = [p for p in stack["provider"]["aws"] if p["alias"] == "global"]
    assert global_provider["region"] == "us-east-1"
    for check in resources(stack, "aws_route53_health_check").values():
        assert check["provider"] == "aws.global"


def _preconditions(resource: dict) -> list[dict]:
    return resource.get("lifecycle", {}).get("precondition", [])


def test_a_reserved_domain_guards_everything_that_would_serve_it(platform, prod_platform):
    """The zone, both certificates and the four API domains carry the reserved-name guard on
    `local.served_domain_names` (Terraform evaluates it: tests/test_terraform.py)."""
    guarded = [*resources(platform, "aws_acm_certificate").values(),
               *resources(platform, "aws_api_gateway_domain_name").values(),
               *resources(platform, "aws_route53_zone").values()]
    assert len(guarded) == 2 + 4 + 1
    for resource in guarded:
        [condition] = _preconditions(resource)
        assert "DOMAIN_NAME" in condition["error_message"]
        assert "HOSTED_ZONE_ID" in condition["error_message"]
        assert "local.served_domain_names[" in condition["condition"]
    for resource in resources(prod_platform, "aws_acm_certificate").values():
        [condition] = _preconditions(resource)
        assert f'local.served_domain_names["{PROD["DOMAIN_NAME"]}"]' in condition["condition"]


def test_health_check_outputs(platform):
    out = outputs(platform)
    for role, _ in ROLES:
        check, _ = one(platform, "aws_route53_health_check", None, f"failover/{role}/health-check")
        assert out[f"{role}_health_check_id"]["value"] == ref("aws_route53_health_check", check, "id")
    assert out["custom_domain_url"]["value"] == f"https://{DOMAIN}"


def _gate_and_alarm(platform):
    _, gate = one(platform, "aws_route53_health_check", None, "failover/failback-gate")
    [alarm] = [a for a in resources(platform, "aws_cloudwatch_metric_alarm").values()
               if a["alarm_name"] == gate["cloudwatch_alarm_name"]]
    return gate, alarm


@pytest.mark.parametrize("profile", ["platform", "prod_platform"])
def test_failback_gate_missing_data_keeps_the_gate_as_it_was(profile, request):
    """Route 53 reads the gate alarm's data stream (tests/route53_gate_model.py): once the
    probe has published FailbackBlocked=1, minutes without a datapoint (the probe cannot read
    the latch, PutMetricData fails, the DR region is dark) must not open the gate; and a
    silent probe must not close an open gate either (that would move traffic off a healthy
    primary because monitoring went quiet)."""
    gate, alarm = _gate_and_alarm(request.getfixturevalue(profile))
    blocked_then_silent = gate_statuses(alarm, gate, [0, 1, 1, None, None, None, None, None])
    assert blocked_then_silent[1:] == ["Unhealthy"] * 7, blocked_then_silent
    # Only a published 0 (an operator opened the latch: drctl failback) opens it again.
    assert gate_statuses(alarm, gate, [1, None, None, 0]) == ["Unhealthy"] * 3 + ["Healthy"]
    assert gate_statuses(alarm, gate, [0, 0, None, None, None]) == ["Healthy"] * 5
    # A new gate with no data yet does not keep the primary out of DNS.
    assert gate_statuses(alarm, gate, [None, None]) == ["Healthy", "Healthy"]
