"""DynamoDB global tables and the IAM statements derived from them."""

from __future__ import annotations

import json

from helpers import one, ref, resources

from modules.settings import Settings


def _table(platform, name):
    [(table_id, table)] = [(k, t) for k, t in resources(platform, "aws_dynamodb_table", "primary").items()
                           if t["name"] == name]
    return table_id, table


def test_transactions_table_keys_billing_and_indexes(platform):
    _, table = _table(platform, "payment-transactions-dev")
    assert (table["hash_key"], table["range_key"]) == ("transactionId", "timestamp")
    assert {a["name"]: a["type"] for a in table["attribute"]} == {
        "transactionId": "S", "timestamp": "N", "customerId": "S", "status": "S"}
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    indexes = {i["name"]: (i["hash_key"], i["range_key"]) for i in table["global_secondary_index"]}
    assert indexes == {"customer-index": ("customerId", "timestamp"),
                       "status-index": ("status", "timestamp")}


def test_both_tables_replicate_to_dr_with_pitr_streams_and_regional_keys(platform):
    primary_key, _ = one(platform, "aws_kms_key", "primary")
    dr_key, _ = one(platform, "aws_kms_key", "dr")
    for name in ("payment-transactions-dev", "payment-idempotency-dev"):
        _, table = _table(platform, name)
        assert table["point_in_time_recovery"] == {"enabled": True, "recovery_period_in_days": 35}
        assert table["stream_enabled"] is True and table["stream_view_type"] == "NEW_AND_OLD_IMAGES"
        assert table["server_side_encryption"] == {"enabled": True,
                                                   "kms_key_arn": ref("aws_kms_key", primary_key, "arn")}
        [replica] = table["replica"]
        assert replica["region_name"] == "us-east-2"
        assert replica["point_in_time_recovery"] is True
        assert replica["kms_key_arn"] == ref("aws_kms_key", dr_key, "arn")


def test_idempotency_table_expires_records(platform):
    _, table = _table(platform, "payment-idempotency-dev")
    assert table["hash_key"] == "id"
    assert table["ttl"] == {"enabled": True, "attribute_name": "expiration"}


def test_replica_follows_the_dr_region_setting(qa_platform):
    _, table = _table(qa_platform, "payment-transactions-qa")
    assert [r["region_name"] for r in table["replica"]] == ["us-west-2"]


def test_tables_live_in_the_primary_stack_and_the_dr_stack_names_them(stacks):
    """The provider manages replicas through the main table's region, so the tables (with
    their DR replicas) are in the primary stack; the DR stack has no DynamoDB resource."""
    assert len(resources(stacks["payments-dr-primary"], "aws_dynamodb_table")) == 2
    for name in ("payments-dr-dr", "payments-dr-foundation", "payments-dr-routing"):
        assert not resources(stacks[name], "aws_dynamodb_table")
        assert not resources(stacks[name], "aws_dynamodb_table_replica")


def test_grants_name_only_the_replica_of_the_functions_region():
    """A function in the DR region is granted the DR replica and DR key, nothing in primary."""
    from cdktf import App

    from modules.stack import build_platform

    stacks = build_platform(App(), Settings.from_env({}))
    dr = stacks["payments-dr-dr"]
    statements = dr.table_access.grant_transactions_write()
    rendered = json.dumps(statements)  # region names are literal; account/table are tokens
    assert ":us-east-2:" in rendered and ":us-east-1:" not in rendered
    actions = {a for s in statements for a in s["Action"]}
    assert "dynamodb:PutItem" in actions and "dynamodb:DeleteTable" not in actions
    assert all(not a.endswith(":*") and a != "*" for a in actions)
    table_statement, key_statement = statements
    assert len(table_statement["Resource"]) == 1
    assert table_statement["Resource"][0].endswith(":table/payment-transactions-dev")
    assert not any("/index/" in r for r in table_statement["Resource"]), "validator uses no index"
    assert actions == {"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "kms:Decrypt", "kms:DescribeKey",
                       "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"}
    assert key_statement["Condition"] == {
        "StringEquals": {"kms:ViaService": "dynamodb.us-east-2.amazonaws.com"}}


def test_transactions_table_is_strongly_consistent_by_default_and_idempotency_is_not(platform):
    """The claim items that decide "first" live in the transactions table: MRSC by default (issue 20).
    The idempotency table uses TTL, which MRSC tables do not support: it stays eventual."""
    _, transactions = _table(platform, "payment-transactions-dev")
    assert transactions["replica"][0]["consistency_mode"] == "STRONG"
    assert transactions["global_table_witness"] == {"region_name": "us-west-2"}
    assert "ttl" not in transactions or not transactions["ttl"].get("enabled")
    _, idempotency = _table(platform, "payment-idempotency-dev")
    assert "global_table_witness" not in idempotency
    assert "consistency_mode" not in idempotency["replica"][0]
    assert idempotency["ttl"]["enabled"] is True
    [health] = [f for f in resources(platform, "aws_lambda_function", "dr").values()
                if f["function_name"] == "payment-health-dr-dev"]
    assert health["environment"]["variables"]["TRANSACTIONS_CONSISTENCY_MODE"] == "STRONG"


