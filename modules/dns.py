"""Failover: one custom domain served by both regions, switched by Route 53 health checks.

Inputs: settings, names, the region pair, each region's `RegionalApi`, and the region that
hosts Route 53 health-check metrics (`route53_metrics_region`).
Outputs: `Failover.zone_id`, `name_servers` (created zone only), `url`,
`Failover.endpoints[role]` (`RegionalEndpoint`: `certificate`, `domain`, `health_check`, `record`).

How it fails over (docs/failover.md has the numbers): each region's API is probed on its own
execute-api hostname (`/prod/health`, a deep check through API Gateway, Lambda and the local
DynamoDB replica). The PRIMARY alias record answers while its health check passes; when it
fails, Route 53's data plane answers with the SECONDARY record. Nobody has to apply anything
during an outage, so failover works while the primary region's control plane is down.

Zone strategy: HOSTED_ZONE_ID names an existing public zone the user owns (records go there);
without it a public zone for DOMAIN_NAME is created and its name servers are an output. A new
zone is only authoritative once its parent delegates to it, so certificate validation waits
at most `CERTIFICATE_VALIDATION_TIMEOUT` instead of hanging (docs/failover.md: what to do first).
"""

from __future__ import annotations

from constructs import Construct
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
from cdktf import TerraformResourceLifecycle

from modules.api import STAGE, RegionalApi, HEALTH_PATH
from modules.naming import Names
from modules.regions import Region, RegionPair, build_region
from modules.settings import Settings

# Route 53 publishes health-check metrics (AWS/Route53 HealthCheckStatus) in us-east-1 only.
ROUTE53_METRICS_REGION = "us-east-1"
GLOBAL = "global"

HEALTH_CHECK_PORT = 443
HEALTH_CHECK_PATH = f"/{STAGE}/{HEALTH_PATH}"
# Fastest standard interval; with 3 consecutive failures a region is declared unhealthy after
# about 30 s. 3 rather than 2: one cold start or one lost packet on a single checker must not
# move payment traffic to the other region (and back), which costs more than 10 s of RTO.
HEALTH_CHECK_INTERVAL_S = 10
HEALTH_CHECK_FAILURE_THRESHOLD = 3
# Empty: Route 53's default set of checker regions (at least three are required if set).
HEALTH_CHECK_REGIONS: list[str] = []
CERTIFICATE_VALIDATION_TIMEOUT = "45m"
VALIDATION_RECORD_TTL = 300
TLS_POLICY = "TLS_1_2"


def route53_metrics_region(scope: Construct, *, regions: RegionPair, settings: Settings) -> Region:
    """The region for health-check alarms: whichever of ours is us-east-1, else a third provider."""
    for region in regions:
        if region.name == ROUTE53_METRICS_REGION:
            return region
    return build_region(scope, role=GLOBAL, name=ROUTE53_METRICS_REGION, settings=settings)


class _SharedValidationRecord:
    """ACM gives every certificate for the same name in one account the same validation CNAME,
    so the record is created once (from the first certificate) and serves both regions."""

    def __init__(self, scope: Construct, *, zone_id: str, dns_region: Region):
        self._scope, self._zone_id, self._dns_region = scope, zone_id, dns_region
        self.record: Route53Record | None = None

    def fqdn_for(self, certificate: AcmCertificate) -> str:
        if self.record is None:
            option = certificate.domain_validation_options.get(0)
            self.record = Route53Record(
                self._scope, "certificate-validation-record", provider=self._dns_region.provider,
                zone_id=self._zone_id, name=option.resource_record_name,
                type=option.resource_record_type, records=[option.resource_record_value],
                ttl=VALIDATION_RECORD_TTL,
                # The same CNAME may already exist (an earlier certificate for this name).
                allow_overwrite=True,
            )
        return self.record.fqdn


