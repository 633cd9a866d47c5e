"""The twin's API Gateway (twin/apigw.py) over the default synth's JSON, with stub functions:
what the gateway answers when a function fails, times out, throttles, or an authorizer
errs (the JSON's gateway responses), and what it passes to the function. No processes and
no moto: these run in `make test`."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from twin.apigw import RegionalGateway
from twin.functions import CallerTimeout, Outcome, Throttled
from twin.model import Platform


def allow(client: str = "acme", usage_key: str | None = "usage-" + "a" * 64) -> dict:
    """What lambda/authorizer.py answers for a verified client (usageIdentifierKey: its API key)."""
    answer = {"principalId": client, "context": {"clientId": client},
              "policyDocument": {"Version": "2012-10-17",
                                 "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}]}}
    return answer | ({"usageIdentifierKey": usage_key} if usage_key else {})


ALLOW = allow()
SIGNED = [(h, "x" * 64 if h in ("X-Signature", "X-Content-SHA256") else "abcdefghijklmnop1")
          for h in ("X-Client-Id", "X-Timestamp", "X-Nonce", "X-Content-SHA256", "X-Signature")]
OK = Outcome({"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"ok": true}'})


class StubPool:
    """Stands in for twin.functions.FunctionPool: answers by function kind (validator, ...)."""

    def __init__(self, **answers):
        self.answers = answers
        self.calls: list[tuple[str, dict, float | None]] = []

    def by_arn(self, arn: str) -> SimpleNamespace:
        return SimpleNamespace(name=arn.split(":function:")[1].split("/")[0])

    def invoke(self, fn, event, *, timeout_s=None):
        kind = fn.name.split("-")[1]
        self.calls.append((kind, event, timeout_s))
        answer = self.answers[kind]
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture(scope="module")
def platform(synth_stacks) -> Platform:
    synth_stacks()
    return Platform(synth_stacks.outdir_of())


def _gateway(platform: Platform, clock=None, **answers) -> tuple[RegionalGateway, StubPool, str]:
    pool = StubPool(**answers)
    region = platform.regions()[0]
    gateway = RegionalGateway(platform, pool, region, **({"clock": clock} if clock else {}))
    host = next(name for name in gateway.domains if name.startswith(region))
    return gateway, pool, host


def _declared(platform: Platform, response_type: str) -> dict:
    region = platform.regions()[0]
    return next(platform.get(r, "response_templates") | {"status": int(platform.get(r, "status_code"))}
                for r in platform.resources("aws_api_gateway_gateway_response")
                if r.region == region and platform.get(r, "response_type") == response_type)


@pytest.mark.parametrize("failure, response_type", [
    (CallerTimeout("late"), "INTEGRATION_TIMEOUT"),
    (Outcome({"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out"}, "Unhandled"), "INTEGRATION_FAILURE"),
    (Outcome({"errorType": "KeyError", "errorMessage": "boom"}, "Unhandled"), "INTEGRATION_FAILURE"),
])
def test_a_failed_integration_answers_the_jsons_gateway_response(platform, failure, response_type):
    gateway, pool, host = _gateway(platform, health=failure)
    status, headers, body = gateway.handle("GET", "/health", [("Host", host)], b"")
    declared = _declared(platform, response_type)
    assert (status, json.loads(body)) == (declared["status"], json.loads(declared["application/json"]))
    assert ("Retry-After", "2") in headers and any(h == "x-amzn-ErrorType" for h, _ in headers)
    [(_, event, timeout_s)] = pool.calls
    integration = next(r for r in platform.resources("aws_api_gateway_integration")
                       if r.region == gateway.region and "health" in r.name)
    assert timeout_s == platform.get(integration, "timeout_milliseconds") / 1000
    assert event["resource"] == "/health" and event["requestContext"]["resourcePath"] == "/health"


def _default_5xx(platform: Platform) -> dict:
    region = platform.regions()[0]
    return next(json.loads(platform.get(r, "response_templates")["application/json"])
                for r in platform.resources("aws_api_gateway_gateway_response")
                if r.region == region and platform.get(r, "response_type") == "DEFAULT_5XX")


# AWS Lambda Developer Guide, "Handling Lambda errors with an API Gateway API": "If the Lambda
# API rejects the invocation request, API Gateway returns a 500 error code. If the function
# runs but returns an error, or returns a response in the wrong format, API Gateway returns a
# 502." No gateway response type is documented for a Lambda throttle, so its body is the
# DEFAULT_5XX one (which keeps API Gateway's status: the JSON sets none).
@pytest.mark.parametrize("answer, documented_status", [
    (Throttled("busy"), 500),                      # TooManyRequestsException: nothing ran
    (Outcome({"body": "no status"}), 502),         # the function ran, its answer is malformed
])
def test_a_throttled_or_malformed_invoke_gets_awss_status_and_the_default_5xx_body(
        platform, answer, documented_status):
    gateway, pool, host = _gateway(platform, validator=answer, authorizer=Outcome(ALLOW))
    status, headers, body = gateway.handle("POST", "/validate", [("Host", host), *SIGNED],
                                           b'{"a": 1}')
    assert status == documented_status
    assert json.loads(body) == _default_5xx(platform)
    error = json.loads(body)["error"]
    assert (error["code"], error["outcome"], error["retryable"]) == ("OUTCOME_UNKNOWN", "unknown",
                                                                     True)
    assert ("Retry-After", str(error["retryAfterSeconds"])) in headers
    assert ("Cache-Control", "no-store") in headers
    assert [kind for kind, _, _ in pool.calls] == ["authorizer", "validator"]


def test_an_authorizer_error_is_503_authentication_unavailable_and_nothing_is_called(platform):
    gateway, pool, host = _gateway(platform, authorizer=Outcome({"errorMessage": "boom"}, "Unhandled"),
                                   validator=OK)
    status, _, body = gateway.handle("POST", "/validate", [("Host", host), *SIGNED], b'{"a": 1}')
    assert (status, json.loads(body)["error"]["code"]) == (503, "AUTHENTICATION_UNAVAILABLE")
    assert [kind for kind, _, _ in pool.calls] == ["authorizer"]


def test_an_allowed_request_carries_the_authorizers_context_to_the_validator(platform):
    gateway, pool, host = _gateway(platform, authorizer=Outcome(ALLOW), validator=OK)
    status, _, _ = gateway.handle("POST", "/validate", [("Host", host), *SIGNED], b'{"a": 1}')
    assert status == 200
    (_, auth_event, _), (_, event, _) = pool.calls
    api = next(iter(gateway.apis.values()))
    assert auth_event["type"] == "REQUEST"
    assert auth_event["methodArn"].endswith(f"{api.id}/{api.stage}/POST/validate")
    assert event["requestContext"]["authorizer"]["clientId"] == "acme"
    assert event["requestContext"]["authorizer"]["principalId"] == "acme"
    assert event["body"] == '{"a": 1}' and event["isBase64Encoded"] is False


def test_the_authorizer_result_is_cached_for_the_jsons_ttl_only(platform):
    gateway, pool, host = _gateway(platform, authorizer=Outcome(ALLOW), validator=OK)
    authorizer = next(m.authorizer for a in gateway.apis.values() for m in a.methods.values() if m.authorizer)
    declared = next(platform.get(r, "authorizer_result_ttl_in_seconds") for r in
                    platform.resources("aws_api_gateway_authorizer") if r.region == gateway.region)
    assert authorizer.ttl_s == declared
    for _ in range(2):
        gateway.handle("POST", "/validate", [("Host", host), *SIGNED], b'{"a": 1}')
    assert [k for k, _, _ in pool.calls].count("authorizer") == (1 if declared > 0 else 2)
    authorizer.ttl_s = 300  # a cached policy serves an identical request without a call
    for _ in range(2):
        gateway.handle("POST", "/validate", [("Host", host), *SIGNED], b'{"a": 1}')
    assert [k for k, _, _ in pool.calls].count("authorizer") == (1 if declared > 0 else 3)


# -- per-client quotas: the usage plan bound to the stage, keyed by the authorizer ----------------


def test_an_allowed_client_without_an_api_key_is_refused_before_the_validator(platform):
    """AWS: a method requiring a key with no matching key -> 403 (INVALID_API_KEY)."""
    gateway, pool, host = _gateway(platform, authorizer=Outcome(allow(usage_key=None)), validator=OK)
    status, _, body = gateway.handle("POST", "/validate", [("Host", host), *SIGNED], b'{"a": 1}')
    assert (status, json.loads(body)["error"]["code"]) == (403, "CLIENT_NOT_PROVISIONED")
    assert [kind for kind, _, _ in pool.calls] == ["authorizer"]


def test_each_client_has_its_own_bucket_at_the_plans_rate_inside_the_methods(platform):
    """One client over its plan's burst is throttled; another client still gets through."""
    now = [0.0]
    gateway, pool, host = _gateway(platform, clock=lambda: now[0], validator=OK,
                                   authorizer=Outcome(allow("acme", "usage-" + "a" * 64)))
    plan = next(platform.get(r, "throttle_settings") for r in platform.resources("aws_api_gateway_usage_plan")
                if r.region == gateway.region)
    plan = plan[0] if isinstance(plan, list) else plan
    method = next(m for a in gateway.apis.values() for m in a.methods.values() if m.api_key_required)
    assert plan["burst_limit"] < method.bucket.burst        # the client's bucket binds first

    def send() -> int:
        return gateway.handle("POST", "/validate", [("Host", host), *SIGNED], b'{"a": 1}')[0]

    assert [send() for _ in range(plan["burst_limit"])] == [200] * plan["burst_limit"]
    assert send() == 429
    pool.answers["authorizer"] = Outcome(allow("globex", "usage-" + "b" * 64))
    assert send() == 200
    now[0] += 1.0                                             # one second refills acme's rate
    pool.answers["authorizer"] = Outcome(allow("acme", "usage-" + "a" * 64))
    assert send() == 200


