"""The stack's outputs are the contract with operators and drctl: keep them in step."""

from __future__ import annotations

from drctl.config import OUTPUTS


def test_every_output_drctl_reads_is_declared_by_the_stack(platform):
    missing = sorted(set(OUTPUTS) - set(platform["output"]))
    assert not missing, f"drctl reads outputs the stack does not declare: {missing}"


def test_seed_outputs_exist_and_describe_themselves(platform):
    for name in ("primary_aurora_endpoint", "dr_aurora_endpoint", "dynamodb_table_name",
                 "primary_api_endpoint", "dr_api_endpoint", "primary_s3_bucket", "dr_s3_bucket",
                 "primary_sns_topic", "dr_sns_topic"):
        assert platform["output"][name].get("description"), name


def test_plain_setting_outputs_carry_their_values(platform, qa_platform):
    assert platform["output"]["dynamodb_table_name"]["value"].startswith("${aws_dynamodb_table.")
    assert qa_platform["output"]["dr_region"]["value"] == "us-west-2"
    assert qa_platform["output"]["environment_suffix"]["value"] == "qa"
    assert platform["output"]["replication_lag_threshold_seconds"]["value"] == 1.0
    assert platform["output"]["alarm_name_prefix"]["value"] == "payments-dev-"
