"""`drctl client-keys` against moto: the secret as Terraform creates it (empty, replicated to
DR), edited by drctl, read by the real authorizer (lambda/authorizer.py) verifying requests
signed with lambda/ops/signing.py; each client's API key in each region's usage plan (moto's
API Gateway, the plans as Terraform names them). Simulated: the wall clock; Secrets Manager replication
(moto's replica reads its primary's value at once; AWS takes seconds). moto has no
StopReplicationToReplica, so the promotion path runs against a recording fake.
"""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path

import boto3
import pytest

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lambda"
if str(LAMBDA_DIR) not in sys.path:
    sys.path.insert(0, str(LAMBDA_DIR))

import authorizer  # noqa: E402
from ops import signing  # noqa: E402
from ops.clientkeys import KeysUnavailable, parse_secret  # noqa: E402

from contract import usage_identifier_key  # noqa: E402
from drctl import exitcodes  # noqa: E402
from drctl.cli import main  # noqa: E402
from drctl.gateways import AwsGateways, SecretState  # noqa: E402

P, D, ENV = "us-east-1", "us-east-2", "dev"
SECRET = f"payments-dr/{ENV}/client-keys"
NONCES = f"payment-idempotency-{ENV}"
PLAN = {"primary": f"payments-clients-primary-{ENV}", "dr": f"payments-clients-dr-{ENV}"}
BODY = b'{"transactionId":"t-1","customerId":"c-1","amount":100.00,"currency":"USD"}'


