"""REQUEST authorizer for POST /validate: HMAC signatures, per-client keys, nonces.

Real: Secrets Manager and the idempotency table (nonce store) in moto, in both regions;
events shaped as API Gateway documents the REQUEST authorizer input (headers, method,
resource, query string, stage variables, request context - no body). Simulated: the wall
clock (SimClock), and replication of the secret (the test creates the same secret in
each region, as Secrets Manager replication would).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import authorizer
import pytest
from lambda_support import (
    DR,
    IDEMPOTENCY_TABLE,
    LAMBDA_DIR,
    PRIMARY,
    REGIONS,
    FakeContext,
    aws_client,
    item_count,
    reset_test_clients,
)
from ops import signing
from ops.clientkeys import KeysUnavailable, format_time, parse_secret
from ops_support import SimClock, http_server

from contract import usage_identifier_key

SECRET = "payments-dr/test/api-clients"
KEY_A = base64.b64encode(b"A" * 32).decode()
KEY_B = base64.b64encode(b"B" * 32).decode()
KEY_OTHER = base64.b64encode(b"Z" * 32).decode()
BODY = b'{"transactionId":"t-1","customerId":"c-1","amount":100.00,"currency":"USD"}'


# Keys valid for a year from the SimClock's start (the format drctl writes: {key, notAfter}).
NOT_AFTER = format_time(SimClock().now + 365 * 86400)


def secret_doc(**clients) -> str:
    """The secret with these clients; bare key strings become {key, notAfter: NOT_AFTER}."""
    clients = clients or {"acme": {"keys": [KEY_A], "disabled": False}}
    for entry in clients.values():
        entry["keys"] = [{"key": k, "notAfter": NOT_AFTER} if isinstance(k, str) else k
                         for k in entry["keys"]]
    return json.dumps({"clients": clients})


def put_secret(region: str, value: str) -> None:
    sm = aws_client("secretsmanager", region)
    try:
        sm.create_secret(Name=SECRET, SecretString=value)
    except sm.exceptions.ResourceExistsException:
        sm.put_secret_value(SecretId=SECRET, SecretString=value)


@pytest.fixture
def clock():
    return SimClock()


@pytest.fixture
def world():
    """Only what the authorizer touches, in both regions: the secret and the nonce table."""
    from moto import mock_aws

    reset_test_clients()
    with mock_aws():
        for region in REGIONS:
            aws_client("dynamodb", region).create_table(
                TableName=IDEMPOTENCY_TABLE, BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
            put_secret(region, secret_doc())
        yield
    reset_test_clients()


@pytest.fixture
def region_auth(world, clock):
    """Build the authorizer of a region (its own secret and nonce table, nothing else)."""

    def build(region: str = PRIMARY, **env) -> authorizer.Authorizer:
        environ = {"AWS_REGION": region, "CLIENT_KEYS_SECRET": SECRET, "NONCE_TABLE": IDEMPOTENCY_TABLE,
                   "CLIENT_KEYS_REQUIRE_EXPIRY": "true", **env}
        return authorizer.init(environ, secretsmanager=aws_client("secretsmanager", region),
                               dynamodb=aws_client("dynamodb", region), wall_clock=clock, clock=clock)

    yield build
    authorizer.reset_runtime()


def event(headers: dict[str, str], *, region: str = PRIMARY, method: str = "POST", resource: str = "/validate",
          query: dict[str, str] | None = None) -> dict:
    """API Gateway REQUEST authorizer input for a REST API (documented shape; no body)."""
    hdrs = {"Host": f"abc123.execute-api.{region}.amazonaws.com", "Content-Type": "application/json", **headers}
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:{region}:123456789012:abc123/prod/{method}{resource}",
        "resource": resource, "path": resource, "httpMethod": method,
        "headers": hdrs, "multiValueHeaders": {k: [v] for k, v in hdrs.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
        "pathParameters": {}, "stageVariables": {},
        "requestContext": {"path": f"/prod{resource}", "accountId": "123456789012", "resourceId": "r1",
                           "stage": "prod", "requestId": str(uuid.uuid4()), "resourcePath": resource,
                           "httpMethod": method, "apiId": "abc123",
                           "identity": {"sourceIp": "203.0.113.10", "userAgent": "pytest"}},
    }


def signed(clock, key=KEY_A, client="acme", body=BODY, **kw) -> dict[str, str]:
    return signing.signed_headers(key_b64=key, client_id=client, body=body, timestamp=int(clock.now), **kw)


def call(ev) -> dict:
    return authorizer.lambda_handler(ev, FakeContext("payments-authorizer-primary-test"))


def effect(response: dict) -> str:
    return response["policyDocument"]["Statement"][0]["Effect"]


def denial_reasons(capsys) -> list[str]:
    """Reasons of the AuthorizerDenied metrics (EMF lines Powertools printed)."""
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    return [doc["Reason"] for doc in emf if "AuthorizerDenied" in doc]


def nonces(region: str = PRIMARY) -> int:
    return item_count(region, IDEMPOTENCY_TABLE)


# ----------------------------------------------------------------------------- allow


def test_good_signature_is_allowed_for_exactly_this_method(region_auth, clock):
    region_auth()
    ev = event(signed(clock))
    response = call(ev)
    assert response == {
        "principalId": "acme",
        "policyDocument": {"Version": "2012-10-17", "Statement": [
            {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": ev["methodArn"]}]},
        "context": {"clientId": "acme"},
        # the client's API key value: API Gateway applies that key's usage plan
        "usageIdentifierKey": usage_identifier_key(SECRET, "acme"),
    }
    [item] = aws_client("dynamodb", PRIMARY).scan(TableName=IDEMPOTENCY_TABLE)["Items"]
    assert item["id"]["S"] == f"nonce#acme#{ev['headers']['X-Nonce']}"
    assert int(item["expiration"]["N"]) == int(clock.now) + 660  # outlives every usable timestamp


def test_each_client_gets_its_own_usage_key_the_same_in_both_regions(region_auth, clock):
    """API Gateway meters by the returned key: two clients never share one, and a client has
    the same one in either region (drctl creates that value in both)."""
    put_secret(PRIMARY, secret_doc(acme={"keys": [KEY_A]}, zeta={"keys": [KEY_B]}))
    put_secret(DR, secret_doc(acme={"keys": [KEY_A]}, zeta={"keys": [KEY_B]}))
    region_auth()
    acme = call(event(signed(clock)))["usageIdentifierKey"]
    zeta = call(event(signed(clock, key=KEY_B, client="zeta")))["usageIdentifierKey"]
    region_auth(DR)
    assert call(event(signed(clock), region=DR))["usageIdentifierKey"] == acme
    assert acme != zeta and len(acme) >= 20  # API Gateway: a key value has at least 20 chars


def test_same_request_verifies_in_either_region_with_no_primary_dependency(region_auth, clock):
    """The DR authorizer reads only DR's secret and table: the primary's are deleted."""
    aws_client("secretsmanager", PRIMARY).delete_secret(SecretId=SECRET, ForceDeleteWithoutRecovery=True)
    aws_client("dynamodb", PRIMARY).delete_table(TableName=IDEMPOTENCY_TABLE)
    region_auth(DR)
    assert effect(call(event(signed(clock), region=DR))) == "Allow"
    assert nonces(DR) == 1


def test_signature_in_base64_is_accepted(region_auth, clock):
    region_auth()
    headers = signed(clock)
    headers["X-Signature"] = base64.b64encode(bytes.fromhex(headers["X-Signature"])).decode()
    assert effect(call(event(headers))) == "Allow"


def test_header_names_are_case_insensitive(region_auth, clock):
    region_auth()
    headers = {k.lower(): v for k, v in signed(clock).items()}
    assert effect(call(event(headers))) == "Allow"


def test_rotation_accepts_every_listed_key_and_drops_a_removed_one_after_the_ttl(region_auth, clock):
    put_secret(PRIMARY, secret_doc(acme={"keys": [KEY_A, KEY_B]}))
    region_auth(CLIENT_KEYS_CACHE_SECONDS="60")
    assert effect(call(event(signed(clock, key=KEY_A)))) == "Allow"
    assert effect(call(event(signed(clock, key=KEY_B)))) == "Allow"
    put_secret(PRIMARY, secret_doc(acme={"keys": [KEY_B]}))
    clock.advance(30)  # still cached
    assert effect(call(event(signed(clock, key=KEY_A)))) == "Allow"
    clock.advance(31)  # TTL passed: the removed key is refused
    assert effect(call(event(signed(clock, key=KEY_A)))) == "Deny"
    assert effect(call(event(signed(clock, key=KEY_B)))) == "Allow"


# ----------------------------------------------------------------------------- key expiry


def test_a_key_is_accepted_until_its_not_after_and_refused_from_then_on(region_auth, clock, caplog):
    ends = format_time(clock.now + 120)
    put_secret(PRIMARY, secret_doc(acme={"keys": [{"key": KEY_A, "notAfter": ends}, KEY_B]}))
    region_auth(CLIENT_KEYS_CACHE_SECONDS="0")
    assert effect(call(event(signed(clock, key=KEY_A)))) == "Allow"
    clock.advance(120)
    caplog.clear()
    assert effect(call(event(signed(clock, key=KEY_A)))) == "Deny"
    denied = [r for r in caplog.records if r.getMessage() == "request denied"]
    assert [(r.reason, r.client_id) for r in denied] == [("key_expired", "acme")]
    logged = repr([vars(r) for r in caplog.records])
    assert KEY_A not in logged and base64.b64decode(KEY_A).decode() not in logged  # never the key
    # the client's other key, still valid, keeps working: rotation before the end
    assert effect(call(event(signed(clock, key=KEY_B)))) == "Allow"
    assert nonces() == 2  # the refused request wrote nothing


@pytest.mark.parametrize("required,answer,reason", [
    ("true", "Deny", ["key_without_expiry"]), ("false", "Allow", [])])
def test_a_key_without_not_after_is_refused_where_expiry_is_required(
        region_auth, clock, capsys, required, answer, reason):
    put_secret(PRIMARY, json.dumps({"clients": {"acme": {"keys": [KEY_A]}}}))
    region_auth(CLIENT_KEYS_REQUIRE_EXPIRY=required)
    capsys.readouterr()
    assert effect(call(event(signed(clock, key=KEY_A)))) == answer
    assert denial_reasons(capsys) == reason


def test_a_client_whose_keys_all_expired_is_refused_like_an_unknown_one(region_auth, clock, capsys):
    put_secret(PRIMARY, secret_doc(acme={"keys": [{"key": KEY_A, "notAfter": format_time(clock.now - 1)}]}))
    region_auth()
    capsys.readouterr()
    response = call(event(signed(clock, key=KEY_A)))
    assert effect(response) == "Deny" and response["principalId"] == "acme"
    assert denial_reasons(capsys) == ["key_expired"]
    # a wrong key for that client is still just a bad signature
    assert effect(call(event(signed(clock, key=KEY_OTHER)))) == "Deny"
    assert denial_reasons(capsys) == ["bad_signature"]


# ----------------------------------------------------------------------------- reject


@pytest.mark.parametrize("header", signing.SIGNED_HEADERS)
def test_missing_header_is_401_and_writes_nothing(region_auth, clock, capsys, header):
    region_auth()
    headers = signed(clock)
    del headers[header]
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        call(event(headers))
    headers[header] = "  "
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        call(event(headers))
    assert nonces() == 0
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    # (the first call also publishes ClientKeyDaysLeft, its own record)
    assert [doc.get("AuthorizerUnauthorized") for doc in emf if "ClientKeyDaysLeft" not in doc] == [[1.0], [1.0]]


def test_no_headers_at_all_is_401(region_auth, clock):
    region_auth()
    ev = event({})
    ev["headers"] = None
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        call(ev)


@pytest.mark.parametrize("case,reason", [
    ("wrong_key", "bad_signature"), ("unknown_client", "unknown_client"), ("disabled", "client_disabled"),
    ("expired", "timestamp_outside_window"), ("future", "timestamp_outside_window"),
    ("tampered_hash", "bad_signature"), ("other_method", "bad_signature"), ("other_resource", "bad_signature"),
    ("query_string", "query_string_not_signed"), ("bad_signature_text", "malformed_signature"),
    ("short_nonce", "malformed_nonce"), ("repeated_header", "repeated_header")])
def test_rejections_are_403_deny_and_write_nothing(region_auth, clock, capsys, case, reason):
    put_secret(PRIMARY, secret_doc(acme={"keys": [KEY_A]}, off={"keys": [KEY_B], "disabled": True}))
    region_auth()
    headers, kw = signed(clock), {}
    if case == "wrong_key":
        headers = signed(clock, key=KEY_OTHER)
    elif case == "unknown_client":
        headers = signed(clock, client="nobody")
    elif case == "disabled":
        headers = signed(clock, key=KEY_B, client="off")
    elif case == "expired":
        headers = signing.signed_headers(key_b64=KEY_A, client_id="acme", body=BODY, timestamp=int(clock.now) - 301)
    elif case == "future":
        headers = signing.signed_headers(key_b64=KEY_A, client_id="acme", body=BODY, timestamp=int(clock.now) + 301)
    elif case == "tampered_hash":
        headers["X-Content-SHA256"] = signing.content_sha256(b'{"amount":"999999.00"}')
    elif case == "other_method":
        kw["method"] = "PUT"
    elif case == "other_resource":
        kw["resource"] = "/health"
    elif case == "query_string":
        kw["query"] = {"debug": "1"}
    elif case == "bad_signature_text":
        headers["X-Signature"] = "not-a-signature"
    elif case == "short_nonce":
        headers = signed(clock, nonce="abc")
    ev = event(headers, **kw)
    if case == "repeated_header":
        ev["multiValueHeaders"]["X-Nonce"] = [headers["X-Nonce"], "another-nonce-value-123"]
    response = call(ev)
    assert effect(response) == "Deny"
    assert response["policyDocument"]["Statement"][0]["Resource"] == ev["methodArn"]
    assert "context" not in response  # nothing for the validator to trust
    assert "usageIdentifierKey" not in response  # no client's quota is drawn on
    assert nonces(PRIMARY) == nonces(DR) == 0
    assert denial_reasons(capsys) == [reason]


def test_timestamp_inside_the_window_is_accepted(region_auth, clock):
    region_auth()
    for offset in (-299, 299):
        headers = signing.signed_headers(key_b64=KEY_A, client_id="acme", body=BODY, timestamp=int(clock.now) + offset)
        assert effect(call(event(headers))) == "Allow"


def test_replayed_nonce_is_denied(region_auth, clock):
    region_auth()
    headers = signed(clock)
    assert effect(call(event(headers))) == "Allow"
    clock.advance(5)
    assert effect(call(event(headers))) == "Deny"  # exact replay
    assert nonces() == 1


def drop_first_response(client, operation: str = "PutItem") -> list[str]:
    """Fault at botocore's HTTP layer: the first ``operation`` is sent and applied (handed to
    moto's ``before-send`` stubber, which plays the service), then its response is lost
    (ReadTimeoutError). botocore's retry handler then resends the same request, as on AWS.
    (This handler is more specific than moto's, so botocore calls it first.)"""
    from botocore.exceptions import ReadTimeoutError
    from moto.core.models import botocore_stubber

    seen: list[str] = []

    def lose(request, event_name, **kwargs):
        seen.append(request.url)
        if len(seen) == 1:
            applied = botocore_stubber(event_name=event_name, request=request, **kwargs)
            assert applied is not None and applied.status_code == 200
            raise ReadTimeoutError(endpoint_url=request.url)

    client.meta.events.register(f"before-send.dynamodb.{operation}", lose)
    return seen


def test_lost_response_of_the_nonce_write_is_not_taken_for_a_replay(region_auth, clock):
    """The nonce PutItem is applied, its response lost, botocore retries and meets its own item:
    the first request must still be allowed; a real replay afterwards is still denied."""
    auth = authorizer.init({"AWS_REGION": PRIMARY, "CLIENT_KEYS_SECRET": SECRET, "NONCE_TABLE": IDEMPOTENCY_TABLE,
                            "CLIENT_KEYS_REQUIRE_EXPIRY": "true"},
                           secretsmanager=aws_client("secretsmanager", PRIMARY), wall_clock=clock, clock=clock)
    attempts = drop_first_response(auth.dynamodb)  # the authorizer's own client (2 attempts, standard mode)
    headers = signed(clock)
    assert effect(call(event(headers))) == "Allow"
    assert len(attempts) == 2, "botocore retried the lost PutItem"
    assert nonces() == 1
    clock.advance(5)
    assert effect(call(event(headers))) == "Deny"  # a replay is another invocation: denied


def test_replay_to_the_other_region_is_caught_only_after_replication(region_auth, clock):
    """The nonce record is written in the region that saw the request; with the idempotency
    global table it replicates. A replay reaching the other region before the record does
    is accepted there (the documented window); after it has arrived (copied here, as
    replication would), the replay is denied."""
    ddb = {r: aws_client("dynamodb", r) for r in REGIONS}
    early, late = signed(clock), signed(clock)
    region_auth(PRIMARY)
    assert effect(call(event(early))) == effect(call(event(late))) == "Allow"
    region_auth(DR)
    assert effect(call(event(early, region=DR))) == "Allow"  # inside the replication window
    for item in ddb[PRIMARY].scan(TableName=IDEMPOTENCY_TABLE)["Items"]:  # simulated replication
        ddb[DR].put_item(TableName=IDEMPOTENCY_TABLE, Item=item)
    assert effect(call(event(late, region=DR))) == "Deny"
    assert effect(call(event(early, region=DR))) == "Deny"


def test_keys_unavailable_is_an_error_never_an_allow(region_auth, clock):
    aws_client("secretsmanager", PRIMARY).delete_secret(SecretId=SECRET, ForceDeleteWithoutRecovery=True)
    region_auth()
    with pytest.raises(KeysUnavailable):
        call(event(signed(clock)))
    assert nonces() == 0


def test_cached_keys_bridge_a_short_secrets_manager_outage(region_auth, clock):
    auth = region_auth(CLIENT_KEYS_CACHE_SECONDS="60", CLIENT_KEYS_MAX_STALE_SECONDS="600")
    assert effect(call(event(signed(clock)))) == "Allow"
    aws_client("secretsmanager", PRIMARY).delete_secret(SecretId=SECRET, ForceDeleteWithoutRecovery=True)
    clock.advance(120)
    assert effect(call(event(signed(clock)))) == "Allow"  # stale but within 600 s
    clock.advance(600)
    with pytest.raises(KeysUnavailable):
        call(event(signed(clock)))
    assert auth.settings.keys_max_stale_seconds == 600


def test_nonce_table_failure_is_an_error_never_an_allow(region_auth, clock):
    aws_client("dynamodb", PRIMARY).delete_table(TableName=IDEMPOTENCY_TABLE)
    region_auth()
    from botocore.exceptions import ClientError
    with pytest.raises(ClientError):
        call(event(signed(clock)))


def test_denials_publish_a_reason_metric(region_auth, clock, capsys):
    region_auth()
    call(event(signed(clock, key=KEY_OTHER)))
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    [doc] = [d for d in emf if "AuthorizerDenied" in d]
    assert doc["Reason"] == "bad_signature" and doc["AuthorizerDenied"] == [1.0]
    assert doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "PaymentsDR"
    assert sorted(doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) == ["Reason", "service"]


# ----------------------------------------------------------------------------- secret and body


def test_secret_parsing_ignores_short_keys_and_treats_anything_but_false_as_disabled():
    clients = parse_secret(json.dumps({"clients": {
        "a": {"keys": [KEY_A, base64.b64encode(b"short").decode(), "%%%"]},
        "b": {"keys": [KEY_B], "disabled": "false"}}}))
    assert clients["a"].keys == (b"A" * 32,) and clients["a"].invalid_keys == 2 and not clients["a"].disabled
    assert clients["b"].disabled


@pytest.mark.parametrize("value", ["not json", "[]", '{"clients": []}', '{"clients": {"bad id!": {}}}'])
def test_invalid_secret_is_refused(value):
    from ops.clientkeys import SecretInvalid
    with pytest.raises(SecretInvalid):
        parse_secret(value)


def test_validator_body_check_catches_a_body_that_does_not_match_the_signed_hash(region_auth, clock):
    """The authorizer never sees the body: it allows a request whose signed hash is
    consistent; the validator's body check is what rejects a swapped body."""
    region_auth()
    headers = signed(clock)
    assert effect(call(event(headers))) == "Allow"
    declared = headers["X-Content-SHA256"]
    assert signing.body_hash_matches(declared, BODY.decode(), False)
    assert signing.body_hash_matches(declared, base64.b64encode(BODY).decode(), True)
    assert signing.body_hash_matches(declared.upper(), BODY.decode(), False)
    swapped = BODY.replace(b"100.00", b"900.00").decode()
    assert not signing.body_hash_matches(declared, swapped, False)
    assert not signing.body_hash_matches(None, BODY.decode(), False)
    assert not signing.body_hash_matches("zz", BODY.decode(), False)
    assert not signing.body_hash_matches(declared, "%%%", True)
    assert signing.body_hash_matches(signing.content_sha256(b""), None, False)


@pytest.mark.parametrize("name,value,message", [
    ("CLIENT_KEYS_SECRET", "", "CLIENT_KEYS_SECRET is required"),
    ("NONCE_TABLE", "", "NONCE_TABLE is required"),
    ("MAX_CLOCK_SKEW_SECONDS", "3600", "MAX_CLOCK_SKEW_SECONDS must be between 30 and 900"),
    ("CLIENT_KEYS_REQUIRE_EXPIRY", "", "CLIENT_KEYS_REQUIRE_EXPIRY is required"),
    ("CLIENT_KEYS_REQUIRE_EXPIRY", "yes", "CLIENT_KEYS_REQUIRE_EXPIRY must be true or false"),
])
def test_bad_settings_name_the_variable(name, value, message):
    environ = {"AWS_REGION": PRIMARY, "CLIENT_KEYS_SECRET": SECRET, "NONCE_TABLE": "t",
               "CLIENT_KEYS_REQUIRE_EXPIRY": "true", name: value}
    with pytest.raises(authorizer.env.ConfigError, match=message):
        authorizer.AuthorizerSettings.from_env(environ)


# ----------------------------------------------------------------------------- docs/calling-the-api.md

DOC = Path(__file__).resolve().parents[2] / "docs" / "calling-the-api.md"


def doc_block(language: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 1, f"expected one {language} block in {DOC.name}"
    return blocks[0]


def run_example(language: str, url: str) -> subprocess.CompletedProcess:
    environ = dict(os.environ, PAYMENTS_API_URL=url, PAYMENTS_CLIENT_ID="acme", PAYMENTS_KEY=KEY_A,
                   PYTHONPATH=str(LAMBDA_DIR / "ops"), PYTHONDONTWRITEBYTECODE="1")
    command = ["bash", "-euo", "pipefail", "-c", doc_block("bash")] if language == "bash" \
        else [sys.executable, "-c", doc_block("python")]
    out = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("openssl")), reason="needs curl and openssl")
