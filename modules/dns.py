"""DNS and failover: one custom domain served by both regions, switched by Route 53.

Three pieces, one per stack that owns them:
- `DomainCertificates` (foundation stack): the zone (created, or HOSTED_ZONE_ID's), and in each
  region an ACM certificate for DOMAIN_NAME plus one name per region
  (`<region>.<DOMAIN_NAME>`), validated by DNS. Applied before the regional stacks.
- `RegionalDomains` (each regional stack): API Gateway custom domains for DOMAIN_NAME and for
  this region's own name, mapped to the region's stage. Route 53 health checks, the other
  region's probe and drills reach one region through its own name.
- `Failover` (routing stack, after both regions): health checks, the failover records, the
  per-region records and the failback gate.

How it fails over (docs/failover.md has the numbers): each region is probed on its own name
at `/health` (a deep check through API Gateway, Lambda and every store a payment needs),
matching `HEALTH_SEARCH_STRING`. The PRIMARY record answers while its health passes; when it
fails, Route 53's data plane answers with the SECONDARY record. Nobody applies anything
during an outage, so failover works while the primary region's control plane is down.

Failback is a decision (`FAILBACK_GATE`): the PRIMARY record's health is a calculated check
"primary endpoint healthy AND failback gate open". The gate watches a CloudWatch alarm in the
DR region that mirrors a latch the DR region's probe closes when the primary goes dark; only
an operator opens it again (`drctl failback`, after replication has caught up).

Route 53 reads the gate alarm's *data stream*, not its state (`treat_missing_data` plays no
part there): minutes without a `FailbackBlocked` datapoint (the probe cannot read the latch,
PutMetricData fails, the DR region is dark) are "insufficient data". The gate then keeps its
last known status (`GATE_INSUFFICIENT_DATA`): a closed gate stays closed until a 0 is read
(an operator opened the latch), an open gate stays open (a silent probe must not move
traffic off a healthy primary). `Healthy` would open a closed gate whenever one minute lacks a
datapoint; `Unhealthy` would fail a healthy primary over whenever the DR probe goes quiet.
The gate cannot keep both regions out of DNS: when every record of the failover pair is
unhealthy, Route 53 answers as if all were healthy, i.e. with the PRIMARY record.

Every plan of a stack with the domain stops (a precondition) while DOMAIN_NAME is a reserved
name (example.com, .test, ...): the default synth works for tests and review, but no apply
can wait 45 minutes for a certificate that can never validate.
"""

from __future__ import annotations

import hashlib
import re

from cdktf import (
    TerraformIterator,
    TerraformLocal,
    TerraformResource,
    TerraformResourceLifecycle,
    TerraformStack,
    Token,
)
from cdktf_cdktf_provider_aws.acm_certificate import AcmCertificate
from cdktf_cdktf_provider_aws.acm_certificate_validation import (
    AcmCertificateValidation,
    AcmCertificateValidationTimeouts,
)
from cdktf_cdktf_provider_aws.api_gateway_base_path_mapping import ApiGatewayBasePathMapping
from cdktf_cdktf_provider_aws.api_gateway_domain_name import (
    ApiGatewayDomainName,
    ApiGatewayDomainNameEndpointConfiguration,
)
from cdktf_cdktf_provider_aws.data_aws_route53_zone import DataAwsRoute53Zone
from cdktf_cdktf_provider_aws.route53_health_check import Route53HealthCheck
from cdktf_cdktf_provider_aws.route53_record import (
    Route53Record,
    Route53RecordAlias,
    Route53RecordFailoverRoutingPolicy,
)
from cdktf_cdktf_provider_aws.route53_zone import Route53Zone
from constructs import Construct

from contract import (
    DR,
    HEALTH_PATH,
    HEALTH_SEARCH_STRING,
    PRIMARY,
    RESERVED_DOMAINS,
    RESERVED_TLDS,
    ROUTE53_METRICS_REGION,
    regional_host,
)
from modules.api import RegionalApi
from modules.naming import Names
from modules.regions import Region, RegionPair, build_region
from modules.settings import Settings

GLOBAL = "global"

HEALTH_CHECK_PORT = 443
# Fastest standard interval; with 3 consecutive failures a region is declared unhealthy after
# about 30 s. 3 rather than 2: one cold start or one lost packet on a single checker must not
# move payment traffic to the other region (and back), which costs more than 10 s of RTO.
HEALTH_CHECK_INTERVAL_S = 10
HEALTH_CHECK_FAILURE_THRESHOLD = 3
# The failback gate on missing FailbackBlocked data (module docstring): neither opens nor closes.
GATE_INSUFFICIENT_DATA = "LastKnownStatus"
# Dev profile: Route 53's standard interval, no latency graphs. A third of the checker
# requests (each one runs the /health chain: API Gateway, WAF, Lambda, DynamoDB, S3) and two
# fewer optional features per check; a region is declared unhealthy after ~90 s, not ~30 s.
DEV_HEALTH_CHECK_INTERVAL_S = 30


