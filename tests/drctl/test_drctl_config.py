import json

import pytest

import contract
from drctl.cli import main
from drctl.config import OUTPUTS, ConfigError, DrConfig, load_outputs_file, load_outputs_files, parse_outputs

TF = {"primary_region": {"value": "us-east-1", "type": "string", "sensitive": False},
      "dr_region": {"value": "us-west-2", "type": "string", "sensitive": False},
      "environment_suffix": {"value": "qa", "type": "string", "sensitive": False},
      "replication_lag_threshold_seconds": {"value": 2, "type": "number", "sensitive": False}}
CDKTF = {"payments-dr-bootstrap": {"state_bucket": "b"},
         "payments-dr-primary": {"primary_region": "eu-west-1", "global_cluster_id": "g-1"},
         "payments-dr-dr": {"dr_region": "eu-central-1", "dr_cluster_id": "d-1"},
         "payments-dr-routing": {"primary_health_check_id": "hc-p", "dr_health_check_id": "hc-d"}}


def test_terraform_output_json_format_is_detected():
    assert parse_outputs(TF) == {"primary_region": "us-east-1", "dr_region": "us-west-2",
                                 "environment_suffix": "qa", "replication_lag_threshold_seconds": 2}


def test_cdktf_outputs_file_with_several_stacks_is_merged():
    merged = parse_outputs(CDKTF)
    assert (merged["primary_region"], merged["dr_region"], merged["dr_cluster_id"],
            merged["dr_health_check_id"]) == ("eu-west-1", "eu-central-1", "d-1", "hc-d")
    assert parse_outputs(CDKTF, ["payments-dr-bootstrap"]) == {"state_bucket": "b"}
    with pytest.raises(ConfigError, match="no stack 'nope'"):
        parse_outputs(CDKTF, ["nope"])


def test_a_key_written_twice_with_different_values_is_an_error():
    with pytest.raises(ConfigError, match=r"dr_region.*payments-dr-dr"):
        parse_outputs({"payments-dr-dr": {"dr_region": "us-east-2"},
                       "payments-dr-routing": {"dr_region": "us-west-2"}})


def test_one_terraform_output_file_per_stack_is_merged(tmp_path):
    paths = []
    for stack, outputs in CDKTF.items():
        path = tmp_path / f"{stack}.json"
        path.write_text(json.dumps({k: {"value": v, "type": "string", "sensitive": False}
                                    for k, v in outputs.items()}))
        paths.append(path)
    merged = load_outputs_files(paths)
    assert merged["dr_cluster_id"] == "d-1" and merged["primary_health_check_id"] == "hc-p"
    clash = tmp_path / "clash.json"
    clash.write_text(json.dumps({"dr_region": {"value": "us-west-2", "type": "string"}}))
    with pytest.raises(ConfigError, match="dr_region"):
        load_outputs_files(paths + [clash])


def test_cli_accepts_outputs_several_times(tmp_path):
    files = []
    for i, part in enumerate(({"primary_region": "us-east-1", "environment_suffix": "dev"},
                              {"dr_region": "us-east-2"})):
        files += ["--outputs", str(tmp_path / f"{i}.json")]
        (tmp_path / f"{i}.json").write_text(json.dumps({k: {"value": v} for k, v in part.items()}))
    seen = {}

    def gateways(args):
        seen["outputs"] = args.outputs
        raise KeyboardInterrupt  # stop before any AWS call
    assert main(["failover", *files, "--quiet"], gateways=gateways) == 130
    assert len(seen["outputs"]) == 2


def test_drctl_reads_only_contract_outputs_and_thresholds():
    assert set(OUTPUTS) <= set(contract.OUTPUTS)
    cfg = DrConfig.build({})
    assert cfg.dynamodb_latency_threshold_seconds == contract.DYNAMODB_REPLICATION_LATENCY_THRESHOLD_S == 10
    assert cfg.s3_latency_threshold_seconds == contract.S3_REPLICATION_LATENCY_THRESHOLD_S
    names = DrConfig.build({"environment_suffix": "qa"})
    assert names.dr_cluster_id == contract.Names("qa").cluster("dr")
    assert names.alarm_name_prefix == contract.Names("qa").alarm_prefix


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
        "missing dr_region: set output `dr_region` (payments-dr-dr) in an outputs file or pass "
        "--dr-region",
        "missing dr_health_check_id: set output `dr_health_check_id` (payments-dr-routing) in an "
        "outputs file or pass --dr-health-check-id"]


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
