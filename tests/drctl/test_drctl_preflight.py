"""drctl preflight against botocore's Stubber: real request parameters (validated against the
service models) and real response shapes, for a healthy account and for an account that fails
each check. DNS is an injected fake; no test reaches AWS or public DNS (a guard fails any that
tries). A dark region is simulated by a client whose every call raises ConnectTimeoutError."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ConnectTimeoutError, NoCredentialsError
from botocore.stub import Stubber

import contract
from drctl import cli, exitcodes, preflight
from drctl.log import EventLog
from drctl.preflight import DnsUnavailable, NotDelegated, Status, Target, Zone

ROOT = Path(__file__).resolve().parents[2]
REAL_PUBLIC_NAME_SERVERS = preflight.public_name_servers
ACCOUNT = "111122223333"
P, D = "us-east-1", "us-east-2"
ZONE_ID = "Z0123456789ABCDEFGHIJ"
NS = ["ns-1.awsdns-01.org", "ns-2.awsdns-02.co.uk", "ns-3.awsdns-03.com", "ns-4.awsdns-04.net"]
STATE_BUCKET = f"payments-dr-tfstate-dev-{ACCOUNT}-{D}"
LOG_ROLE = f"arn:aws:iam::{ACCOUNT}:role/payments-dr-apigateway-cloudwatch"
ENV = {"ENVIRONMENT_SUFFIX": "dev", "DOMAIN_NAME": "payments.acme-payments.com",
       "HOSTED_ZONE_ID": ZONE_ID, "LAMBDA_RESERVED_CONCURRENCY": "-1",
       "COST_PROFILE": "standard"}  # a provisioned Aurora class (the dev profile: db.serverless)


@pytest.fixture(autouse=True)
def no_public_dns(monkeypatch):
    """Any test that would resolve real DNS fails instead."""
    def refuse(*_: Any, **__: Any):
        raise AssertionError("test tried to query public DNS")
    monkeypatch.setattr(preflight, "public_name_servers", refuse)
    import dns.resolver
    monkeypatch.setattr(dns.resolver.Resolver, "resolve", refuse)


def target(**env: str) -> Target:
    merged = {**ENV, **env}
    return Target.from_env({k: v for k, v in merged.items() if v is not None})


class Account:
    """A ClientFactory of stubbed clients, one Stubber per (service, region)."""

    def __init__(self) -> None:
        # preflight's own factory: the same timeouts and single attempt as production
        self.make = preflight.Clients(boto3.Session(aws_access_key_id="a", aws_secret_access_key="b"))
        self.clients: dict[tuple[str, str], Any] = {}
        self.stubbers: dict[tuple[str, str], Stubber] = {}
        self.dark: dict[str, int] = {}  # region (or "service@region") -> calls attempted

    def __call__(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self.clients:
            client = self.make(service, region)
            dark = self.dark_key(service, region)
            if dark is not None:
                def timeout(**_: Any) -> None:
                    self.dark[dark] += 1
                    raise ConnectTimeoutError(endpoint_url=f"https://{service}.{region}.amazonaws.com")
                client.meta.events.register("before-send", timeout)
            else:
                self.stubbers[key] = Stubber(client)
                self.stubbers[key].activate()
            self.clients[key] = client
        return self.clients[key]

    def dark_key(self, service: str, region: str) -> str | None:
        return next((k for k in (region, f"{service}@{region}") if k in self.dark), None)

    def stub(self, service: str, region: str) -> Stubber:
        self(service, region)
        return self.stubbers[(service, region)]

    def add(self, service: str, region: str, method: str, response: dict, params: dict | None = None) -> None:
        if self.dark_key(service, region):
            return  # a dark client never answers: there is nothing to queue
        self.stub(service, region).add_response(method, response, params)

    def error(self, service: str, region: str, method: str, code: str, status: int = 400,
              params: dict | None = None) -> None:
        self.stub(service, region).add_client_error(method, code, f"{code} (stubbed)", status,
                                                    expected_params=params)

    def assert_all_called(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


def identity(arn: str = f"arn:aws:iam::{ACCOUNT}:user/sre", account: str = ACCOUNT) -> dict:
    return {"UserId": "AIDAEXAMPLE", "Account": account, "Arn": arn}


def hosted_zone(name: str = "acme-payments.com.", private: bool = False, servers=NS) -> dict:
    return {"HostedZone": {"Id": f"/hostedzone/{ZONE_ID}", "Name": name, "CallerReference": "r",
                           "Config": {"PrivateZone": private}},
            "DelegationSet": {"NameServers": list(servers)}}


def lambda_settings(limit: int = 1000, unreserved: int = 1000) -> dict:
    return {"AccountLimit": {"ConcurrentExecutions": limit, "UnreservedConcurrentExecutions": unreserved,
                             "TotalCodeSize": 1, "CodeSizeUnzipped": 1, "CodeSizeZipped": 1}}


def trust(service: str = "apigateway.amazonaws.com", condition: dict | None = None) -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return urllib.parse.quote(json.dumps({"Version": "2012-10-17", "Statement": [statement]}))


def role(document: str | None = None) -> dict:
    return {"Role": {"Path": "/", "RoleName": "payments-dr-apigateway-cloudwatch", "RoleId": "AROAEXAMPLE1234567",
                     "Arn": LOG_ROLE, "CreateDate": "2026-01-01T00:00:00Z",
                     "AssumeRolePolicyDocument": document or trust()}}


def healthy(acct: Account, *, reserving: bool = False, zone_name: str = "acme-payments.com.",
            health_checks_used: int = 3) -> None:
    """Every call of a full run, in order per client, answered as a ready account would."""
    acct.add("sts", P, "get_caller_identity", identity())
    acct.add("sts", P, "get_caller_identity", identity())
    acct.add("sts", D, "get_caller_identity", identity())
    acct.add("route53", P, "get_hosted_zone", hosted_zone(zone_name), {"Id": ZONE_ID})
    for role_, region in (("primary", P), ("dr", D)):
        acct.add("lambda", region, "get_account_settings", lambda_settings())
        if reserving:
            for purpose in ("validator", "health"):
                acct.add("lambda", region, "get_function_concurrency", {},
                         {"FunctionName": f"payment-{purpose}-{role_}-dev"})
        acct.add("ssm", region, "get_parameter", {"Parameter": {
            "Name": contract.POWERTOOLS_LAYER_PARAMETER, "Type": "String",
            "Value": f"arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3:1"}},
            {"Name": contract.POWERTOOLS_LAYER_PARAMETER})
        acct.add("rds", region, "describe_orderable_db_instance_options", {"OrderableDBInstanceOptions": [{
            "Engine": "aurora-postgresql", "EngineVersion": "17.7", "DBInstanceClass": "db.r6g.large",
            "SupportsGlobalDatabases": True,
            "AvailabilityZones": [{"Name": f"{region}a"}, {"Name": f"{region}b"}]}]},
            {"Engine": "aurora-postgresql", "EngineVersion": "17.7", "DBInstanceClass": "db.r6g.large"})
        acct.add("rds", region, "describe_db_engine_versions", {"DBEngineVersions": [{
            "Engine": "aurora-postgresql", "EngineVersion": "17.7", "SupportsGlobalDatabases": True}]},
            {"Engine": "aurora-postgresql", "EngineVersion": "17.7"})
        acct.add("apigateway", region, "get_account", {"cloudwatchRoleArn": LOG_ROLE})
        acct.add("iam", P, "get_role", role(), {"RoleName": "payments-dr-apigateway-cloudwatch"})
        quotas_answered(acct, region)
        acct.add("apigateway", region, "get_api_keys", {"items": [{"id": f"k{i}"} for i in range(3)]},
                 {"limit": 500})
        acct.add("apigateway", region, "get_usage_plans", {"items": [{"id": "p1", "name": f"other-plan-{role_}"}]},
                 {"limit": 500})
        audited(acct, region)
    healthy_state_bucket(acct)
    acct.add("route53", P, "get_account_limit", {"Limit": {"Type": "MAX_HEALTH_CHECKS_BY_OWNER", "Value": 200},
                                                 "Count": health_checks_used}, {"Type": "MAX_HEALTH_CHECKS_BY_OWNER"})


def quota(code: str, value: float) -> dict:
    return {"Quota": {"ServiceCode": "apigateway", "QuotaCode": code, "Value": value}}


def quotas_answered(acct: Account, region: str, *, applied: dict[str, float] | None = None,
                    defaults: dict[str, float] | None = None) -> None:
    """Service Quotas' answers for the three API Gateway checks, in their order: a code in
    `applied` has an applied value; any other answers NoSuchResourceException (never changed)
    and then its AWS default (`defaults`, else the documented one)."""
    documented = {code: value for code, value in (
        preflight.APIGATEWAY_THROTTLE_RATE_QUOTA, preflight.APIGATEWAY_THROTTLE_BURST_QUOTA,
        preflight.APIGATEWAY_API_KEYS_QUOTA, preflight.APIGATEWAY_USAGE_PLANS_QUOTA)}
    for code in documented:
        params = {"ServiceCode": "apigateway", "QuotaCode": code}
        if code in (applied or {}):
            acct.add("service-quotas", region, "get_service_quota", quota(code, (applied or {})[code]), params)
        else:
            acct.error("service-quotas", region, "get_service_quota", "NoSuchResourceException", params=params)
            acct.add("service-quotas", region, "get_aws_default_service_quota",
                     quota(code, (defaults or {}).get(code, documented[code])), params)


ORG_TRAIL = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/org-trail"


def audited(acct: Account, region: str) -> None:
    """An organization trail logging here, AWS Config recording, GuardDuty enabled."""
    acct.add("cloudtrail", region, "describe_trails", {"trailList": [{
        "Name": "org-trail", "TrailARN": ORG_TRAIL, "HomeRegion": "us-east-1",
        "IsMultiRegionTrail": True, "IsOrganizationTrail": True}]}, {"includeShadowTrails": True})
    # Status and selectors come from the trail's home region (us-east-1 = P).
    acct.add("cloudtrail", P, "get_trail_status", {"IsLogging": True}, {"Name": ORG_TRAIL})
    acct.add("cloudtrail", P, "get_event_selectors", {"TrailARN": ORG_TRAIL, "EventSelectors": [
        {"ReadWriteType": "All", "IncludeManagementEvents": True}]}, {"TrailName": ORG_TRAIL})
    acct.add("config", region, "describe_configuration_recorder_status", {
        "ConfigurationRecordersStatus": [{"name": "default", "recording": True}]})
    acct.add("guardduty", region, "list_detectors", {"DetectorIds": ["d1"]})
    acct.add("guardduty", region, "get_detector", {"Status": "ENABLED", "ServiceRole": "r"},
             {"DetectorId": "d1"})


def healthy_state_bucket(acct: Account, bucket: str = STATE_BUCKET, region: str = D) -> None:
    owner = {"Bucket": bucket, "ExpectedBucketOwner": ACCOUNT}
    acct.add("s3", region, "head_bucket", {}, owner)
    acct.add("s3", region, "get_bucket_location", {"LocationConstraint": region}, owner)
    acct.add("s3", region, "get_bucket_versioning", {"Status": "Enabled"}, owner)
    acct.add("s3", region, "get_bucket_encryption", {"ServerSideEncryptionConfiguration": {"Rules": [{
        "ApplyServerSideEncryptionByDefault": {
            "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": f"arn:aws:kms:{region}:{ACCOUNT}:key/abc"}}]}}, owner)
    acct.add("s3", region, "get_bucket_ownership_controls", {
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}}, owner)
    acct.add("s3", region, "get_public_access_block", {"PublicAccessBlockConfiguration": {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True}}, owner)


def delegated(name: str) -> list[str]:
    assert name == "acme-payments.com"
    return [ns.upper() + "." for ns in NS]  # resolvers answer with trailing dots, any case


def by_check(report: preflight.Report) -> dict[tuple[str, str], preflight.Result]:
    return {(r.check, r.region): r for r in report.results}


# -- the module stays cheap ------------------------------------------------------------------------

def test_importing_preflight_loads_neither_cdktf_nor_jsii():
    code = ("import sys; import drctl.preflight, drctl.cli; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'cdktf', 'jsii', 'constructs', "
            "'cdktf_cdktf_provider_aws', 'boto3', 'dns'}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"  # boto3 and dnspython load only when a check runs


def test_clients_time_out_fast_with_a_single_attempt():
    clients = preflight.Clients(boto3.Session(aws_access_key_id="a", aws_secret_access_key="b"))
    config = clients("lambda", D).meta.config
    assert (config.connect_timeout, config.read_timeout) == (3, 5)
    assert config.retries["total_max_attempts"] == 1
    assert clients("lambda", D) is clients("lambda", D)


def test_preflight_counts_the_reservations_compute_sets():
    """compute.py keeps its own HEALTH_RESERVED_CONCURRENCY until it reads the contract's: they must agree."""
    from modules import compute
    assert compute.HEALTH_RESERVED_CONCURRENCY == contract.LAMBDA_HEALTH_RESERVED_CONCURRENCY
    assert set(preflight.RESERVING_FUNCTIONS) == {compute.VALIDATOR, compute.HEALTH}


