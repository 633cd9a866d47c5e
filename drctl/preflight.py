"""`drctl preflight`: read-only checks of the target account before an apply.

The synthesized JSON cannot know what the account holds: whose credentials these are, whether
the hosted zone is delegated, how much Lambda concurrency is left, whether the Aurora version
and class are orderable in both regions, whether the state bucket and the API Gateway logging
role exist. Preflight asks, using the same settings the synth reads (`Settings.from_env()`,
standard library only, so this module never loads cdktf or jsii).

Each check is a small function returning `Result`s: PASS, WARN, FAIL, UNKNOWN (the question
could not be answered: a region or DNS did not answer, an unexpected error) or SKIP (does not
apply, and says why), each with a one-line fix. Nothing is ever a silent pass. Every call is a
read; clients time out fast (connect 3 s, read 5 s, one attempt) and a region that leaves a
call unanswered is not asked again, so a dark region costs one timeout.

Exit codes (docs/runbook.md "Preflight"): 0 every check PASS/SKIP; 1 any FAIL; 3 no FAIL but
something UNKNOWN; 7 only WARNs; 2 invalid settings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from enum import Enum
from functools import partial
from typing import Any, TextIO

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

import contract
from drctl import exitcodes
from drctl.command import Command
from drctl.log import EventLog
from modules.settings import Settings, SettingsError

# A client for (service, region): boto3 in production, Stubber/moto-backed in tests.
ClientFactory = Callable[[str, str], Any]
# Public NS host names of a DNS name; raises NotDelegated or DnsUnavailable.
Resolver = Callable[[str], list[str]]

CONNECT_TIMEOUT_S = 3
READ_TIMEOUT_S = 5
# Route 53 and IAM are global services whose control plane is in us-east-1.
GLOBAL_CONTROL_REGION = contract.GLOBAL_CONTROL_REGION
PARTITION = "aws"  # every region in modules.settings.SUPPORTED_REGIONS is commercial
LAMBDA_CONCURRENCY_QUOTA_CODE = "L-B99A9384"
# AWS documents that reservations must leave 100 unreserved ("you can reserve up to the
# Unreserved account concurrency value minus 100"); an account whose whole quota is below
# 100 cannot reserve anything. contract.LAMBDA_MIN_UNRESERVED_CONCURRENCY is the floor.
LAMBDA_DOCUMENTED_MIN_UNRESERVED = 100
# Functions that reserve concurrency when LAMBDA_RESERVED_CONCURRENCY is on (modules/compute.py
# VALIDATOR, HEALTH): purpose -> reservation, None = LAMBDA_RESERVED_CONCURRENCY.
RESERVING_FUNCTIONS: dict[str, int | None] = {
    "validator": None, "health": contract.LAMBDA_HEALTH_RESERVED_CONCURRENCY}
HEALTH_CHECKS_PER_ENVIRONMENT = contract.ROUTE53_HEALTH_CHECKS_PER_ENVIRONMENT
# API Gateway's account quotas per region, by Service Quotas code, with AWS's documented
# defaults (API Gateway Developer Guide, "Amazon API Gateway quotas"). The throttle code
# L-8A5B8E43 is the one that page links; the other codes are as published in Service Quotas
# (not confirmable offline: a code Service Quotas does not know is reported UNKNOWN, never PASS).
SERVICE_QUOTAS = "service-quotas"
APIGATEWAY_QUOTA_SERVICE = "apigateway"
APIGATEWAY_THROTTLE_RATE_QUOTA = ("L-8A5B8E43", 10_000)  # rps, account-wide per region
APIGATEWAY_THROTTLE_BURST_QUOTA = ("L-CDF5615A", 5_000)
APIGATEWAY_API_KEYS_QUOTA = ("L-1D180A63", 10_000)  # API keys per account per region
APIGATEWAY_USAGE_PLANS_QUOTA = ("L-E8693075", 300)  # usage plans per account per region
# API keys: one per client per region (drctl client-keys add); warn when fewer than this
# share of the quota is left, so the next clients are not the ones refused.
API_KEYS_WARN_FREE_SHARE = 0.1
AURORA_ENGINE = "aurora-postgresql"
APIGATEWAY_PRINCIPAL = "apigateway.amazonaws.com"
ACCESS_DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                 "AuthorizationError", "AuthorizationErrorException", "Forbidden", "403")
UNREACHABLE = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)
READ_ONLY_FIX = "preflight only reads: the AWS-managed ReadOnlyAccess policy allows every call it makes"


class Status(str, Enum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    UNKNOWN = "UNKNOWN"
    SKIP = "SKIP"


@dataclass(frozen=True)
class Result:
    check: str
    region: str  # "" for account-wide checks
    status: Status
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return {**asdict(self), "status": self.status.value}


class NotDelegated(Exception):
    """Public DNS has no NS records for the name (NXDOMAIN or no answer)."""


class DnsUnavailable(Exception):
    """No resolver answered: delegation could not be determined."""


@dataclass(frozen=True)
class Identity:
    account: str
    arn: str

    @property
    def partition(self) -> str:
        parts = self.arn.split(":")
        return parts[1] if len(parts) > 1 else ""


@dataclass(frozen=True)
class Target:
    """What the apply will need: the synth's settings plus the two values read beside them."""

    settings: Settings
    expected_account: str = ""  # AWS_ACCOUNT_ID: refuse credentials for any other account
    state_bucket_override: str = ""  # TF_STATE_BUCKET; else contract.Names.state_bucket
    fresh_account: bool = False  # bootstrap/account stacks not applied yet

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *,
                 fresh_account: bool = False) -> Target:
        environ = os.environ if environ is None else environ
        settings = Settings.from_env(environ)  # validates AWS_ACCOUNT_ID too
        return cls(settings, settings.aws_account_id, environ.get("TF_STATE_BUCKET", "").strip(), fresh_account)

    @property
    def names(self) -> contract.Names:
        return contract.Names(self.settings.environment_suffix)

    @property
    def regions(self) -> list[tuple[str, str]]:
        """(role, region) of both platform regions."""
        return [(contract.PRIMARY, self.settings.primary_region), (contract.DR, self.settings.dr_region)]

    def state_bucket(self, account: str) -> str:
        return self.state_bucket_override or self.names.state_bucket(account, self.settings.state_region)

    @property
    def concurrency_needed(self) -> int:
        """What the declared peak runs at once in the serving region: the validator's sized
        concurrency, and as much again for the authorizer (called on every request, TTL 0)."""
        return 2 * self.settings.validator_concurrency_needed

    def reservations(self, role: str) -> dict[str, int]:
        """Function name -> reserved concurrency the regional stack of `role` sets (empty: none)."""
        n = self.settings.lambda_reserved_concurrency
        if n == -1:
            return {}
        return {self.names.function(purpose, role): n if fixed is None else fixed
                for purpose, fixed in RESERVING_FUNCTIONS.items()}


