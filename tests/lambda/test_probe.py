"""Scheduled probe: bounded checks of the peer and the domain, metrics, and the failback latch.

What is real: HTTP servers on 127.0.0.1 (healthy, failing, never answering, trickling),
SSM and CloudWatch in moto (in-process, and ThreadedMotoServer on 127.0.0.1 for the
cold-start test, which runs each invocation in a fresh Python process). What is simulated:
the wall clock of the latch (SimClock); CloudWatch alarm evaluation and the Route 53 health
check on the failback alarm are not modelled (moto does not evaluate alarms).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import probe
import pytest
from lambda_support import LAMBDA_DIR, PACKAGE_PATH, FakeContext
from ops import httpcheck, latch
from ops_support import (
    HEALTHY_BODY,
    UNHEALTHY_BODY,
    CallCounter,
    Recorder,
    SimClock,
    closed_port,
    http_server,
    metric,
    never_answers,
    tcp_server,
    trickles,
)

PARAM = "/payments-dr/test/failback/primary"
REGION = "us-east-2"  # the DR region, watching the primary


def probe_env(peer_url: str, domain_url: str, **extra: str) -> dict[str, str]:
    environ = {"AWS_REGION": REGION, "REGION_ROLE": "dr", "PEER_HEALTH_URL": peer_url + "/prod/health",
               "DOMAIN_HEALTH_URL": domain_url + "/health", "HEALTH_SEARCH_STRING": '"status":"healthy"',
               "FAILBACK_PARAMETER": PARAM, "PEER_FAILURES_TO_BLOCK": "2", "PROBE_BUDGET_SECONDS": "2",
               "PROBE_CONNECT_TIMEOUT_SECONDS": "0.5", "PROBE_READ_TIMEOUT_SECONDS": "0.5"}
    environ.update(extra)
    return environ


@pytest.fixture
def moto():
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def clock():
    return SimClock()


def make_probe(environ, clock):
    import boto3

    cw = boto3.client("cloudwatch", region_name=REGION)
    ssm = boto3.client("ssm", region_name=REGION)
    p = probe.init(environ, ssm=ssm, cloudwatch=cw, wall_clock=clock)
    return p, Recorder(cw, "PutMetricData"), ssm


def stored_latch(ssm):
    try:
        return json.loads(ssm.get_parameter(Name=PARAM)["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        return None


def invoke():
    return probe.lambda_handler({"source": "aws.events"}, FakeContext("payments-probe-dr-test"))


# ----------------------------------------------------------------------------- checks


def test_healthy_answer_needs_200_and_the_search_string():
    pool = httpcheck.new_pool(0.5, 0.5)
    with http_server() as ok, http_server(503, UNHEALTHY_BODY) as down, http_server(200, b"<html>hi</html>") as odd:
        good = httpcheck.check_url(pool, ok["url"] + "/prod/health", '"status":"healthy"',
                                   deadline=time.monotonic() + 2)
        bad = httpcheck.check_url(pool, down["url"], '"status":"healthy"', deadline=time.monotonic() + 2)
        nomatch = httpcheck.check_url(pool, odd["url"], '"status":"healthy"', deadline=time.monotonic() + 2)
    assert (good.healthy, good.outcome, good.status) == (True, "ok", 200) and good.latency_ms is not None
    assert ok["requests"][0]["path"] == "/prod/health"
    assert ok["requests"][0]["headers"]["Connection"] == "close"  # fresh DNS/TCP/TLS every probe
    assert (bad.healthy, bad.outcome, bad.status) == (False, "http_status", 503)
    assert (nomatch.healthy, nomatch.outcome) == (False, "no_match")


def test_refused_connection_is_unhealthy_not_an_exception():
    result = httpcheck.check_url(httpcheck.new_pool(0.5, 0.5), closed_port(), "x", deadline=time.monotonic() + 2)
    assert (result.healthy, result.outcome, result.latency_ms) == (False, "connection_error", None)


def test_peer_that_accepts_and_never_answers_cannot_hang_the_probe():
    pool = httpcheck.new_pool(0.5, 0.5)
    with tcp_server(never_answers) as url:
        started = time.monotonic()
        results = httpcheck.run_checks(pool, {"peer": url}, "x", budget_seconds=2.0)
        elapsed = time.monotonic() - started
    assert results["peer"].outcome == "timeout" and not results["peer"].healthy
    assert elapsed < 2.5  # bounded by the read timeout (0.5 s), at worst by the 2 s budget


def test_trickling_peer_is_cut_off_at_the_deadline():
    pool = httpcheck.new_pool(0.5, 0.5)  # each byte arrives within the read timeout
    with tcp_server(trickles) as url:
        started = time.monotonic()
        results = httpcheck.run_checks(pool, {"peer": url}, "x", budget_seconds=1.0)
        elapsed = time.monotonic() - started
    assert results["peer"].outcome == "timeout"
    assert elapsed < 1.6


def test_default_search_string_matches_the_health_function_only_when_healthy(aws):
    """The probe's default search string is what health.py really answers (moto-backed)."""
    import health
    from lambda_support import TABLE, api_event, aws_client

    event = api_event(None, method="GET", path="/health", content_type=None)
    healthy = health.lambda_handler(event, FakeContext("payment-health"))
    assert healthy["statusCode"] == 200 and probe.DEFAULT_SEARCH_STRING in healthy["body"]
    aws_client("dynamodb", "us-east-1").delete_table(TableName=TABLE)
    unhealthy = health.lambda_handler(event, FakeContext("payment-health"))
    assert unhealthy["statusCode"] == 503 and probe.DEFAULT_SEARCH_STRING not in unhealthy["body"]