def health_check_interval(settings: Settings) -> int:
    return DEV_HEALTH_CHECK_INTERVAL_S if settings.is_dev_profile else HEALTH_CHECK_INTERVAL_S


# Route 53's full set of checker regions (its default), written out: without `regions`,
# provider 6.25.0 reads back the set AWS fills in later and plans a change that the API then
# refuses (hashicorp/terraform-provider-aws#45824, fixed in 6.29.0). The WAF admits these
# checkers by the published ROUTE53_HEALTHCHECKS ranges. Botocore: HealthCheckRegion, 3-64.
HEALTH_CHECK_REGIONS: list[str] = ["us-east-1", "us-west-1", "us-west-2", "eu-west-1",
                                   "ap-southeast-1", "ap-southeast-2", "ap-northeast-1",
                                   "sa-east-1"]
# The provider appends "-terraform-<26 digits>" to `reference_name` and CallerReference holds
# 64, so it refuses more than 64 - 26 - 11 = 27 characters (terraform-provider-aws
# internal/service/route53/health_check.go; scripts/api_constraints.py checks it).
REFERENCE_NAME_MAX = 27
CERTIFICATE_VALIDATION_TIMEOUT = "45m"
VALIDATION_RECORD_TTL = 300
TLS_POLICY = "TLS_1_2"

# The same rule as contract.reserved_domain, written as a Terraform expression so that the
# plan itself refuses a reserved name (a `check` block would only warn).
SERVED_NAMES_LOCAL = "served_domain_names"
_RESERVED_NAME_REGEX = (
    r"(^|\.)(" + "|".join(re.escape(d) for d in RESERVED_DOMAINS) + r")$"
    r"|\.(" + "|".join(RESERVED_TLDS) + r")$"
)


def reference_name(*parts: str) -> str:
    """A health check's `reference_name`: the parts joined, or when longer than the provider
    allows, their prefix and a digest of the whole (deterministic, and distinct per name)."""
    name = "-".join(parts)
    if len(name) <= REFERENCE_NAME_MAX:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[:REFERENCE_NAME_MAX - len(digest) - 1].rstrip('-')}-{digest}"


class _ServedNames(TerraformLocal):
    """The stack's `local.served_domain_names` ({name: name}), filled by
    `add_domain_precondition`. Terraform refuses a precondition that refers to no object
    (internal/configs/checks.go), so the guard tests this local rather than a literal."""

    def __init__(self, stack: TerraformStack):
        super().__init__(stack, SERVED_NAMES_LOCAL, {})
        self.override_logical_id(SERVED_NAMES_LOCAL)
        self.names: dict[str, str] = {}

    @classmethod
    def of(cls, resource: TerraformResource) -> _ServedNames:
        stack = TerraformStack.of(resource)
        existing = stack.node.try_find_child(SERVED_NAMES_LOCAL)
        return existing if isinstance(existing, cls) else cls(stack)

    def add(self, name: str) -> str:
        """Adds `name`; returns the HCL reference to it."""
        self.names[name] = name
        self.expression = dict(self.names)
        return f'local.{SERVED_NAMES_LOCAL}["{name}"]'


def add_domain_precondition(resource: TerraformResource, domain_name: str) -> None:
    """A lifecycle precondition that stops any plan of `resource` while `domain_name` is a
    reserved name: `!can(regex(<contract rule>, local.served_domain_names["<name>"]))`."""
    reference = _ServedNames.of(resource).add(domain_name)
    expression = _RESERVED_NAME_REGEX.replace("\\", "\\\\")
    resource.add_override("lifecycle.precondition", [{
        "condition": f'${{!can(regex("{expression}", {reference}))}}',
        "error_message": (
            f"DOMAIN_NAME is {domain_name}, a reserved name that Route 53 and ACM can never "
            "serve (RFC 2606/6761). Set DOMAIN_NAME to a name you own and HOSTED_ZONE_ID to "
            "its public hosted zone (or delegate the created zone first: docs/failover.md), "
            "synthesize again, then plan."
        ),
    }])


def route53_metrics_region(scope: Construct, *, regions: RegionPair | None, settings: Settings) -> Region:
    """A provider in us-east-1 for Route 53's metrics and alarms (a third one if needed)."""
    for region in regions or ():
        if region.name == ROUTE53_METRICS_REGION:
            return region
    return build_region(scope, role=GLOBAL, name=ROUTE53_METRICS_REGION, settings=settings)