# -- AWS clients and DNS ---------------------------------------------------------------------

class Clients:
    """boto3 clients with short timeouts and one attempt, one per (service, region)."""

    def __init__(self, session: Any, endpoint_url: str | None = None):
        from botocore.config import Config
        self._session, self._endpoint_url = session, endpoint_url
        self._config = Config(connect_timeout=CONNECT_TIMEOUT_S, read_timeout=READ_TIMEOUT_S,
                              retries={"total_max_attempts": 1, "mode": "standard"})
        self._cache: dict[tuple[str, str], Any] = {}

    def __call__(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._cache:
            self._cache[key] = self._session.client(service, region_name=region, config=self._config,
                                                    endpoint_url=self._endpoint_url)
        return self._cache[key]


def public_name_servers(name: str) -> list[str]:
    """NS of `name` as this machine's resolver sees them (dnspython, 5 s in all)."""
    import dns.exception
    import dns.resolver
    try:
        resolver = dns.resolver.Resolver()
        resolver.lifetime = READ_TIMEOUT_S
        answer = resolver.resolve(name, "NS")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer) as error:
        raise NotDelegated(str(error)) from error
    except (dns.resolver.NoNameservers, dns.resolver.NoResolverConfiguration, dns.exception.Timeout) as error:
        raise DnsUnavailable(str(error) or type(error).__name__) from error
    return [str(record.target) for record in answer]


def _host(name: str) -> str:
    return name.lower().rstrip(".")


def _code(error: ClientError) -> str:
    return contract.aws_error_code(error, missing="")


def _is(error: Exception, *codes: str) -> bool:
    return isinstance(error, ClientError) and _code(error) in codes


# -- checks ------------------------------------------------------------------------------------

def identify(sts: Any) -> Identity:
    answer = sts.get_caller_identity()
    return Identity(account=answer["Account"], arn=answer["Arn"])


def check_credentials(identity: Identity, target: Target) -> Result:
    """Which account and partition the credentials reach; refuse another account."""
    who = f"account {identity.account}, partition {identity.partition}, as {identity.arn}"
    if identity.partition != PARTITION:
        return Result("credentials", "", Status.FAIL, f"{who}: the platform's regions are in the "
                      f"'{PARTITION}' partition", "use credentials for a commercial-partition account")
    if target.expected_account and identity.account != target.expected_account:
        return Result("credentials", "", Status.FAIL,
                      f"{who}, but AWS_ACCOUNT_ID is {target.expected_account}",
                      f"switch credentials (AWS_PROFILE) to account {target.expected_account}, "
                      "or correct AWS_ACCOUNT_ID")
    pinned = ("matches AWS_ACCOUNT_ID" if target.expected_account
              else "AWS_ACCOUNT_ID not set: nothing pins the apply to this account")
    return Result("credentials", "", Status.PASS, f"{who}; {pinned}")


def check_region(sts: Any, region: str, identity: Identity) -> Result:
    """The region answers a cheap signed call (its regional STS endpoint)."""
    answer = sts.get_caller_identity()
    if answer["Account"] != identity.account:
        return Result("region", region, Status.FAIL,
                      f"answers for account {answer['Account']}, not {identity.account}",
                      "check AWS_PROFILE / per-region credential configuration")
    return Result("region", region, Status.PASS, "answers (sts:GetCallerIdentity)")


def check_domain_name(settings: Settings) -> Result:
    reason = contract.reserved_domain(settings.domain_name)
    if reason:
        return Result("domain-name", "", Status.FAIL, f"DOMAIN_NAME: {reason}; Route 53 rejects it "
                      "and ACM can never validate it",
                      "set DOMAIN_NAME to a name under a domain you own and HOSTED_ZONE_ID to its "
                      "public hosted zone")
    return Result("domain-name", "", Status.PASS, f"{settings.domain_name} is not a reserved name")


@dataclass(frozen=True)
class Zone:
    id: str
    name: str
    name_servers: tuple[str, ...]


def _zone(route53: Any, zone_id: str) -> tuple[Zone, bool]:
    """The zone and whether it is private."""
    answer = route53.get_hosted_zone(Id=zone_id)
    hz = answer["HostedZone"]
    servers = tuple(_host(ns) for ns in answer.get("DelegationSet", {}).get("NameServers", []))
    return (Zone(hz["Id"].rsplit("/", 1)[-1], _host(hz["Name"]), servers),
            bool(hz.get("Config", {}).get("PrivateZone")))


