"""The platform stack: composes the tiers for the primary and DR regions.

Read it like terraform-aws-modules' examples: regions first, then each tier with its inputs
passed explicitly, then the outputs operators and `drctl` read.
"""

from __future__ import annotations

from constructs import Construct
from cdktf import TerraformOutput, TerraformStack

from modules.database import AuroraGlobalDatabase, RegionalDatabaseInputs
from modules.keys import RegionalKey
from modules.naming import Names
from modules.network import RegionalNetwork
from modules.regions import build_region_pair
from modules.settings import Settings
from modules.state_backend import configure_platform_backend
from modules.storage import AuditStorage
from modules.tables import GlobalTables, TableKeys

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
                                   keys=TableKeys(primary=keys["primary"], dr=keys["dr"]))
        self.storage = AuditStorage(self, "storage", names=names, regions=regions, keys=keys)
        self.keys = keys

        self._outputs()

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
        }
        for name, (value, description) in outputs.items():
            TerraformOutput(self, name, value=value, description=description)