# ----------------------------------------------------------------------------- handler, latch


def test_healthy_peer_publishes_metrics_and_writes_no_latch(moto, clock):
    with http_server() as peer, http_server() as domain:
        _, rec, ssm = make_probe(probe_env(peer["url"], domain["url"]), clock)
        summary = invoke()
    assert summary["metricsPublished"] is True
    assert metric(rec, "PeerHealthy", Peer="primary") == [1.0]
    assert metric(rec, "DomainHealthy") == [1.0]
    assert metric(rec, "FailbackBlocked", Peer="primary") == [0.0]
    assert len(metric(rec, "PeerLatency", Peer="primary")) == 1
    assert all(d["Unit"] == "Milliseconds" for d in rec.calls[0]["MetricData"] if d["MetricName"].endswith("Latency"))
    assert rec.calls[0]["Namespace"] == "PaymentsDR"
    assert stored_latch(ssm) is None  # missing parameter = open; nothing written while healthy


def test_metrics_land_in_cloudwatch_with_exact_dimensions(moto, clock):
    import boto3

    with http_server(503, UNHEALTHY_BODY) as peer, http_server() as domain:
        make_probe(probe_env(peer["url"], domain["url"], POWERTOOLS_METRICS_NAMESPACE="PaymentsDR-test"), clock)
        invoke()
    listed = boto3.client("cloudwatch", region_name=REGION).list_metrics(Namespace="PaymentsDR-test")["Metrics"]
    found = {(m["MetricName"], tuple((d["Name"], d["Value"]) for d in m.get("Dimensions", []))) for m in listed}
    assert ("PeerHealthy", (("Peer", "primary"),)) in found
    assert ("DomainHealthy", ()) in found
    assert ("FailbackBlocked", (("Peer", "primary"),)) in found


def test_two_consecutive_failures_block_and_recovery_does_not_open(moto, clock):
    with http_server(503, UNHEALTHY_BODY) as peer, http_server() as domain:
        _, rec, ssm = make_probe(probe_env(peer["url"], domain["url"]), clock)
        invoke()
        first = stored_latch(ssm)
        assert (first["state"], first["consecutiveFailures"]) == ("open", 1)
        clock.advance(60)
        invoke()
        blocked = stored_latch(ssm)
        assert blocked["state"] == "blocked" and blocked["by"] == "probe"
        assert blocked["since"] == latch.iso(clock.now)
        assert "primary failed 2 consecutive probes" in blocked["reason"] and "HTTP 503" in blocked["reason"]
        peer["status"], peer["body"] = 200, HEALTHY_BODY
        clock.advance(60)
        invoke()
    assert metric(rec, "PeerHealthy", Peer="primary") == [0.0, 0.0, 1.0]
    assert metric(rec, "FailbackBlocked", Peer="primary") == [0.0, 1.0, 1.0]
    assert stored_latch(ssm) == blocked  # the probe never opens; it did not even rewrite it