class DomainCertificates(Construct):
    """Foundation stack: the zone and one certificate per region for every served name.

    Outputs: `zone_id`, `name_servers` (created zone only), `certificate_arns[role]`."""

    def __init__(self, scope: Construct, id: str, *, settings: Settings, names: Names,
                 regions: RegionPair):
        super().__init__(scope, id)
        domain = settings.domain_name
        dns_provider = regions.primary.provider  # Route 53 is global; any provider reaches it
        self.created_zone: Route53Zone | None = None
        if settings.hosted_zone_id:
            zone = DataAwsRoute53Zone(self, "zone", provider=dns_provider,
                                      zone_id=settings.hosted_zone_id)
            self.zone_id = zone.zone_id
        else:
            self.created_zone = Route53Zone(
                self, "zone", provider=dns_provider, name=domain,
                comment=f"payments-dr {names.env}: delegate from the parent zone before deploy",
            )
            add_domain_precondition(self.created_zone, domain)
            self.zone_id = self.created_zone.zone_id
        served = [regional_host(domain, r.name) for r in regions]
        self.certificates: dict[str, AcmCertificate] = {}
        self.validations: dict[str, AcmCertificateValidation] = {}
        for region in regions:
            certificate = AcmCertificate(
                self, f"certificate-{region.role}", provider=region.provider,
                domain_name=domain, subject_alternative_names=served,
                validation_method="DNS", key_algorithm="RSA_2048",
                lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
            )
            add_domain_precondition(certificate, domain)
            self.certificates[region.role] = certificate
        # ACM gives every certificate for the same name in one account the same validation
        # CNAME, so the records are created once (from the primary's certificate) for both.
        # The for_each map iterates the *set* by domain_name, whose keys are known at the first
        # plan. (TerraformIterator.from_complex_list would render `tolist(set)`: a set with
        # partly unknown elements becomes a wholly unknown list, and the first plan fails with
        # "Invalid for_each argument" - hashicorp/terraform-cdk#3627.)
        primary_certificate = self.certificates[PRIMARY]
        options = TerraformIterator.from_map(Token.as_any_map(
            f"${{{{ for option in {primary_certificate.terraform_resource_type}."
            f"{primary_certificate.friendly_unique_id}.domain_validation_options : "
            "option.domain_name => option }}"))
        self.validation_records = Route53Record(
            self, "certificate-validation-records", provider=dns_provider, for_each=options,
            zone_id=self.zone_id, name=options.get_string("resource_record_name"),
            type=options.get_string("resource_record_type"),
            records=[options.get_string("resource_record_value")],
            ttl=VALIDATION_RECORD_TTL,
            # The same CNAME may already exist (an earlier certificate for this name).
            allow_overwrite=True,
        )
        fqdns = TerraformIterator.from_resources(self.validation_records).pluck_property("fqdn")
        for region in regions:
            self.validations[region.role] = AcmCertificateValidation(
                self, f"certificate-validation-{region.role}", provider=region.provider,
                certificate_arn=self.certificates[region.role].arn,
                validation_record_fqdns=Token.as_list(fqdns),
                timeouts=AcmCertificateValidationTimeouts(create=CERTIFICATE_VALIDATION_TIMEOUT),
            )

    @property
    def name_servers(self) -> list[str] | None:
        return self.created_zone.name_servers if self.created_zone else None

    def certificate_arn(self, role: str) -> str:
        """The validated certificate: an API domain using it waits for validation."""
        return self.validations[role].certificate_arn


class RegionalDomains(Construct):
    """Regional stack: API Gateway custom domains for DOMAIN_NAME and `<region>.<DOMAIN_NAME>`.

    Outputs: `shared` and `own` (ApiGatewayDomainName), `own_host`."""

    def __init__(self, scope: Construct, id: str, *, region: Region, domain_name: str,
                 certificate_arn: str, api: RegionalApi):
        super().__init__(scope, id)
        self.own_host = regional_host(domain_name, region.name)
        self.shared = self._domain("shared", region, domain_name, certificate_arn, api)
        self.own = self._domain("own", region, self.own_host, certificate_arn, api)

    def _domain(self, id: str, region: Region, name: str, certificate_arn: str,
                api: RegionalApi) -> ApiGatewayDomainName:
        domain = ApiGatewayDomainName(
            self, f"{id}-domain", provider=region.provider, domain_name=name,
            regional_certificate_arn=certificate_arn,
            endpoint_configuration=ApiGatewayDomainNameEndpointConfiguration(types=["REGIONAL"]),
            security_policy=TLS_POLICY,
        )
        add_domain_precondition(domain, name)
        ApiGatewayBasePathMapping(
            self, f"{id}-base-path-mapping", provider=region.provider,
            domain_name=domain.domain_name, api_id=api.rest_api.id,
            stage_name=api.stage.stage_name,
        )
        return domain