@pytest.mark.parametrize("language", ["bash", "python"])
def test_documented_examples_are_allowed_in_either_region(region_auth, clock, language):
    """Each example calls two local servers ("primary" and "DR" hosts) with no change but the
    URL; what they sent is handed to that region's authorizer as API Gateway would (headers
    only) and the body to the validator's check."""
    clock.now = time.time()
    with http_server(200, b'{"status":"VALIDATED"}') as primary, http_server(200, b'{"status":"VALIDATED"}') as dr:
        run_example(language, primary["url"])
        run_example(language, dr["url"])
        sent = {PRIMARY: primary["requests"], DR: dr["requests"]}
    for region, [request] in sent.items():
        assert (request["method"], request["path"]) == ("POST", "/validate")
        region_auth(region)
        response = call(event(request["headers"], region=region))
        assert effect(response) == "Allow" and response["context"] == {"clientId": "acme"}
        declared = signing.header(request["headers"], "X-Content-SHA256")  # urllib sends "X-content-sha256"
        assert signing.body_hash_matches(declared, request["body"].decode(), False)
        assert json.loads(request["body"])["customerId"] == "cust-42"
    assert nonces(PRIMARY) == nonces(DR) == 1


def test_validator_reads_the_client_id_the_authorizer_allowed(region_auth, clock):
    region_auth()
    allowed = call(event(signed(clock)))
    # API Gateway hands the Allow's context to the integration as requestContext.authorizer
    assert signing.authorized_client({"authorizer": {**allowed["context"], "principalId": "acme"}}) == "acme"
    assert signing.authorized_client({"authorizer": None}) is None
    assert signing.authorized_client({}) is None and signing.authorized_client(None) is None
    assert signing.authorized_client({"authorizer": {"clientId": "bad id!"}}) is None


