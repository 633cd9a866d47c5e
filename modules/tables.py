"""DynamoDB global tables (version 2019.11.21): payment transactions and idempotency records.

Both tables are written in both regions (each region's function writes its local replica),
so replication is two-way. Every replica has point-in-time recovery, is encrypted with its
own region's key, and carries deletion protection in prod-like environments.

`grant_*` methods derive least-privilege IAM statements for a function in a given region:
the replica of that region and its indexes, nothing in the other region.
"""

from __future__ import annotations

from constructs import Construct
from cdktf_cdktf_provider_aws.dynamodb_table import (
    DynamodbTable,
    DynamodbTableAttribute,
    DynamodbTableGlobalSecondaryIndex,
    DynamodbTablePointInTimeRecovery,
    DynamodbTableReplica,
    DynamodbTableServerSideEncryption,
    DynamodbTableTtl,
)

from modules.iam import statement
from modules.keys import RegionalKey
from modules.naming import Names
from modules.regions import Region, RegionPair
from modules.settings import Settings

PITR_DAYS = 35
CUSTOMER_INDEX = "customer-index"
STATUS_INDEX = "status-index"


class GlobalTables(Construct):
    """Outputs: `transactions`, `idempotency` (DynamodbTable in the primary region + DR replica)."""

    def __init__(self, scope: Construct, id: str, *, settings: Settings, names: Names,
                 regions: RegionPair, keys: dict[str, RegionalKey]):
        super().__init__(scope, id)
        self._regions = regions
        self._keys = keys
        self._settings = settings
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
            hash_key="id", range_key=None,
            attributes={"id": "S"},
            indexes=[],
            ttl_attribute="expiration",
        )

    def _global_table(self, id: str, *, name: str, hash_key: str, range_key: str | None,
                      attributes: dict[str, str], indexes: list, ttl_attribute: str | None = None):
        primary, dr = self._regions.primary, self._regions.dr
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
            )],
            ttl=DynamodbTableTtl(enabled=True, attribute_name=ttl_attribute) if ttl_attribute else None,
            deletion_protection_enabled=self._settings.deletion_protection,
        )

    # -- grants -------------------------------------------------------------------------

    def _key(self, region: Region) -> RegionalKey:
        return self._keys[region.role]

    def grant_transactions_write(self, region: Region) -> list[dict]:
        """What the validator does in `region`: a conditional put and a consistent query by
        transactionId on the base table (lambda/payments/store.py); no index, no update."""
        return [
            statement(f"TransactionsWrite{region.role.title()}",
                      ["dynamodb:PutItem", "dynamodb:Query"],
                      [region.arn("dynamodb", f"table/{self.transactions.name}")]),
            self.grant_key_use(region),
        ]

    def grant_transactions_health_read(self, region: Region) -> list[dict]:
        """What the health check does in `region`: describe and read the local replica."""
        table_arn = region.arn("dynamodb", f"table/{self.transactions.name}")
        return [
            statement(f"TransactionsHealthRead{region.role.title()}",
                      ["dynamodb:DescribeTable", "dynamodb:GetItem"], [table_arn]),
            self.grant_key_use(region, decrypt_only=True),
        ]

    def grant_idempotency(self, region: Region) -> list[dict]:
        """Powertools idempotency: put/get/update/delete its records in the local replica."""
        table_arn = region.arn("dynamodb", f"table/{self.idempotency.name}")
        return [
            statement(f"IdempotencyRecords{region.role.title()}",
                      ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem",
                       "dynamodb:DeleteItem"],
                      [table_arn]),
        ]

    def grant_key_use(self, region: Region, *, decrypt_only: bool = False) -> dict:
        """DynamoDB encrypts with the region's key on behalf of the caller (via the service)."""
        actions = ["kms:Decrypt", "kms:DescribeKey"]
        if not decrypt_only:
            actions += ["kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
        return statement(
            f"DataKeyViaDynamodb{region.role.title()}{'Read' if decrypt_only else ''}",
            actions, [self._key(region).arn],
            condition={"StringEquals": {"kms:ViaService": f"dynamodb.{region.name}.amazonaws.com"}},
        )
