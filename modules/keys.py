"""Customer-managed KMS keys, one per region (in the foundation stack: both regional stacks
need both keys, the DR key for the primary's table and secret replicas).

Every store of payment data (Aurora, DynamoDB, S3, Secrets Manager) and every log group and
SNS topic in a region is encrypted with that region's key. A key never leaves its region,
so cross-region copies (Aurora secondary, DynamoDB replica, S3 replicas, secret replica)
are re-encrypted with the destination region's key: each region stays usable when the
other region, and its KMS, is down.
"""

from __future__ import annotations

from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from constructs import Construct

from modules.iam import policy_document, statement
from modules.naming import Names
from modules.regions import Region


class RegionalKey(Construct):
    """The data key of one region. `arn` is what resources reference."""

    def __init__(self, scope: Construct, id: str, *, region: Region, names: Names):
        super().__init__(scope, id)
        root = f"arn:{region.partition}:iam::{region.account_id}:root"
        policy = policy_document([
            # Delegates to IAM: only principals whose IAM policies name this key may use it.
            statement("AccountAdministersKeyThroughIam", ["kms:*"], ["*"],
                      principal={"AWS": root}),
            statement(
                "CloudWatchLogsEncryptsOurLogGroups",
                ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                 "kms:Describe*"],
                ["*"],
                principal={"Service": f"logs.{region.name}.amazonaws.com"},
                condition={"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                       region.arn("logs", "log-group:*")}},
            ),
            # CloudWatch alarms publish to encrypted SNS topics only if they may use the key.
            statement(
                "CloudWatchAlarmsPublishToEncryptedTopics",
                ["kms:Decrypt", "kms:GenerateDataKey*"],
                ["*"],
                principal={"Service": "cloudwatch.amazonaws.com"},
                condition={"StringEquals": {"aws:SourceAccount": region.account_id}},
            ),
        ])
        self.key = KmsKey(
            self,
            "key",
            provider=region.provider,
            description=f"payments-dr {names.env} data key ({region.role}, {region.name})",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=30,
            policy=policy,
        )
        # The peer region's stack names this key by its alias (S3 replication, IAM conditions).
        self.alias = KmsAlias(self, "alias", provider=region.provider,
                              name=names.key_alias(region.role), target_key_id=self.key.key_id)

    @property
    def arn(self) -> str:
        return self.key.arn
