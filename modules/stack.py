"""The platform stack: composes the tiers for the primary and DR regions.

Read it like terraform-aws-modules' examples: regions first, then each tier with its inputs
passed explicitly, then the outputs operators and `drctl` read.
"""

from __future__ import annotations

from constructs import Construct
from cdktf import TerraformOutput, TerraformStack

from modules.api import Api
from modules.compute import Compute
from modules.database import AuroraGlobalDatabase, RegionalDatabaseInputs
from modules.dns import Failover, route53_metrics_region
from modules.keys import RegionalKey
from modules.monitoring import Monitoring
from modules.naming import Names
from modules.network import RegionalNetwork
from modules.regions import build_region_pair
from modules.settings import Settings
from modules.state_backend import configure_platform_backend
from modules.storage import AuditStorage
from modules.tables import GlobalTables

PLATFORM_STACK = "payments-dr"


class PaymentsDrStack(TerraformStack):
    def __init__(self, scope: Construct, id: str, *, settings: Settings):
        super().__init__(scope, id)
        configure_platform_backend(self, settings)
        names = Names(settings.environment_suffix)
        regions = build_region_pair(self, settings)
        self.settings, self.names, self.regions = settings, names, regions

        # -- data tier ------------------------------------------------------------------
        keys = {r.role: RegionalKey(self, f"key-{r.role}", region=r, names=names) for r in regions}
        networks = {
            r.role: RegionalNetwork(self, f"network-{r.role}", region=r, names=names,
                                    settings=settings, key=keys[r.role])
            for r in regions
        }
        self.database = AuroraGlobalDatabase(
            self, "database", settings=settings, names=names, regions=regions,
            primary=RegionalDatabaseInputs(regions.primary, keys["primary"], networks["primary"]),
            dr=RegionalDatabaseInputs(regions.dr, keys["dr"], networks["dr"]),
        )
        self.tables = GlobalTables(self, "tables", settings=settings, names=names, regions=regions,
                                   keys=keys)
        self.storage = AuditStorage(self, "storage", names=names, regions=regions, keys=keys,
                                    settings=settings)
        self.keys = keys
        self.networks = networks

        # -- serving and failover tier ----------------------------------------------------
        self._serving_tier(settings, names, regions, keys)

        self._outputs()

    def _serving_tier(self, settings: Settings, names: Names, regions, keys) -> None:
        # Route 53 health-check metrics exist only in us-east-1: a third provider (and key,
        # for its alarm topic) appears only when neither of our regions is us-east-1.
        metrics_region = route53_metrics_region(self, regions=regions, settings=settings)
        alarm_keys = dict(keys)
        if metrics_region.role not in alarm_keys:
            alarm_keys[metrics_region.role] = RegionalKey(
                self, f"key-{metrics_region.role}", region=metrics_region, names=names)
        self.metrics_region = metrics_region
        self.compute = Compute(self, "compute", settings=settings, names=names, regions=regions,
                               keys=keys, tables=self.tables, storage=self.storage,
                               networks=self.networks)
        self.api = Api(self, "api", settings=settings, names=names, regions=regions, keys=keys,
                       compute=self.compute.regional)
        self.failover = Failover(self, "failover", settings=settings, names=names,
                                 regions=regions, apis=self.api.regional,
                                 dns_region=metrics_region)
        self.monitoring = Monitoring(
            self, "monitoring", settings=settings, names=names, regions=regions,
            metrics_region=metrics_region, keys=alarm_keys, database=self.database,
            tables=self.tables, storage=self.storage, compute=self.compute.regional,
            apis=self.api.regional, failover=self.failover)

    def _outputs(self) -> None:
        s, db = self.settings, self.database
        outputs = {
            "primary_region": (s.primary_region, "Primary region"),
            "dr_region": (s.dr_region, "DR region"),
            "environment_suffix": (s.environment_suffix, "Environment suffix"),
            "replication_lag_threshold_seconds": (s.replication_lag_threshold_seconds,
                                                  "Aurora replication lag alarm threshold (s)"),
            "global_cluster_id": (db.global_cluster.id, "Aurora global cluster identifier"),
            "aurora_global_writer_endpoint": (db.global_cluster.endpoint,
                                              "Global writer endpoint: follows switchover/failover"),
            "primary_cluster_id": (db.primary_cluster.cluster_identifier, "Primary Aurora cluster"),
            "dr_cluster_id": (db.dr_cluster.cluster_identifier, "DR Aurora cluster"),
            "primary_cluster_arn": (db.primary_cluster.arn, "Primary Aurora cluster ARN"),
            "dr_cluster_arn": (db.dr_cluster.arn, "DR Aurora cluster ARN"),
            "primary_aurora_endpoint": (db.primary_cluster.endpoint, "Primary cluster endpoint"),
            "dr_aurora_endpoint": (db.dr_cluster.endpoint,
                                   "DR cluster endpoint (writable after a failover)"),
            "dr_aurora_reader_endpoint": (db.dr_cluster.reader_endpoint, "DR cluster reader endpoint"),
            "aurora_secret_arn": (db.secret.arn, "Master credential secret (replicated to DR)"),
            "dynamodb_table_name": (self.tables.transactions.name, "Payment transactions global table"),
            "idempotency_table_name": (self.tables.idempotency.name, "Idempotency records global table"),
            "primary_s3_bucket": (self.storage.primary_bucket.bucket.bucket, "Primary audit bucket"),
            "dr_s3_bucket": (self.storage.dr_bucket.bucket.bucket, "DR audit bucket"),
            **self._serving_outputs(),
        }
        for name, (value, description) in outputs.items():
            TerraformOutput(self, name, value=value, description=description)

    def _serving_outputs(self) -> dict:
        apis, endpoints, topics = self.api.regional, self.failover.endpoints, self.monitoring.topics
        outputs = {}
        for role in ("primary", "dr"):
            outputs.update({
                f"{role}_api_endpoint": (apis[role].invoke_url, f"{role} API stage invoke URL"),
                f"{role}_api_id": (apis[role].rest_api.id, f"{role} REST API id"),
                f"{role}_api_host": (apis[role].execute_api_host,
                                     f"{role} execute-api hostname (health-checked)"),
                f"{role}_sns_topic": (topics[role].arn, f"{role} alarm topic ARN"),
                f"{role}_health_check_id": (endpoints[role].health_check.id,
                                            f"Route 53 health check of the {role} API"),
            })
        outputs.update({
            "api_stage_name": (apis["primary"].stage.stage_name, "API stage in both regions"),
            "alarm_name_prefix": (self.names.alarm_prefix, "Prefix of every CloudWatch alarm"),
            "health_check_alarm_region": (self.metrics_region.name,
                                          "Region of the Route 53 health-check alarms"),
            "health_check_alarm_topic": (topics[self.metrics_region.role].arn,
                                         "Topic the health-check alarms notify"),
            "hosted_zone_id": (self.failover.zone_id, "Route 53 zone holding the failover records"),
            "custom_domain_url": (self.failover.url, "Payments API URL (follows failover)"),
        })
        if self.failover.name_servers is not None:
            outputs["hosted_zone_name_servers"] = (
                self.failover.name_servers,
                "Delegate DOMAIN_NAME to these from its parent zone (see docs/failover.md)")
        return outputs