def check_hosted_zone(route53: Any, settings: Settings) -> tuple[Result, Zone | None]:
    """HOSTED_ZONE_ID exists, is public, and is DOMAIN_NAME or a parent; or, without it, the
    zone the foundation stack creates (DOMAIN_NAME itself) and whether one already exists."""
    domain = _host(settings.domain_name)
    if not settings.hosted_zone_id:
        listed = route53.list_hosted_zones_by_name(DNSName=domain, MaxItems="10")["HostedZones"]
        same = [z for z in listed if _host(z["Name"]) == domain
                and not z.get("Config", {}).get("PrivateZone")]
        if not same:
            return Result("hosted-zone", "", Status.WARN,
                          f"HOSTED_ZONE_ID not set: {contract.FOUNDATION_STACK} creates a new zone {domain}; "
                          "certificate validation then waits (up to 45 min) for the parent to delegate it",
                          "set HOSTED_ZONE_ID to an existing delegated public zone, or add the new zone's "
                          f"NS records at the parent right after applying {contract.FOUNDATION_STACK}"), None
        if len(same) > 1:
            ids = ", ".join(z["Id"].rsplit("/", 1)[-1] for z in same)
            return Result("hosted-zone", "", Status.WARN,
                          f"HOSTED_ZONE_ID not set and {len(same)} public zones named {domain} exist ({ids})",
                          "set HOSTED_ZONE_ID to the delegated one and delete the others"), None
        zone, _ = _zone(route53, same[0]["Id"])
        return Result("hosted-zone", "", Status.PASS,
                      f"HOSTED_ZONE_ID not set; zone {zone.id} ({domain}) exists from an earlier "
                      f"{contract.FOUNDATION_STACK} apply"), zone
    try:
        zone, private = _zone(route53, settings.hosted_zone_id)
    except ClientError as error:
        if _is(error, "NoSuchHostedZone"):
            return Result("hosted-zone", "", Status.FAIL,
                          f"HOSTED_ZONE_ID={settings.hosted_zone_id}: no such zone in this account",
                          f"set HOSTED_ZONE_ID to the public zone of {domain} or a parent "
                          f"(aws route53 list-hosted-zones-by-name --dns-name {domain})"), None
        raise
    if private:
        return Result("hosted-zone", "", Status.FAIL,
                      f"zone {zone.id} ({zone.name}) is private: public clients and ACM cannot see it",
                      f"set HOSTED_ZONE_ID to a public zone of {domain} or a parent"), None
    if not (domain == zone.name or domain.endswith("." + zone.name)):
        return Result("hosted-zone", "", Status.FAIL,
                      f"zone {zone.id} is {zone.name}, which is neither DOMAIN_NAME ({domain}) nor a parent",
                      "set HOSTED_ZONE_ID to the zone of DOMAIN_NAME or of one of its parents"), None
    return Result("hosted-zone", "", Status.PASS, f"zone {zone.id} ({zone.name}) is public and holds {domain}"), zone


def check_delegation(zone: Zone, resolver: Resolver) -> Result:
    """Public DNS sends the zone's name to this zone's name servers (else ACM never validates)."""
    expected = set(zone.name_servers)
    fix = f"at the registrar or parent zone, set the NS records of {zone.name} to {', '.join(sorted(expected))}"
    try:
        public = {_host(ns) for ns in resolver(zone.name)}
    except NotDelegated as error:
        return Result("dns-delegation", "", Status.FAIL, f"public DNS has no NS for {zone.name} ({error})", fix)
    except DnsUnavailable as error:
        return Result("dns-delegation", "", Status.UNKNOWN, f"DNS lookup of NS {zone.name} failed: {error}",
                      f"re-run where DNS works, or compare `dig NS {zone.name}` with the zone's name servers")
    if public == expected:
        return Result("dns-delegation", "", Status.PASS, f"public NS of {zone.name} are this zone's name servers")
    if public & expected:
        return Result("dns-delegation", "", Status.WARN,
                      f"public NS of {zone.name} ({', '.join(sorted(public))}) only partly match the zone's", fix)
    return Result("dns-delegation", "", Status.FAIL,
                  f"public DNS delegates {zone.name} to {', '.join(sorted(public))}, not to zone {zone.id}", fix)


def check_lambda_concurrency(lam: Any, region: str, reservations: Mapping[str, int], needed: int = 0) -> Result:
    """The account's quota leaves room for what the stack reserves, plus Lambda's floor; and,
    with nothing reserved, the unreserved pool holds what the declared peak runs at once
    (`needed`: the validator's and the authorizer's sized concurrency). Below it Lambda
    throttles the validator at the peak and API Gateway answers 500 (DEFAULT_5XX)."""
    limits = lam.get_account_settings()["AccountLimit"]
    limit, unreserved = limits["ConcurrentExecutions"], limits["UnreservedConcurrentExecutions"]
    floor = max(contract.LAMBDA_MIN_UNRESERVED_CONCURRENCY, min(LAMBDA_DOCUMENTED_MIN_UNRESERVED, limit))
    quota_fix = (f"request a higher 'Concurrent executions' quota in {region} (Service Quotas code "
                 f"{LAMBDA_CONCURRENCY_QUOTA_CODE})")
    if not reservations:
        if unreserved < needed:
            return Result("lambda-concurrency", region, Status.FAIL,
                          f"nothing reserved; {unreserved} of quota {limit} unreserved, but the declared peak "
                          f"(PEAK_PAYMENTS_PER_SECOND) runs {needed} at once (validator and authorizer): "
                          "Lambda would throttle the validator and API Gateway answer 500",
                          f"{quota_fix} to at least {limit - unreserved + needed + LAMBDA_DOCUMENTED_MIN_UNRESERVED}, "
                          "or lower PEAK_PAYMENTS_PER_SECOND")
        if limit < LAMBDA_DOCUMENTED_MIN_UNRESERVED:
            return Result("lambda-concurrency", region, Status.WARN,
                          f"nothing reserved (LAMBDA_RESERVED_CONCURRENCY=-1), but the account quota is "
                          f"{limit}: every function in the account shares it", quota_fix)
        return Result("lambda-concurrency", region, Status.PASS,
                      f"nothing reserved; quota {limit}, {unreserved} unreserved")
    already = 0
    for name in reservations:  # a re-run must not count the stack's own reservations twice
        try:
            already += lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions", 0)
        except ClientError as error:
            if not _is(error, "ResourceNotFoundException"):
                raise
    wanted = sum(reservations.values())
    left = unreserved + already - wanted
    what = " + ".join(f"{n} ({name})" for name, n in reservations.items())
    if left < floor:
        # A quota below 100 can never hold a reservation; above it, others' + ours + 100.
        others = limit - unreserved - already
        needed = others + wanted + max(LAMBDA_DOCUMENTED_MIN_UNRESERVED, contract.LAMBDA_MIN_UNRESERVED_CONCURRENCY)
        return Result("lambda-concurrency", region, Status.FAIL,
                      f"reserving {what} leaves {left} of quota {limit} unreserved; Lambda requires {floor}",
                      f"{quota_fix} to at least {needed}, or set LAMBDA_RESERVED_CONCURRENCY=-1")
    return Result("lambda-concurrency", region, Status.PASS,
                  f"reserving {what} leaves {left} of quota {limit} unreserved (minimum {floor})")