class RegionalEndpoint(Construct):
    """One region's side of the failover pair: certificate, custom domain, health check, record."""

    def __init__(self, scope: Construct, id: str, *, region: Region, dns_region: Region,
                 names: Names, domain_name: str, zone_id: str, api: RegionalApi,
                 validation: _SharedValidationRecord):
        super().__init__(scope, id)
        p = region.provider
        self.certificate = AcmCertificate(
            self, "certificate", provider=p, domain_name=domain_name, validation_method="DNS",
            key_algorithm="RSA_2048",
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
        )
        self.validation = AcmCertificateValidation(
            self, "certificate-validation", provider=p,
            certificate_arn=self.certificate.arn,
            validation_record_fqdns=[validation.fqdn_for(self.certificate)],
            timeouts=AcmCertificateValidationTimeouts(create=CERTIFICATE_VALIDATION_TIMEOUT),
        )
        self.domain = ApiGatewayDomainName(
            self, "domain", provider=p, domain_name=domain_name,
            regional_certificate_arn=self.validation.certificate_arn,
            endpoint_configuration=ApiGatewayDomainNameEndpointConfiguration(types=["REGIONAL"]),
            security_policy=TLS_POLICY,
        )
        self.mapping = ApiGatewayBasePathMapping(
            self, "base-path-mapping", provider=p, domain_name=self.domain.domain_name,
            api_id=api.rest_api.id, stage_name=api.stage.stage_name,
        )
        # Route 53 is a global service: health checks and records live on the DNS provider.
        self.health_check = Route53HealthCheck(
            self, "health-check", provider=dns_region.provider,
            type="HTTPS", fqdn=api.execute_api_host, port=HEALTH_CHECK_PORT,
            resource_path=HEALTH_CHECK_PATH, enable_sni=True,
            request_interval=HEALTH_CHECK_INTERVAL_S,
            failure_threshold=HEALTH_CHECK_FAILURE_THRESHOLD,
            measure_latency=True, regions=HEALTH_CHECK_REGIONS or None,
            reference_name=f"payments-{names.env}-{region.role}"[:64],
            tags={"Name": names.regional("api-health", region.role)},
        )
        failover_type = "PRIMARY" if region.is_primary else "SECONDARY"
        self.record = Route53Record(
            self, "failover-record", provider=dns_region.provider, zone_id=zone_id,
            name=domain_name, type="A", set_identifier=f"{region.role}-{region.name}",
            failover_routing_policy=Route53RecordFailoverRoutingPolicy(type=failover_type),
            health_check_id=self.health_check.id,
            alias=Route53RecordAlias(name=self.domain.regional_domain_name,
                                     zone_id=self.domain.regional_zone_id,
                                     evaluate_target_health=True),
        )


class Failover(Construct):
    """Entry construct: the zone, the shared validation record and one endpoint per region."""

    def __init__(self, scope: Construct, id: str, *, settings: Settings, names: Names,
                 regions: RegionPair, apis: dict[str, RegionalApi], dns_region: Region):
        super().__init__(scope, id)
        self.domain_name = settings.domain_name
        self.created_zone: Route53Zone | None = None
        if settings.hosted_zone_id:
            zone = DataAwsRoute53Zone(self, "zone", provider=dns_region.provider,
                                      zone_id=settings.hosted_zone_id)
            self.zone_id = zone.zone_id
        else:
            self.created_zone = Route53Zone(
                self, "zone", provider=dns_region.provider, name=settings.domain_name,
                comment=f"payments-dr {names.env}: delegate from the parent zone before deploy",
            )
            self.zone_id = self.created_zone.zone_id
        validation = _SharedValidationRecord(self, zone_id=self.zone_id, dns_region=dns_region)
        self.endpoints = {
            r.role: RegionalEndpoint(self, r.role, region=r, dns_region=dns_region, names=names,
                                     domain_name=settings.domain_name, zone_id=self.zone_id,
                                     api=apis[r.role], validation=validation)
            for r in regions
        }
        self.validation_record = validation.record

    @property
    def name_servers(self) -> list[str] | None:
        return self.created_zone.name_servers if self.created_zone else None

    @property
    def url(self) -> str:
        return f"https://{self.domain_name}"