# -- the twin's trace of each error (the load check reports it as the cause of every non-2xx) ------


@pytest.mark.parametrize("answers, status, response_type, cause", [
    ({"validator": Throttled("payment-validator-primary-dev: 20 of 20 concurrent executions busy, "
                             "12 in their init (cold start, longest 1.6 s)")},
     500, "DEFAULT_5XX", "Lambda throttled the integration (TooManyRequestsException): payment-validator-primary-dev: "
                         "20 of 20 concurrent executions busy, 12 in their init"),
    ({"validator": Outcome({"errorType": "KeyError", "errorMessage": "'amount'",
                            "stackTrace": ['  File "validator.py", line 9, in handler\n', "KeyError: 'amount'\n"]},
                           "Unhandled")},
     502, "INTEGRATION_FAILURE", "integration function error: KeyError: 'amount' at File \"validator.py\", line 9"),
    ({"validator": CallerTimeout("payment-validator-primary-dev: no answer within 29.00 s")},
     504, "INTEGRATION_TIMEOUT", "integration timeout: payment-validator-primary-dev: no answer within 29.00 s"),
    ({"authorizer": Outcome({"errorType": "ReadTimeoutError", "errorMessage": "Read timeout on endpoint URL"},
                            "Unhandled")},
     503, "AUTHORIZER_CONFIGURATION_ERROR", "authorizer function error: ReadTimeoutError: Read timeout"),
    ({"authorizer": Throttled("payment-authorizer-primary-dev: 20 of 20 concurrent executions busy")},
     503, "AUTHORIZER_CONFIGURATION_ERROR", "Lambda throttled the authorizer: payment-authorizer-primary-dev"),
    ({"validator": Outcome({"statusCode": 503, "body": '{"error":{"code":"RECEIPT_WRITE_FAILED"}}'})},
     503, None, 'the function answered 503: {"error":{"code":"RECEIPT_WRITE_FAILED"}}'),
])
def test_each_error_answer_leaves_its_cause_in_the_twins_access_log(platform, answers, status, response_type, cause):
    gateway, _, host = _gateway(platform, **{"authorizer": Outcome(ALLOW), "validator": OK, **answers})
    answer, headers, _ = gateway.handle("POST", "/validate", [("Host", host), *SIGNED], b'{"a": 1}')
    entry = gateway.access_log[-1]
    assert (answer, entry.status, entry.error_type) == (status, status, response_type)
    assert entry.cause is not None and entry.cause.startswith(cause), entry.cause
    assert ("x-amzn-RequestId", entry.request_id) in headers  # how a client's answer finds its trace