def check_powertools_layer(ssm: Any, region: str) -> Result:
    name = contract.POWERTOOLS_LAYER_PARAMETER
    try:
        value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ClientError as error:
        if _is(error, "ParameterNotFound"):
            return Result("powertools-layer", region, Status.FAIL,
                          f"SSM parameter {name} does not exist here: Powertools {contract.POWERTOOLS_VERSION} "
                          "for this runtime/architecture is not published in this region",
                          "use a Powertools release published in both regions (POWERTOOLS_VERSION in "
                          "contract.py and the Pipfile pin), or another region")
        raise
    return Result("powertools-layer", region, Status.PASS, f"{name} = {value}")


def check_aurora_orderable(rds: Any, region: str, settings: Settings) -> Result:
    version, klass = settings.aurora_engine_version, settings.aurora_instance_class
    options = [o for page in rds.get_paginator("describe_orderable_db_instance_options").paginate(
        Engine=AURORA_ENGINE, EngineVersion=version, DBInstanceClass=klass)
        for o in page.get("OrderableDBInstanceOptions", [])]
    fix = (f"set AURORA_INSTANCE_CLASS / AURORA_ENGINE_VERSION to a pair orderable in both regions "
           f"(aws rds describe-orderable-db-instance-options --engine {AURORA_ENGINE} "
           f"--engine-version {version} --region {region})")
    if not options:
        return Result("aurora-orderable", region, Status.FAIL,
                      f"{klass} with {AURORA_ENGINE} {version} is not orderable here", fix)
    if all(o.get("SupportsGlobalDatabases") is False for o in options):
        return Result("aurora-orderable", region, Status.FAIL,
                      f"{klass} with {AURORA_ENGINE} {version} is orderable but not for global databases", fix)
    zones = sorted({z["Name"] for o in options for z in o.get("AvailabilityZones", [])})
    where = f" in {len(zones)} AZs" if zones else ""
    return Result("aurora-orderable", region, Status.PASS, f"{klass} with {AURORA_ENGINE} {version} orderable{where}")


def check_aurora_global(rds: Any, region: str, settings: Settings) -> Result:
    version = settings.aurora_engine_version
    found = [v for page in rds.get_paginator("describe_db_engine_versions").paginate(
        Engine=AURORA_ENGINE, EngineVersion=version) for v in page.get("DBEngineVersions", [])]
    fix = (f"set AURORA_ENGINE_VERSION to one with SupportsGlobalDatabases in both regions (aws rds "
           f"describe-db-engine-versions --engine {AURORA_ENGINE} --region {region} "
           "--query 'DBEngineVersions[?SupportsGlobalDatabases].EngineVersion')")
    if not found:
        return Result("aurora-global", region, Status.FAIL, f"{AURORA_ENGINE} {version} is not offered here", fix)
    if not any(v.get("SupportsGlobalDatabases") for v in found):
        return Result("aurora-global", region, Status.FAIL,
                      f"{AURORA_ENGINE} {version} does not support global databases here", fix)
    return Result("aurora-global", region, Status.PASS, f"{AURORA_ENGINE} {version} supports global databases")


def check_state_bucket(s3: Any, target: Target, account: str) -> list[Result]:
    """Exists in TF_STATE_REGION for this account, versioned, KMS-encrypted, private."""
    region, bucket = target.settings.state_region, target.state_bucket(account)
    later = ("state-bucket-versioning", "state-bucket-encryption", "state-bucket-access")
    if target.settings.uses_terraform_cloud:
        return [Result("state-bucket", region, Status.SKIP,
                       "TFC_ORGANIZATION/TFC_WORKSPACE set: state lives in Terraform Cloud")]
    try:
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=account)
    except ClientError as error:
        if _is(error, "404", "NoSuchBucket", "NotFound"):
            status = Status.WARN if target.fresh_account else Status.FAIL
            return [Result("state-bucket", region, status,
                           f"{bucket} does not exist yet ({contract.BOOTSTRAP_STACK} creates it)",
                           f"apply {contract.BOOTSTRAP_STACK} first (local state), then re-run preflight")
                    ] + [Result(name, region, Status.SKIP, "bucket not created yet") for name in later]
        if _is(error, "403", "AccessDenied", "Forbidden"):
            return [Result("state-bucket", region, Status.FAIL,
                           f"{bucket} exists but not for this account's credentials (403): another "
                           "account owns the name, or s3:ListBucket is denied",
                           "if another account owns it, set TF_STATE_BUCKET to a free name; "
                           "else allow s3:ListBucket on it")]
        raise
    location = s3.get_bucket_location(Bucket=bucket, ExpectedBucketOwner=account).get("LocationConstraint")
    actual = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)
    if actual != region:
        return [Result("state-bucket", region, Status.FAIL, f"{bucket} is in {actual}, TF_STATE_REGION is {region}",
                       f"set TF_STATE_REGION={actual}, or TF_STATE_BUCKET to a bucket in {region}")]
    results = [Result("state-bucket", region, Status.PASS,
                      f"{bucket} exists in {region}; the lock is a .tflock object beside each state (use_lockfile)")]
    results.append(_state_versioning(s3, bucket, account, region))
    results.append(_state_encryption(s3, bucket, account, region))
    results.append(_state_access(s3, bucket, account, region))
    return results


def _state_versioning(s3: Any, bucket: str, account: str, region: str) -> Result:
    status = s3.get_bucket_versioning(Bucket=bucket, ExpectedBucketOwner=account).get("Status", "never enabled")
    if status != "Enabled":
        return Result("state-bucket-versioning", region, Status.FAIL,
                      f"versioning is {status}: an overwritten or deleted state cannot be recovered",
                      f"re-apply {contract.BOOTSTRAP_STACK}, or aws s3api put-bucket-versioning "
                      f"--bucket {bucket} --versioning-configuration Status=Enabled")
    return Result("state-bucket-versioning", region, Status.PASS, "versioning enabled")