def test_no_block_while_the_domain_is_still_served_by_the_peer(moto, clock):
    """DR cannot reach the primary, but clients still reach it through the domain: a problem on
    DR's side. Blocking would pull all traffic onto DR, so the count grows without blocking;
    once the domain answers from DR (failover happened), the latch blocks at once."""
    served_by_primary = HEALTHY_BODY.replace(b'"us-east-2"', b'"us-east-1"').replace(b'"dr"', b'"primary"')
    with http_server(503, UNHEALTHY_BODY) as peer, http_server(200, served_by_primary) as domain:
        _, rec, ssm = make_probe(probe_env(peer["url"], domain["url"]), clock)
        for _ in range(3):
            invoke()
            clock.advance(60)
        assert (stored_latch(ssm)["state"], stored_latch(ssm)["consecutiveFailures"]) == ("open", 3)
        domain["body"] = HEALTHY_BODY  # region us-east-2: the domain now resolves to DR
        summary = invoke()
    assert summary["domain"]["servedBy"] == REGION
    assert stored_latch(ssm)["state"] == "blocked"
    assert metric(rec, "FailbackBlocked", Peer="primary") == [0.0, 0.0, 0.0, 1.0]


def test_no_block_when_the_domain_cannot_be_checked(moto, clock):
    with http_server(503, UNHEALTHY_BODY) as peer:
        _, rec, ssm = make_probe(probe_env(peer["url"], closed_port()), clock)
        for _ in range(3):
            invoke()
    assert stored_latch(ssm)["state"] == "open"
    assert metric(rec, "FailbackBlocked", Peer="primary") == [0.0, 0.0, 0.0]


def test_latch_rules_without_aws():
    start = latch.parse(None, now=0)
    one = latch.next_latch(start, peer_healthy=False, threshold=2, now=60, peer="primary")
    assert (one.state, one.failures) == ("open", 1)
    held = latch.next_latch(one, peer_healthy=False, threshold=2, now=120, peer="primary", failed_over=False)
    assert (held.state, held.failures) == ("open", 2)
    blocked = latch.next_latch(held, peer_healthy=False, threshold=2, now=180, peer="primary", detail="timeout")
    assert (blocked.state, blocked.by, blocked.since) == ("blocked", "probe", "1970-01-01T00:03:00Z")
    assert latch.next_latch(blocked, peer_healthy=True, threshold=2, now=240, peer="primary") is None
    assert latch.next_latch(start, peer_healthy=True, threshold=2, now=240, peer="primary") is None
    for bad in ('{"state": "closed"}', '{"state": "open", "consecutiveFailures": -1}', "[]", '{"state": "open", '
                '"consecutiveFailures": true}'):
        with pytest.raises(latch.LatchInvalid):
            latch.parse(bad, now=0)


def test_a_single_failure_between_successes_does_not_block(moto, clock):
    with http_server(503, UNHEALTHY_BODY) as peer, http_server() as domain:
        _, rec, ssm = make_probe(probe_env(peer["url"], domain["url"]), clock)
        invoke()
        peer["status"], peer["body"] = 200, HEALTHY_BODY
        invoke()
        assert stored_latch(ssm)["consecutiveFailures"] == 0
        peer["status"], peer["body"] = 503, UNHEALTHY_BODY
        invoke()
    assert stored_latch(ssm)["state"] == "open" and stored_latch(ssm)["consecutiveFailures"] == 1
    assert metric(rec, "FailbackBlocked", Peer="primary") == [0.0, 0.0, 0.0]


def test_operator_opening_resets_the_count_and_clears_the_metric(moto, clock):
    with http_server() as peer, http_server() as domain:
        _, rec, ssm = make_probe(probe_env(peer["url"], domain["url"]), clock)
        operator = {"state": "open", "since": "2026-11-26T04:00:00Z", "by": "drctl:alice",
                    "reason": "replication caught up", "ticket": "INC-42"}
        ssm.put_parameter(Name=PARAM, Value=json.dumps(operator), Type="String")
        invoke()
    assert metric(rec, "FailbackBlocked", Peer="primary") == [0.0]
    assert stored_latch(ssm) == operator  # healthy, count 0: nothing written, operator fields kept


def test_failure_count_rewrite_keeps_operator_fields(moto, clock):
    with http_server(503, UNHEALTHY_BODY) as peer, http_server() as domain:
        _, _, ssm = make_probe(probe_env(peer["url"], domain["url"], PEER_FAILURES_TO_BLOCK="3"), clock)
        ssm.put_parameter(Name=PARAM, Type="String", Value=json.dumps(
            {"state": "open", "since": "2026-11-26T04:00:00Z", "by": "drctl:alice", "reason": "ok",
             "ticket": "INC-42"}))
        invoke()
    doc = stored_latch(ssm)
    assert doc == {"state": "open", "since": "2026-11-26T04:00:00Z", "by": "drctl:alice", "reason": "ok",
                   "ticket": "INC-42", "consecutiveFailures": 1}


