"""DynamoDB global tables (version 2019.11.21): payment transactions and idempotency records.

Both tables are written in both regions (each region's function writes its local replica),
so replication is two-way. Every replica has point-in-time recovery, is encrypted with its
own region's key, and carries deletion protection in prod-like environments.

Where they live: `GlobalTables` (the tables and their DR replicas) is in the primary region's
stack. A replica cannot be managed from the DR side without the primary region: the
provider's `aws_dynamodb_table_replica` creates, reads and updates replicas through the main
table's region (internal/service/dynamodb/table_replica.go: DescribeTable/UpdateTable on the
main region), so putting it in the DR stack would make every DR plan fail during a primary
outage. The DR replica keeps serving without Terraform; the DR stack refers to the tables
by name only (`TableAccess`).

`TableAccess(region)` derives least-privilege IAM statements and metrics for one region from
the tables' names: the replica of that region, nothing in the other region.
"""

from __future__ import annotations

from cdktf_cdktf_provider_aws.dynamodb_table import (
    DynamodbTable,
    DynamodbTableAttribute,
    DynamodbTableGlobalSecondaryIndex,
    DynamodbTableGlobalTableWitness,
    DynamodbTablePointInTimeRecovery,
    DynamodbTableReplica,
    DynamodbTableServerSideEncryption,
    DynamodbTableTtl,
)
from constructs import Construct

from contract import (
    CUSTOMER_INDEX,
    DRILL_REPLICATION,
    DYNAMODB_REPLICATION_LATENCY,
    IDEMPOTENCY_KEY_ATTRIBUTE,
    IDEMPOTENCY_TTL_ATTRIBUTE,
    NONCE_KEY_PREFIX,
    STATUS_INDEX,
    VALIDATOR_IDEMPOTENCY_KEY_PREFIX,
)
from modules.drills import drill_tags
from modules.iam import Statement, statement
from modules.keys import RegionalKey
from modules.metrics import Metric
from modules.naming import Names
from modules.regions import PeerRegion, Region
from modules.settings import Settings

PITR_DAYS = 35


TABLES = ("transactions", "idempotency")


class GlobalTables(Construct):
    """Outputs: `transactions`, `idempotency` (DynamodbTable in the primary region + DR replica).

    `primary` is the region whose stack holds the tables, `dr` the replica's region (a name)."""

    def __init__(self, scope: Construct, id: str, *, settings: Settings, names: Names,
                 primary: Region, dr: PeerRegion, keys: dict[str, RegionalKey]):
        super().__init__(scope, id)
        self._primary, self._dr = primary, dr
        self._keys = keys
        self._settings = settings
        self._names = names
        self.transactions = self._global_table(
            "transactions",
            name=names.transactions_table,
            hash_key="transactionId", range_key="timestamp",
            attributes={"transactionId": "S", "timestamp": "N", "customerId": "S", "status": "S"},
            indexes=[
                DynamodbTableGlobalSecondaryIndex(name=CUSTOMER_INDEX, hash_key="customerId",
                                                  range_key="timestamp", projection_type="ALL"),
                # Few distinct statuses make this index's partitions hot at very high volume;
                # it serves operational queries (e.g. "all PENDING in the last hour").
                DynamodbTableGlobalSecondaryIndex(name=STATUS_INDEX, hash_key="status",
                                                  range_key="timestamp", projection_type="ALL"),
            ],
        )
        self.idempotency = self._global_table(
            "idempotency",
            name=names.idempotency_table,
            hash_key=IDEMPOTENCY_KEY_ATTRIBUTE, range_key=None,
            attributes={IDEMPOTENCY_KEY_ATTRIBUTE: "S"},
            indexes=[],
            ttl_attribute=IDEMPOTENCY_TTL_ATTRIBUTE,
            strong=False,  # TTL-driven, and MRSC tables do not support TTL: stays eventual
        )

    def _global_table(self, id: str, *, name: str, hash_key: str, range_key: str | None,
                      attributes: dict[str, str], indexes: list[DynamodbTableGlobalSecondaryIndex],
                      ttl_attribute: str | None = None, strong: bool | None = None) -> DynamodbTable:
        """`strong` (default: the TRANSACTIONS_CONSISTENCY setting): multi-Region strong
        consistency, with a witness in the region set's third region. Fixed at creation."""
        primary, dr = self._primary, self._dr
        if strong is None:
            strong = self._settings.transactions_consistency == "STRONG"
        witness = self._settings.mrsc_witness_region if strong else None
        return DynamodbTable(
            self, id, provider=primary.provider,
            name=name, billing_mode="PAY_PER_REQUEST",
            hash_key=hash_key, range_key=range_key,
            attribute=[DynamodbTableAttribute(name=k, type=v) for k, v in attributes.items()],
            global_secondary_index=indexes or None,
            # Global tables replicate through the stream; NEW_AND_OLD_IMAGES is what they require.
            stream_enabled=True, stream_view_type="NEW_AND_OLD_IMAGES",
            point_in_time_recovery=DynamodbTablePointInTimeRecovery(
                enabled=True, recovery_period_in_days=PITR_DAYS),
            server_side_encryption=DynamodbTableServerSideEncryption(
                enabled=True, kms_key_arn=self._keys[primary.role].arn),
            replica=[DynamodbTableReplica(
                region_name=dr.name, kms_key_arn=self._keys[dr.role].arn,
                point_in_time_recovery=True, propagate_tags=True,
                deletion_protection_enabled=self._settings.deletion_protection,
                consistency_mode="STRONG" if strong else None,
            )],
            global_table_witness=DynamodbTableGlobalTableWitness(region_name=witness) if witness else None,
            ttl=DynamodbTableTtl(enabled=True, attribute_name=ttl_attribute) if ttl_attribute else None,
            deletion_protection_enabled=self._settings.deletion_protection,
            # The replication drill's target; the replica gets them through propagate_tags.
            tags=drill_tags(DRILL_REPLICATION, self._names),
        )


