"""The platform's stacks, applied in this order (contract.PLATFORM_STACKS):

1. `FoundationStack`: each region's KMS key, the DNS zone and the certificates. Changed rarely.
2. `RegionalStack(primary)`: every serving and data resource of the primary region: network,
   Aurora global cluster + writer + master secret, the DynamoDB global tables (with their DR
   replicas: see modules/tables.py for why they cannot live in the DR stack), audit bucket,
   functions, API, custom domains, probe, alarms, FIS drill templates.
3. `RegionalStack(dr)`: the same for the DR region, with the Aurora secondary. Its only
   provider is the DR region's; it names primary-side things by contract names and reads
   the foundation's outputs from remote state (stored in TF_STATE_REGION, the DR region by
   default). It can be planned and applied while the primary region is down.
4. `RoutingStack`: cross-region wiring that needs both regional stacks first: S3 replication
   rules both ways, Route 53 health checks, failover and per-region records, the failback
   gate, and the Route 53 health-check alarms in us-east-1. Nothing in it changes during a
   failover; Route 53's control plane is in us-east-1 in any case.

Read each like terraform-aws-modules' examples: region first, then each tier with its inputs
passed explicitly, then the outputs operators and `drctl` read (keys from contract.OUTPUTS).
"""

from __future__ import annotations

from typing import Any

from cdktf import TerraformOutput, TerraformStack
from constructs import Construct

from contract import (
    DR,
    FOUNDATION_STACK,
    OUTPUTS,
    PRIMARY,
    REGIONAL_STACKS,
    ROUTING_STACK,
)
from modules.api import STAGE, RegionalApi
from modules.backup import RegionalBackup
from modules.client_keys import ClientKeysSecret, client_key_operators
from modules.compute import RegionalCompute
from modules.database import AuroraPrimary, AuroraSecondary, RegionalDatabaseInputs
from modules.dns import DomainCertificates, Failover, RegionalDomains, route53_metrics_region
from modules.drills import RegionalDrills, default_stop_alarm_arns
from modules.jobs import DuplicateCheck, Heartbeat, Reconcile
from modules.keys import RegionalKey, key_admins
from modules.log_protection import protect_log_groups
from modules.monitoring import AlarmTopic, HealthCheckAlarms, MonitoredRegion, RegionalMonitoring
from modules.naming import Names
from modules.network import RegionalNetwork
from modules.probes import Probe, probe_role_name
from modules.regions import build_region, build_region_pair, peer_of, region_name
from modules.settings import Settings
from modules.state_backend import configure_backend
from modules.storage import AuditBucket, AuditReplication
from modules.tables import GlobalTables, TableAccess
from modules.waf import RegionalWaf

# Secrets Manager: the authorizer, in the VPC, reads the client keys through it.
VPC_INTERFACE_ENDPOINTS = ("xray", "kms", "secretsmanager")
# Dev profile: no tracing, so no X-Ray endpoint; the KMS endpoint (the health check's
# kms:DescribeKey has no other path) and Secrets Manager's in one zone instead of three.
DEV_VPC_INTERFACE_ENDPOINTS = ("kms", "secretsmanager")
DEV_INTERFACE_ENDPOINT_ZONES = 1


class _PlatformStack(TerraformStack):
    """A platform stack: its own backend (state key / TFC workspace) and contract outputs."""

    stack_name: str

    def __init__(self, scope: Construct, id: str, *, settings: Settings):
        super().__init__(scope, id)
        self.stack_name = id
        self.settings = settings
        self.names = Names(settings.environment_suffix)
        configure_backend(self, settings, id)
        protect_log_groups(self, enabled=bool(settings.deletion_protection))

    def output(self, key: str, value: Any) -> None:
        """An output whose key the contract assigns to this stack (drctl reads it)."""
        stack, description = OUTPUTS[key]
        if stack != self.stack_name:
            raise ValueError(f"output {key!r} belongs to stack {stack}, not {self.stack_name}")
        TerraformOutput(self, key, value=value, description=description)