def test_a_successful_answer_has_no_cause(platform):
    gateway, _, host = _gateway(platform, authorizer=Outcome(ALLOW), validator=OK)
    assert gateway.handle("POST", "/validate", [("Host", host), *SIGNED], b'{"a": 1}')[0] == 200
    assert gateway.access_log[-1].cause is None and gateway.access_log[-1].integration_latency_s is not None


def test_a_throttle_says_what_the_busy_executions_were_doing(tmp_path):
    """The pool's Throttled names the busy executions: how many were still starting (the twin's
    cold start is a process start on the machine's shared cores) and how long the others ran."""
    import time

    from twin.functions import Function, FunctionPool

    fn = Function(name="payment-validator-primary-dev", region="us-east-1", role="", handler="validator.h",
                  timeout_s=3.0, memory_mb=128, code_dir=tmp_path, environment={}, log_path=tmp_path / "log",
                  concurrency=3)
    now = time.monotonic()
    fn._busy = 3
    fn._inflight = {1: now - 2.0, 2: now - 1.0, 3: now - 0.5}
    fn._running = {1: now - 1.5}  # 1 had a 0.5 s init; 2 and 3 are still in theirs
    pool = FunctionPool.__new__(FunctionPool)  # nothing else of the pool is touched when it throttles
    with pytest.raises(Throttled) as raised:
        pool.invoke(fn, {})
    message = str(raised.value)
    assert message.startswith("payment-validator-primary-dev: 3 of 3 concurrent executions busy, "
                              "2 in their init (cold start, longest 1.0 s), 1 running (longest 1.5 s")
    assert (fn.throttles, fn.invocations, fn._busy) == (1, 0, 3)