# -- a ready account -----------------------------------------------------------------------------------

def test_ready_account_passes_every_check_and_exits_0():
    acct = Account()
    healthy(acct)
    report = preflight.preflight(target(), acct, delegated)
    acct.assert_all_called()
    assert [r for r in report.results if r.status not in (Status.PASS, Status.SKIP)] == []
    checks = by_check(report)
    for region in (P, D):
        for name in ("region", "lambda-concurrency", "apigateway-throttle-quota", "apigateway-api-keys",
                     "apigateway-usage-plans", "powertools-layer", "aurora-orderable", "aurora-global",
                     "apigateway-logging-role", "cloudtrail", "aws-config", "guardduty"):
            assert checks[(name, region)].status is Status.PASS, name
    assert checks[("state-bucket", D)].detail.startswith(STATE_BUCKET)
    assert "account 111122223333, partition aws" in checks[("credentials", "")].detail
    assert checks[("alarm-subscription", P)].status is Status.SKIP  # no ALARM_EMAIL
    assert report.exit_code == exitcodes.OK == 0
    assert report.account == ACCOUNT


def test_ready_account_with_reservations_asks_for_each_functions_own_reservation():
    acct = Account()
    healthy(acct, reserving=True)  # expects GetFunctionConcurrency of both functions, per region role
    report = preflight.preflight(target(LAMBDA_RESERVED_CONCURRENCY="50"), acct, delegated)
    acct.assert_all_called()
    result = by_check(report)[("lambda-concurrency", D)]
    assert result.status is Status.PASS
    assert result.detail == ("reserving 50 (payment-validator-dr-dev) + 5 (payment-health-dr-dev) leaves 945 of "
                             "quota 1000 unreserved (minimum 100)")