class FoundationStack(_PlatformStack):
    """Keys, zone and certificates for both regions. Outputs: `keys[role]`, `certificates`."""

    def __init__(self, scope: Construct, id: str = FOUNDATION_STACK, *, settings: Settings):
        super().__init__(scope, id, settings=settings)
        regions = build_region_pair(self, settings)
        self.keys = {r.role: RegionalKey(self, f"key-{r.role}", region=r, names=self.names,
                                         admins=key_admins(settings, self.names))
                     for r in regions}
        self.certificates = DomainCertificates(self, "certificates", settings=settings,
                                               names=self.names, regions=regions)
        self.output("hosted_zone_id", self.certificates.zone_id)
        self.output("domain_name", settings.domain_name)
        if self.certificates.name_servers is not None:
            TerraformOutput(self, "hosted_zone_name_servers",
                            value=self.certificates.name_servers,
                            description="Delegate DOMAIN_NAME to these from its parent zone "
                                        "before applying the regional stacks (docs/failover.md)")


class RegionalStack(_PlatformStack):
    """Everything one region serves and stores, with providers of that region only."""

    def __init__(self, scope: Construct, id: str | None = None, *, settings: Settings,
                 role: str, foundation: FoundationStack):
        super().__init__(scope, id or REGIONAL_STACKS[role], settings=settings)
        names = self.names
        self.region = region = build_region(self, role=role, name=region_name(role, settings),
                                            settings=settings)
        self.peer = peer = peer_of(region, settings)
        key = foundation.keys[role]

        # -- data tier ------------------------------------------------------------------
        # X-Ray for every VPC function's traces; KMS because the health check asks the key
        # itself whether it is usable (kms:DescribeKey): the VPC has no other path to KMS.
        dev = settings.is_dev_profile
        network = RegionalNetwork(
            self, f"network-{role}", region=region, names=names, settings=settings, key=key,
            interface_endpoints=DEV_VPC_INTERFACE_ENDPOINTS if dev else VPC_INTERFACE_ENDPOINTS,
            interface_endpoint_zones=DEV_INTERFACE_ENDPOINT_ZONES if dev else None)
        inputs = RegionalDatabaseInputs(region, key, network)
        if role == PRIMARY:
            self.database: AuroraPrimary | AuroraSecondary = AuroraPrimary(
                self, f"database-{role}", settings=settings, names=names, inputs=inputs, dr=peer,
                dr_key=foundation.keys[DR])
            self.tables: GlobalTables | None = GlobalTables(
                self, "tables", settings=settings, names=names, primary=region, dr=peer,
                keys=foundation.keys)
        else:
            self.database = AuroraSecondary(self, f"database-{role}", settings=settings, names=names,
                                            inputs=inputs, primary=peer)
            self.tables = None
        self.table_access = TableAccess(names=names, region=region, key=key)
        self.audit = AuditBucket(self, f"storage-{role}", names=names, region=region, peer=peer,
                                 key=key, settings=settings)
        # Locked daily recovery points (modules/backup.py): what replication cannot overwrite.
        protected = [self.table_access.table_arn("transactions")]
        if role == PRIMARY:
            protected.insert(0, self.database.member.cluster.arn)
        self.backup = RegionalBackup(self, f"backup-{role}", settings=settings, names=names,
                                     region=region, peer=peer, key=key,
                                     peer_key_arn=foundation.keys[peer.role].arn,
                                     resource_arns=protected)

        # -- serving tier -----------------------------------------------------------------
        self.compute = RegionalCompute(self, f"compute-{role}", region=region, settings=settings,
                                       names=names, key=key, tables=self.table_access,
                                       audit=self.audit, network=network)
        if role == PRIMARY:
            self.client_keys = ClientKeysSecret(self, "client-keys", names=names, primary=region,
                                                dr=peer, primary_key=key,
                                                dr_key=foundation.keys[DR],
                                                operators=client_key_operators(settings, names),
                                                admins=key_admins(settings, names))
        # Only the probes may call GET /probe (SigV4): the peer's, and this region's own (it
        # checks the domain, which this region may be serving). Named, not referenced.
        probe_roles = [f"arn:{region.partition}:iam::{region.account_id}:role/"
                       f"{probe_role_name(names, r)}" for r in (role, peer.role)]
        self.api = RegionalApi(self, f"api-{role}", region=region, settings=settings, names=names,
                               key=key, compute=self.compute, authorizer=self.compute.authorizer,
                               probe_principal_arns=probe_roles)
        self.waf = RegionalWaf(self, f"waf-{role}", region=region, names=names, settings=settings,
                               key=key, api=self.api)
        self.domains = RegionalDomains(self, f"domains-{role}", region=region,
                                       domain_name=settings.domain_name,
                                       certificate_arn=foundation.certificates.certificate_arn(role),
                                       api=self.api)
        self.probe = Probe(self, f"probe-{role}", settings=settings, names=names, region=region,
                           peer=peer, key=key, compute=self.compute)
        self.heartbeat = Heartbeat(self, f"heartbeat-{role}", settings=settings, names=names,
                                   region=region, peer=peer, key=key, compute=self.compute,
                                   tables=self.table_access, audit=self.audit)
        self.reconcile = Reconcile(self, f"reconcile-{role}", settings=settings, names=names,
                                   region=region, key=key, compute=self.compute,
                                   tables=self.table_access, audit=self.audit, network=network)
        # EVENTUAL only: a payment can then be accepted in both regions (issue 20).
        self.dupcheck = None if settings.transactions_consistency != "EVENTUAL" else DuplicateCheck(
            self, f"dupcheck-{role}", settings=settings, names=names, region=region,
            compute=self.compute, tables=self.table_access, network=network,
            stream_arn=self.tables.transactions.stream_arn if self.tables else None)
        self.monitoring = RegionalMonitoring(
            self, f"monitoring-{role}", settings=settings, names=names, region=region, peer=peer,
            key=key, tiers=MonitoredRegion(database=self.database.member,
                                           tables=self.table_access, audit=self.audit,
                                           compute=self.compute, api=self.api, waf=self.waf,
                                           probe=self.probe, heartbeat=self.heartbeat,
                                           reconcile=self.reconcile, dupcheck=self.dupcheck))
        # FIS drills (docs/drills.md): after monitoring, because their stop conditions are
        # alarms of this region, named by contract.
        stop_alarm_arns = default_stop_alarm_arns(region, names)
        self.drills = RegionalDrills(
            self, f"drills-{role}", region=region, names=names, key=key, peer=peer,
            audit_bucket_arn=self.audit.bucket.bucket.arn,
            table_arns=[self.table_access.table_arn(t) for t in ("transactions", "idempotency")],
            stop_alarm_arns=stop_alarm_arns, log_retention_days=settings.log_retention_days)
        self._order_drills_after_their_alarms(stop_alarm_arns)
        self._outputs()

    def _order_drills_after_their_alarms(self, stop_alarm_arns: dict[str, list[str]]) -> None:
        """Each template is created after its stop-condition alarms; a stop condition naming
        no alarm of this region stops the synth (FIS could never stop that drill)."""
        alarms = self.monitoring.alarms
        for drill, arns in stop_alarm_arns.items():
            names = [arn.rsplit(":alarm:", 1)[1] for arn in arns]
            missing = sorted(set(names) - set(alarms))
            if missing:
                raise ValueError(f"drill {drill!r}: stop-condition alarms {missing} are not "
                                 f"alarms of {self.stack_name}")
            # `depends_on` takes static references (aws_x.name); `fqn` renders "${aws_x.name}",
            # which Terraform refuses (internal/configs/depends_on.go).
            self.drills.templates[drill].add_override(
                "depends_on", [f"{alarms[n].terraform_resource_type}.{alarms[n].friendly_unique_id}"
                               for n in names])

    def _outputs(self) -> None:
        role, member, api = self.region.role, self.database.member, self.api
        values: dict[str, str | float] = {
            f"{role}_region": self.region.name,
            f"{role}_cluster_id": member.cluster.cluster_identifier,
            f"{role}_cluster_arn": member.cluster.arn,
            f"{role}_aurora_endpoint": member.cluster.endpoint,
            f"{role}_aurora_reader_endpoint": member.cluster.reader_endpoint,
            f"{role}_s3_bucket": self.audit.name,
            f"{role}_api_endpoint": f"https://{self.domains.own_host}",
            f"{role}_api_id": api.rest_api.id,
            f"{role}_api_host": self.domains.own_host,
            f"{role}_sns_topic": self.monitoring.topic.arn,
        }
        if isinstance(self.database, AuroraPrimary):
            s, db = self.settings, self.database
            values.update({
                "environment_suffix": s.environment_suffix,
                "global_cluster_id": db.global_cluster.id,
                "aurora_global_writer_endpoint": db.global_cluster.endpoint,
                "aurora_secret_arn": db.secret.arn,
                "dynamodb_table_name": self.table_access.transactions_name,
                "idempotency_table_name": self.table_access.idempotency_name,
                "replication_lag_threshold_seconds": s.replication_lag_threshold_seconds,
                "alarm_name_prefix": self.names.alarm_prefix,
                "api_stage_name": STAGE,
            })
        for key, value in values.items():
            self.output(key, value)