def _state_encryption(s3: Any, bucket: str, account: str, region: str) -> Result:
    fix = f"re-apply {contract.BOOTSTRAP_STACK} (default encryption with its KMS key)"
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket, ExpectedBucketOwner=account)[
            "ServerSideEncryptionConfiguration"]["Rules"]
    except ClientError as error:
        if _is(error, "ServerSideEncryptionConfigurationNotFoundError"):
            return Result("state-bucket-encryption", region, Status.FAIL, "no default encryption", fix)
        raise
    default = rules[0].get("ApplyServerSideEncryptionByDefault", {}) if rules else {}
    algorithm, key = default.get("SSEAlgorithm", "none"), default.get("KMSMasterKeyID")
    if not algorithm.startswith("aws:kms"):
        return Result("state-bucket-encryption", region, Status.FAIL,
                      f"default encryption is {algorithm} (S3-managed keys), not a KMS key", fix)
    if not key:
        return Result("state-bucket-encryption", region, Status.WARN,
                      f"{algorithm} with the AWS-managed aws/s3 key, not the bootstrap's customer key", fix)
    return Result("state-bucket-encryption", region, Status.PASS, f"{algorithm} with {key}")


def _state_access(s3: Any, bucket: str, account: str, region: str) -> Result:
    problems = []
    try:
        rules = s3.get_bucket_ownership_controls(Bucket=bucket, ExpectedBucketOwner=account)[
            "OwnershipControls"]["Rules"]
        ownership = rules[0]["ObjectOwnership"] if rules else "none"
    except ClientError as error:
        if not _is(error, "OwnershipControlsNotFoundError"):
            raise
        ownership = "not set"
    if ownership != "BucketOwnerEnforced":
        problems.append(f"object ownership {ownership} (ACLs still apply)")
    try:
        block = s3.get_public_access_block(Bucket=bucket, ExpectedBucketOwner=account)[
            "PublicAccessBlockConfiguration"]
        off = [k for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                           "RestrictPublicBuckets") if not block.get(k)]
    except ClientError as error:
        if not _is(error, "NoSuchPublicAccessBlockConfiguration"):
            raise
        off = ["no public access block"]
    if off:
        problems.append("public access block off: " + ", ".join(off))
    if problems:
        return Result("state-bucket-access", region, Status.WARN, "; ".join(problems),
                      f"re-apply {contract.BOOTSTRAP_STACK} (BucketOwnerEnforced, all four public access blocks)")
    return Result("state-bucket-access", region, Status.PASS,
                  "object ownership BucketOwnerEnforced; all four public access blocks on")


def _trusts_apigateway(document: Any) -> tuple[bool, list[str]]:
    """Whether an Allow statement lets API Gateway assume the role, and its condition keys."""
    if isinstance(document, str):
        document = json.loads(urllib.parse.unquote(document))
    statements = document.get("Statement", [])
    for st in statements if isinstance(statements, list) else [statements]:
        services = st.get("Principal", {}).get("Service", []) if isinstance(st.get("Principal"), dict) else []
        actions = st.get("Action", [])
        services = [services] if isinstance(services, str) else services
        actions = [actions] if isinstance(actions, str) else actions
        if (st.get("Effect") == "Allow" and APIGATEWAY_PRINCIPAL in services
                and any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions)):
            keys = sorted({k for op in st.get("Condition", {}).values() for k in op})
            return True, keys
    return False, []


def check_apigateway_logging_role(apigw: Any, iam: Any, region: str, target: Target,
                                  account: str) -> Result:
    """The account-wide CloudWatch role API Gateway logs with (set by the account stack)."""
    name = "apigateway-logging-role"
    reapply = f"apply {contract.ACCOUNT_STACK} (once per account; it sets the role in both regions)"
    arn = apigw.get_account().get("cloudwatchRoleArn", "")
    if not arn:
        return Result(name, region, Status.WARN if target.fresh_account else Status.FAIL,
                      "no CloudWatch logging role set for API Gateway: stages with logging fail to apply",
                      reapply)
    if arn.split(":")[4:5] != [account]:
        return Result(name, region, Status.FAIL, f"logging role {arn} is in another account", reapply)
    try:
        role = iam.get_role(RoleName=arn.rsplit("/", 1)[-1])["Role"]
    except ClientError as error:
        if _is(error, "NoSuchEntity"):
            return Result(name, region, Status.FAIL, f"logging role {arn} does not exist (deleted?)", reapply)
        raise
    trusted, conditions = _trusts_apigateway(role.get("AssumeRolePolicyDocument", {}))
    if not trusted:
        return Result(name, region, Status.FAIL, f"{arn} does not trust {APIGATEWAY_PRINCIPAL}", reapply)
    if conditions:
        return Result(name, region, Status.WARN,
                      f"{arn} trusts {APIGATEWAY_PRINCIPAL} only with conditions on {', '.join(conditions)}: "
                      "API Gateway must supply them when it assumes the role, or its logs stop",
                      "if execution logs do not appear, remove the conditions from the role's trust policy")
    return Result(name, region, Status.PASS, f"{arn} exists and trusts {APIGATEWAY_PRINCIPAL}")


def check_health_check_quota(route53: Any) -> Result:
    answer = route53.get_account_limit(Type="MAX_HEALTH_CHECKS_BY_OWNER")
    limit, used = answer["Limit"]["Value"], answer["Count"]
    if limit - used < HEALTH_CHECKS_PER_ENVIRONMENT:
        return Result("route53-health-checks", "", Status.WARN,
                      f"{used} of {limit} health checks used: a new environment needs "
                      f"{HEALTH_CHECKS_PER_ENVIRONMENT} (fine if they are this environment's own)",
                      "request a Route 53 'health checks' quota increase in Service Quotas")
    return Result("route53-health-checks", "", Status.PASS, f"{used} of {limit} health checks used")