def test_table_has_one_row_per_check_with_the_fix_under_failures():
    acct = Account()
    healthy(acct)
    table = preflight.preflight(target(DOMAIN_NAME="payments.acme-payments.com"), acct, delegated).to_table()
    lines = table.splitlines()
    assert lines[0].split() == ["CHECK", "REGION", "STATUS", "DETAIL"]
    assert "fix:" not in table  # nothing failed
    assert lines[-1] == "preflight: 33 PASS, 2 SKIP -> exit 0"  # 21 + trail, Config, GuardDuty, 3 API quotas x 2


def test_json_lists_every_check_with_status_detail_and_fix():
    acct = Account()
    healthy(acct)
    data = json.loads(preflight.preflight(target(), acct, delegated).to_json())
    assert data["exit_code"] == 0 and data["account"] == ACCOUNT
    assert {tuple(sorted(c)) for c in data["checks"]} == {("check", "detail", "fix", "region", "status")}
    assert data["summary"]["PASS"] == sum(c["status"] == "PASS" for c in data["checks"]) == 33


# -- an account that fails each check ----------------------------------------------------------------

def test_credentials_for_another_account_fail_and_stop_the_account_checks():
    acct = Account()
    acct.add("sts", P, "get_caller_identity", identity(arn="arn:aws:iam::999988887777:user/x", account="999988887777"))
    report = preflight.preflight(target(AWS_ACCOUNT_ID=ACCOUNT), acct, delegated)
    acct.assert_all_called()  # nothing else was asked of the wrong account
    creds = by_check(report)[("credentials", "")]
    assert creds.status is Status.FAIL and "999988887777" in creds.detail
    assert "AWS_ACCOUNT_ID is 111122223333" in creds.detail
    assert "AWS_PROFILE" in creds.fix
    assert by_check(report)[("account-checks", "")].status is Status.UNKNOWN
    assert report.exit_code == exitcodes.UNHEALTHY == 1