def test_strong_consistency_puts_the_witness_in_the_region_sets_third_region(tuned_platform):
    """With the primary in us-west-2 and DR in us-east-2 the witness is us-east-1."""
    _, transactions = _table(tuned_platform, "payment-transactions-dev")
    assert transactions["replica"][0]["consistency_mode"] == "STRONG"
    assert transactions["global_table_witness"] == {"region_name": "us-east-1"}
    _, idempotency = _table(tuned_platform, "payment-idempotency-dev")  # TTL-driven: eventual
    assert "global_table_witness" not in idempotency


def test_eventual_consistency_is_an_explicit_opt_out(qa_platform):
    stack = qa_platform  # TRANSACTIONS_CONSISTENCY=EVENTUAL (platform_support.QA)
    _, transactions = _table(stack, "payment-transactions-qa")
    assert "global_table_witness" not in transactions
    assert "consistency_mode" not in transactions["replica"][0]
    [health] = [f for f in resources(stack, "aws_lambda_function", "dr").values()
                if f["function_name"] == "payment-health-dr-qa"]
    assert health["environment"]["variables"]["TRANSACTIONS_CONSISTENCY_MODE"] == "EVENTUAL"


def test_strong_consistency_outside_a_region_set_is_refused():
    import pytest

    from modules.settings import SettingsError

    with pytest.raises(SettingsError) as error:
        Settings.from_env({"DR_REGION": "eu-west-1"})  # STRONG is the default
    assert "TRANSACTIONS_CONSISTENCY=STRONG needs PRIMARY_REGION and DR_REGION" in str(error.value)
    assert "TRANSACTIONS_CONSISTENCY=EVENTUAL" in str(error.value)
    assert Settings.from_env({"DR_REGION": "eu-west-1", "TRANSACTIONS_CONSISTENCY": "EVENTUAL"})
    assert Settings.from_env({"TRANSACTIONS_CONSISTENCY": "STRONG", "PRIMARY_REGION": "us-west-2",
                              "DR_REGION": "us-east-2"}).mrsc_witness_region == "us-east-1"


def _validator_idempotency_key(client_id: str, transaction_id: str) -> str:
    """The key Powertools writes for a validator request (lambda/validator.py's config)."""
    import boto3
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
    from aws_lambda_powertools.utilities.idempotency.persistence.dynamodb import DynamoDBPersistenceLayer

    from contract import VALIDATOR_IDEMPOTENCY_KEY_PREFIX

    layer = DynamoDBPersistenceLayer(table_name="t", boto3_client=boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"))
    layer.configure(IdempotencyConfig(event_key_jmespath="[clientId, transactionId]", hash_function="sha256"),
                    function_name="_accept", key_prefix=VALIDATOR_IDEMPOTENCY_KEY_PREFIX)
    return layer._get_hashed_idempotency_key({"clientId": client_id, "transactionId": transaction_id})


def test_the_validator_can_touch_its_idempotency_records_and_not_the_authorizers_nonces(platform):
    """Issue 21: the validator's grant on the idempotency table covered every key, so it could
    delete or overwrite the authorizer's `nonce#` records (replay protection). IAM's
    dynamodb:LeadingKeys now admits the keys Powertools writes for the validator only."""
    from fnmatch import fnmatchcase

    from contract import NONCE_KEY_PREFIX

    ours, nonce = _validator_idempotency_key("merchant-1", "tx-1"), f"{NONCE_KEY_PREFIX}abc123"
    grants = [s for p in resources(platform, "aws_iam_role_policy").values()
              for s in json.loads(p["policy"])["Statement"] if s["Sid"].startswith("IdempotencyRecords")]
    assert len(grants) == 2  # the validator in each region
    for grant in grants:
        table = grant["Resource"]
        # Every statement of any role naming this table: what a caller with that key may do.
        for s in [s for p in resources(platform, "aws_iam_role_policy").values()
                  for s in json.loads(p["policy"])["Statement"] if s.get("Resource") == table]:
            patterns = s.get("Condition", {}).get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys")
            if s["Sid"].startswith("IdempotencyRecords"):
                assert patterns and any(fnmatchcase(ours, p) for p in patterns), (ours, s)
            if "dynamodb:DeleteItem" in s["Action"] or "dynamodb:UpdateItem" in s["Action"]:
                assert patterns and not any(fnmatchcase(nonce, p) for p in patterns), s
