"""WAF: one regional AWS WAFv2 web ACL per region, associated with that region's API stage.

Inputs: the region, names, settings, the region's key, its `RegionalApi`.
Outputs: `RegionalWaf.web_acl`, `.log_group`, `.metric_blocked_requests()`.

Rules, in evaluation order (lower priority first; Allow and Block end the evaluation). No
rule Allows: every request that passes the blocks goes on through all later rules, /health
from Route 53's checkers included.
0. `route53-health-checkers-rate`: `/health` from Route 53 health-checker ranges, more than
   `ROUTE53_CHECKER_RATE_LIMIT` requests in 5 minutes from one checker IP -> 429. One of our
   checks sends at most 30 per 5 minutes per checker IP (10 s interval): 10x headroom. The
   ranges are shared by every AWS customer's checks; this caps what anyone's checks cost us
   (each call writes a locked S3 object), it does not tell our checks from theirs
   (docs/compliance.md, requirement 6.4.2: the residual risk and its bound).
1. `health-only-for-route53`: `/health` from anywhere else -> Block (403, WAF_FILTERED in
   the API's error shape). A flood of GET /health from the internet never reaches API
   Gateway's health bucket or the health function, so it cannot fail the region over.
3. `body-over-8-kib`: body larger than the validator's MAX_BODY_BYTES (8192) -> 413 in the
   validator's shape (`PAYLOAD_TOO_LARGE`). WAF forwards at most the first 8 KB of an API
   Gateway body (the default inspection limit, kept): a larger body is "oversize" and
   `oversize_handling = MATCH` makes it match; a body of 8192 bytes or less is compared.
3b. `rate-per-client` (priority 4, after the body rule): more than
   `Settings.waf_rate_limit_per_client` requests in 5 minutes with one `X-Client-Id` (the
   header the authorizer authenticates) from one IP -> the same 429. Sized from the peak
   without its headroom (default 10/s x 300 s = 3000): one merchant can send the declared
   peak, never the whole stage (peak x 2), so it cannot starve the others. Keyed on the id
   AND the IP because WAF runs before the authorizer: keyed on the id alone, anyone who
   knows a merchant's id (it is not secret) could spend that merchant's quota with unsigned
   requests. A merchant spreading one id over several IPs gets a quota per IP; per-client
   limits after authentication would be API Gateway usage plans (the authorizer returning
   `usageIdentifierKey`), not built. Requests without the header are not counted here (the
   gateway refuses them: 401).
4. `AWSManagedRulesAmazonIpReputationList`, 5. `AWSManagedRulesCommonRuleSet` with
   `SizeRestrictions_BODY` overridden to Count (it blocks bodies over 8 KB with a 403, which
   would contradict the validator's 413; rule 3 answers those with 413 first), 6.
   `AWSManagedRulesKnownBadInputsRuleSet` (Log4j and other known exploit inputs), 7.
   `AWSManagedRulesAnonymousIpList` with `HostingProviderIPList` overridden to Count
   (merchant servers and the peer probe function run in cloud hosting ranges).
Default action: Allow (the authorizer and the validator decide the rest). Route 53's checkers
pass the later rules as any client does: their rate is far under rule 2's, their bodies are
empty, they send a User-Agent (CommonRuleSet's NoUserAgent_HEADER), and AWS's own ranges are
not in its reputation or anonymous-IP lists (HostingProviderIPList only counts).

Route 53 ranges: `aws_ip_ranges` (services `route53_healthchecks`) downloads
https://ip-ranges.amazonaws.com/ip-ranges.json at EVERY plan and refresh. Consequences:
- Planning needs that global URL (not either region's endpoints): reachable while a region
  is down, but a plan from an isolated network fails.
- The IP sets hold the ranges of the last apply. When AWS adds checker ranges, those
  checkers are blocked (403) until the next apply; Route 53 calls an endpoint healthy while
  more than 18 % of its checkers say so, so a few new ranges do not fail a region over, but
  re-apply regularly (any plan shows the drift as an IP-set change).
- A removed range stays allowed until the next apply (AWS no longer uses it).

Logging: every request to a CloudWatch log group whose name starts with `aws-waf-logs-`
(WAF requires the prefix), encrypted with the region's key, retained per settings. WAF adds
the log group's resource policy for `delivery.logs.amazonaws.com` itself on first use
(policy `AWSWAF-LOGS`); the deploying principal needs logs:PutResourcePolicy for that.
"""

