import json

import pytest

from drctl.cli import main
from drctl.config import ConfigError, DrConfig, load_outputs_file, parse_outputs

TF = {"primary_region": {"value": "us-east-1", "type": "string", "sensitive": False},
      "dr_region": {"value": "us-west-2", "type": "string", "sensitive": False},
      "environment_suffix": {"value": "qa", "type": "string", "sensitive": False},
      "replication_lag_threshold_seconds": {"value": 2, "type": "number", "sensitive": False}}
CDKTF = {"payments-dr-bootstrap": {"state_bucket": "b"},
         "payments-dr": {"primary_region": "eu-west-1", "dr_region": "eu-central-1",
                         "global_cluster_id": "g-1"}}


def test_terraform_output_json_format_is_detected():
    assert parse_outputs(TF) == {"primary_region": "us-east-1", "dr_region": "us-west-2",
                                 "environment_suffix": "qa", "replication_lag_threshold_seconds": 2}


def test_cdktf_outputs_format_picks_the_platform_stack():
    assert parse_outputs(CDKTF)["primary_region"] == "eu-west-1"
    assert parse_outputs(CDKTF, stack="payments-dr-bootstrap") == {"state_bucket": "b"}
    with pytest.raises(ConfigError, match="no stack 'nope'"):
        parse_outputs(CDKTF, stack="nope")


def test_ambiguous_cdktf_file_asks_for_stack():
    with pytest.raises(ConfigError, match="--stack"):
        parse_outputs({"a": {"x": 1}, "b": {"y": 2}})


def test_flags_override_outputs_and_names_derive_from_environment():
    cfg = DrConfig.build(parse_outputs(TF), {"dr_region": "us-east-2", "primary_region": None})
    assert (cfg.primary_region, cfg.dr_region) == ("us-east-1", "us-east-2")
    assert cfg.sources["dr_region"] == "flag" and cfg.sources["primary_region"] == "outputs"
    assert cfg.global_cluster_id == "payments-global-qa"
    assert cfg.dr_cluster_id == "payments-dr-qa"
    assert cfg.dynamodb_table_name == "payment-transactions-qa"
    assert cfg.alarm_name_prefix == "payments-qa-"
    assert cfg.replication_lag_threshold_seconds == 2.0


def test_missing_values_name_the_output_and_the_flag():
    cfg = DrConfig.build({"primary_region": "us-east-1"})
    with pytest.raises(ConfigError) as err:
        cfg.require(["primary_region", "dr_region", "dr_health_check_id"])
    assert err.value.problems == [
        "missing dr_region: set output `dr_region` in the outputs file or pass --dr-region",
        "missing dr_health_check_id: set output `dr_health_check_id` in the outputs file or pass "
        "--dr-health-check-id"]


@pytest.mark.parametrize("outputs, message", [
    ({"primary_region": "us-east-1", "dr_region": "us-east-1"}, "must differ"),
    ({"replication_lag_threshold_seconds": "soon"}, "positive number"),
    ({"replication_lag_threshold_seconds": 0}, "positive number"),
])
def test_invalid_values_are_rejected(outputs, message):
    with pytest.raises(ConfigError, match=message):
        DrConfig.build(outputs)


def test_unreadable_or_invalid_outputs_file(tmp_path):
    with pytest.raises(ConfigError, match="outputs file"):
        load_outputs_file(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="invalid JSON"):
        load_outputs_file(bad)


def test_cli_reports_missing_config_with_exit_2_and_makes_no_aws_call(tmp_path, capsys):
    path = tmp_path / "out.json"
    path.write_text(json.dumps(TF))

    def no_aws(args):
        raise AssertionError("gateways must not be built when the configuration is incomplete")

    code = main(["status", "--outputs", str(path)], gateways=no_aws)
    err = capsys.readouterr().err
    assert code == 2
    assert "--primary-s3-bucket" in err and "--dr-health-check-id" in err
    assert "--primary-region" not in err  # given by the file


def test_cli_usage_error_exit_2(capsys):
    assert main(["explode"]) == 2
