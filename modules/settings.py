"""Typed, validated settings for the whole platform: the only place that reads the platform's
environment variables (main.py reads CDKTF_OUTDIR and fast_provider.py CDKTF_FAST_IMPORTS,
which are tool switches, not platform settings).

Everything a tier needs comes from `Settings`, built once by `Settings.from_env()` at the edge
(main.py, tests). An invalid value raises `SettingsError` naming the variable and what is
allowed, before any construct exists, so no JSON is ever written for a bad configuration.
Values that cannot be parsed (a word where a number belongs) are reported first, alone; the
remaining rules are then checked together and every problem among them is listed.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from contract import Names, reserved_domain

# Commercial regions where Aurora PostgreSQL global databases, DynamoDB global tables,
# S3 Replication Time Control and regional API Gateway endpoints are all available.
SUPPORTED_REGIONS: tuple[str, ...] = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    "ca-central-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1",
    "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "ap-northeast-2",
    "sa-east-1",
)

# Aurora PostgreSQL 17.7 is the designated long-term-support minor of major 17 (about three
# years of support), and 17 is supported for global databases in every region above.
DEFAULT_AURORA_ENGINE_VERSION = "17.7"
SUPPORTED_AURORA_MAJORS = ("16", "17")
# Memory-optimised Graviton classes that Aurora PostgreSQL global databases accept
# (burstable db.t* classes are not supported for global databases).
# db.serverless (Aurora Serverless v2) is supported for global database members too.
SUPPORTED_INSTANCE_CLASS = re.compile(
    r"^db\.(r6g|r6i|r7g|r7i|r8g|x2g)\.(large|[0-9]*xlarge)$|^db\.serverless$")
PROD_LIKE_ENVIRONMENTS = ("prod", "production", "prd", "live")
# COST_PROFILE: `dev` is the cheapest platform that still runs every code path (Aurora
# Serverless v2 at its minimum, slower health checks, no tracing, one-AZ KMS endpoint, short
# retention and Object Lock, destroyable buckets); `standard` is what prod-like environments
# run. The default environment `dev` defaults to `dev` (unless DELETION_PROTECTION=true);
# every other environment to `standard`; prod-like environments refuse `dev`. README: "Cost profiles" lists each saving.
COST_PROFILES = ("dev", "standard")
DEV_PROFILE_ENVIRONMENTS = ("dev",)
AURORA_SERVERLESS_CLASS = "db.serverless"
# What each profile defaults to when the variable is not set (explicit values always win).
PROFILE_DEFAULTS: dict[str, dict[str, object]] = {
    "standard": {"aurora_instance_class": "db.r6g.large", "backup_retention_days": 35,
                 "log_retention_days": 365, "object_lock_days": 365},
    "dev": {"aurora_instance_class": AURORA_SERVERLESS_CLASS, "backup_retention_days": 1,
            "log_retention_days": 14, "object_lock_days": 1},
}
# Capacity: the declared peak is carried with this much headroom by every limit it sizes
# (API Gateway throttles, WAF rate limits, the validator's concurrency).
CAPACITY_HEADROOM = 2.0
DEFAULT_PEAK_PAYMENTS_PER_SECOND = 10.0
# API Gateway's default account-level throttle per region (a quota; raising it is a request):
# the stage can never promise more than this.
API_GATEWAY_ACCOUNT_RATE_LIMIT = 10000
API_GATEWAY_ACCOUNT_BURST_LIMIT = 5000
# A validator request holds an execution for ~0.1-0.3 s warm; 1 s covers cold starts and slow
# dependencies: the validator must be able to run (throttle rate x 1 s) requests at once, or
# overload becomes Lambda throttles (500s, outcome unknown) instead of API Gateway 429s.
VALIDATOR_DESIGN_DURATION_S = 1.0
# WAF rate-based rules count requests over this window (seconds; WAF's default, kept).
WAF_RATE_WINDOW_S = 300
WAF_MIN_RATE_LIMIT = 10  # the smallest limit WAF accepts
# DynamoDB multi-Region strong consistency needs exactly three members in one region set:
# our two regions plus a witness in the third (docs/payment-validator.md: evaluation).
MRSC_REGION_SETS = (("us-east-1", "us-east-2", "us-west-2"),)
CONSISTENCY_MODES = ("EVENTUAL", "STRONG")

_ENV_SUFFIX = re.compile(r"^[a-z][a-z0-9-]{0,10}[a-z0-9]$|^[a-z]$")
_HOSTNAME_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
_HTTPS_URL = re.compile(r"^https://[^\s,/]+\.[^\s,/]+(/[^\s,]*)?$")
_ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
# Stands in the state bucket's name until AWS_ACCOUNT_ID is set: a synth works without it,
# and a plan of any platform stack stops with a precondition naming AWS_ACCOUNT_ID.
ACCOUNT_PLACEHOLDER = "aws-account-id-unset"
MAX_AURORA_INSTANCES = 4
# GitHub: owner 1-39 letters, digits or single hyphens; repository 1-100 of [A-Za-z0-9._-],
# not "." or "..". The value lands verbatim in the OIDC subject the trust policies compare.
_GITHUB_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}/(?!\.\.?$)[A-Za-z0-9._-]{1,100}$")
PROD_MIN_OBJECT_LOCK_DAYS = 365
_IAM_ROLE_NAME = re.compile(r"^[A-Za-z0-9_+=,.@-]{1,64}$")
_TFC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,90}$")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class SettingsError(ValueError):
    """One or more settings are invalid. A value that cannot be parsed is reported alone; otherwise
    the message lists every rule that failed, each naming its variable."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid settings:\n  - " + "\n  - ".join(problems))


