"""Settings: defaults, every rejected case with a message naming the variable, and that
invalid settings stop main.py before anything is written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from platform_support import PROD

from modules.settings import (
    CAPACITY_HEADROOM,
    DEFAULT_AURORA_ENGINE_VERSION,
    VALIDATOR_DESIGN_DURATION_S,
    WAF_RATE_WINDOW_S,
    Settings,
    SettingsError,
)

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_match_the_design():
    s = Settings.from_env({})
    assert (s.environment_suffix, s.primary_region, s.dr_region) == ("dev", "us-east-1", "us-east-2")
    assert s.domain_name == "payments-dev.example.com"
    assert s.replication_lag_threshold_seconds == 1.0
    assert s.aurora_engine_version == DEFAULT_AURORA_ENGINE_VERSION == "17.7"
    assert s.state_region == "us-east-2", "state must default to outside the primary region"
    assert s.deletion_protection is False
    # The default environment's first deploy is the cheap one (README: cost profiles).
    assert s.cost_profile == "dev" and s.is_dev_profile and not s.tracing
    assert (s.aurora_instance_class, s.backup_retention_days, s.log_retention_days,
            s.object_lock_mode, s.object_lock_days) == ("db.serverless", 1, 14, "GOVERNANCE", 1)
    assert s.peak_payments_per_second == 10


@pytest.mark.parametrize("environ", [{"COST_PROFILE": "standard"}, {"COST_PROFILE": "STANDARD"},
                                     {"ENVIRONMENT_SUFFIX": "qa"}, {"DELETION_PROTECTION": "true"}])
def test_standard_profile_defaults(environ):
    s = Settings.from_env(environ)
    assert s.cost_profile == "standard" and s.tracing and not s.aurora_serverless
    assert (s.aurora_instance_class, s.backup_retention_days, s.log_retention_days,
            s.object_lock_days) == ("db.r6g.large", 35, 365, 365)


def test_explicit_values_win_over_the_profile():
    s = Settings.from_env({"LOG_RETENTION_DAYS": "365", "BACKUP_RETENTION_DAYS": "7",
                           "OBJECT_LOCK_DAYS": "30", "AURORA_INSTANCE_CLASS": "db.r7g.large"})
    assert s.is_dev_profile
    assert (s.log_retention_days, s.backup_retention_days, s.object_lock_days,
            s.aurora_instance_class) == (365, 7, 30, "db.r7g.large")
    assert Settings.from_env({"COST_PROFILE": "standard",
                              "AURORA_INSTANCE_CLASS": "db.serverless"}).aurora_serverless


@pytest.mark.parametrize("environ, fragment", [
    ({**PROD, "COST_PROFILE": "dev"}, "COST_PROFILE=dev is refused for ENVIRONMENT_SUFFIX='prod'"),
    ({**PROD, "ENVIRONMENT_SUFFIX": "live", "COST_PROFILE": "dev"},
     "COST_PROFILE=dev is refused for ENVIRONMENT_SUFFIX='live'"),
    ({"COST_PROFILE": "dev", "DELETION_PROTECTION": "true"},
     "COST_PROFILE=dev and DELETION_PROTECTION=true contradict"),
    ({"OBJECT_LOCK_MODE": "COMPLIANCE"}, "COST_PROFILE=dev cannot use OBJECT_LOCK_MODE=COMPLIANCE"),
    ({"COST_PROFILE": "cheap"}, "COST_PROFILE='cheap' is invalid: use dev or standard"),
    ({"LOG_RETENTION_DAYS": "0"}, "LOG_RETENTION_DAYS=0 is invalid"),
    ({"BACKUP_RETENTION_DAYS": "0"}, "BACKUP_RETENTION_DAYS=0 is invalid"),
])
def test_the_dev_profile_is_refused_where_it_does_not_belong(environ, fragment):
    """A SettingsError, so main.py stops before any JSON is written (test below)."""
    with pytest.raises(SettingsError) as error:
        Settings.from_env(environ)
    assert fragment in str(error.value)
    assert len([p for p in error.value.problems if "COST_PROFILE" in p]) <= 1


@pytest.mark.parametrize("environ, fragment", [
    ({"LAMBDA_RESERVED_CONCURRENCY": "10"},
     "LAMBDA_RESERVED_CONCURRENCY=10 cannot carry PEAK_PAYMENTS_PER_SECOND=10: POST /validate is "
     "sized at 20 rps"),
    ({"PEAK_PAYMENTS_PER_SECOND": "50", "LAMBDA_RESERVED_CONCURRENCY": "60"},
     "reserve at least 100"),
    ({"PEAK_PAYMENTS_PER_SECOND": "0"}, "PEAK_PAYMENTS_PER_SECOND=0 is invalid"),
    ({"PEAK_PAYMENTS_PER_SECOND": "2501"}, "PEAK_PAYMENTS_PER_SECOND=2501 is invalid"),
    ({"PEAK_PAYMENTS_PER_SECOND": "lots"}, "PEAK_PAYMENTS_PER_SECOND='lots' is not a number"),
    # WAF's smallest rate limit (10 per window) would be the whole stage at this peak (issue 22).
    ({"PEAK_PAYMENTS_PER_SECOND": "0.01"}, "one client's WAF quota (10 per 300 s) would be the whole stage"),
])
def test_a_peak_the_limits_cannot_carry_is_refused(environ, fragment):
    with pytest.raises(SettingsError) as error:
        Settings.from_env(environ)
    assert fragment in str(error.value)


def test_the_peak_sizes_every_limit_with_headroom():
    for peak, reserved in ((10, "-1"), (10, "20"), (2.5, "-1"), (200, "400"), (2500, "-1")):
        s = Settings.from_env({"PEAK_PAYMENTS_PER_SECOND": str(peak),
                               "LAMBDA_RESERVED_CONCURRENCY": reserved})
        assert s.validate_throttle_rate >= peak * CAPACITY_HEADROOM
        assert s.validate_throttle_burst >= s.validate_throttle_rate * 1
        # One merchant NAT IP may send the whole peak for the whole WAF window.
        assert s.waf_rate_limit_per_ip >= peak * CAPACITY_HEADROOM * WAF_RATE_WINDOW_S
        if s.reserves_concurrency:
            assert s.lambda_reserved_concurrency >= s.validate_throttle_rate * VALIDATOR_DESIGN_DURATION_S
    default = Settings.from_env({})
    assert (default.validate_throttle_burst, default.validate_throttle_rate,
            default.waf_rate_limit_per_ip) == (20, 20.0, 6000)


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


def test_the_lock_table_refusal_points_at_a_section_that_exists():
    """The message sends the operator to the migration steps: that section must be there."""
    with pytest.raises(SettingsError) as error:
        Settings.from_env({"TF_STATE_LOCK_TABLE": "locks"})
    doc, heading = re.search(r'\((docs/[a-z-]+\.md), "([^"]+)"\)', str(error.value)).groups()
    text = (Path(__file__).resolve().parents[1] / doc).read_text()
    assert re.search(rf"^#+ {re.escape(heading)}$", text, re.M), (doc, heading)
    assert "lock table is no longer used" in text


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
        "GOVERNANCE", 1)  # the dev profile: a dev environment can be torn down the next day
    standard = Settings.from_env({"COST_PROFILE": "standard"})
    assert (standard.object_lock_mode, standard.object_lock_days) == ("GOVERNANCE", 365)
    assert Settings.from_env(PROD).object_lock_mode == "COMPLIANCE"
    assert Settings.from_env(PROD).object_lock_days == 365
    # A prod-like environment may not weaken the lock (issue 21): receipts are audit records.
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({**PROD, "OBJECT_LOCK_MODE": "governance", "OBJECT_LOCK_DAYS": "30"})
    assert any("OBJECT_LOCK_MODE=GOVERNANCE is refused" in p for p in refused.value.problems)
    assert any("OBJECT_LOCK_DAYS=30 is refused" in p for p in refused.value.problems)
    assert Settings.from_env({**PROD, "OBJECT_LOCK_DAYS": "2555"}).object_lock_days == 2555


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