class Clock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def aws(monkeypatch):
    from moto import mock_aws

    for var, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(var, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        session = boto3.Session(region_name=P)
        # modules/client_keys.py: the secret, no value, replicated to the DR region
        session.client("secretsmanager", P).create_secret(
            Name=SECRET, AddReplicaRegions=[{"Region": D}])
        for region in (P, D):
            session.client("dynamodb", region).create_table(
                TableName=NONCES, BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
        for role, region in (("primary", P), ("dr", D)):     # modules/api.py, per region
            session.client("apigateway", region).create_usage_plan(name=PLAN[role])
        yield session


def drctl(session_or_gateways, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    gateways = session_or_gateways if not isinstance(session_or_gateways, boto3.Session) \
        else AwsGateways(session_or_gateways)
    code = main(["client-keys", *argv, "--primary-region", P, "--dr-region", D,
                 "--environment-suffix", ENV, "--quiet"],
                gateways=lambda args: gateways, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def added_key(session, client: str = "acme", action: str = "add", *extra: str) -> str:
    code, out, _ = drctl(session, action, "--client", client, "--json", *extra)
    assert code == exitcodes.OK, out
    return str(json.loads(out)["key"])


def verdict(session, key: str, *, region: str = P, client: str = "acme", clock: Clock | None = None,
            cache_seconds: str = "0", auth: authorizer.Authorizer | None = None) -> str:
    """What the region's authorizer answers to a request signed with `key`."""
    clock = clock or Clock()
    auth = auth or authorizer_in(session, region, clock, cache_seconds)
    headers = signing.signed_headers(key_b64=key, client_id=client, body=BODY,
                                     timestamp=int(clock.now))
    event = {"type": "REQUEST", "httpMethod": "POST", "resource": "/validate",
             "path": "/validate", "headers": headers,
             "multiValueHeaders": {k: [v] for k, v in headers.items()},
             "methodArn": f"arn:aws:execute-api:{region}:123456789012:abc/prod/POST/validate"}
    try:
        return "Allow" if auth.authorize(event) == client else "?"
    except authorizer.Rejected as rejected:
        return f"Deny:{rejected.reason}"


def authorizer_in(session, region: str, clock: Clock, cache_seconds: str = "0"):
    settings = authorizer.AuthorizerSettings.from_env({
        "AWS_REGION": region, "CLIENT_KEYS_SECRET": SECRET, "NONCE_TABLE": NONCES,
        "CLIENT_KEYS_REQUIRE_EXPIRY": "true",
        "CLIENT_KEYS_CACHE_SECONDS": cache_seconds})
    return authorizer.Authorizer(settings, secretsmanager=session.client("secretsmanager", region),
                                 dynamodb=session.client("dynamodb", region),
                                 wall_clock=clock, clock=clock)


def test_before_a_key_is_added_every_request_fails_closed(aws):
    with pytest.raises(KeysUnavailable):
        verdict(aws, signing.new_key())


def test_add_lets_the_client_in_in_both_regions(aws):
    key = added_key(aws)
    assert verdict(aws, key) == "Allow"
    assert verdict(aws, key, region=D) == "Allow"          # the DR authorizer reads the replica
    assert verdict(aws, signing.new_key()) == "Deny:bad_signature"
    value = aws.client("secretsmanager", P).get_secret_value(SecretId=SECRET)["SecretString"]
    assert list(parse_secret(value)) == ["acme"]            # the authorizer's own parser


def test_disable_refuses_the_client_and_enable_lets_it_back(aws):
    key = added_key(aws)
    assert drctl(aws, "disable", "--client", "acme")[0] == exitcodes.OK
    assert verdict(aws, key) == "Deny:client_disabled"
    assert drctl(aws, "enable", "--client", "acme")[0] == exitcodes.OK
    assert verdict(aws, key) == "Allow"


def test_rotate_refuses_the_old_key_once_the_authorizers_cache_expires(aws):
    old = added_key(aws)
    clock = Clock()
    cached = authorizer_in(aws, P, clock, cache_seconds="60")
    assert verdict(aws, old, clock=clock, auth=cached) == "Allow"      # keys now cached
    new = added_key(aws, "acme", "rotate")
    assert new != old
    assert verdict(aws, new) == "Allow" and verdict(aws, old) == "Deny:bad_signature"
    clock.now += 30     # the stated overlap: an authorizer that read the keys < 60 s ago
    assert verdict(aws, old, clock=clock, auth=cached) == "Allow"
    clock.now += 31
    assert verdict(aws, old, clock=clock, auth=cached) == "Deny:bad_signature"


def test_zero_downtime_rotation_add_then_rotate_to_the_new_key(aws, tmp_path):
    old = added_key(aws)
    new = added_key(aws)                                     # a second key: both verify
    assert verdict(aws, old) == "Allow" and verdict(aws, new) == "Allow"
    key_file = tmp_path / "key"
    key_file.write_text(new + "\n")
    code, out, _ = drctl(aws, "rotate", "--client", "acme", "--key-file", str(key_file))
    assert code == exitcodes.OK and new not in out          # a supplied key is not echoed
    assert verdict(aws, new) == "Allow" and verdict(aws, old) == "Deny:bad_signature"


def test_list_shows_clients_and_fingerprints_never_keys(aws):
    keys = [added_key(aws, "acme"), added_key(aws, "globex"), added_key(aws, "acme")]
    drctl(aws, "disable", "--client", "globex")
    for argv in (("list",), ("list", "--json"), ("list", "--region", "dr")):
        code, out, err = drctl(aws, *argv)
        assert code == exitcodes.OK
        assert not [k for k in keys if k in out or k in err]
        assert "acme" in out and "globex" in out
    rows = json.loads(drctl(aws, "list", "--json")[1])["clients"]
    assert [(r["client"], r["disabled"], len(r["keys"])) for r in rows] == [
        ("acme", False, 2), ("globex", True, 1)]


def test_the_dr_replica_is_refused_with_the_documented_procedure(aws):
    key = added_key(aws)
    code, out, _ = drctl(aws, "disable", "--client", "acme", "--region", "dr")
    assert code == exitcodes.REFUSED
    assert "read-only replica" in out and "--promote-replica" in out
    assert f"stop-replication-to-replica --secret-id {SECRET} --region {D}" in out
    assert verdict(aws, key, region=D) == "Allow"           # nothing changed


def test_the_primary_stack_outputs_are_enough_to_seed_a_key(aws, tmp_path):
    outputs = tmp_path / "primary.json"      # `terraform output -json` of the primary stack
    outputs.write_text(json.dumps({"primary_region": {"value": P, "type": "string"},
                                   "environment_suffix": {"value": ENV, "type": "string"}}))
    out = io.StringIO()
    code = main(["client-keys", "add", "--client", "acme", "--outputs", str(outputs), "--json",
                 "--quiet"], gateways=lambda args: AwsGateways(aws), stdout=out,
                stderr=io.StringIO())
    assert code == exitcodes.OK
    assert verdict(aws, json.loads(out.getvalue())["key"]) == "Allow"
    # the DR region (not in these outputs) is the secret's replica: its plan has the key too
    assert plan_values(aws, D) == {usage_identifier_key(SECRET, "acme")}


def test_bad_input_is_a_usage_error_and_writes_nothing(aws, tmp_path):
    assert drctl(aws, "add")[0] == exitcodes.USAGE                       # no --client
    short = tmp_path / "short"
    short.write_text("c2hvcnQ=")                                         # 5 bytes
    assert drctl(aws, "add", "--client", "acme", "--key-file", str(short))[0] == exitcodes.USAGE
    assert drctl(aws, "add", "--client", "bad id!")[0] == exitcodes.USAGE
    assert drctl(aws, "rotate", "--client", "nobody")[0] == exitcodes.USAGE
    with pytest.raises(KeysUnavailable):                                 # still no value
        verdict(aws, signing.new_key())


# -- per-client quotas (API keys in the regions' usage plans) ---------------------------------

def plan_values(session, region: str) -> set[str]:
    """The API key values API Gateway meters in that region's plan."""
    apigw = session.client("apigateway", region)
    [plan] = [p for p in apigw.get_usage_plans()["items"] if p["name"].startswith("payments-clients-")]
    return {k["value"] for k in apigw.get_usage_plan_keys(usagePlanId=plan["id"])["items"]}


def test_add_gives_the_client_the_key_its_authorizer_names_in_both_regions(aws):
    key = added_key(aws, "acme")
    assert verdict(aws, key, region=D) == "Allow"
    # the value the authorizer returns as usageIdentifierKey (tests/lambda/test_authorizer.py)
    expected = usage_identifier_key(SECRET, "acme")
    assert plan_values(aws, P) == plan_values(aws, D) == {expected}
    added_key(aws, "globex")
    assert plan_values(aws, D) == {expected, usage_identifier_key(SECRET, "globex")}


def test_sync_provisions_clients_added_before_quotas_and_is_idempotent(aws):
    key = signing.new_key()
    aws.client("secretsmanager", P).put_secret_value(SecretId=SECRET, SecretString=json.dumps(
        {"clients": {"acme": {"keys": [key]}, "old": {"keys": [key], "disabled": True}}}))
    code, out, _ = drctl(aws, "check", "--json")
    assert code == exitcodes.UNHEALTHY
    missing = [p for p in json.loads(out)["problems"] if "no API key" in p]
    assert sorted(missing) == sorted(f"acme: no API key in the {role} usage plan ({region}): "
                                     "refused there (403 CLIENT_NOT_PROVISIONED): "
                                     "`drctl client-keys sync`" for role, region in (("primary", P), ("dr", D)))
    assert drctl(aws, "sync")[0] == exitcodes.OK
    assert drctl(aws, "sync")[0] == exitcodes.OK                  # a re-run creates nothing
    for region in (P, D):
        assert plan_values(aws, region) == {usage_identifier_key(SECRET, c) for c in ("acme", "old")}
        assert len(aws.client("apigateway", region).get_api_keys()["items"]) == 2
    assert not [p for p in json.loads(drctl(aws, "check", "--json")[1])["problems"]
                if "no API key" in p]


def test_add_while_a_regions_plan_is_missing_writes_the_key_and_says_what_is_left(aws):
    apigw = aws.client("apigateway", D)
    apigw.delete_usage_plan(usagePlanId=apigw.get_usage_plans()["items"][0]["id"])
    code, out, _ = drctl(aws, "add", "--client", "acme", "--json")
    assert code == exitcodes.UNHEALTHY
    [problem] = json.loads(out)["problems"]
    assert problem.startswith(f"dr ({D}): ") and "drctl client-keys sync" in problem
    assert verdict(aws, json.loads(out)["key"]) == "Allow"         # the signature key is written
    assert plan_values(aws, P) == {usage_identifier_key(SECRET, "acme")}
    apigw.create_usage_plan(name=PLAN["dr"])                       # the next apply restores it
    assert drctl(aws, "sync")[0] == exitcodes.OK
    assert plan_values(aws, D) == {usage_identifier_key(SECRET, "acme")}


class _FakeApiKeys:
    """DR's API Gateway during a primary outage: records what drctl asked of it."""

    def __init__(self) -> None:
        self.joined: list[tuple[str, str]] = []

    def plan_id(self, name: str) -> str:
        assert name == PLAN["dr"]
        return "plan-dr"

    def plan_key_values(self, plan_id: str) -> set[str]:
        return {value for _, value in self.joined}

    def join(self, plan_id: str, *, name: str, value: str) -> None:
        self.joined.append((name, value))


class _FakeSecrets:
    """A DR replica during a primary outage: moto has no StopReplicationToReplica."""

    def __init__(self) -> None:
        self.region, self.primary, self.text, self.calls = D, P, None, []

    def state(self, secret_id: str) -> SecretState:
        return SecretState(secret_id, self.primary, ())

    def value(self, secret_id: str) -> str | None:
        return self.text

    def put_value(self, secret_id: str, text: str) -> None:
        assert self.primary == self.region, "wrote to a replica"
        self.calls.append("put")
        self.text = text

    def promote(self, secret_id: str) -> None:
        self.calls.append("promote")
        self.primary = self.region


class _FakeGateways:
    def __init__(self) -> None:
        self.dr = _FakeSecrets()
        self.dr_keys = _FakeApiKeys()

    def secrets(self, region: str) -> _FakeSecrets:
        assert region == D, "a primary-outage command called the primary region"
        return self.dr

    def api_keys(self, region: str) -> _FakeApiKeys:
        assert region == D, "a primary-outage command called the primary region"
        return self.dr_keys


def test_promote_replica_stops_replication_then_writes_in_dr():
    gateways = _FakeGateways()
    code, out, _ = drctl(gateways, "add", "--client", "acme", "--region", "dr",
                         "--promote-replica", "--json")
    assert code == exitcodes.OK and gateways.dr.calls == ["promote", "put"]
    assert gateways.dr_keys.joined == [(f"payments-dr-{ENV}-client-acme", usage_identifier_key(SECRET, "acme"))]
    assert list(parse_secret(gateways.dr.text)) == ["acme"]
    assert json.loads(out)["key"] in gateways.dr.text


# -- key expiry (notAfter) -----------------------------------------------------------------

def _clock_in(days: float) -> Clock:
    clock = Clock()
    clock.now = time.time() + days * 86400
    return clock


def test_added_keys_end_after_days_and_the_authorizer_refuses_them_from_then_on(aws):
    key = added_key(aws, "acme", "add", "--days", "10")
    assert verdict(aws, key, clock=_clock_in(9.9)) == "Allow"
    assert verdict(aws, key, clock=_clock_in(10.01)) == "Deny:key_expired"
    assert verdict(aws, key, region=D, clock=_clock_in(10.01)) == "Deny:key_expired"
    rows = json.loads(drctl(aws, "list", "--json")[1])["clients"]
    assert rows[0]["keys"][0]["notAfter"].endswith("Z")


@pytest.mark.parametrize("days", ["0", "366"])
def test_a_key_is_never_issued_for_longer_than_the_maximum(aws, days):
    code, out, _ = drctl(aws, "add", "--client", "acme", "--days", days)
    assert code == exitcodes.USAGE and "1 to 365 days" in out


def test_set_expiry_stamps_keys_written_before_expiry_existed(aws):
    key = signing.new_key()
    aws.client("secretsmanager", P).put_secret_value(
        SecretId=SECRET, SecretString=json.dumps({"clients": {"acme": {"keys": [key]}}}))
    assert verdict(aws, key) == "Deny:key_without_expiry"     # prod-like authorizer
    assert drctl(aws, "check")[0] == exitcodes.UNHEALTHY
    assert drctl(aws, "set-expiry", "--client", "acme", "--days", "90")[0] == exitcodes.OK
    assert verdict(aws, key, clock=_clock_in(0)) == "Allow"
    assert verdict(aws, key, clock=_clock_in(90.01)) == "Deny:key_expired"


def test_check_flags_keys_near_their_end_by_fingerprint_never_by_key(aws):
    far = added_key(aws, "acme")
    code, out, _ = drctl(aws, "check")
    assert code == exitcodes.OK, out
    near = added_key(aws, "globex", "add", "--days", "20")
    code, out, _ = drctl(aws, "check", "--json")
    assert code == exitcodes.UNHEALTHY
    problems = json.loads(out)["problems"]
    assert len(problems) == 1 and problems[0].startswith("globex: key ")
    assert "expires at" in problems[0] and near not in out and far not in out
    assert drctl(aws, "check", "--warn-days", "10")[0] == exitcodes.OK
    drctl(aws, "disable", "--client", "globex")              # a disabled client is not flagged
    assert drctl(aws, "check")[0] == exitcodes.OK


def test_check_flags_a_key_written_by_hand_with_an_end_beyond_the_maximum(aws):
    from ops.clientkeys import format_time
    key = signing.new_key()
    aws.client("secretsmanager", P).put_secret_value(SecretId=SECRET, SecretString=json.dumps(
        {"clients": {"acme": {"keys": [{"key": key, "notAfter": format_time(time.time() + 3 * 365 * 86400)}]}}}))
    code, out, _ = drctl(aws, "check", "--json")
    assert code == exitcodes.UNHEALTHY
    assert "more than 365 days away" in json.loads(out)["problems"][0] and key not in out