def quota_value(quotas: Any, service: str, quota: tuple[str, int]) -> tuple[float, str]:
    """A quota's value in this account and region, and where it came from: the applied value
    (Service Quotas answers NoSuchResourceException for a quota never changed), else AWS's
    default as Service Quotas gives it."""
    code, _ = quota
    try:
        return float(quotas.get_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"]), "applied"
    except ClientError as error:
        if not _is(error, "NoSuchResourceException"):
            raise
    return float(quotas.get_aws_default_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"]), \
        "AWS default"


def _items(client: Any, operation: str) -> list[dict[str, Any]]:
    """Every item of an API Gateway list operation (get_api_keys, get_usage_plans), all pages."""
    return [item for page in client.get_paginator(operation).paginate(PaginationConfig={"PageSize": 500})
            for item in page.get("items", [])]


def check_apigateway_throttle_quota(quotas: Any, region: str, settings: Settings) -> Result:
    """The account's API Gateway throttle here carries the sized POST /validate bucket
    (peak x headroom); every API of the account in this region shares it."""
    code = APIGATEWAY_THROTTLE_RATE_QUOTA[0]
    rate, rate_from = quota_value(quotas, APIGATEWAY_QUOTA_SERVICE, APIGATEWAY_THROTTLE_RATE_QUOTA)
    burst, burst_from = quota_value(quotas, APIGATEWAY_QUOTA_SERVICE, APIGATEWAY_THROTTLE_BURST_QUOTA)
    want_rate, want_burst = settings.validate_throttle_rate, settings.validate_throttle_burst
    detail = (f"account throttle {rate:g} rps ({rate_from}), burst {burst:g} ({burst_from}); POST /validate "
              f"is sized at {want_rate:g} rps, burst {want_burst} (PEAK_PAYMENTS_PER_SECOND="
              f"{settings.peak_payments_per_second:g} x headroom)")
    if rate < want_rate or burst < want_burst:
        return Result("apigateway-throttle-quota", region, Status.FAIL, detail + ": the account throttles first",
                      f"request a higher API Gateway 'Throttle rate' in {region} (Service Quotas code {code}; "
                      "AWS derives the burst from it), or lower PEAK_PAYMENTS_PER_SECOND")
    return Result("apigateway-throttle-quota", region, Status.PASS, detail)


def check_api_keys_quota(quotas: Any, apigw: Any, region: str) -> Result:
    """Room for API keys: each client has one per region (drctl client-keys add/sync)."""
    code = APIGATEWAY_API_KEYS_QUOTA[0]
    limit, source = quota_value(quotas, APIGATEWAY_QUOTA_SERVICE, APIGATEWAY_API_KEYS_QUOTA)
    used = len(_items(apigw, "get_api_keys"))
    free = int(limit) - used
    detail = (f"{used} of {limit:g} API keys used ({source}); each client needs one per region "
              "(drctl client-keys add)")
    fix = f"delete unused API keys, or request a higher 'API keys' quota in {region} (Service Quotas code {code})"
    if free <= 0:
        return Result("apigateway-api-keys", region, Status.FAIL, detail + ": no new client can be added", fix)
    if free < limit * API_KEYS_WARN_FREE_SHARE:
        return Result("apigateway-api-keys", region, Status.WARN, detail + f": {free} left", fix)
    return Result("apigateway-api-keys", region, Status.PASS, detail)


def check_usage_plans_quota(quotas: Any, apigw: Any, region: str, role: str, target: Target) -> Result:
    """Room for this environment's usage plan in the region (one per region: modules/api.py)."""
    code = APIGATEWAY_USAGE_PLANS_QUOTA[0]
    limit, source = quota_value(quotas, APIGATEWAY_QUOTA_SERVICE, APIGATEWAY_USAGE_PLANS_QUOTA)
    names = [plan.get("name") for plan in _items(apigw, "get_usage_plans")]
    ours = target.names.usage_plan(role)
    detail = f"{len(names)} of {limit:g} usage plans used ({source})"
    if ours in names:
        return Result("apigateway-usage-plans", region, Status.PASS, f"{detail}, {ours} among them")
    if len(names) + 1 > limit:
        return Result("apigateway-usage-plans", region, Status.FAIL, f"{detail}: no room for {ours}",
                      f"delete unused usage plans, or request a higher 'Usage plans' quota in {region} "
                      f"(Service Quotas code {code})")
    return Result("apigateway-usage-plans", region, Status.PASS, f"{detail}; {ours} will be created")


def check_alarm_subscription(sns: Any, region: str, role: str, target: Target, account: str) -> Result:
    """Every ALARM_EMAIL / ALARM_HTTPS_ENDPOINTS subscription was confirmed: a pending one
    never receives an alarm."""
    wanted = [*target.settings.alarm_emails, *target.settings.alarm_https_endpoints]
    if not wanted:
        return Result("alarm-subscription", region, Status.SKIP, "ALARM_EMAIL / ALARM_HTTPS_ENDPOINTS not set")
    topic = f"arn:{PARTITION}:sns:{region}:{account}:{target.names.regional('alarms', role)}"
    try:
        subs = {s.get("Endpoint"): s["SubscriptionArn"]
                for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic)
                for s in page.get("Subscriptions", [])}
    except ClientError as error:
        if _is(error, "NotFound"):
            return Result("alarm-subscription", region, Status.SKIP, "alarm topic not created yet")
        raise
    pending = [e for e in wanted if subs.get(e) == "PendingConfirmation"]
    missing = [e for e in wanted if e not in subs]
    if pending:
        return Result("alarm-subscription", region, Status.WARN,
                      f"not confirmed, so alarms do not reach them: {', '.join(pending)}",
                      "e-mail: click the link in 'AWS Notification - Subscription Confirmation'; "
                      "HTTPS: the endpoint must visit the SubscribeURL it was sent")
    if len(missing) == len(wanted):
        return Result("alarm-subscription", region, Status.SKIP, "not subscribed yet (the apply does it)")
    later = f"; not subscribed yet: {', '.join(missing)}" if missing else ""
    confirmed = ", ".join(e for e in wanted if e not in missing)
    return Result("alarm-subscription", region, Status.PASS, f"confirmed: {confirmed}{later}")


# -- running the checks -------------------------------------------------------------------------

# -- the account's audit services (the IaC does not create them: docs/compliance.md, 10) -------

AUDIT_FIX = ("the account's audit baseline is the organization's (Control Tower or the "
             "security team): it must exist before payment data does (docs/compliance.md, 10)")


def check_cloudtrail(cloudtrail_in: Callable[[str], Any], region: str) -> Result:
    """A trail that logs this region's management events and is logging now: the KMS
    key-state page (EventBridge) and the CKV_AWS_18 acceptance rest on it. A trail's status
    and selectors are asked of its home region (`cloudtrail_in(region)` gives a client)."""
    trails = cloudtrail_in(region).describe_trails(includeShadowTrails=True).get("trailList", [])
    covering = [t for t in trails if t.get("IsMultiRegionTrail") or t.get("HomeRegion") == region]
    for trail in covering:
        arn = trail.get("TrailARN") or trail["Name"]
        cloudtrail = cloudtrail_in(trail.get("HomeRegion") or region)
        if not cloudtrail.get_trail_status(Name=arn).get("IsLogging"):
            continue
        selectors = cloudtrail.get_event_selectors(TrailName=arn)
        basic = selectors.get("EventSelectors")
        advanced = selectors.get("AdvancedEventSelectors")
        # A trail with no selectors logs all management events (CloudTrail's default).
        management = (
            (not basic and not advanced)
            or any(s.get("IncludeManagementEvents", True)
                   and s.get("ReadWriteType", "All") in ("All", "WriteOnly") for s in basic or [])
            or any(f.get("Field") == "eventCategory" and "Management" in f.get("Equals", [])
                   for a in advanced or [] for f in a.get("FieldSelectors", [])))
        if management:
            kind = "organization trail" if trail.get("IsOrganizationTrail") else "trail"
            return Result("cloudtrail", region, Status.PASS,
                          f"{kind} {trail['Name']} logs management events here")
    return Result("cloudtrail", region, Status.FAIL,
                  "no logging trail records this region's management (write) events",
                  f"create an organization (or multi-region) trail; {AUDIT_FIX}")


def check_config_recorder(config: Any, region: str) -> Result:
    statuses = config.describe_configuration_recorder_status().get("ConfigurationRecordersStatus", [])
    recording = [s["name"] for s in statuses if s.get("recording")]
    if recording:
        return Result("aws-config", region, Status.PASS, f"recorder {recording[0]} is recording")
    return Result("aws-config", region, Status.FAIL, "no AWS Config recorder is recording here",
                  f"enable AWS Config (all resources) in this region; {AUDIT_FIX}")


def check_guardduty(guardduty: Any, region: str) -> Result:
    for detector in guardduty.list_detectors().get("DetectorIds", []):
        if guardduty.get_detector(DetectorId=detector).get("Status") == "ENABLED":
            return Result("guardduty", region, Status.PASS, f"detector {detector} is enabled")
    return Result("guardduty", region, Status.FAIL, "no enabled GuardDuty detector here",
                  f"enable GuardDuty (delegated administrator for the organization); {AUDIT_FIX}")


def error_result(check: str, region: str, error: Exception) -> Result:
    """What an exception means for a check: never a pass."""
    if isinstance(error, UNREACHABLE):
        where = region or GLOBAL_CONTROL_REGION
        return Result(check, region, Status.UNKNOWN, f"{where} did not answer ({type(error).__name__})",
                      "check network, proxy and the AWS Health Dashboard, then re-run; do not start a "
                      "first apply while a region is dark")
    if isinstance(error, ClientError):
        operation = getattr(error, "operation_name", "") or "a call"
        message = error.response.get("Error", {}).get("Message", "")
        if _code(error) in ACCESS_DENIED:
            return Result(check, region, Status.FAIL,
                          f"credentials may not call {operation} ({_code(error)})", READ_ONLY_FIX)
        return Result(check, region, Status.UNKNOWN, f"{operation} failed: {_code(error)} {message}".strip(),
                      "re-run; if it persists, check this by hand")
    if isinstance(error, NoCredentialsError):
        return Result(check, region, Status.FAIL, "no AWS credentials found",
                      "set AWS_PROFILE, run `aws sso login`, or export credentials")
    return Result(check, region, Status.UNKNOWN, f"could not check: {type(error).__name__}: {error}",
                  "re-run; if it persists, check this by hand and report the error")


def _attempt(check: str, region: str, fn: Callable[[], Result | list[Result]]) -> list[Result]:
    try:
        answer = fn()
    except Exception as error:
        return [error_result(check, region, error)]
    return answer if isinstance(answer, list) else [answer]


def run_checks(target: Target, clients: ClientFactory, resolver: Resolver) -> Report:
    """Every check, in the order an operator fixes them."""
    results: list[Result] = [check_domain_name(target.settings)]
    identity: Identity | None = None
    try:
        identity = identify(clients("sts", target.settings.primary_region))
        results.insert(0, check_credentials(identity, target))
    except Exception as error:
        failed = error_result("credentials", target.settings.primary_region, error)
        if isinstance(error, ClientError) and failed.status is Status.UNKNOWN:  # ExpiredToken & co.
            failed = Result("credentials", target.settings.primary_region, Status.FAIL,
                            f"credentials rejected: {_code(error)}",
                            "refresh or replace the credentials, then re-run")
        results.insert(0, failed)
    if identity is None or results[0].status is not Status.PASS:
        results.append(Result("account-checks", "", Status.UNKNOWN,
                              "not run: the credentials check did not pass",
                              "fix the credentials line, then re-run preflight"))
        return Report(results, identity.account if identity else "")
    account = identity.account

    dark: set[str] = set()
    for _, region in target.regions:
        results += _in_region(dark, "region", region, partial(check_region, clients("sts", region), region, identity))
    results += _zone_checks(target, clients("route53", GLOBAL_CONTROL_REGION), resolver)
    for role, region in target.regions:
        results += _regional_checks(target, clients, role, region, account, dark)
    state_region = target.settings.state_region
    results += _in_region(dark, "state-bucket", state_region,
                          partial(check_state_bucket, clients("s3", state_region), target, account))
    results += _attempt("route53-health-checks", "",
                        partial(check_health_check_quota, clients("route53", GLOBAL_CONTROL_REGION)))
    for role, region in target.regions:
        results += _in_region(dark, "alarm-subscription", region, partial(
            check_alarm_subscription, clients("sns", region), region, role, target, account))
    return Report(results, account)


def _in_region(dark: set[str], check: str, region: str,
               fn: Callable[[], Result | list[Result]]) -> list[Result]:
    """Run `fn` unless its region already failed to answer (then UNKNOWN, without waiting);
    a call that does not answer makes the region dark for the checks after it."""
    if region in dark:
        return [Result(check, region, Status.UNKNOWN, f"not checked: {region} did not answer",
                       f"re-run when {region} answers")]
    try:
        answer = fn()
    except UNREACHABLE as error:
        dark.add(region)
        return [error_result(check, region, error)]
    except Exception as error:
        return [error_result(check, region, error)]
    return answer if isinstance(answer, list) else [answer]


def _zone_checks(target: Target, route53: Any, resolver: Resolver) -> list[Result]:
    zone: list[Zone | None] = [None]

    def hosted_zone() -> Result:
        result, zone[0] = check_hosted_zone(route53, target.settings)
        return result
    results = _attempt("hosted-zone", "", hosted_zone)
    found = zone[0]
    if found is None:
        return results + [Result("dns-delegation", "", Status.SKIP, "no zone to check (see hosted-zone)")]
    return results + _attempt("dns-delegation", "", partial(check_delegation, found, resolver))


def _regional_checks(target: Target, clients: ClientFactory, role: str, region: str, account: str,
                     dark: set[str]) -> list[Result]:
    rds = clients("rds", region)
    return [
        *_in_region(dark, "lambda-concurrency", region, partial(
            check_lambda_concurrency, clients("lambda", region), region, target.reservations(role),
            target.concurrency_needed)),
        *_in_region(dark, "powertools-layer", region, partial(check_powertools_layer, clients("ssm", region), region)),
        *_in_region(dark, "aurora-orderable", region, partial(check_aurora_orderable, rds, region, target.settings)),
        *_in_region(dark, "aurora-global", region, partial(check_aurora_global, rds, region, target.settings)),
        *_in_region(dark, "apigateway-logging-role", region, partial(
            check_apigateway_logging_role, clients("apigateway", region),
            clients("iam", GLOBAL_CONTROL_REGION), region, target, account)),
        *_in_region(dark, "apigateway-throttle-quota", region, partial(
            check_apigateway_throttle_quota, clients(SERVICE_QUOTAS, region), region, target.settings)),
        *_in_region(dark, "apigateway-api-keys", region, partial(
            check_api_keys_quota, clients(SERVICE_QUOTAS, region), clients("apigateway", region), region)),
        *_in_region(dark, "apigateway-usage-plans", region, partial(
            check_usage_plans_quota, clients(SERVICE_QUOTAS, region), clients("apigateway", region), region,
            role, target)),
        *_in_region(dark, "cloudtrail", region, partial(check_cloudtrail, partial(clients, "cloudtrail"), region)),
        *_in_region(dark, "aws-config", region, partial(check_config_recorder, clients("config", region), region)),
        *_in_region(dark, "guardduty", region, partial(check_guardduty, clients("guardduty", region), region)),
    ]


# -- report --------------------------------------------------------------------------------------

def exit_code(results: Iterable[Result]) -> int:
    statuses = {r.status for r in results}
    if Status.FAIL in statuses:
        return exitcodes.UNHEALTHY
    if Status.UNKNOWN in statuses:
        return exitcodes.UNREACHABLE
    if Status.WARN in statuses:
        return exitcodes.WARNINGS
    return exitcodes.OK


@dataclass(frozen=True)
class Report:
    results: list[Result]
    account: str = ""

    @property
    def exit_code(self) -> int:
        return exit_code(self.results)

    def counts(self) -> dict[str, int]:
        return {s.value: sum(r.status is s for r in self.results) for s in Status}

    def to_json(self) -> str:
        return json.dumps({"command": "preflight", "account": self.account, "exit_code": self.exit_code,
                           "summary": self.counts(), "checks": [r.as_dict() for r in self.results]},
                          indent=2)

    def to_table(self) -> str:
        rows = [("CHECK", "REGION", "STATUS", "DETAIL")] + [
            (r.check, r.region or "-", r.status.value, r.detail) for r in self.results]
        w0, w1 = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
        lines = []
        for (check, region, status, detail), result in zip(rows, [None, *self.results], strict=True):
            lines.append(f"{check:<{w0}}  {region:<{w1}}  {status:<7}  {detail}")
            if result is not None and result.fix and result.status is not Status.PASS:
                lines.append(f"{'':<{w0}}  {'':<{w1}}  {'':<7}  fix: {result.fix}")
        summary = ", ".join(f"{n} {s}" for s, n in self.counts().items() if n)
        lines.append(f"preflight: {summary} -> exit {self.exit_code}")
        return "\n".join(lines)


def preflight(target: Target, clients: ClientFactory, resolver: Resolver = public_name_servers,
              log: EventLog | None = None) -> Report:
    report = run_checks(target, clients, resolver)
    if log is not None:
        for r in report.results:
            emit = log.info if r.status in (Status.PASS, Status.SKIP) else log.warning
            emit("check", **r.as_dict())
    return report


# -- command line --------------------------------------------------------------------------------

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fresh-account", action="store_true",
                   help=f"{contract.BOOTSTRAP_STACK} and {contract.ACCOUNT_STACK} are not applied yet: "
                        "their missing state bucket / logging role are WARN, not FAIL")
    p.add_argument("--profile", default=None, help="AWS profile (default: standard credential chain)")
    p.add_argument("--endpoint-url", default=os.environ.get("DRCTL_ENDPOINT_URL"),
                   help="send every call to this endpoint (testing against moto/localstack only)")
    p.add_argument("--json", action="store_true", help="machine-readable report on stdout")
    p.add_argument("--quiet", action="store_true", help="no event log on stderr")


