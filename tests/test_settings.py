"""Settings: defaults, every rejected case with a message naming the variable, and that
invalid settings stop main.py before anything is written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from platform_support import PROD

from modules.settings import DEFAULT_AURORA_ENGINE_VERSION, Settings, SettingsError

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_match_the_design():
    s = Settings.from_env({})
    assert (s.environment_suffix, s.primary_region, s.dr_region) == ("dev", "us-east-1", "us-east-2")
    assert s.domain_name == "payments-dev.example.com"
    assert s.replication_lag_threshold_seconds == 1.0
    assert s.aurora_engine_version == DEFAULT_AURORA_ENGINE_VERSION == "17.7"
    assert s.aurora_instance_class == "db.r6g.large"
    assert s.state_region == "us-east-2", "state must default to outside the primary region"
    assert s.deletion_protection is False


def test_environment_values_are_read_and_derived_defaults_follow():
    s = Settings.from_env({"ENVIRONMENT_SUFFIX": "qa", "DR_REGION": "us-west-2",
                           "REPLICATION_LAG_THRESHOLD": "2.5"})
    assert s.domain_name == "payments-qa.example.com"
    assert s.state_bucket == "payments-dr-tfstate-qa-aws-account-id-unset-us-west-2"
    assert s.state_region == "us-west-2"
    assert s.replication_lag_threshold_seconds == 2.5


def test_state_bucket_is_unique_per_account_and_region_without_credentials():
    s = Settings.from_env({"AWS_ACCOUNT_ID": "123456789012"})
    assert s.state_bucket == "payments-dr-tfstate-dev-123456789012-us-east-2"
    assert len(s.state_bucket) <= 63
    assert Settings.from_env({"TF_STATE_BUCKET": "my-own-state"}).state_bucket == "my-own-state"


def test_prod_like_environment_turns_deletion_protection_on_and_it_can_be_overridden():
    assert Settings.from_env(PROD).deletion_protection is True
    assert Settings.from_env({**PROD, "DELETION_PROTECTION": "false"}).deletion_protection is False
    assert Settings.from_env({"DELETION_PROTECTION": "true"}).deletion_protection is True


def test_prod_like_gets_a_reader_per_region_and_dev_one_instance():
    assert (Settings.from_env(PROD).aurora_primary_instances,
            Settings.from_env(PROD).aurora_dr_instances) == (2, 2)
    dev = Settings.from_env({})
    assert (dev.aurora_primary_instances, dev.aurora_dr_instances) == (1, 1)


@pytest.mark.parametrize("missing, message", [
    ("ALARM_", "ALARM_EMAIL or ALARM_HTTPS_ENDPOINTS is required for ENVIRONMENT_SUFFIX='prod'"),
    ("AWS_ACCOUNT_ID", "AWS_ACCOUNT_ID is required for ENVIRONMENT_SUFFIX='prod'"),
    ("DOMAIN_NAME", "DOMAIN_NAME='payments-prod.example.com' cannot be served"),
])
def test_prod_like_refuses_what_would_page_nobody_or_never_resolve(missing, message):
    environ = {k: v for k, v in PROD.items() if not k.startswith(missing)}
    with pytest.raises(SettingsError) as error:
        Settings.from_env(environ)
    assert message in str(error.value)


def test_paging_targets_are_lists():
    s = Settings.from_env({"ALARM_EMAIL": "a@x.io, b@x.io",
                           "ALARM_HTTPS_ENDPOINTS": "https://events.pagerduty.com/x/enqueue"})
    assert s.alarm_emails == ("a@x.io", "b@x.io")
    assert s.alarm_https_endpoints == ("https://events.pagerduty.com/x/enqueue",)


@pytest.mark.parametrize("environ, variable, allowed", [
    ({"PRIMARY_REGION": "us-east-2"}, "PRIMARY_REGION and DR_REGION", "two different regions"),
    ({"DR_REGION": "mars-north-1"}, "DR_REGION='mars-north-1'", "us-east-1, us-east-2"),
    ({"PRIMARY_REGION": "us-gov-west-1"}, "PRIMARY_REGION='us-gov-west-1'", "use one of"),
    ({"ENVIRONMENT_SUFFIX": "Prod_1"}, "ENVIRONMENT_SUFFIX='Prod_1'", "lowercase"),
    ({"ENVIRONMENT_SUFFIX": "a-very-long-suffix"}, "ENVIRONMENT_SUFFIX", "1-12"),
    ({"ENVIRONMENT_SUFFIX": "dev-"}, "ENVIRONMENT_SUFFIX='dev-'", "not ending with a hyphen"),
    ({"REPLICATION_LAG_THRESHOLD": "0"}, "REPLICATION_LAG_THRESHOLD=0.0", "greater than 0"),
    ({"REPLICATION_LAG_THRESHOLD": "-1"}, "REPLICATION_LAG_THRESHOLD=-1.0", "greater than 0"),
    ({"REPLICATION_LAG_THRESHOLD": "fast"}, "REPLICATION_LAG_THRESHOLD='fast'", "not a number"),
    ({"DOMAIN_NAME": "localhost"}, "DOMAIN_NAME='localhost'", "two"),
    ({"DOMAIN_NAME": "pay_ments.example.com"}, "DOMAIN_NAME", "valid DNS name"),
    ({"AURORA_ENGINE_VERSION": "13.7"}, "AURORA_ENGINE_VERSION='13.7'", "major 16 or 17"),
    ({"AURORA_INSTANCE_CLASS": "db.t4g.medium"}, "AURORA_INSTANCE_CLASS", "burstable"),
    ({"BACKUP_RETENTION_DAYS": "36"}, "BACKUP_RETENTION_DAYS=36", "1 to 35"),
    ({"BACKUP_RETENTION_DAYS": "week"}, "BACKUP_RETENTION_DAYS='week'", "whole number"),
    ({"TF_STATE_BUCKET": "Bad_Bucket"}, "TF_STATE_BUCKET='Bad_Bucket'", "S3 bucket name"),
    ({"TF_STATE_REGION": "nowhere-1"}, "TF_STATE_REGION='nowhere-1'", "use one of"),
    ({"HOSTED_ZONE_ID": "example.com"}, "HOSTED_ZONE_ID='example.com'", "Z0123456789"),
    ({"ALARM_EMAIL": "ops"}, "ALARM_EMAIL: 'ops'", "e-mail"),
    ({"ALARM_HTTPS_ENDPOINTS": "http://x.io/h"}, "ALARM_HTTPS_ENDPOINTS: 'http://x.io/h'", "https://"),
    ({"AWS_ACCOUNT_ID": "1234"}, "AWS_ACCOUNT_ID='1234'", "12 digits"),
    ({"AURORA_PRIMARY_INSTANCES": "0"}, "AURORA_PRIMARY_INSTANCES=0", "1 to 4"),
    ({"AURORA_DR_INSTANCES": "5"}, "AURORA_DR_INSTANCES=5", "1 to 4"),
    ({"TF_STATE_LOCK_TABLE": "locks"}, "TF_STATE_LOCK_TABLE is no longer used", "use_lockfile"),
    ({"LAMBDA_RESERVED_CONCURRENCY": "0"}, "LAMBDA_RESERVED_CONCURRENCY=0", "-1 for no reservation"),
    ({"LOG_RETENTION_DAYS": "10"}, "LOG_RETENTION_DAYS=10", "365"),
    ({"TFC_ORGANIZATION": "acme"}, "TFC_ORGANIZATION and TFC_WORKSPACE", "together"),
    ({"DELETION_PROTECTION": "maybe"}, "DELETION_PROTECTION='maybe'", "true or false"),
])
def test_invalid_settings_name_the_variable_and_what_is_allowed(environ, variable, allowed):
    with pytest.raises(SettingsError) as error:
        Settings.from_env(environ)
    message = str(error.value)
    assert variable in message
    assert allowed in message


def test_all_problems_are_reported_at_once():
    with pytest.raises(SettingsError) as error:
        Settings.from_env({"PRIMARY_REGION": "nowhere", "REPLICATION_LAG_THRESHOLD": "0"})
    assert len(error.value.problems) == 2


def test_settings_are_frozen():
    s = Settings.from_env({})
    with pytest.raises(AttributeError):
        s.primary_region = "eu-west-1"  # type: ignore[misc]


@pytest.mark.slow
def test_main_rejects_invalid_settings_before_writing_any_json(tmp_path):
    outdir = tmp_path / "out"
    env = {**os.environ, "CDKTF_OUTDIR": str(outdir), "DR_REGION": "us-east-1",
           "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, str(ROOT / "main.py")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "PRIMARY_REGION and DR_REGION are both 'us-east-1'" in proc.stderr
    assert not outdir.exists(), "nothing may be written for invalid settings"


def test_object_lock_defaults_follow_the_environment():
    assert (Settings.from_env({}).object_lock_mode, Settings.from_env({}).object_lock_days) == (
        "GOVERNANCE", 365)
    assert Settings.from_env(PROD).object_lock_mode == "COMPLIANCE"
    overridden = Settings.from_env({**PROD, "OBJECT_LOCK_MODE": "governance",
                                    "OBJECT_LOCK_DAYS": "30"})
    assert (overridden.object_lock_mode, overridden.object_lock_days) == ("GOVERNANCE", 30)


@pytest.mark.parametrize("environ, fragment", [
    ({"OBJECT_LOCK_MODE": "LEGAL_HOLD"}, "OBJECT_LOCK_MODE='LEGAL_HOLD' is invalid"),
    ({"OBJECT_LOCK_DAYS": "0"}, "OBJECT_LOCK_DAYS=0 is invalid"),
    ({"OBJECT_LOCK_DAYS": "36501"}, "OBJECT_LOCK_DAYS=36501 is invalid"),
    ({"OBJECT_LOCK_DAYS": "a year"}, "OBJECT_LOCK_DAYS='a year' is not a whole number"),
])
def test_invalid_object_lock_settings_name_the_variable(environ, fragment):
    with pytest.raises(SettingsError) as error:
        Settings.from_env(environ)
    assert fragment in str(error.value)