def test_matching_account_id_is_reported():
    result = preflight.check_credentials(preflight.Identity(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/x"),
                                         target(AWS_ACCOUNT_ID=ACCOUNT))
    assert result.status is Status.PASS and "matches AWS_ACCOUNT_ID" in result.detail


def test_invalid_aws_account_id_is_a_settings_error():
    with pytest.raises(preflight.SettingsError, match="AWS_ACCOUNT_ID='12345' is not an AWS account id"):
        target(AWS_ACCOUNT_ID="12345")


def test_credentials_in_another_partition_fail():
    result = preflight.check_credentials(
        preflight.Identity(ACCOUNT, f"arn:aws-cn:iam::{ACCOUNT}:user/x"), target())
    assert result.status is Status.FAIL and "partition aws-cn" in result.detail


def test_missing_and_expired_credentials_fail_with_how_to_fix():
    acct = Account()
    acct.error("sts", P, "get_caller_identity", "ExpiredToken", 403)
    creds = preflight.preflight(target(), acct, delegated).results[0]
    assert (creds.check, creds.status) == ("credentials", Status.FAIL)
    assert creds.detail == "credentials rejected: ExpiredToken"

    def no_credentials(service: str, region: str):
        class Sts:
            def get_caller_identity(self):
                raise NoCredentialsError()
        return Sts()
    creds = preflight.preflight(target(), no_credentials, delegated).results[0]
    assert creds.status is Status.FAIL and "aws sso login" in creds.fix


@pytest.mark.parametrize("domain", ["payments-dev.example.com", "example.net", "pay.example.org",
                                    "payments.example", "payments.test", "api.invalid", "pay.localhost"])
def test_reserved_domain_names_fail(domain):
    result = preflight.check_domain_name(target(DOMAIN_NAME=domain).settings)
    assert result.status is Status.FAIL and "DOMAIN_NAME" in result.detail and "HOSTED_ZONE_ID" in result.fix


def test_default_domain_fails_preflight_even_when_the_account_is_ready():
    acct = Account()
    healthy(acct, zone_name="example.com.")
    env = {**ENV, "DOMAIN_NAME": ""}
    report = preflight.preflight(Target.from_env(env), acct, lambda name: NS)
    assert by_check(report)[("domain-name", "")].status is Status.FAIL
    assert report.exit_code == 1


@pytest.mark.parametrize("response, error, expected", [
    (None, "NoSuchHostedZone", "no such zone in this account"),
    (hosted_zone(private=True), None, "is private"),
    (hosted_zone("other-corp.com."), None, "neither DOMAIN_NAME (payments.acme-payments.com) nor a parent"),
])
def test_hosted_zone_that_cannot_serve_the_domain_fails(response, error, expected):
    acct = Account()
    if error:
        acct.error("route53", P, "get_hosted_zone", error, 404, {"Id": ZONE_ID})
    else:
        acct.add("route53", P, "get_hosted_zone", response, {"Id": ZONE_ID})
    result, zone = preflight.check_hosted_zone(acct("route53", P), target().settings)
    assert result.status is Status.FAIL and expected in result.detail and zone is None


def test_zone_of_the_domain_itself_passes():
    acct = Account()
    acct.add("route53", P, "get_hosted_zone", hosted_zone("payments.acme-payments.com."))
    result, zone = preflight.check_hosted_zone(acct("route53", P), target().settings)
    assert result.status is Status.PASS and zone == Zone(ZONE_ID, "payments.acme-payments.com", tuple(NS))


def test_without_hosted_zone_id_a_zone_to_be_created_warns_about_delegation():
    acct = Account()
    acct.add("route53", P, "list_hosted_zones_by_name", {
        "HostedZones": [{"Id": "/hostedzone/ZOTHER", "Name": "zzz.acme-payments.com.", "CallerReference": "r"}],
        "IsTruncated": False, "MaxItems": "10"},
        {"DNSName": "payments.acme-payments.com", "MaxItems": "10"})
    result, zone = preflight.check_hosted_zone(acct("route53", P), target(HOSTED_ZONE_ID="").settings)
    assert result.status is Status.WARN and zone is None
    assert contract.FOUNDATION_STACK in result.detail and "NS records" in result.fix


def test_without_hosted_zone_id_an_existing_zone_is_checked():
    acct = Account()
    acct.add("route53", P, "list_hosted_zones_by_name", {
        "HostedZones": [{"Id": f"/hostedzone/{ZONE_ID}", "Name": "payments.acme-payments.com.",
                         "CallerReference": "r"}], "IsTruncated": False, "MaxItems": "10"})
    acct.add("route53", P, "get_hosted_zone", hosted_zone("payments.acme-payments.com."),
             {"Id": f"/hostedzone/{ZONE_ID}"})
    result, zone = preflight.check_hosted_zone(acct("route53", P), target(HOSTED_ZONE_ID="").settings)
    assert result.status is Status.PASS and zone is not None and zone.name_servers == tuple(NS)


def test_public_name_servers_maps_dnspython_answers_and_errors(monkeypatch):
    """The default resolver, with dnspython's resolve() faked (no packet leaves the machine)."""
    import dns.exception
    import dns.resolver

    class Record:
        def __init__(self, target: str):
            self.target = target
    outcomes: list[Any] = [[Record("ns-1.awsdns-01.org."), Record("ns-2.awsdns-02.co.uk.")],
                           dns.resolver.NXDOMAIN(), dns.resolver.NoAnswer(), dns.exception.Timeout()]
    asked: list[tuple[str, str]] = []

    def resolve(self: Any, name: str, rdtype: str) -> Any:
        asked.append((name, rdtype))
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome
    monkeypatch.setattr(dns.resolver.Resolver, "resolve", resolve)
    lookup = REAL_PUBLIC_NAME_SERVERS  # the module attribute is patched by no_public_dns
    assert lookup("acme-payments.com") == ["ns-1.awsdns-01.org.", "ns-2.awsdns-02.co.uk."]
    for expected in (NotDelegated, NotDelegated, DnsUnavailable):
        with pytest.raises(expected):
            lookup("acme-payments.com")
    assert asked == [("acme-payments.com", "NS")] * 4


ZONE = Zone(ZONE_ID, "acme-payments.com", tuple(NS))


def _raise(error: Exception):
    def resolver(name: str) -> list[str]:
        raise error
    return resolver


@pytest.mark.parametrize("resolver, status, words", [
    (_raise(NotDelegated("NXDOMAIN")), Status.FAIL, "no NS for acme-payments.com"),
    (lambda name: ["ns1.registrar-parking.com."], Status.FAIL,
     "delegates acme-payments.com to ns1.registrar-parking.com"),
    (lambda name: NS[:2] + ["ns1.old-dns.net"], Status.WARN, "only partly match"),
    (_raise(DnsUnavailable("timeout")), Status.UNKNOWN, "failed: timeout"),
])
def test_undelegated_or_misdelegated_zone(resolver, status, words):
    result = preflight.check_delegation(ZONE, resolver)
    assert result.status is status and words in result.detail
    assert "dig NS" in result.fix if status is Status.UNKNOWN else "ns-1.awsdns-01.org" in result.fix


def reservations(**env: str) -> dict[str, int]:
    return target(**env).reservations("primary")


def test_reservations_follow_the_setting():
    assert reservations(LAMBDA_RESERVED_CONCURRENCY="-1") == {}
    assert reservations(LAMBDA_RESERVED_CONCURRENCY="50") == {
        "payment-validator-primary-dev": 50, "payment-health-primary-dev": 5}


def test_new_account_quota_of_10_fails_a_reservation_with_the_quota_code():
    acct = Account()
    acct.add("lambda", P, "get_account_settings", lambda_settings(limit=10, unreserved=10))
    for name in ("payment-validator-primary-dev", "payment-health-primary-dev"):
        acct.error("lambda", P, "get_function_concurrency", "ResourceNotFoundException", 404, {"FunctionName": name})
    result = preflight.check_lambda_concurrency(acct("lambda", P), P, reservations(LAMBDA_RESERVED_CONCURRENCY="50"))
    assert result.status is Status.FAIL
    assert result.detail == ("reserving 50 (payment-validator-primary-dev) + 5 (payment-health-primary-dev) "
                             "leaves -45 of quota 10 unreserved; Lambda requires 10")
    # a quota below 100 never holds a reservation: 55 reserved + 100 unreserved
    assert "L-B99A9384" in result.fix and "at least 155" in result.fix
    assert "LAMBDA_RESERVED_CONCURRENCY=-1" in result.fix


def test_reservation_must_leave_100_unreserved_in_a_large_account():
    acct = Account()
    acct.add("lambda", P, "get_account_settings", lambda_settings(limit=1000, unreserved=150))
    acct.add("lambda", P, "get_function_concurrency", {})
    acct.add("lambda", P, "get_function_concurrency", {})
    result = preflight.check_lambda_concurrency(acct("lambda", P), P, reservations(LAMBDA_RESERVED_CONCURRENCY="50"))
    assert result.status is Status.FAIL and "leaves 95 of quota 1000 unreserved; Lambda requires 100" in result.detail
    assert "to at least 1005" in result.fix  # 850 reserved by other functions + 55 + 100


def test_rerun_does_not_count_the_stacks_own_reservations_twice():
    acct = Account()  # deployed: our 55 are already out of the unreserved pool
    acct.add("lambda", P, "get_account_settings", lambda_settings(limit=1000, unreserved=145))
    acct.add("lambda", P, "get_function_concurrency", {"ReservedConcurrentExecutions": 50})
    acct.add("lambda", P, "get_function_concurrency", {"ReservedConcurrentExecutions": 5})
    result = preflight.check_lambda_concurrency(acct("lambda", P), P, reservations(LAMBDA_RESERVED_CONCURRENCY="50"))
    assert result.status is Status.PASS and "leaves 145 of quota 1000" in result.detail


def test_unreserved_functions_in_a_small_quota_account_warn():
    acct = Account()
    acct.add("lambda", P, "get_account_settings", lambda_settings(limit=50, unreserved=50))
    result = preflight.check_lambda_concurrency(acct("lambda", P), P, {}, target().concurrency_needed)
    assert result.status is Status.WARN and "L-B99A9384" in result.fix


def test_a_10_quota_account_cannot_carry_the_declared_peak_unreserved():
    """A new account's quota of 10 is below what the peak runs at once (validator 20 and
    authorizer 20 at 10/s): Lambda would throttle the validator and API Gateway answer 500."""
    t = target()
    assert t.concurrency_needed == 2 * t.settings.validator_concurrency_needed == 40
    acct = Account()
    acct.add("lambda", P, "get_account_settings", lambda_settings(limit=10, unreserved=10))
    result = preflight.check_lambda_concurrency(acct("lambda", P), P, {}, t.concurrency_needed)
    assert result.status is Status.FAIL and "runs 40 at once" in result.detail
    assert "L-B99A9384" in result.fix and "at least 140" in result.fix
    # A higher declared peak needs more: the check follows the setting.
    acct.add("lambda", P, "get_account_settings", lambda_settings(limit=1000, unreserved=150))
    high = target(PEAK_PAYMENTS_PER_SECOND="50")
    assert preflight.check_lambda_concurrency(acct("lambda", P), P, {}, high.concurrency_needed).status is Status.FAIL


def quota_report(acct: Account, region: str = P, **env: str) -> dict[tuple[str, str], preflight.Result]:
    t = target(**env)
    q, api = acct("service-quotas", region), acct("apigateway", region)
    return by_check(preflight.Report([
        preflight.check_apigateway_throttle_quota(q, region, t.settings),
        preflight.check_api_keys_quota(q, api, region),
        preflight.check_usage_plans_quota(q, api, region, "primary", t)], ACCOUNT))


def test_api_gateway_quotas_are_read_from_service_quotas_applied_value_first():
    acct = Account()
    quotas_answered(acct, P, applied={"L-1D180A63": 10_000, "L-E8693075": 300})
    acct.add("apigateway", P, "get_api_keys", {"items": [{"id": f"k{i}"} for i in range(500)], "position": "n"},
             {"limit": 500})
    acct.add("apigateway", P, "get_api_keys", {"items": [{"id": "last"}]}, {"limit": 500, "position": "n"})
    acct.add("apigateway", P, "get_usage_plans", {"items": [{"id": "p", "name": "payments-dr-usage-plan-primary-dev"}]},
             {"limit": 500})
    checks = quota_report(acct)
    acct.assert_all_called()
    assert checks[("apigateway-api-keys", P)].status is Status.PASS
    assert checks[("apigateway-api-keys", P)].detail.startswith("501 of 10000 API keys used (applied)")
    assert checks[("apigateway-throttle-quota", P)].detail.startswith(
        "account throttle 10000 rps (AWS default), burst 5000 (AWS default); POST /validate is sized at 20 rps")


def test_api_keys_nearly_used_warn_and_used_up_fail_with_the_quota_code():
    for used, limit, status in ((9_500, 10_000, Status.WARN), (10, 10, Status.FAIL)):
        acct = Account()
        quotas_answered(acct, P, defaults={"L-1D180A63": limit})
        acct.add("apigateway", P, "get_api_keys", {"items": [{"id": f"k{i}"} for i in range(used)]}, {"limit": 500})
        acct.add("apigateway", P, "get_usage_plans", {"items": []}, {"limit": 500})
        result = quota_report(acct)[("apigateway-api-keys", P)]
        assert result.status is status, (used, limit, result)
        assert "L-1D180A63" in result.fix


def test_no_room_for_the_environments_usage_plan_fails_unless_it_exists_already():
    plans = [{"id": f"p{i}", "name": f"someone-else-{i}"} for i in range(300)]
    acct = Account()
    quotas_answered(acct, P)
    acct.add("apigateway", P, "get_api_keys", {"items": []}, {"limit": 500})
    acct.add("apigateway", P, "get_usage_plans", {"items": plans}, {"limit": 500})
    result = quota_report(acct)[("apigateway-usage-plans", P)]
    assert result.status is Status.FAIL and "L-E8693075" in result.fix and "300 of 300" in result.detail
    acct = Account()
    quotas_answered(acct, P)
    acct.add("apigateway", P, "get_api_keys", {"items": []}, {"limit": 500})
    ours = target().names.usage_plan("primary")
    acct.add("apigateway", P, "get_usage_plans", {"items": [*plans[:-1], {"id": "x", "name": ours}]},
             {"limit": 500})
    assert quota_report(acct)[("apigateway-usage-plans", P)].status is Status.PASS  # a re-run: our own plan


def test_an_account_throttle_below_the_sized_stage_fails():
    acct = Account()
    quotas_answered(acct, P, applied={"L-8A5B8E43": 100})
    acct.add("apigateway", P, "get_api_keys", {"items": []}, {"limit": 500})
    acct.add("apigateway", P, "get_usage_plans", {"items": []}, {"limit": 500})
    result = quota_report(acct, PEAK_PAYMENTS_PER_SECOND="60")[("apigateway-throttle-quota", P)]
    assert result.status is Status.FAIL and "sized at 120 rps" in result.detail and "L-8A5B8E43" in result.fix


def test_powertools_parameter_missing_in_a_region_fails():
    acct = Account()
    acct.error("ssm", D, "get_parameter", "ParameterNotFound", 400, {"Name": contract.POWERTOOLS_LAYER_PARAMETER})
    result = preflight.check_powertools_layer(acct("ssm", D), D)
    assert result.status is Status.FAIL and contract.POWERTOOLS_LAYER_PARAMETER in result.detail


def test_aurora_class_not_orderable_or_not_global_fails():
    acct = Account()
    acct.add("rds", D, "describe_orderable_db_instance_options", {"OrderableDBInstanceOptions": []})
    acct.add("rds", D, "describe_orderable_db_instance_options", {"OrderableDBInstanceOptions": [
        {"Engine": "aurora-postgresql", "DBInstanceClass": "db.r6g.large", "SupportsGlobalDatabases": False}]})
    settings = target().settings
    first = preflight.check_aurora_orderable(acct("rds", D), D, settings)
    second = preflight.check_aurora_orderable(acct("rds", D), D, settings)
    assert first.status is Status.FAIL and "db.r6g.large with aurora-postgresql 17.7 is not orderable" in first.detail
    assert second.status is Status.FAIL and "not for global databases" in second.detail
    assert "AURORA_INSTANCE_CLASS" in first.fix


def test_aurora_orderable_follows_pagination():
    acct = Account()
    acct.add("rds", D, "describe_orderable_db_instance_options",
             {"OrderableDBInstanceOptions": [], "Marker": "page2"})
    acct.add("rds", D, "describe_orderable_db_instance_options", {"OrderableDBInstanceOptions": [
        {"DBInstanceClass": "db.r6g.large", "SupportsGlobalDatabases": True}]},
        {"Engine": "aurora-postgresql", "EngineVersion": "17.7", "DBInstanceClass": "db.r6g.large",
         "Marker": "page2"})
    assert preflight.check_aurora_orderable(acct("rds", D), D, target().settings).status is Status.PASS


@pytest.mark.parametrize("versions, words", [
    ([], "not offered here"),
    ([{"Engine": "aurora-postgresql", "EngineVersion": "17.7", "SupportsGlobalDatabases": False}],
     "does not support global databases"),
])
def test_aurora_version_without_global_database_support_fails(versions, words):
    acct = Account()
    acct.add("rds", P, "describe_db_engine_versions", {"DBEngineVersions": versions})
    result = preflight.check_aurora_global(acct("rds", P), P, target().settings)
    assert result.status is Status.FAIL and words in result.detail and "SupportsGlobalDatabases" in result.fix


def state(acct: Account, fresh: bool = False, **env: str) -> dict[str, preflight.Result]:
    t = Target.from_env({**ENV, **env}, fresh_account=fresh)
    return {r.check: r for r in preflight.check_state_bucket(acct("s3", D), t, ACCOUNT)}


def test_missing_state_bucket_fails_and_names_the_bootstrap_stack():
    acct = Account()
    acct.error("s3", D, "head_bucket", "404", 404, {"Bucket": STATE_BUCKET, "ExpectedBucketOwner": ACCOUNT})
    results = state(acct)
    assert results["state-bucket"].status is Status.FAIL
    assert contract.BOOTSTRAP_STACK in results["state-bucket"].fix
    assert results["state-bucket-versioning"].status is Status.SKIP


def test_missing_state_bucket_in_a_fresh_account_only_warns():
    acct = Account()
    acct.error("s3", D, "head_bucket", "404", 404)
    assert state(acct, fresh=True)["state-bucket"].status is Status.WARN


def test_state_bucket_name_taken_by_another_account_fails_even_in_a_fresh_account():
    acct = Account()
    acct.error("s3", D, "head_bucket", "403", 403)
    result = state(acct, fresh=True)["state-bucket"]
    assert result.status is Status.FAIL and "TF_STATE_BUCKET" in result.fix


def test_explicit_state_bucket_in_the_wrong_region_fails():
    acct = Account()
    owner = {"Bucket": "my-tfstate", "ExpectedBucketOwner": ACCOUNT}
    acct.add("s3", D, "head_bucket", {}, owner)
    acct.add("s3", D, "get_bucket_location", {"LocationConstraint": "EU"}, owner)
    result = state(acct, TF_STATE_BUCKET="my-tfstate")["state-bucket"]
    assert result.status is Status.FAIL and "is in eu-west-1, TF_STATE_REGION is us-east-2" in result.detail


def test_unversioned_sse_s3_state_bucket_with_acls_fails_and_warns():
    acct = Account()
    acct.add("s3", D, "head_bucket", {})
    acct.add("s3", D, "get_bucket_location", {"LocationConstraint": D})
    acct.add("s3", D, "get_bucket_versioning", {"Status": "Suspended"})
    acct.add("s3", D, "get_bucket_encryption", {"ServerSideEncryptionConfiguration": {"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}})
    acct.error("s3", D, "get_bucket_ownership_controls", "OwnershipControlsNotFoundError", 404)
    acct.add("s3", D, "get_public_access_block", {"PublicAccessBlockConfiguration": {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": True}})
    results = state(acct)
    acct.assert_all_called()
    assert results["state-bucket"].status is Status.PASS
    versioning, encryption = results["state-bucket-versioning"], results["state-bucket-encryption"]
    assert versioning.status is Status.FAIL and "Suspended" in versioning.detail
    assert encryption.status is Status.FAIL and "AES256" in encryption.detail
    access = results["state-bucket-access"]
    assert access.status is Status.WARN
    assert access.detail == "object ownership not set (ACLs still apply); public access block off: BlockPublicPolicy"


def test_state_bucket_with_the_aws_managed_key_warns():
    acct = Account()
    acct.add("s3", D, "get_bucket_encryption", {"ServerSideEncryptionConfiguration": {"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]}})
    result = preflight._state_encryption(acct("s3", D), STATE_BUCKET, ACCOUNT, D)
    assert result.status is Status.WARN and "aws/s3" in result.detail


def test_terraform_cloud_state_skips_the_bucket():
    results = state(Account(), TFC_ORGANIZATION="acme", TFC_WORKSPACE="payments-dev")
    assert list(results) == ["state-bucket"] and results["state-bucket"].status is Status.SKIP


def logging_role(acct: Account, fresh: bool = False) -> preflight.Result:
    t = Target(target().settings, fresh_account=fresh)
    return preflight.check_apigateway_logging_role(acct("apigateway", D), acct("iam", P), D, t, ACCOUNT)


def test_no_api_gateway_logging_role_fails_and_names_the_account_stack():
    acct = Account()
    acct.add("apigateway", D, "get_account", {})
    result = logging_role(acct)
    assert result.status is Status.FAIL and contract.ACCOUNT_STACK in result.fix
    acct.add("apigateway", D, "get_account", {})
    assert logging_role(acct, fresh=True).status is Status.WARN


def test_deleted_or_untrusting_logging_role_fails():
    acct = Account()
    acct.add("apigateway", D, "get_account", {"cloudwatchRoleArn": LOG_ROLE})
    acct.error("iam", P, "get_role", "NoSuchEntity", 404, {"RoleName": "payments-dr-apigateway-cloudwatch"})
    assert "does not exist" in logging_role(acct).detail
    acct.add("apigateway", D, "get_account", {"cloudwatchRoleArn": LOG_ROLE})
    acct.add("iam", P, "get_role", role(trust("lambda.amazonaws.com")))
    result = logging_role(acct)
    assert result.status is Status.FAIL and "does not trust apigateway.amazonaws.com" in result.detail


def test_logging_role_in_another_account_fails():
    acct = Account()
    acct.add("apigateway", D, "get_account", {"cloudwatchRoleArn": "arn:aws:iam::999988887777:role/x"})
    assert "in another account" in logging_role(acct).detail


def test_logging_role_trust_with_conditions_warns():
    acct = Account()
    acct.add("apigateway", D, "get_account", {"cloudwatchRoleArn": LOG_ROLE})
    acct.add("iam", P, "get_role", role(trust(condition={"StringEquals": {"aws:SourceAccount": ACCOUNT}})))
    result = logging_role(acct)
    assert result.status is Status.WARN and "aws:SourceAccount" in result.detail


def test_health_check_quota_nearly_used_warns():
    acct = Account()
    acct.add("route53", P, "get_account_limit", {"Limit": {"Type": "MAX_HEALTH_CHECKS_BY_OWNER", "Value": 50},
                                                 "Count": 49})
    assert preflight.check_health_check_quota(acct("route53", P)).status is Status.WARN


def alarm_subscription(acct: Account, subscriptions: list[tuple[str, str, str]]) -> preflight.Result:
    topic = f"arn:aws:sns:{D}:{ACCOUNT}:payments-alarms-dr-dev"
    acct.add("sns", D, "list_subscriptions_by_topic", {"Subscriptions": [
        {"SubscriptionArn": arn, "Owner": ACCOUNT, "Protocol": protocol, "Endpoint": endpoint, "TopicArn": topic}
        for protocol, endpoint, arn in subscriptions]}, {"TopicArn": topic})
    t = target(ALARM_EMAIL="sre@acme-payments.com,oncall@acme-payments.com",
               ALARM_HTTPS_ENDPOINTS="https://events.pagerduty.com/integration/abc/enqueue")
    return preflight.check_alarm_subscription(acct("sns", D), D, "dr", t, ACCOUNT)


def test_unconfirmed_alarm_subscriptions_warn():
    confirmed = f"arn:aws:sns:{D}:{ACCOUNT}:payments-alarms-dr-dev:0b1c"
    result = alarm_subscription(Account(), [
        ("email", "sre@acme-payments.com", confirmed),
        ("email", "oncall@acme-payments.com", "PendingConfirmation"),
        ("https", "https://events.pagerduty.com/integration/abc/enqueue", "PendingConfirmation")])
    assert result.status is Status.WARN
    assert result.detail == ("not confirmed, so alarms do not reach them: oncall@acme-payments.com, "
                             "https://events.pagerduty.com/integration/abc/enqueue")
    assert "SubscribeURL" in result.fix


def test_confirmed_alarm_subscriptions_pass_and_name_the_ones_still_to_come():
    confirmed = f"arn:aws:sns:{D}:{ACCOUNT}:payments-alarms-dr-dev:0b1c"
    result = alarm_subscription(Account(), [("email", "sre@acme-payments.com", confirmed)])
    assert result.status is Status.PASS
    assert result.detail == ("confirmed: sre@acme-payments.com; not subscribed yet: oncall@acme-payments.com, "
                             "https://events.pagerduty.com/integration/abc/enqueue")


# -- errors are never a pass ---------------------------------------------------------------------

def test_access_denied_fails_with_the_read_only_fix():
    acct = Account()
    acct.error("ssm", P, "get_parameter", "AccessDeniedException", 400)
    [result] = preflight._attempt("powertools-layer", P, lambda: preflight.check_powertools_layer(acct("ssm", P), P))
    assert result.status is Status.FAIL and "may not call GetParameter" in result.detail
    assert "ReadOnlyAccess" in result.fix


def test_unexpected_error_is_unknown_not_pass():
    acct = Account()
    acct.error("rds", P, "describe_db_engine_versions", "ThrottlingException", 400)
    [result] = preflight._attempt("aurora-global", P,
                                  lambda: preflight.check_aurora_global(acct("rds", P), P, target().settings))
    assert result.status is Status.UNKNOWN and "ThrottlingException" in result.detail and "re-run" in result.fix


def test_dark_dr_region_is_unknown_asked_once_and_exits_3():
    acct = Account()
    acct.dark[D] = 0
    acct.add("sts", P, "get_caller_identity", identity())
    acct.add("sts", P, "get_caller_identity", identity())
    acct.add("route53", P, "get_hosted_zone", hosted_zone())
    acct.add("lambda", P, "get_account_settings", lambda_settings())
    acct.add("ssm", P, "get_parameter", {"Parameter": {"Name": "n", "Type": "String", "Value": "arn"}})
    acct.add("rds", P, "describe_orderable_db_instance_options", {"OrderableDBInstanceOptions": [
        {"DBInstanceClass": "db.r6g.large", "SupportsGlobalDatabases": True}]})
    acct.add("rds", P, "describe_db_engine_versions", {"DBEngineVersions": [{"SupportsGlobalDatabases": True}]})
    acct.add("apigateway", P, "get_account", {"cloudwatchRoleArn": LOG_ROLE})
    acct.add("iam", P, "get_role", role())
    quotas_answered(acct, P)
    acct.add("apigateway", P, "get_api_keys", {"items": []})
    acct.add("apigateway", P, "get_usage_plans", {"items": []})
    audited(acct, P)
    acct.add("route53", P, "get_account_limit", {"Limit": {"Type": "MAX_HEALTH_CHECKS_BY_OWNER", "Value": 200},
                                                 "Count": 0})
    report = preflight.preflight(target(), acct, delegated)
    acct.assert_all_called()
    assert acct.dark[D] == 1  # one attempt, one timeout, then no more waiting on that region
    unknown = {r.check for r in report.results if r.status is Status.UNKNOWN}
    assert unknown == {"region", "lambda-concurrency", "powertools-layer", "aurora-orderable", "aurora-global",
                       "apigateway-logging-role", "apigateway-throttle-quota", "apigateway-api-keys",
                       "apigateway-usage-plans", "state-bucket", "alarm-subscription",
                       "cloudtrail", "aws-config", "guardduty"}
    assert all(r.region == D for r in report.results if r.status is Status.UNKNOWN)
    region = by_check(report)[("region", D)]
    assert "did not answer (ConnectTimeoutError)" in region.detail and "do not start a first apply" in region.fix
    assert report.exit_code == exitcodes.UNREACHABLE == 3


def test_service_that_stops_answering_darkens_its_region_for_later_checks():
    acct = Account()
    acct.dark[f"ssm@{D}"] = 0  # the DR region answers STS and Lambda, then SSM times out
    healthy(acct)
    report = preflight.preflight(target(), acct, delegated)
    assert acct.dark[f"ssm@{D}"] == 1
    checks = by_check(report)
    assert checks[("lambda-concurrency", D)].status is Status.PASS
    assert checks[("powertools-layer", D)].detail == "us-east-2 did not answer (ConnectTimeoutError)"
    later = [r for r in report.results if r.region == D and r.check not in ("region", "lambda-concurrency",
                                                                           "powertools-layer")]
    assert {r.check for r in later} == {"aurora-orderable", "aurora-global", "apigateway-logging-role",
                                        "apigateway-throttle-quota", "apigateway-api-keys", "apigateway-usage-plans",
                                        "state-bucket", "alarm-subscription", "cloudtrail",
                                        "aws-config", "guardduty"}
    assert all(r.status is Status.UNKNOWN and r.detail == "not checked: us-east-2 did not answer" for r in later)
    assert report.exit_code == exitcodes.UNREACHABLE


def test_warnings_only_exit_6():
    acct = Account()
    healthy(acct, health_checks_used=199)
    report = preflight.preflight(target(), acct, delegated)
    assert {r.status for r in report.results} == {Status.PASS, Status.SKIP, Status.WARN}
    assert report.exit_code == exitcodes.WARNINGS == 7


@pytest.mark.parametrize("statuses, code", [
    ({Status.PASS, Status.SKIP}, 0), ({Status.PASS, Status.WARN}, 7), ({Status.WARN, Status.UNKNOWN}, 3),
    ({Status.UNKNOWN, Status.FAIL, Status.WARN}, 1)])
def test_exit_code_precedence(statuses, code):
    assert preflight.exit_code(preflight.Result("c", "", s, "d") for s in statuses) == code


# -- command line ------------------------------------------------------------------------------------

def test_cli_preflight_json_and_exit_code(monkeypatch):
    acct = Account()
    healthy(acct)
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    for key in ("TF_STATE_BUCKET", "AWS_ACCOUNT_ID", "TFC_ORGANIZATION", "TFC_WORKSPACE", "ALARM_EMAIL",
                "ALARM_HTTPS_ENDPOINTS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(preflight, "default_clients", lambda args: acct)
    monkeypatch.setattr(preflight, "public_name_servers", delegated)
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["preflight", "--json"], stdout=out, stderr=err)
    data = json.loads(out.getvalue())
    assert code == data["exit_code"] == 0
    assert {c["check"] for c in data["checks"]} >= {"credentials", "region", "domain-name", "hosted-zone",
                                                     "dns-delegation", "lambda-concurrency", "powertools-layer",
                                                     "aurora-orderable", "aurora-global", "state-bucket",
                                                     "apigateway-logging-role"}
    events = [json.loads(line) for line in err.getvalue().splitlines()]
    assert {e["event"] for e in events} == {"check"} and len(events) == len(data["checks"])


def test_cli_invalid_settings_exit_2_naming_the_variable(monkeypatch):
    monkeypatch.setenv("LAMBDA_RESERVED_CONCURRENCY", "lots")
    monkeypatch.setattr(preflight, "default_clients", lambda args: pytest.fail("no AWS call with bad settings"))
    err = io.StringIO()
    assert cli.main(["preflight", "--quiet"], stdout=io.StringIO(), stderr=err) == exitcodes.USAGE
    assert "LAMBDA_RESERVED_CONCURRENCY='lots' is not a whole number" in err.getvalue()


def test_cli_help_documents_preflight_exit_codes():
    out = io.StringIO()
    parser = cli.build_parser()
    parser._subparsers._group_actions[0].choices["preflight"].print_help(out)  # type: ignore[union-attr]
    text = out.getvalue()
    assert "--fresh-account" in text and "--json" in text
    assert "7  preflight: warnings only" in text and "3  a region could not be reached" in text


def test_event_log_records_every_check():
    acct = Account()
    healthy(acct)
    log = EventLog(io.StringIO(), command="preflight")
    report = preflight.preflight(target(), acct, delegated, log)
    assert len(log.named("check")) == len(report.results)


# -- moto server: real HTTP serialization through the command line ----------------------------------

def test_cli_against_moto_server(moto_url, monkeypatch):
    """The real client factory against moto on 127.0.0.1. moto does not implement Lambda
    GetAccountSettings, RDS DescribeDBEngineVersions, Route 53 GetAccountLimit or the public
    Powertools parameter: those must come out UNKNOWN/FAIL, never PASS."""
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "TF_STATE_BUCKET", "AWS_ACCOUNT_ID",
                "TFC_ORGANIZATION", "TFC_WORKSPACE", "ALARM_EMAIL",
                "ALARM_HTTPS_ENDPOINTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    session = boto3.Session(region_name=P)

    def c(service: str, region: str = P) -> Any:
        return session.client(service, region_name=region, endpoint_url=moto_url)
    moto_account = c("sts").get_caller_identity()["Account"]
    # moto's zone ids do not look like Route 53's (Settings rejects them as HOSTED_ZONE_ID), so
    # this runs the other path: no HOSTED_ZONE_ID, a zone named DOMAIN_NAME from an earlier apply.
    zone = c("route53").create_hosted_zone(Name="payments.acme-payments.com", CallerReference="pf")
    servers = zone["DelegationSet"]["NameServers"]
    bucket = f"payments-dr-tfstate-dev-{moto_account}-{D}"
    s3 = c("s3", D)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": D})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    key = c("kms", D).create_key()["KeyMetadata"]["Arn"]
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}]})
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    arn = c("iam").create_role(RoleName="payments-dr-apigateway-cloudwatch",
                               AssumeRolePolicyDocument=urllib.parse.unquote(trust()))["Role"]["Arn"]
    c("apigateway", P).update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": arn}])
    # moto builds each service backend on its first call, which can take longer than preflight's
    # 5 s read timeout on a busy machine: warm them so the run measures preflight, not moto.
    for region in (P, D):
        for service, call in (("ssm", lambda x: x.describe_parameters(MaxResults=1)),
                              ("lambda", lambda x: x.list_functions(MaxItems=1)),
                              ("rds", lambda x: x.describe_db_clusters()),
                              ("apigateway", lambda x: x.get_account()),
                              ("sns", lambda x: x.list_topics())):
            call(c(service, region))
    for k, v in {**ENV, "HOSTED_ZONE_ID": ""}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(preflight, "public_name_servers",
                        lambda name: servers if name == "payments.acme-payments.com" else [])

    out = io.StringIO()
    err = io.StringIO()
    code = cli.main(["preflight", "--json", "--quiet", "--endpoint-url", moto_url], stdout=out, stderr=err)
    assert out.getvalue(), (code, err.getvalue())
    checks = {(c["check"], c["region"]): c for c in json.loads(out.getvalue())["checks"]}
    status = {k: v["status"] for k, v in checks.items()}
    for key in (("credentials", ""), ("region", P), ("region", D), ("hosted-zone", ""), ("dns-delegation", "")):
        assert status[key] == "PASS", checks[key]
    for name in ("state-bucket", "state-bucket-versioning", "state-bucket-encryption", "state-bucket-access"):
        assert status[(name, D)] == "PASS", checks[(name, D)]
    assert status[("apigateway-logging-role", P)] == "PASS"  # trust policy decoded from a real response
    assert status[("apigateway-logging-role", D)] == "FAIL"  # moto: not set in the DR region
    assert status[("powertools-layer", P)] == "FAIL"  # moto has no public Powertools parameter
    for name in ("lambda-concurrency", "aurora-global"):  # not implemented by moto
        assert status[(name, P)] == "UNKNOWN", checks[(name, P)]
    assert status[("aurora-orderable", P)] == "FAIL"  # moto lists no orderable aurora-postgresql 17.7
    # moto's Service Quotas holds no API Gateway defaults (GetAWSDefaultServiceQuota errs):
    # the quota checks cannot be answered, so they are UNKNOWN, never PASS.
    for name in ("apigateway-throttle-quota", "apigateway-api-keys", "apigateway-usage-plans"):
        assert status[(name, P)] == "UNKNOWN" and "GetAWSDefaultServiceQuota" in checks[(name, P)]["detail"]
    assert code == exitcodes.UNHEALTHY


# -- the health-check quota counts what an environment creates ---------------------------------

@pytest.mark.parametrize("fixture", ["platform", "prod_platform"])
def test_the_health_check_count_is_what_the_synth_creates(fixture, request):
    created = request.getfixturevalue(fixture)["resource"].get("aws_route53_health_check", {})
    assert len(created) == contract.ROUTE53_HEALTH_CHECKS_PER_ENVIRONMENT == preflight.HEALTH_CHECKS_PER_ENVIRONMENT


@pytest.mark.parametrize("free, status", [(3, Status.WARN), (4, Status.PASS)])
def test_the_health_check_quota_warns_when_an_environment_would_not_fit(free, status):
    acct = Account()
    healthy(acct, health_checks_used=200 - free)
    report = preflight.preflight(target(), acct, delegated)
    quota = next(r for r in report.results if r.check == "route53-health-checks")
    assert quota.status is status, quota.detail