class RoutingStack(_PlatformStack):
    """S3 replication both ways, Route 53 failover and the health-check alarms."""

    def __init__(self, scope: Construct, id: str = ROUTING_STACK, *, settings: Settings,
                 foundation: FoundationStack, regional: dict[str, RegionalStack]):
        super().__init__(scope, id, settings=settings)
        names = self.names
        regions = build_region_pair(self, settings)
        self.replication = {
            source.role: AuditReplication(self, f"replication-{source.role}", names=names,
                                          source=source, destination=regions.other(source),
                                          keys=foundation.keys)
            for source in regions
        }
        metrics_region = route53_metrics_region(self, regions=regions, settings=settings)
        self.failover = Failover(self, "failover", settings=settings, names=names,
                                 zone_id=foundation.certificates.zone_id,
                                 domains={role: stack.domains for role, stack in regional.items()},
                                 dns=metrics_region)
        # Where Route 53's metrics region is one of the pair (us-east-1 by default), the health
        # alarms page through that regional stack's topic: one state owns each topic, so
        # destroying either stack cannot delete the other's paging path.
        if metrics_region.role in regional:
            topic_arn = regional[metrics_region.role].monitoring.topic.arn
        else:
            key = RegionalKey(self, f"key-{metrics_region.role}", region=metrics_region,
                              names=names, admins=key_admins(settings, names))
            topic_arn = AlarmTopic(self, "health-check-topic", region=metrics_region, names=names,
                                   key=key, settings=settings).arn
        self.alarms = HealthCheckAlarms(self, "health-check-alarms", metrics_region=metrics_region,
                                        names=names, topic_arn=topic_arn, failover=self.failover)
        for role, endpoint in self.failover.endpoints.items():
            self.output(f"{role}_health_check_id", endpoint.health_check.id)
        self.output("health_check_alarm_topic", topic_arn)
        self.output("custom_domain_url", self.failover.url)


def build_platform(scope: Construct, settings: Settings) -> dict[str, TerraformStack]:
    """Every platform stack, in apply order, with the order recorded for `cdktf deploy`.

    The account baseline (API Gateway's logging role, once per account) and the state
    bootstrap are applied by hand first (README); they are not dependencies here, because
    a second environment in the same account must not re-apply the account baseline."""
    foundation = FoundationStack(scope, settings=settings)
    primary = RegionalStack(scope, settings=settings, role=PRIMARY, foundation=foundation)
    dr = RegionalStack(scope, settings=settings, role=DR, foundation=foundation)
    # The secondary joins the global cluster the primary stack creates (ordering, no value).
    dr.add_dependency(primary)
    routing = RoutingStack(scope, settings=settings, foundation=foundation,
                           regional={PRIMARY: primary, DR: dr})
    return {s.stack_name: s for s in (foundation, primary, dr, routing)}