def test_a_caller_asking_to_close_is_told_so_and_its_pool_does_not_reuse_the_socket(platform):
    """The probe sends `Connection: close` through a urllib3 pool (lambda/ops/httpcheck.py). The
    twin's server closed the socket without saying so: the pool kept it and a later request on
    it failed with RemoteDisconnected (the normal day on the twin, under load). As the probe
    does: one pool, several requests to the same gateway."""
    import urllib3
    from ops.httpcheck import BASE_HEADERS

    gateway, _, host = _gateway(platform, health=OK)
    port = gateway.serve(0)
    try:
        pool = urllib3.PoolManager(maxsize=1, retries=False)
        for _ in range(3):
            response = pool.request("GET", f"http://127.0.0.1:{port}/health", headers={**BASE_HEADERS, "Host": host})
            assert response.status == 200 and response.headers.get("Connection") == "close"
            connections = pool.connection_from_url(f"http://127.0.0.1:{port}")  # the pool it used
            pooled = [c for c in list(connections.pool.queue) if c is not None]
            assert pooled and all(c.sock is None for c in pooled), "the closed socket was kept for reuse"
        gateway.set_fault("5xx")  # a region answering 503 closes the same way
        response = pool.request("GET", f"http://127.0.0.1:{port}/health", headers={**BASE_HEADERS, "Host": host})
        assert response.status == 503 and response.headers.get("Connection") == "close"
    finally:
        gateway.stop()
