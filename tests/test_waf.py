"""WAF per region: Route 53-only /health, rate per IP, 413 body rule, managed groups, logs, alarm.

On the platform stacks as built: `waf-{role}` in each regional stack (modules/stack.py),
associated with that region's `api-{role}` stage; its alarm in `monitoring-{role}/api-alarms`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from helpers import data_sources, one, ref, resources

from contract import REGIONAL_STACKS

ROLES = ("primary", "dr")
LAMBDA_DIR = Path(__file__).resolve().parent.parent / "lambda"


def _acl(stack, role):
    return one(stack, "aws_wafv2_web_acl", role, f"waf-{role}/web-acl")


def _rules(stack, role):
    _, acl = _acl(stack, role)
    return {r["name"]: r for r in acl["rule"]}


def test_one_regional_web_acl_per_region_associated_with_that_regions_stage(platform, stacks):
    assert len(resources(platform, "aws_wafv2_web_acl")) == 2
    assert len(resources(platform, "aws_wafv2_web_acl_association")) == 2
    for role in ROLES:
        acl_name, acl = _acl(platform, role)
        stage_name, _ = one(platform, "aws_api_gateway_stage", role, f"api-{role}/stage")
        association_name, association = one(platform, "aws_wafv2_web_acl_association", role,
                                            f"waf-{role}/association")
        assert acl["scope"] == "REGIONAL" and acl["name"] == f"payments-waf-{role}-dev"
        assert acl["default_action"] == {"allow": {}}
        assert association["resource_arn"] == ref("aws_api_gateway_stage", stage_name, "arn")
        assert association["web_acl_arn"] == ref("aws_wafv2_web_acl", acl_name, "arn")
        # In the region's own stack, beside its stage: applied (and kept) with the API.
        own = stacks[REGIONAL_STACKS[role]]["resource"]
        assert acl_name in own["aws_wafv2_web_acl"] and stage_name in own["aws_api_gateway_stage"]
        assert own["aws_wafv2_web_acl_association"][association_name] == association
        # Both custom domains serve that one stage, so neither gets around the web ACL.
        mappings = list(resources(platform, "aws_api_gateway_base_path_mapping", role).values())
        assert len(mappings) == 2
        assert {m["stage_name"] for m in mappings} == {ref("aws_api_gateway_stage", stage_name, "stage_name")}


def test_health_only_from_route53_health_checker_ranges(platform):
    for role in ROLES:
        ranges = data_sources(platform, "aws_ip_ranges", role)
        assert [d["services"] for d in ranges.values()] == [["route53_healthchecks"]]
        (ranges_name,) = ranges
        sets = {s["ip_address_version"]: (n, s) for n, s in resources(platform, "aws_wafv2_ip_set", role).items()}
        assert sets["IPV4"][1]["addresses"] == f"${{data.aws_ip_ranges.{ranges_name}.cidr_blocks}}"
        assert sets["IPV6"][1]["addresses"] == f"${{data.aws_ip_ranges.{ranges_name}.ipv6_cidr_blocks}}"
        rules = _rules(platform, role)
        allow, block = rules["route53-health-checkers"], rules["health-only-for-route53"]
        # Evaluated first: the checkers are allowed before any rule that could block them.
        assert allow["priority"] == 0 and allow["action"] == {"allow": {}}
        path, from_route53 = allow["statement"]["and_statement"]["statement"]
        assert path["byte_match_statement"]["field_to_match"] == {"uri_path": {}}
        assert path["byte_match_statement"]["positional_constraint"] == "CONTAINS"
        assert [t["type"] for t in path["byte_match_statement"]["text_transformation"]] == [
            "URL_DECODE", "LOWERCASE"]
        assert path["byte_match_statement"]["search_string"] == "/health"
        assert [s["ip_set_reference_statement"]["arn"] for s in from_route53["or_statement"]["statement"]] == [
            ref("aws_wafv2_ip_set", sets[v][0], "arn") for v in ("IPV4", "IPV6")]
        # Everyone else asking for /health is blocked before API Gateway sees the request.
        assert block["priority"] == 1 and block["action"] == {"block": {}}
        assert block["statement"] == path


def _custom_response(rule):
    return rule["action"]["block"]["custom_response"]


def _body(stack, role, key):
    _, acl = _acl(stack, role)
    (found,) = [b for b in acl["custom_response_body"] if b["key"] == key]
    assert found["content_type"] == "APPLICATION_JSON"
    return json.loads(found["content"])


def test_rate_limit_per_client_ip_answers_429_with_retry_after(platform):
    for role in ROLES:
        rule = _rules(platform, role)["rate-per-ip"]
        statement = rule["statement"]["rate_based_statement"]
        assert statement["aggregate_key_type"] == "IP" and statement["evaluation_window_sec"] == 300
        # Sized from PEAK_PAYMENTS_PER_SECOND (10): one merchant NAT IP may send the whole peak
        # with 2x headroom for the whole window (10 x 2 x 300), above the old hard-coded 3000
        # that was exactly 10/s.
        assert statement["limit"] == 6000
        response = _custom_response(rule)
        assert response["response_code"] == 429
        assert response["response_header"] == [{"name": "Retry-After", "value": "60"},
                                               {"name": "Cache-Control", "value": "no-store"},
                                               {"name": "X-Content-Type-Options", "value": "nosniff"}]
        body = _body(platform, role, response["custom_response_body_key"])
        assert body["error"]["code"] == "TOO_MANY_REQUESTS" and body["error"]["retryAfterSeconds"] == 60
        assert body["error"]["outcome"] == "not_recorded"


def test_body_rule_matches_the_validators_413(platform):
    sys.path.insert(0, str(LAMBDA_DIR))
    from payments.core import MAX_BODY_BYTES
    for role in ROLES:
        rules = _rules(platform, role)
        rule = rules["body-over-8-kib"]
        size = rule["statement"]["size_constraint_statement"]
        assert size["comparison_operator"] == "GT" and size["size"] == MAX_BODY_BYTES
        # Bodies beyond WAF's 8 KB inspection window are "oversize": they must match.
        assert size["field_to_match"] == {"body": {"oversize_handling": "MATCH"}}
        response = _custom_response(rule)
        assert response["response_code"] == 413
        assert {"name": "Cache-Control", "value": "no-store"} in response["response_header"]
        assert _body(platform, role, response["custom_response_body_key"])["error"]["code"] == "PAYLOAD_TOO_LARGE"
        # It runs before the common rule set, whose 8 KB body rule would answer 403.
        assert rule["priority"] < rules["AWSManagedRulesCommonRuleSet"]["priority"]
        _, acl = _acl(platform, role)
        assert "association_config" not in acl  # the default 8 KB inspection limit is kept


def test_aws_managed_rule_groups_with_the_body_size_rule_counted(platform):
    for role in ROLES:
        rules = _rules(platform, role)
        for group in ("AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesCommonRuleSet",
                      "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesAnonymousIpList"):
            rule = rules[group]
            managed = rule["statement"]["managed_rule_group_statement"]
            assert (managed["name"], managed["vendor_name"]) == (group, "AWS")
            assert rule["override_action"] == {"none": {}}
            assert rule["visibility_config"]["cloudwatch_metrics_enabled"] is True
        overrides = rules["AWSManagedRulesCommonRuleSet"]["statement"]["managed_rule_group_statement"][
            "rule_action_override"]
        assert overrides == [{"name": "SizeRestrictions_BODY", "action_to_use": {"count": {}}}]
        hosting = rules["AWSManagedRulesAnonymousIpList"]["statement"]["managed_rule_group_statement"]
        assert hosting["rule_action_override"] == [
            {"name": "HostingProviderIPList", "action_to_use": {"count": {}}}]
        priorities = [r["priority"] for r in rules.values()]
        assert len(priorities) == len(set(priorities))


def test_logs_go_to_an_encrypted_retained_aws_waf_logs_group(platform):
    for role in ROLES:
        acl_name, _ = _acl(platform, role)
        group_name, group = one(platform, "aws_cloudwatch_log_group", role, f"waf-{role}/logs")
        key_name, _ = one(platform, "aws_kms_key", role, f"key-{role}")
        _, logging = one(platform, "aws_wafv2_web_acl_logging_configuration", role, f"waf-{role}/logging")
        assert group["name"].startswith("aws-waf-logs-")  # WAF accepts no other name
        assert group["kms_key_id"] == ref("aws_kms_key", key_name, "arn")
        assert group["retention_in_days"] == 14  # the dev profile (LOG_RETENTION_DAYS)
        assert logging["resource_arn"] == ref("aws_wafv2_web_acl", acl_name, "arn")
        assert logging["log_destination_configs"] == [ref("aws_cloudwatch_log_group", group_name, "arn")]
        assert {f["single_header"]["name"] for f in logging["redacted_fields"]} == {"x-signature", "authorization"}


def test_blocked_requests_alarm_per_region(platform):
    for role in ROLES:
        _, acl = _acl(platform, role)
        (alarm,) = [a for a in resources(platform, "aws_cloudwatch_metric_alarm", role).values()
                    if a["alarm_name"] == f"payments-dev-waf-blocked-requests-{role}"]
        assert f"/monitoring-{role}/api-alarms/" in alarm["//"]["metadata"]["path"]
        topic_name, _ = one(platform, "aws_sns_topic", role, f"monitoring-{role}/topic/topic")
        assert alarm["alarm_actions"] == [ref("aws_sns_topic", topic_name, "arn")]
        assert alarm["namespace"] == "AWS/WAFV2" and alarm["metric_name"] == "BlockedRequests"
        region = {"primary": "us-east-1", "dr": "us-east-2"}[role]
        assert alarm["dimensions"] == {"WebACL": acl["visibility_config"]["metric_name"],
                                       "Region": region, "Rule": "ALL"}
        assert acl["visibility_config"]["metric_name"] == acl["name"]
        assert alarm["statistic"] == "Sum" and alarm["threshold"] > 0


def test_one_client_id_from_one_ip_may_send_the_declared_peak_but_never_the_whole_stage(platform, stacks):
    """Issue 22: per-client quota. Keyed on the header the authorizer authenticates (the
    client's signing code names it) and the source IP; the limit is the peak over the window,
    below what the stage carries over it (peak x headroom), so one merchant cannot starve the rest."""
    sys.path.insert(0, str(LAMBDA_DIR))
    from ops.signing import CLIENT_ID_HEADER
    settings = {b["method_path"]: b["settings"]
                for body in stacks.values()
                for b in body.get("resource", {}).get("aws_api_gateway_method_settings", {}).values()}
    stage_rate = settings["*/*"]["throttling_rate_limit"]
    for role in ROLES:
        rules = _rules(platform, role)
        rule = rules["rate-per-client"]
        statement = rule["statement"]["rate_based_statement"]
        assert statement["aggregate_key_type"] == "CUSTOM_KEYS"
        [header, ip] = statement["custom_key"]
        assert header["header"]["name"].lower() == CLIENT_ID_HEADER.lower() and ip == {"ip": {}}
        window = statement["evaluation_window_sec"]
        assert statement["limit"] == 10 * window  # PEAK_PAYMENTS_PER_SECOND=10: a client at the peak passes
        assert statement["limit"] < stage_rate * window  # ... and leaves the stage's headroom to the others
        assert rule["priority"] < rules["AWSManagedRulesAmazonIpReputationList"]["priority"]
        assert _custom_response(rule)["response_code"] == 429