from __future__ import annotations

import json
from typing import Any

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.data_aws_ip_ranges import DataAwsIpRanges
from cdktf_cdktf_provider_aws.wafv2_ip_set import Wafv2IpSet
from cdktf_cdktf_provider_aws.wafv2_web_acl import (
    Wafv2WebAcl,
    Wafv2WebAclCustomResponseBody,
    Wafv2WebAclDefaultAction,
    Wafv2WebAclDefaultActionAllow,
    Wafv2WebAclRule,
    Wafv2WebAclRuleAction,
    Wafv2WebAclRuleActionBlock,
    Wafv2WebAclRuleActionBlockCustomResponse,
    Wafv2WebAclRuleActionBlockCustomResponseResponseHeader,
    Wafv2WebAclRuleOverrideAction,
    Wafv2WebAclRuleOverrideActionNone,
    Wafv2WebAclRuleVisibilityConfig,
    Wafv2WebAclVisibilityConfig,
)
from cdktf_cdktf_provider_aws.wafv2_web_acl_association import Wafv2WebAclAssociation
from cdktf_cdktf_provider_aws.wafv2_web_acl_logging_configuration import (
    Wafv2WebAclLoggingConfiguration,
    Wafv2WebAclLoggingConfigurationRedactedFields,
    Wafv2WebAclLoggingConfigurationRedactedFieldsSingleHeader,
)
from constructs import Construct

from contract import ERROR_HEADERS as CONTRACT_ERROR_HEADERS
from contract import api_error
from modules.api import HEALTH_PATH, RegionalApi
from modules.keys import RegionalKey
from modules.metrics import Metric
from modules.naming import Names
from modules.regions import Region
from modules.settings import WAF_RATE_WINDOW_S, Settings

# The header the authorizer authenticates the client by (lambda/ops/signing.py CLIENT_ID_HEADER).
CLIENT_ID_HEADER = "X-Client-Id"

ROUTE53_HEALTHCHECKS_SERVICE = "route53_healthchecks"
# Route 53 checks one endpoint from each checker about every request interval (10 s
# standard, 30 s dev): at most 30 requests per 5 minutes per checker IP for our one check per
# host; the limit leaves 10x for checker IPs shared by several checks.
ROUTE53_CHECKER_RATE_LIMIT = 300
RATE_LIMIT_RETRY_AFTER_S = 60  # WAF re-evaluates about every 10 s over a 5-minute window
MAX_BODY_BYTES = 8 * 1024  # = lambda/payments/core.py MAX_BODY_BYTES (tests check they agree)
MANAGED_RULE_GROUPS = (
    ("AWSManagedRulesAmazonIpReputationList", ()),
    # Rule names whose action becomes Count: SizeRestrictions_BODY answers >8 KB with 403.
    ("AWSManagedRulesCommonRuleSet", ("SizeRestrictions_BODY",)),
    ("AWSManagedRulesKnownBadInputsRuleSet", ()),
    # Tor exit nodes, anonymous proxies and VPNs are blocked; HostingProviderIPList only
    # counts: merchants' servers and the peer region's probe function run in clouds.
    ("AWSManagedRulesAnonymousIpList", ("HostingProviderIPList",)),
)
# WAF log fields never needed for forensics that identify a request's credentials.
REDACTED_HEADERS = ("x-signature", "authorization")

TOO_MANY_REQUESTS_BODY = json.dumps(api_error(
    "TOO_MANY_REQUESTS", "too many requests from this address: nothing was written, retry later",
    outcome="not_recorded", retry_after_s=RATE_LIMIT_RETRY_AFTER_S), separators=(",", ":"))
#: The headers every error of the API carries (the functions' and API Gateway's): an error must
#: never be cached by a proxy and replayed to a retry.
ERROR_HEADERS = CONTRACT_ERROR_HEADERS
PAYLOAD_TOO_LARGE_BODY = json.dumps(api_error(
    "PAYLOAD_TOO_LARGE", f"request body exceeds {MAX_BODY_BYTES} bytes"), separators=(",", ":"))