@dataclass(frozen=True)
class Settings:
    """Every knob of the platform. Field docs name the environment variable that sets it."""

    environment_suffix: str = "dev"  # ENVIRONMENT_SUFFIX
    primary_region: str = "us-east-1"  # PRIMARY_REGION
    dr_region: str = "us-east-2"  # DR_REGION
    domain_name: str = ""  # DOMAIN_NAME, default payments-{env}.example.com
    replication_lag_threshold_seconds: float = 1.0  # REPLICATION_LAG_THRESHOLD
    aurora_engine_version: str = DEFAULT_AURORA_ENGINE_VERSION  # AURORA_ENGINE_VERSION
    # COST_PROFILE: dev or standard (default: dev for ENVIRONMENT_SUFFIX=dev unless
    # DELETION_PROTECTION=true, else standard).
    cost_profile: str = ""
    # AURORA_INSTANCE_CLASS, default db.serverless (dev profile) or db.r6g.large (standard)
    aurora_instance_class: str = ""
    backup_retention_days: int = 0  # BACKUP_RETENTION_DAYS (1-35), default 1 dev / 35 standard
    deletion_protection: bool | None = None  # DELETION_PROTECTION, default: on for prod-like envs
    aws_account_id: str = ""  # AWS_ACCOUNT_ID: the account every stack must be applied to
    state_bucket: str = ""  # TF_STATE_BUCKET, default payments-dr-tfstate-{env}-{account}-{region}
    state_region: str = ""  # TF_STATE_REGION, default: the DR region
    hosted_zone_id: str = ""  # HOSTED_ZONE_ID: an existing public zone for DOMAIN_NAME's parent
    # ALARM_EMAIL / ALARM_HTTPS_ENDPOINTS: comma-separated; every alarm topic is subscribed to
    # each. Prod-like environments refuse to synthesize with neither (nobody would be paged).
    alarm_emails: tuple[str, ...] = ()
    alarm_https_endpoints: tuple[str, ...] = ()
    # LAMBDA_RESERVED_CONCURRENCY: -1 (default) reserves nothing, so a new account's small
    # concurrency quota is enough; N reserves N for each validator (health gets a fixed 5).
    lambda_reserved_concurrency: int = -1
    # TRANSACTIONS_CONSISTENCY: STRONG (default: multi-Region strong consistency for the
    # transactions table, whose claim items decide "first" once across regions; new tables only;
    # the witness is the region set's third) or EVENTUAL (region pairs outside a region set:
    # cross-region duplicates are then detected, not prevented; docs/payment-validator.md).
    transactions_consistency: str = "STRONG"
    aurora_primary_instances: int | None = None  # AURORA_PRIMARY_INSTANCES, default 2 prod-like, else 1
    aurora_dr_instances: int | None = None  # AURORA_DR_INSTANCES, default 2 prod-like, else 1
    log_retention_days: int = 0  # LOG_RETENTION_DAYS, default 14 dev / 365 standard
    tfc_organization: str = ""  # TFC_ORGANIZATION: with TFC_WORKSPACE, use Terraform Cloud
    tfc_workspace: str = ""  # TFC_WORKSPACE
    # OBJECT_LOCK_MODE: default retention mode of the audit buckets; default GOVERNANCE,
    # COMPLIANCE for prod-like environments (no one, not even root, can shorten it).
    object_lock_mode: str = ""
    # OBJECT_LOCK_DAYS: default retention of each receipt version, default 1 dev / 365 standard
    object_lock_days: int = 0
    # CI_GITHUB_REPOSITORY: owner/repo whose GitHub Actions may deploy; when set, the account
    # stack creates GitHub's OIDC provider and the bootstrap stack this environment's CI roles
    # (modules/ci_roles.py). Unset: no CI identity is created.
    ci_github_repository: str = ""
    # KEY_ADMIN_ROLES: comma-separated IAM role names (in AWS_ACCOUNT_ID) that alone may
    # schedule deletion of, disable, or re-policy the data keys (modules/keys.py). Default:
    # this environment's CI apply role and the break-glass role payments-dr-key-admin-{env}.
    # Whoever runs `terraform apply` must be one of them (a key policy that denies the
    # deployer PutKeyPolicy is refused by KMS at CreateKey).
    key_admin_roles: tuple[str, ...] = ()
    # CLIENT_KEY_OPERATOR_ROLES: comma-separated IAM role names that, besides the authorizers
    # and the key administrators, may read and write the client-keys secret (`drctl
    # client-keys`; the secret's resource policy, modules/secret_policy.py). Default: the role
    # payments-dr-client-keys-{env}, created by the account's administrators.
    client_key_operator_roles: tuple[str, ...] = ()
    # PEAK_PAYMENTS_PER_SECOND: the load the platform is sized for, per region (throttles, WAF
    # rate limits and the validator's concurrency carry it with CAPACITY_HEADROOM).
    peak_payments_per_second: float = DEFAULT_PEAK_PAYMENTS_PER_SECOND
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        env = self.environment_suffix
        state_region = self.state_region or self.dr_region
        defaults = {
            "domain_name": f"payments-{env}.example.com",
            "state_region": state_region,
            "state_bucket": Names(env).state_bucket(self.aws_account_id or ACCOUNT_PLACEHOLDER,
                                                    state_region),
        }
        for name, value in defaults.items():
            if not getattr(self, name):
                object.__setattr__(self, name, value)
        if not self.cost_profile:
            # An environment asked to be protected is not the throwaway one: standard.
            cheap = env in DEV_PROFILE_ENVIRONMENTS and not self.deletion_protection
            object.__setattr__(self, "cost_profile", "dev" if cheap else "standard")
        # A value left unset (empty or 0) takes the profile's default; an unknown profile is
        # reported below, with standard defaults meanwhile.
        profile = PROFILE_DEFAULTS.get(self.cost_profile, PROFILE_DEFAULTS["standard"])
        for attr, default in profile.items():
            if not getattr(self, attr):
                object.__setattr__(self, attr, default)
        if not self.object_lock_mode:
            object.__setattr__(self, "object_lock_mode",
                               "COMPLIANCE" if env in PROD_LIKE_ENVIRONMENTS else "GOVERNANCE")
        if self.deletion_protection is None:
            object.__setattr__(self, "deletion_protection", self.is_prod_like)
        instances = 2 if self.is_prod_like else 1
        for name in ("aurora_primary_instances", "aurora_dr_instances"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, instances)
        problems = self._problems()
        if problems:
            raise SettingsError(problems)

    # -- construction -----------------------------------------------------------------

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables; unset or empty means the default."""
        environ = os.environ if environ is None else environ
        problems: list[str] = []
        kwargs: dict[str, object] = {}

        def text(var: str, attr: str) -> None:
            value = environ.get(var, "").strip()
            if value:
                kwargs[attr] = value

        def items(var: str, attr: str) -> None:
            raw = environ.get(var, "")
            values = tuple(v.strip() for v in raw.split(",") if v.strip())
            if values:
                kwargs[attr] = values

        def number(var: str, attr: str, kind: type) -> None:
            raw = environ.get(var, "").strip()
            if not raw:
                return
            try:
                kwargs[attr] = kind(raw)
            except ValueError:
                problems.append(f"{var}={raw!r} is not a {'whole ' if kind is int else ''}number")

        text("ENVIRONMENT_SUFFIX", "environment_suffix")
        text("PRIMARY_REGION", "primary_region")
        text("DR_REGION", "dr_region")
        text("DOMAIN_NAME", "domain_name")
        number("REPLICATION_LAG_THRESHOLD", "replication_lag_threshold_seconds", float)
        text("AURORA_ENGINE_VERSION", "aurora_engine_version")
        text("COST_PROFILE", "cost_profile")
        if "cost_profile" in kwargs:
            kwargs["cost_profile"] = str(kwargs["cost_profile"]).lower()
        text("AURORA_INSTANCE_CLASS", "aurora_instance_class")
        number("BACKUP_RETENTION_DAYS", "backup_retention_days", int)
        text("AWS_ACCOUNT_ID", "aws_account_id")
        text("TF_STATE_BUCKET", "state_bucket")
        text("TF_STATE_REGION", "state_region")
        text("HOSTED_ZONE_ID", "hosted_zone_id")
        items("ALARM_EMAIL", "alarm_emails")
        items("ALARM_HTTPS_ENDPOINTS", "alarm_https_endpoints")
        number("LAMBDA_RESERVED_CONCURRENCY", "lambda_reserved_concurrency", int)
        text("TRANSACTIONS_CONSISTENCY", "transactions_consistency")
        number("AURORA_PRIMARY_INSTANCES", "aurora_primary_instances", int)
        number("AURORA_DR_INSTANCES", "aurora_dr_instances", int)
        if environ.get("TF_STATE_LOCK_TABLE", "").strip():
            problems.append(
                "TF_STATE_LOCK_TABLE is no longer used: state is locked with an S3 lock file "
                "(use_lockfile, Terraform >= 1.11); unset it "
                '(docs/failover.md, "Migrating from the single-stack version")')
        number("LOG_RETENTION_DAYS", "log_retention_days", int)
        text("TFC_ORGANIZATION", "tfc_organization")
        text("TFC_WORKSPACE", "tfc_workspace")
        text("CI_GITHUB_REPOSITORY", "ci_github_repository")
        items("KEY_ADMIN_ROLES", "key_admin_roles")
        items("CLIENT_KEY_OPERATOR_ROLES", "client_key_operator_roles")
        mode = environ.get("OBJECT_LOCK_MODE", "").strip()
        if mode:
            kwargs["object_lock_mode"] = mode.upper()
        number("OBJECT_LOCK_DAYS", "object_lock_days", int)
        number("PEAK_PAYMENTS_PER_SECOND", "peak_payments_per_second", float)
        # 0 would silently mean "the profile's default" (and to CloudWatch, "never expire").
        for var, attr in (("BACKUP_RETENTION_DAYS", "backup_retention_days"),
                          ("LOG_RETENTION_DAYS", "log_retention_days"),
                          ("OBJECT_LOCK_DAYS", "object_lock_days")):
            if kwargs.get(attr) == 0:
                problems.append(f"{var}=0 is invalid: leave it unset for the profile's default")
        raw_protection = environ.get("DELETION_PROTECTION", "").strip().lower()
        if raw_protection in _TRUE:
            kwargs["deletion_protection"] = True
        elif raw_protection in _FALSE:
            kwargs["deletion_protection"] = False
        elif raw_protection:
            problems.append(
                f"DELETION_PROTECTION={raw_protection!r} is invalid: use true or false"
            )
        if problems:
            raise SettingsError(problems)
        return cls(**kwargs)  # type: ignore[arg-type]

    # -- validation -------------------------------------------------------------------

    def _problems(self) -> list[str]:
        p: list[str] = []
        if not _ENV_SUFFIX.match(self.environment_suffix):
            p.append(
                f"ENVIRONMENT_SUFFIX={self.environment_suffix!r} is invalid: use 1-12 lowercase "
                "letters, digits or hyphens, starting with a letter and not ending with a hyphen "
                "(it becomes part of S3 bucket and database names)"
            )
        allowed = ", ".join(SUPPORTED_REGIONS)
        for var, region in (("PRIMARY_REGION", self.primary_region), ("DR_REGION", self.dr_region),
                            ("TF_STATE_REGION", self.state_region)):
            if region not in SUPPORTED_REGIONS:
                p.append(f"{var}={region!r} is not a supported region: use one of {allowed}")
        if self.primary_region == self.dr_region:
            p.append(
                f"PRIMARY_REGION and DR_REGION are both {self.primary_region!r}: "
                "disaster recovery needs two different regions"
            )
        if not self._is_hostname(self.domain_name):
            p.append(
                f"DOMAIN_NAME={self.domain_name!r} is not a valid DNS name: use at least two "
                "dot-separated labels of lowercase letters, digits and hyphens, e.g. payments.example.com"
            )
        if not 0 < self.replication_lag_threshold_seconds <= 300:
            p.append(
                f"REPLICATION_LAG_THRESHOLD={self.replication_lag_threshold_seconds!r} is invalid: "
                "use a number of seconds greater than 0 and at most 300"
            )
        major = self.aurora_engine_version.split(".")[0]
        if not re.match(r"^\d+\.\d+$", self.aurora_engine_version) or major not in SUPPORTED_AURORA_MAJORS:
            p.append(
                f"AURORA_ENGINE_VERSION={self.aurora_engine_version!r} is invalid: use a "
                f"major.minor Aurora PostgreSQL version of major {' or '.join(SUPPORTED_AURORA_MAJORS)}, "
                f"e.g. {DEFAULT_AURORA_ENGINE_VERSION}"
            )
        if not SUPPORTED_INSTANCE_CLASS.match(self.aurora_instance_class):
            p.append(
                f"AURORA_INSTANCE_CLASS={self.aurora_instance_class!r} is invalid: use a "
                "memory-optimised class such as db.r6g.large, db.r7g.xlarge (global databases "
                "do not support burstable classes)"
            )
        if not 1 <= self.backup_retention_days <= 35:
            p.append(f"BACKUP_RETENTION_DAYS={self.backup_retention_days} is invalid: use 1 to 35")
        if not _BUCKET.match(self.state_bucket) or ".." in self.state_bucket:
            p.append(
                f"TF_STATE_BUCKET={self.state_bucket!r} is not a valid S3 bucket name: use 3-63 "
                "lowercase letters, digits, dots or hyphens"
            )
        if self.aws_account_id and not _ACCOUNT_ID.match(self.aws_account_id):
            p.append(f"AWS_ACCOUNT_ID={self.aws_account_id!r} is not an AWS account id: use its 12 digits")
        if self.hosted_zone_id and not _ZONE_ID.match(self.hosted_zone_id):
            p.append(
                f"HOSTED_ZONE_ID={self.hosted_zone_id!r} is not a Route 53 zone id: it looks "
                "like Z0123456789ABCDEFGHIJ (leave it empty to create a zone)"
            )
        for email in self.alarm_emails:
            if not _EMAIL.match(email):
                p.append(f"ALARM_EMAIL: {email!r} is not an e-mail address")
        for url in self.alarm_https_endpoints:
            if not _HTTPS_URL.match(url):
                p.append(f"ALARM_HTTPS_ENDPOINTS: {url!r} is not an https:// URL")
        for var, count in (("AURORA_PRIMARY_INSTANCES", self.aurora_primary_count),
                           ("AURORA_DR_INSTANCES", self.aurora_dr_count)):
            if not 1 <= count <= MAX_AURORA_INSTANCES:
                p.append(f"{var}={count} is invalid: use 1 to {MAX_AURORA_INSTANCES} instances "
                         "(the first is the writer, the others are readers in other zones)")
        if self.transactions_consistency not in CONSISTENCY_MODES:
            p.append(f"TRANSACTIONS_CONSISTENCY={self.transactions_consistency!r} is invalid: use "
                     "EVENTUAL or STRONG")
        elif (self.transactions_consistency == "STRONG" and self.mrsc_witness_region is None
              and self.primary_region != self.dr_region
              and {self.primary_region, self.dr_region} <= set(SUPPORTED_REGIONS)):
            # (an unsupported or repeated region is reported above; this adds no second error)
            sets = "; ".join(", ".join(s) for s in MRSC_REGION_SETS)
            p.append(f"TRANSACTIONS_CONSISTENCY=STRONG needs PRIMARY_REGION and DR_REGION in one "
                     f"multi-Region strong consistency region set ({sets}; STRONG is the default): "
                     f"{self.primary_region} and {self.dr_region} are not; set "
                     "TRANSACTIONS_CONSISTENCY=EVENTUAL to accept cross-region duplicates (detected, "
                     "not prevented)")
        if self.cost_profile not in COST_PROFILES:
            p.append(f"COST_PROFILE={self.cost_profile!r} is invalid: use dev or standard "
                     "(default: dev for ENVIRONMENT_SUFFIX=dev, else standard)")
        elif self.is_dev_profile:
            p.extend(self._dev_profile_problems())
        p.extend(self._capacity_problems())
        if self.is_prod_like:
            p.extend(self._prod_problems())
        if not (self.lambda_reserved_concurrency == -1 or 1 <= self.lambda_reserved_concurrency <= 1000):
            p.append(
                f"LAMBDA_RESERVED_CONCURRENCY={self.lambda_reserved_concurrency} is invalid: use "
                "1 to 1000, or -1 for no reservation"
            )
        if self.log_retention_days not in _LOG_RETENTION_VALUES:
            p.append(
                f"LOG_RETENTION_DAYS={self.log_retention_days} is invalid: CloudWatch Logs accepts "
                + ", ".join(str(v) for v in _LOG_RETENTION_VALUES)
            )
        if self.object_lock_mode not in OBJECT_LOCK_MODES:
            p.append(
                f"OBJECT_LOCK_MODE={self.object_lock_mode!r} is invalid: use GOVERNANCE or "
                "COMPLIANCE (default: COMPLIANCE for prod-like environments, else GOVERNANCE)"
            )
        if not 1 <= self.object_lock_days <= MAX_OBJECT_LOCK_DAYS:
            p.append(
                f"OBJECT_LOCK_DAYS={self.object_lock_days} is invalid: use a whole number of "
                f"days from 1 to {MAX_OBJECT_LOCK_DAYS}"
            )
        if self.ci_github_repository and not _GITHUB_REPOSITORY.match(self.ci_github_repository):
            p.append(
                f"CI_GITHUB_REPOSITORY={self.ci_github_repository!r} is invalid: use owner/repo "
                "as GitHub spells it (letters, digits, '-' in the owner; '.', '_', '-' in the name)"
            )
        for var, roles in (("KEY_ADMIN_ROLES", self.key_admin_roles),
                           ("CLIENT_KEY_OPERATOR_ROLES", self.client_key_operator_roles)):
            for role in roles:
                if not _IAM_ROLE_NAME.match(role):
                    p.append(f"{var} entry {role!r} is invalid: use IAM role names "
                             "(letters, digits and +=,.@_-, at most 64), not ARNs")
        if bool(self.tfc_organization) != bool(self.tfc_workspace):
            p.append("TFC_ORGANIZATION and TFC_WORKSPACE must be set together (or neither)")
        for var, value in (("TFC_ORGANIZATION", self.tfc_organization), ("TFC_WORKSPACE", self.tfc_workspace)):
            if value and not _TFC_NAME.match(value):
                p.append(f"{var}={value!r} is invalid: use letters, digits, '_' or '-'")
        return p

    def _dev_profile_problems(self) -> list[str]:
        """The dev profile is for environments that can be torn down and need no one paged."""
        env = self.environment_suffix
        p: list[str] = []
        if self.is_prod_like:
            return [f"COST_PROFILE=dev is refused for ENVIRONMENT_SUFFIX={env!r}: a prod-like "
                    "environment runs the standard profile (unset COST_PROFILE or set it to "
                    "standard)"]
        if self.deletion_protection:
            p.append("COST_PROFILE=dev and DELETION_PROTECTION=true contradict each other: the "
                     "dev profile is built to be torn down (set COST_PROFILE=standard)")
        if self.object_lock_mode == "COMPLIANCE":
            p.append("COST_PROFILE=dev cannot use OBJECT_LOCK_MODE=COMPLIANCE: nobody could "
                     "delete a receipt, or the bucket, before its retention ends (README: "
                     "tearing down a dev environment)")
        return p

    def _capacity_problems(self) -> list[str]:
        """The limits sized from PEAK_PAYMENTS_PER_SECOND must be ones AWS can honour."""
        peak = self.peak_payments_per_second
        highest = min(API_GATEWAY_ACCOUNT_RATE_LIMIT, API_GATEWAY_ACCOUNT_BURST_LIMIT) / CAPACITY_HEADROOM
        if not 0 < peak <= highest:
            return [f"PEAK_PAYMENTS_PER_SECOND={peak:g} is invalid: use more than 0 and at most "
                    f"{highest:g} (with {CAPACITY_HEADROOM:g}x headroom the stage would exceed API "
                    f"Gateway's account throttle of {API_GATEWAY_ACCOUNT_RATE_LIMIT} rps, burst "
                    f"{API_GATEWAY_ACCOUNT_BURST_LIMIT}, per region)"]
        if self.waf_rate_limit_per_client >= self.validate_throttle_rate * WAF_RATE_WINDOW_S:
            return [f"PEAK_PAYMENTS_PER_SECOND={peak:g}: one client's WAF quota "
                    f"({self.waf_rate_limit_per_client} per {WAF_RATE_WINDOW_S} s) would be the whole "
                    f"stage ({self.validate_throttle_rate:g} rps): one merchant could starve the rest"]
        reserved, needed = self.lambda_reserved_concurrency, self.validator_concurrency_needed
        if 0 < reserved < needed:
            return [f"LAMBDA_RESERVED_CONCURRENCY={reserved} cannot carry PEAK_PAYMENTS_PER_SECOND="
                    f"{peak:g}: POST /validate is sized at {self.validate_throttle_rate:g} rps "
                    f"({peak:g}/s x {CAPACITY_HEADROOM:g} headroom) and the validator must run "
                    f"{needed} at once ({VALIDATOR_DESIGN_DURATION_S:g} s each): reserve at "
                    f"least {needed}, or lower the peak"]
        return []

    def _prod_problems(self) -> list[str]:
        """A prod-like environment is deployed for real: refuse what would page nobody,
        land in an unknown account or serve a name that can never resolve."""
        env = self.environment_suffix
        p: list[str] = []
        if not (self.alarm_emails or self.alarm_https_endpoints):
            p.append(f"ALARM_EMAIL or ALARM_HTTPS_ENDPOINTS is required for ENVIRONMENT_SUFFIX={env!r}: "
                     "every alarm topic needs someone to page (docs/failover.md: paging)")
        if not self.aws_account_id:
            p.append(f"AWS_ACCOUNT_ID is required for ENVIRONMENT_SUFFIX={env!r}: the state "
                     "bucket's name and every stack's account guard use it")
        # PCI DSS 10.5.1: audit records kept at least 12 months, and nobody able to shorten
        # that (GOVERNANCE lets a principal with s3:BypassGovernanceRetention delete them).
        if self.object_lock_mode != "COMPLIANCE":
            p.append(f"OBJECT_LOCK_MODE={self.object_lock_mode} is refused for ENVIRONMENT_SUFFIX="
                     f"{env!r}: receipts are audit records, locked in COMPLIANCE mode")
        if self.object_lock_days < PROD_MIN_OBJECT_LOCK_DAYS:
            p.append(f"OBJECT_LOCK_DAYS={self.object_lock_days} is refused for ENVIRONMENT_SUFFIX="
                     f"{env!r}: at least {PROD_MIN_OBJECT_LOCK_DAYS} (PCI DSS 10.5.1, 12 months)")
        reason = reserved_domain(self.domain_name)
        if reason:
            p.append(f"DOMAIN_NAME={self.domain_name!r} cannot be served ({reason}): set DOMAIN_NAME "
                     f"and HOSTED_ZONE_ID to a zone you own for ENVIRONMENT_SUFFIX={env!r}")
        return p

    @staticmethod
    def _is_hostname(name: str) -> bool:
        labels = name.split(".")
        return len(name) <= 253 and len(labels) >= 2 and all(_HOSTNAME_LABEL.match(x) for x in labels)

    # -- derived values ---------------------------------------------------------------

    @property
    def aurora_major_version(self) -> str:
        return self.aurora_engine_version.split(".")[0]

    @property
    def aurora_primary_count(self) -> int:
        """AURORA_PRIMARY_INSTANCES once resolved (`__post_init__` replaces None by the default)."""
        return _resolved(self.aurora_primary_instances, "aurora_primary_instances")

    @property
    def aurora_dr_count(self) -> int:
        """AURORA_DR_INSTANCES once resolved (`__post_init__` replaces None by the default)."""
        return _resolved(self.aurora_dr_instances, "aurora_dr_instances")

    @property
    def is_prod_like(self) -> bool:
        return self.environment_suffix in PROD_LIKE_ENVIRONMENTS

    @property
    def is_dev_profile(self) -> bool:
        return self.cost_profile == "dev"

    @property
    def tracing(self) -> bool:
        """X-Ray tracing (Lambda Active, API Gateway stage, the X-Ray interface endpoint):
        off in the dev profile."""
        return not self.is_dev_profile

    @property
    def aurora_serverless(self) -> bool:
        return self.aurora_instance_class == AURORA_SERVERLESS_CLASS

    # -- capacity (sized from PEAK_PAYMENTS_PER_SECOND) ----------------------------------

    @property
    def validate_throttle_rate(self) -> float:
        """POST /validate's steady rate (rps): the peak with headroom."""
        return self.peak_payments_per_second * CAPACITY_HEADROOM

    @property
    def validate_throttle_burst(self) -> int:
        """POST /validate's bucket: one second at the sized rate."""
        return max(1, math.ceil(self.validate_throttle_rate))

    @property
    def validator_concurrency_needed(self) -> int:
        """Executions the validator must be able to run at once for the sized rate."""
        return math.ceil(self.validate_throttle_rate * VALIDATOR_DESIGN_DURATION_S)

    @property
    def waf_rate_limit_per_ip(self) -> int:
        """Requests per WAF window one IP may send: the whole peak from one merchant NAT IP,
        with headroom (a merchant at the peak is never blocked by its own traffic)."""
        return max(WAF_MIN_RATE_LIMIT, math.ceil(
            self.peak_payments_per_second * CAPACITY_HEADROOM * WAF_RATE_WINDOW_S))

    @property
    def waf_rate_limit_per_client(self) -> int:
        """Requests per WAF window one client id (X-Client-Id) may send: the declared peak, not
        its headroom. POST /validate is sized at peak x CAPACITY_HEADROOM, so one client at its
        quota leaves at least (headroom - 1) x the peak to the others; a client sending the
        whole peak alone is never blocked (WAF blocks above the limit, not at it)."""
        return max(WAF_MIN_RATE_LIMIT, math.ceil(self.peak_payments_per_second * WAF_RATE_WINDOW_S))

    @property
    def client_throttle_rate(self) -> float:
        """One authenticated client's steady rate (rps, its usage plan on POST /validate): the
        declared peak, not its headroom, for the same reason as `waf_rate_limit_per_client`;
        unlike that rule it is keyed on the client the authorizer verified, not on a header."""
        return self.peak_payments_per_second

    @property
    def client_throttle_burst(self) -> int:
        """One client's bucket: one second at its rate."""
        return max(1, math.ceil(self.client_throttle_rate))

    @property
    def mrsc_witness_region(self) -> str | None:
        """The witness region for STRONG consistency: the third region of the set that holds
        both of ours; None when no set does."""
        for region_set in MRSC_REGION_SETS:
            others = set(region_set) - {self.primary_region, self.dr_region}
            if len(others) == 1 and {self.primary_region, self.dr_region} <= set(region_set):
                return others.pop()
        return None

    @property
    def reserves_concurrency(self) -> bool:
        return self.lambda_reserved_concurrency != -1

    @property
    def domain_reserved_reason(self) -> str | None:
        return reserved_domain(self.domain_name)

    @property
    def uses_terraform_cloud(self) -> bool:
        return bool(self.tfc_organization)


OBJECT_LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")
# S3 accepts any positive whole number of days; 36500 (100 years) bounds typos like 3650000.
MAX_OBJECT_LOCK_DAYS = 36500

_LOG_RETENTION_VALUES = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
                         1096, 1827, 2192, 2557, 2922, 3288, 3653)


def _resolved(value: int | None, name: str) -> int:
    if value is None:  # only before __post_init__ has filled in the defaults
        raise AssertionError(f"Settings.{name} read before it was resolved")
    return value