class TableAccess:
    """Grants and metrics of both tables in one region, derived from their names (no reference
    to the tables' resources, which live in the primary stack)."""

    def __init__(self, *, names: Names, region: Region, key: RegionalKey):
        self.region = region
        self._key = key
        self.transactions_name = names.transactions_table
        self.idempotency_name = names.idempotency_table
        self.names = {"transactions": self.transactions_name, "idempotency": self.idempotency_name}

    def table_arn(self, which: str) -> str:
        return self.region.arn("dynamodb", f"table/{self.names[which]}")

    # -- grants -------------------------------------------------------------------------

    def grant_transactions_write(self) -> list[Statement]:
        """What the validator does (lambda/payments/store.py): conditional puts of the claim and
        the record, a consistent GetItem of the claim, and an UpdateItem that moves its own claim's
        record key (conditional on the value it read); on the base table, no index."""
        region = self.region
        return [
            statement(f"TransactionsWrite{region.role.title()}",
                      ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"],
                      [self.table_arn("transactions")]),
            self.grant_key_use(),
        ]

    def grant_health_read(self) -> list[Statement]:
        """What the health check does: describe and read both local replicas."""
        return [
            statement(f"TablesHealthRead{self.region.role.title()}",
                      ["dynamodb:DescribeTable", "dynamodb:GetItem"],
                      [self.table_arn("transactions"), self.table_arn("idempotency")]),
            self.grant_key_use(decrypt_only=True),
        ]

    def grant_idempotency(self) -> list[Statement]:
        """Powertools idempotency: put/get/update/delete its records in the local replica,
        under the validator's keys only (the authorizer's `nonce#` items share the table)."""
        return [
            statement(f"IdempotencyRecords{self.region.role.title()}",
                      ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem",
                       "dynamodb:DeleteItem"],
                      [self.table_arn("idempotency")],
                      condition={"ForAllValues:StringLike": {
                          "dynamodb:LeadingKeys": [f"{VALIDATOR_IDEMPOTENCY_KEY_PREFIX}#*"]}}),
        ]

    def grant_nonce_write(self) -> list[Statement]:
        """The authorizer records each request's nonce (a conditional put) in the idempotency
        table, under keys starting `nonce#` only: it can touch no payment's idempotency record."""
        return [
            statement(f"RecordNonces{self.region.role.title()}", ["dynamodb:PutItem"],
                      [self.table_arn("idempotency")],
                      condition={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{NONCE_KEY_PREFIX}*"]}}),
            self.grant_key_use(),
        ]

    def grant_key_use(self, *, decrypt_only: bool = False) -> Statement:
        """DynamoDB encrypts with the region's key on behalf of the caller (via the service)."""
        actions = ["kms:Decrypt", "kms:DescribeKey"]
        if not decrypt_only:
            actions += ["kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
        region = self.region
        return statement(
            f"DataKeyViaDynamodb{region.role.title()}{'Read' if decrypt_only else ''}",
            actions, [self._key.arn],
            condition={"StringEquals": {"kms:ViaService": f"dynamodb.{region.name}.amazonaws.com"}},
        )

    # -- metrics ------------------------------------------------------------------------

    def metric_replication_latency(self, which: str, receiving_region: str) -> Metric:
        """Milliseconds for writes in this region to reach `receiving_region` (published here)."""
        spec = DYNAMODB_REPLICATION_LATENCY
        return Metric(spec.namespace, spec.name, spec.dims(self.names[which], receiving_region),
                      statistic=spec.statistic, period=60, unit_label="ms")

    def metric_throttle_events(self, which: str, kind: str = "Write") -> Metric:
        """`kind` Read or Write: requests of this replica rejected for capacity."""
        return Metric("AWS/DynamoDB", f"{kind}ThrottleEvents", {"TableName": self.names[which]},
                      statistic="Sum", period=60)

    def metric_system_errors(self, which: str, operation: str) -> Metric:
        """DynamoDB's own 5xx for one operation (the metric has no table-wide variant)."""
        return Metric("AWS/DynamoDB", "SystemErrors",
                      {"TableName": self.names[which], "Operation": operation},
                      statistic="Sum", period=60)