def test_a_run_makes_at_most_its_declared_aws_calls(moto, clock):
    """The longest path: the latch read, rewritten (a failure counted) and the metrics: the
    count the timeout is sized for (probe.AWS_CALLS_PER_RUN, tests/lambda/test_ops_sizing.py)."""
    with http_server(503, UNHEALTHY_BODY) as peer, http_server() as domain:
        p, _, ssm = make_probe(probe_env(peer["url"], domain["url"], PEER_FAILURES_TO_BLOCK="3"), clock)
        ssm.put_parameter(Name=PARAM, Type="String", Value=json.dumps(
            {"state": "open", "since": "2026-11-26T04:00:00Z", "by": "drctl:alice", "reason": "ok"}))
        counter = CallCounter(p.ssm, p.cloudwatch)
        invoke()
    assert counter.calls == ["GetParameter", "PutParameter", "PutMetricData"]
    assert len(counter.calls) == probe.AWS_CALLS_PER_RUN


def test_invalid_latch_counts_as_blocked_and_is_left_alone(moto, clock):
    with http_server() as peer, http_server() as domain:
        _, rec, ssm = make_probe(probe_env(peer["url"], domain["url"]), clock)
        ssm.put_parameter(Name=PARAM, Value="{not json", Type="String")
        summary = invoke()
    assert summary["latch"]["state"] == "blocked"
    assert metric(rec, "FailbackBlocked", Peer="primary") == [1.0]
    assert metric(rec, "FailbackLatchInvalid", Peer="primary") == [1.0]
    assert ssm.get_parameter(Name=PARAM)["Parameter"]["Value"] == "{not json"


def test_unreadable_latch_publishes_an_error_and_no_gate_datapoint(moto, clock):
    from unittest import mock

    from botocore.exceptions import ClientError

    with http_server() as peer, http_server() as domain:
        p, rec, _ssm = make_probe(probe_env(peer["url"], domain["url"]), clock)
        denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetParameter")
        with mock.patch.object(p.ssm, "get_parameter", side_effect=denied):
            summary = invoke()
    assert summary["latch"] == {"state": "unknown", "error": "AccessDeniedException"}
    assert metric(rec, "FailbackLatchError", Peer="primary") == [1.0]
    # No datapoint: Route 53's gate keeps its last status (tests/test_dns.py models it).
    assert metric(rec, "FailbackBlocked", Peer="primary") == []
    assert metric(rec, "PeerHealthy", Peer="primary") == [1.0]


def test_unreadable_latch_last_seen_blocked_keeps_the_gate_closed(moto, clock):
    from unittest import mock

    from botocore.exceptions import ClientError

    with http_server(503, UNHEALTHY_BODY) as peer, http_server() as domain:
        p, rec, ssm = make_probe(probe_env(peer["url"], domain["url"]), clock)
        ssm.put_parameter(Name=PARAM, Type="String", Overwrite=True, Value=json.dumps(
            {"state": "blocked", "since": "2026-01-01T00:00:00Z", "by": "probe", "reason": "test"}))
        invoke()
        throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "GetParameter")
        with mock.patch.object(p.ssm, "get_parameter", side_effect=throttled):
            summary = invoke()
    assert summary["latch"]["state"] == "blocked"
    assert metric(rec, "FailbackBlocked", Peer="primary") == [1.0, 1.0]


def test_primary_region_probe_keeps_no_latch(moto, clock):
    with http_server(503, UNHEALTHY_BODY) as peer, http_server() as domain:
        environ = probe_env(peer["url"], domain["url"], AWS_REGION="us-east-1", REGION_ROLE="primary")
        environ.pop("FAILBACK_PARAMETER")
        _, rec, ssm = make_probe(environ, clock)
        for _ in range(3):
            invoke()
    assert metric(rec, "PeerHealthy", Peer="dr") == [0.0, 0.0, 0.0]  # DR is down while primary serves
    assert metric(rec, "FailbackBlocked", Peer="dr") == []
    assert ssm.describe_parameters()["Parameters"] == []


def test_domain_down_is_reported_without_touching_the_latch(moto, clock):
    with http_server() as peer:
        _, rec, ssm = make_probe(probe_env(peer["url"], closed_port()), clock)
        summary = invoke()
    assert summary["domain"]["outcome"] == "connection_error"
    assert metric(rec, "DomainHealthy") == [0.0] and metric(rec, "DomainLatency") == []
    assert stored_latch(ssm) is None