def _visibility(metric_name: str) -> Wafv2WebAclRuleVisibilityConfig:
    return Wafv2WebAclRuleVisibilityConfig(cloudwatch_metrics_enabled=True,
                                           metric_name=metric_name, sampled_requests_enabled=True)


def _health_path() -> dict[str, Any]:
    """Any path naming /health ("/health", "/health/", "/HEALTH", "/%68ealth", "/prod/health"):
    whatever API Gateway might route to the health resource is matched."""
    return {"byte_match_statement": {
        "field_to_match": {"uri_path": {}}, "positional_constraint": "CONTAINS",
        "search_string": f"/{HEALTH_PATH}",
        "text_transformation": [{"priority": 0, "type": "URL_DECODE"},
                                {"priority": 1, "type": "LOWERCASE"}],
    }}


class RegionalWaf(Construct):
    """The web ACL of one region, its Route 53 IP sets, logging and stage association."""

    def __init__(self, scope: Construct, id: str, *, region: Region, names: Names,
                 settings: Settings, key: RegionalKey, api: RegionalApi):
        super().__init__(scope, id)
        p = region.provider
        self.region = region
        self.name = names.regional("waf", region.role)
        self.route53_ranges = DataAwsIpRanges(self, "route53-health-checker-ranges", provider=p,
                                              services=[ROUTE53_HEALTHCHECKS_SERVICE])
        self.ip_sets = {
            version: Wafv2IpSet(
                self, f"route53-health-checkers-{version.lower()}", provider=p,
                name=names.regional(f"route53-checkers-{version.lower()}", region.role),
                # WAFv2's EntityDescription pattern refuses parentheses and most punctuation
                # (scripts/api_constraints.py checks every description against it).
                description="Route 53 health-checker ranges from ip-ranges.amazonaws.com",
                scope="REGIONAL", ip_address_version=version, addresses=addresses)
            for version, addresses in (("IPV4", self.route53_ranges.cidr_blocks),
                                       ("IPV6", self.route53_ranges.ipv6_cidr_blocks))
        }
        from_route53 = {"or_statement": {"statement": [
            {"ip_set_reference_statement": {"arn": s.arn}} for s in self.ip_sets.values()]}}

        rules = [
            Wafv2WebAclRule(
                name="route53-health-checkers-rate", priority=0,
                action=_too_many_requests(),
                statement={"rate_based_statement": {
                    "limit": ROUTE53_CHECKER_RATE_LIMIT, "aggregate_key_type": "IP",
                    "evaluation_window_sec": WAF_RATE_WINDOW_S,
                    "scope_down_statement": {"and_statement": {"statement": [
                        _health_path(), from_route53]}}}},
                visibility_config=_visibility("route53-health-checkers-rate")),
            Wafv2WebAclRule(
                name="health-only-for-route53", priority=1,
                action=Wafv2WebAclRuleAction(block=Wafv2WebAclRuleActionBlock()),
                statement={"and_statement": {"statement": [
                    _health_path(), {"not_statement": {"statement": [from_route53]}}]}},
                visibility_config=_visibility("health-only-for-route53")),
            Wafv2WebAclRule(
                name="rate-per-ip", priority=2,
                action=_too_many_requests(),
                statement={"rate_based_statement": {
                    "limit": settings.waf_rate_limit_per_ip, "aggregate_key_type": "IP",
                    "evaluation_window_sec": WAF_RATE_WINDOW_S}},
                visibility_config=_visibility("rate-per-ip")),
            Wafv2WebAclRule(
                name="rate-per-client", priority=4,
                action=_too_many_requests(),
                statement={"rate_based_statement": {
                    "limit": settings.waf_rate_limit_per_client, "aggregate_key_type": "CUSTOM_KEYS",
                    "custom_key": [
                        {"header": {"name": CLIENT_ID_HEADER.lower(),
                                    "text_transformation": [{"priority": 0, "type": "NONE"}]}},
                        {"ip": {}}],
                    "evaluation_window_sec": WAF_RATE_WINDOW_S}},
                visibility_config=_visibility("rate-per-client")),
            Wafv2WebAclRule(
                name="body-over-8-kib", priority=3,
                action=_block(413, "payload-too-large", ERROR_HEADERS),
                statement={"size_constraint_statement": {
                    "field_to_match": {"body": {"oversize_handling": "MATCH"}},
                    "comparison_operator": "GT", "size": MAX_BODY_BYTES,
                    "text_transformation": [{"priority": 0, "type": "NONE"}]}},
                visibility_config=_visibility("body-over-8-kib")),
        ]
        for offset, (group, counted) in enumerate(MANAGED_RULE_GROUPS):
            managed: dict[str, Any] = {"name": group, "vendor_name": "AWS"}
            if counted:
                managed["rule_action_override"] = [
                    {"name": rule, "action_to_use": {"count": {}}} for rule in counted]
            rules.append(Wafv2WebAclRule(
                name=group, priority=10 + offset,
                override_action=Wafv2WebAclRuleOverrideAction(
                    none=Wafv2WebAclRuleOverrideActionNone()),
                statement={"managed_rule_group_statement": managed},
                visibility_config=_visibility(group)))

        self.web_acl = Wafv2WebAcl(
            self, "web-acl", provider=p, name=self.name, scope="REGIONAL",
            description=f"Payments API {region.role}: Route 53-only health, rate, size, "
                        "AWS managed rules",
            default_action=Wafv2WebAclDefaultAction(allow=Wafv2WebAclDefaultActionAllow()),
            rule=rules,
            custom_response_body=[
                Wafv2WebAclCustomResponseBody(key="too-many-requests",
                                              content=TOO_MANY_REQUESTS_BODY,
                                              content_type="APPLICATION_JSON"),
                Wafv2WebAclCustomResponseBody(key="payload-too-large",
                                              content=PAYLOAD_TOO_LARGE_BODY,
                                              content_type="APPLICATION_JSON"),
            ],
            # The web ACL's metric name is its name: the WebACL dimension of AWS/WAFV2.
            visibility_config=Wafv2WebAclVisibilityConfig(
                cloudwatch_metrics_enabled=True, metric_name=self.name,
                sampled_requests_enabled=True),
        )
        self.association = Wafv2WebAclAssociation(
            self, "association", provider=p, resource_arn=api.stage.arn,
            web_acl_arn=self.web_acl.arn)
        self.log_group = CloudwatchLogGroup(
            self, "logs", provider=p, name=f"aws-waf-logs-{self.name}",
            retention_in_days=settings.log_retention_days, kms_key_id=key.arn)
        self.logging = Wafv2WebAclLoggingConfiguration(
            self, "logging", provider=p, resource_arn=self.web_acl.arn,
            log_destination_configs=[self.log_group.arn],
            redacted_fields=[
                Wafv2WebAclLoggingConfigurationRedactedFields(
                    single_header=Wafv2WebAclLoggingConfigurationRedactedFieldsSingleHeader(
                        name=header))
                for header in REDACTED_HEADERS])

    def metric_blocked_requests(self) -> Metric:
        """Requests this web ACL blocked (all rules), per 5 minutes."""
        return Metric("AWS/WAFV2", "BlockedRequests",
                      {"WebACL": self.name, "Region": self.region.name, "Rule": "ALL"},
                      statistic="Sum", period=300)


def _too_many_requests() -> Wafv2WebAclRuleAction:
    """Every rate rule's answer: 429 with Retry-After and the API's error headers."""
    return _block(429, "too-many-requests", {"Retry-After": str(RATE_LIMIT_RETRY_AFTER_S), **ERROR_HEADERS})


def _block(status: int, body_key: str, headers: dict[str, str] | None = None) -> Wafv2WebAclRuleAction:
    return Wafv2WebAclRuleAction(block=Wafv2WebAclRuleActionBlock(
        custom_response=Wafv2WebAclRuleActionBlockCustomResponse(
            response_code=status, custom_response_body_key=body_key,
            response_header=[
                Wafv2WebAclRuleActionBlockCustomResponseResponseHeader(name=k, value=v)
                for k, v in (headers or {}).items()] or None)))