def test_the_authorizer_publishes_days_until_the_first_client_runs_out_of_keys(region_auth, clock, capsys):
    """The client-key expiry alarm's metric (contract.METRIC_CLIENT_KEY_DAYS_LEFT): per enabled
    client its latest-ending key (an old key ending mid-rotation is no lockout), the minimum
    over clients; its own EMF record (no Reason dimension), at most once a minute, no key."""
    from contract import METRIC_CLIENT_KEY_DAYS_LEFT

    def ends(days: float) -> str:
        return format_time(clock.now + days * 86400)

    put_secret(PRIMARY, secret_doc(
        acme={"keys": [{"key": KEY_A, "notAfter": ends(3)}, {"key": KEY_B, "notAfter": ends(40)}],
              "disabled": False},
        beta={"keys": [{"key": KEY_OTHER, "notAfter": ends(10)}], "disabled": False},
        gone={"keys": [{"key": base64.b64encode(b"G" * 32).decode(), "notAfter": ends(1)}],
              "disabled": True}))
    region_auth()
    call(event(signed(clock, key=KEY_OTHER, client="beta")))
    call(event(signed(clock, key=KEY_A, client="nobody")))  # denied, and within the minute
    out = capsys.readouterr().out
    emf = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    [doc] = [d for d in emf if METRIC_CLIENT_KEY_DAYS_LEFT in d]
    assert doc[METRIC_CLIENT_KEY_DAYS_LEFT] in (10.0, [10.0])
    assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    assert doc["service"] == authorizer.SERVICE and "Reason" not in doc
    assert not any(k in out for k in (KEY_A, KEY_B, KEY_OTHER))