def test_cloudwatch_failure_does_not_crash_the_probe(moto, clock):
    from unittest import mock

    from botocore.exceptions import EndpointConnectionError

    with http_server() as peer, http_server() as domain:
        p, _, _ = make_probe(probe_env(peer["url"], domain["url"]), clock)
        with mock.patch.object(p.cloudwatch, "put_metric_data",
                               side_effect=EndpointConnectionError(endpoint_url="https://monitoring")):
            summary = invoke()
    assert summary["metricsPublished"] is False


@pytest.mark.parametrize("name,value,message", [
    ("PEER_HEALTH_URL", "", "PEER_HEALTH_URL is required"),
    ("PEER_HEALTH_URL", "http://peer.example.net/prod/health", "PEER_HEALTH_URL must be an https:// URL"),
    ("REGION_ROLE", "secondary", "REGION_ROLE must be one of"),
    ("PEER_FAILURES_TO_BLOCK", "0", "PEER_FAILURES_TO_BLOCK must be between 1 and 60"),
])
def test_bad_settings_name_the_variable(name, value, message):
    environ = probe_env("https://a.test", "https://b.test")
    environ[name] = value
    with pytest.raises(probe.env.ConfigError, match=message):
        probe.ProbeSettings.from_env(environ)


# ----------------------------------------------------------------------------- cold starts


RUN_ONCE = """
import json, sys
import probe
class Ctx:
    function_name = "payments-probe-dr-test"; function_version = "$LATEST"; memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-2:123456789012:function:payments-probe-dr-test"
    aws_request_id = "cold-start"
    def get_remaining_time_in_millis(self): return 30000
print(json.dumps(probe.lambda_handler({}, Ctx())))
"""


def test_failure_count_survives_cold_starts(moto_url):
    """Each invocation is a fresh process (a cold start) against one moto server: the count
    lives in SSM, so two failed runs in two processes block failback."""
    import boto3

    with tcp_server(never_answers) as hung, http_server() as domain:
        environ = dict(os.environ, **probe_env(hung, domain["url"]), AWS_ENDPOINT_URL=moto_url,
                       PYTHONPATH=PACKAGE_PATH, PYTHONDONTWRITEBYTECODE="1", POWERTOOLS_LOG_LEVEL="ERROR",
                       AWS_EXECUTION_ENV="AWS_Lambda_python3.13")
        runs = []
        for _ in range(2):
            started = time.monotonic()
            out = subprocess.run([sys.executable, "-c", RUN_ONCE], env=environ, capture_output=True, text=True,
                                 timeout=60, cwd=str(LAMBDA_DIR))
            assert out.returncode == 0, out.stderr
            runs.append((json.loads(out.stdout.strip().splitlines()[-1]), time.monotonic() - started))
    ssm = boto3.client("ssm", region_name=REGION, endpoint_url=moto_url)
    doc = json.loads(ssm.get_parameter(Name=PARAM)["Parameter"]["Value"])
    assert [r["peer"]["outcome"] for r, _ in runs] == ["timeout", "timeout"]
    assert [r["latch"]["state"] for r, _ in runs] == ["open", "blocked"]
    assert (doc["state"], doc["by"], doc["consecutiveFailures"]) == ("blocked", "probe", 2)
    assert all(r["metricsPublished"] for r, _ in runs)


# ----------------------------------------------------------------------------- signed (SigV4) checks

def _scope(request) -> str:
    """The credential scope of a recorded request's SigV4 Authorization header."""
    authorization = request["headers"].get("Authorization", "")
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential="), authorization
    return authorization.split("Credential=")[1].split(",")[0].split("/", 1)[1]


def test_peer_is_signed_for_its_region_and_the_domain_once_per_region(moto, clock):
    """GET /probe is IAM-authenticated and a signature is valid in one region only: the peer
    is signed for the peer's region; the domain (served by either) is tried with both."""
    from botocore.credentials import Credentials

    with http_server() as peer, http_server(status=403, body=b'{"error":{}}') as domain:
        environ = probe_env(peer["url"], domain["url"], PEER_REGION="us-east-1")
        p, _, _ = make_probe(environ, clock)
        p.credentials = Credentials("AKIDEXAMPLE", "secret", "token")
        summary = p.run()
    [peer_request] = peer["requests"]
    assert _scope(peer_request).endswith("/us-east-1/execute-api/aws4_request")
    assert peer_request["headers"]["X-Amz-Security-Token"] == "token"
    scopes = sorted(_scope(r).split("/")[1] for r in domain["requests"])
    assert scopes == ["us-east-1", "us-east-2"]
    assert summary["peer"]["healthy"] is True
    assert summary["domain"]["healthy"] is False and summary["domain"]["status"] == 403