def default_clients(args: argparse.Namespace) -> ClientFactory:
    import boto3
    session = boto3.Session(profile_name=args.profile) if args.profile else boto3.Session()
    return Clients(session, endpoint_url=args.endpoint_url)


def main(args: argparse.Namespace, *, log: EventLog, stdout: TextIO | None = None,
         stderr: TextIO | None = None, environ: Mapping[str, str] | None = None,
         clients: Callable[[argparse.Namespace], ClientFactory] | None = None,
         resolver: Resolver | None = None) -> int:
    """`drctl preflight`; `clients`/`resolver` default to boto3 and public DNS (tests inject)."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    try:
        target = Target.from_env(environ, fresh_account=args.fresh_account)
    except SettingsError as error:
        log.error("settings_error", problems=error.problems)
        print(f"drctl preflight: {error}", file=stderr)
        return exitcodes.USAGE
    report = preflight(target, (clients or default_clients)(args), resolver or public_name_servers, log)
    stdout.write((report.to_json() if args.json else report.to_table()) + "\n")
    stdout.flush()
    return report.exit_code


# Reads settings (the environment), not stack outputs: its own flags, no config, no gateways.
COMMAND = Command("preflight", "read-only checks of the target account before an apply (settings "
                               "from the same environment variables as the synth)",
                  add_arguments, lambda ctx: main(ctx.args, log=ctx.log, stdout=ctx.stdout, stderr=ctx.stderr),
                  outputs=False)