class RegionalEndpoint(Construct):
    """One region's side in Route 53: its health check, own-name record and failover record."""

    def __init__(self, scope: Construct, id: str, *, role: str, region_name: str, names: Names,
                 domain_name: str, zone_id: str, domains: RegionalDomains,
                 dns: Region, gate: Route53HealthCheck | None, request_interval: int,
                 measure_latency: bool):
        super().__init__(scope, id)
        p = dns.provider
        own_host = regional_host(domain_name, region_name)
        target_name, target_zone = _alias_target(domains, "own")
        self.own_record = Route53Record(
            self, "own-record", provider=p, zone_id=zone_id, name=own_host, type="A",
            alias=Route53RecordAlias(name=target_name, zone_id=target_zone,
                                     evaluate_target_health=False),
        )
        self.health_check = Route53HealthCheck(
            self, "health-check", provider=p,
            type="HTTPS_STR_MATCH", fqdn=own_host, port=HEALTH_CHECK_PORT,
            resource_path=HEALTH_PATH, search_string=HEALTH_SEARCH_STRING, enable_sni=True,
            request_interval=request_interval,
            failure_threshold=HEALTH_CHECK_FAILURE_THRESHOLD,
            measure_latency=measure_latency, regions=HEALTH_CHECK_REGIONS,
            reference_name=reference_name(names.env, role),
            tags={"Name": names.regional("api-health", role)},
        )
        record_health = self.health_check
        if gate is not None:
            # Healthy only while the endpoint is healthy AND the failback gate is open.
            record_health = Route53HealthCheck(
                self, "routing-health-check", provider=p, type="CALCULATED",
                child_healthchecks=[self.health_check.id, gate.id], child_health_threshold=2,
                reference_name=reference_name(names.env, role, "routing"),
                tags={"Name": names.regional("routing-health", role)},
            )
        self.routing_health_check = record_health
        target_name, target_zone = _alias_target(domains, "shared")
        self.record = Route53Record(
            self, "failover-record", provider=p, zone_id=zone_id,
            name=domain_name, type="A", set_identifier=f"{role}-{region_name}",
            failover_routing_policy=Route53RecordFailoverRoutingPolicy(
                type="PRIMARY" if role == PRIMARY else "SECONDARY"),
            health_check_id=record_health.id,
            alias=Route53RecordAlias(name=target_name, zone_id=target_zone,
                                     evaluate_target_health=True),
        )


def _alias_target(domains: RegionalDomains, which: str) -> tuple[str, str]:
    domain = getattr(domains, which)
    return domain.regional_domain_name, domain.regional_zone_id


class Failover(Construct):
    """Routing stack: the failback gate and one `RegionalEndpoint` per region.

    Outputs: `endpoints[role]`, `gate`, `url`."""

    def __init__(self, scope: Construct, id: str, *, settings: Settings, names: Names,
                 zone_id: str, domains: dict[str, RegionalDomains], dns: Region):
        super().__init__(scope, id)
        self.domain_name = settings.domain_name
        # Healthy while the DR region's failback-blocked alarm data is below 1; missing
        # data keeps the last status (module docstring).
        self.gate = Route53HealthCheck(
            self, "failback-gate", provider=dns.provider, type="CLOUDWATCH_METRIC",
            cloudwatch_alarm_name=names.failback_gate_alarm(PRIMARY),
            cloudwatch_alarm_region=settings.dr_region,
            insufficient_data_health_status=GATE_INSUFFICIENT_DATA,
            reference_name=reference_name(names.env, "failback-gate"),
            tags={"Name": names.regional("failback-gate", PRIMARY)},
        )
        regions = {PRIMARY: settings.primary_region, DR: settings.dr_region}
        self.endpoints = {
            role: RegionalEndpoint(self, role, role=role, region_name=regions[role], names=names,
                                   domain_name=settings.domain_name, zone_id=zone_id,
                                   domains=domains[role], dns=dns,
                                   gate=self.gate if role == PRIMARY else None,
                                   request_interval=health_check_interval(settings),
                                   measure_latency=not settings.is_dev_profile)
            for role in (PRIMARY, DR)
        }

    @property
    def url(self) -> str:
        return f"https://{self.domain_name}"