def test_a_run_makes_the_requests_the_cost_model_bills(moto, clock):
    """scripts/cost.py prices a probe run at `probe_waf_requests` requests WAF inspects and
    `probe_requests` API Gateway bills (and the health function serves): the domain's request
    signed for the region not serving it fails IAM authentication, which API Gateway does not
    bill. Here both the peer and the domain are the primary's (us-east-1)."""
    from botocore.credentials import Credentials

    sys.path.insert(0, str(LAMBDA_DIR.parent / "scripts"))
    import cost

    with http_server() as peer, http_server() as domain:
        p, _, _ = make_probe(probe_env(peer["url"], domain["url"], PEER_REGION="us-east-1"), clock)
        p.credentials = Credentials("AKIDEXAMPLE", "secret")
        p.run()
    sent = peer["requests"] + domain["requests"]
    served = [r for r in sent if _scope(r).split("/")[1] == "us-east-1"]
    assert len(sent) == cost.ASSUMPTIONS["probe_waf_requests"][0] == 3
    assert len(served) == cost.ASSUMPTIONS["probe_requests"][0] == 2


def test_the_domain_is_healthy_when_either_regions_signature_is_accepted(moto, clock):
    from botocore.credentials import Credentials

    with http_server() as peer, http_server() as domain:
        environ = probe_env(peer["url"], domain["url"], PEER_REGION="us-east-1")
        p, recorder, _ = make_probe(environ, clock)
        p.credentials = Credentials("AKIDEXAMPLE", "secret")
        summary = p.run()
    assert summary["domain"]["healthy"] is True
    assert metric(recorder, "DomainHealthy") == [1]


@pytest.mark.parametrize(("own", "peer", "reported"), [
    # the wrong region's signature is always refused: the serving region's failure explains
    ((403, "http_status"), (None, "timeout"), "timeout"),
    ((None, "timeout"), (403, "http_status"), "timeout"),
    ((503, "http_status"), (403, "http_status"), 503),
    # both refused: the serving region refused its own signature too
    ((403, "http_status"), (403, "http_status"), 403),
    # otherwise the one that got furthest: an HTTP answer beats a network error
    ((None, "connection_error"), (503, "http_status"), 503),
])
def test_an_unhealthy_domain_is_reported_by_the_serving_regions_failure(own, peer, reported):
    """The twin's CI showed a domain check that failed (RemoteDisconnected, a connection_error)
    reported as the other signature's 403 (which the wrong region always answers): operators
    and the normal-day test read the 403."""
    def result(status, outcome):
        return httpcheck.CheckResult("https://domain/probe", False, outcome, status, None, outcome)

    chosen = probe._either(result(*own), result(*peer))
    assert (chosen.status if isinstance(reported, int) else chosen.outcome) == reported


def test_without_credentials_the_probe_reports_instead_of_crashing(moto, clock, monkeypatch):
    def no_credentials(*args, **kwargs):
        raise RuntimeError("no credentials")

    monkeypatch.setattr(httpcheck, "signed_headers", no_credentials)
    with http_server() as peer, http_server() as domain:
        p, recorder, _ = make_probe(probe_env(peer["url"], domain["url"], PEER_REGION="us-east-1"), clock)
        summary = p.run()
    assert summary["peer"]["healthy"] is False and "cannot sign" in summary["peer"]["detail"]
    assert not peer["requests"], "an unsigned request would only be refused"
    assert metric(recorder, "PeerHealthy", Peer="primary") == [0]


def test_deployed_timeout_leaves_the_checks_their_whole_budget(platform):
    """As Lambda runs it: the synthesized probe functions' timeout and environment. With 20 s
    the probe kept 18 s in reserve and left ~2 s for three HTTPS checks (issue 19)."""
    probes = [(name, fn) for name, fn in platform["resource"]["aws_lambda_function"].items()
              if fn["handler"] == "probe.lambda_handler"]
    assert len(probes) == 2
    for name, fn in probes:
        environ = {**fn["environment"]["variables"], "AWS_REGION": "us-east-2"}
        settings = probe.ProbeSettings.from_env(environ)
        budget = probe.check_budget(settings, remaining_ms=fn["timeout"] * 1000)
        assert budget == settings.budget_seconds, (name, fn["timeout"], budget)
