"""The load check's account of every non-2xx answer (scripts/load_check.py, issue 22): each is
joined, through its x-amzn-RequestId, to the twin gateway's trace of that request, and counted
by cause. No twin here: the gateway's access log entries are built directly."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import load_check

from twin.apigw import AccessLogEntry


def entry(request_id: str, status: int, error_type: str | None, cause: str | None) -> AccessLogEntry:
    return AccessLogEntry(request_id, "payments-dev.example.com", "POST", "/validate", status, error_type,
                          None, None, None, "payment-validator-primary-dev", 0.0, cause=cause)


THROTTLED_COLD = ("Lambda throttled the integration (TooManyRequestsException): payment-validator-primary-dev: "
                  "20 of 20 concurrent executions busy, 12 in their init (cold start, longest 1.6 s), "
                  "8 running (longest 1.9 s, median 1.8 s)")
THROTTLED_RUNNING = ("Lambda throttled the integration (TooManyRequestsException): payment-validator-primary-dev: "
                     "20 of 20 concurrent executions busy, 20 running (longest 4.1 s, median 2.2 s)")


def test_every_non_2xx_is_explained_from_its_trace_and_counted_by_cause():
    results = [
        {"status": 200, "requestId": "ok"},
        {"status": 500, "requestId": "a", "gatewayError": "InternalServerErrorException", "sentAtS": 3.01},
        {"status": 500, "requestId": "b", "gatewayError": "InternalServerErrorException", "sentAtS": 3.4},
        {"status": 500, "requestId": "c", "gatewayError": "InternalServerErrorException"},
        {"status": 503, "requestId": "d", "gatewayError": None,
         "detail": '{"error":{"code":"RECEIPT_WRITE_FAILED","message":"the payment was recorded'},
        {"status": 409, "requestId": "e", "gatewayError": None,
         "detail": '{"error":{"code":"REQUEST_IN_PROGRESS","message":"a request with this transactionId'},
        {"status": 503, "requestId": "f", "gatewayError": "Exception"},
        {"status": 0, "requestId": "", "gatewayError": "ConnectionResetError", "detail": "reset by peer"},
        {"status": 502, "requestId": "not-logged"},
    ]
    entries = [entry("ok", 200, None, None), entry("a", 500, "DEFAULT_5XX", THROTTLED_COLD),
               entry("b", 500, "DEFAULT_5XX", THROTTLED_COLD), entry("c", 500, "DEFAULT_5XX", THROTTLED_RUNNING),
               entry("d", 503, None, 'the function answered 503: {"error":{"code":"RECEIPT_WRITE_FAILED"}}'),
               entry("e", 409, None, None),
               entry("f", 503, "AUTHORIZER_CONFIGURATION_ERROR",
                     'authorizer function error: ReadTimeoutError: Read timeout on endpoint URL: "http://127.0.0.1:1/"')]
    failures = load_check.explain_failures(results, entries)
    assert len(failures) == 8  # every answer but the 200
    assert [f["status"] for f in failures] == [500, 500, 500, 503, 409, 503, 0, 502]
    assert failures[0]["cause"] == THROTTLED_COLD and failures[0]["errorType"] == "DEFAULT_5XX"
    assert [f["causeClass"] for f in failures] == [
        "Lambda throttled the integration (TooManyRequestsException): busy executions still in their init "
        "(cold starts)",
        "Lambda throttled the integration (TooManyRequestsException): busy executions still in their init "
        "(cold starts)",
        "Lambda throttled the integration (TooManyRequestsException): every busy execution running",
        "the function answered 503 RECEIPT_WRITE_FAILED",
        "the function answered 409 REQUEST_IN_PROGRESS",
        "authorizer function error: ReadTimeoutError",
        "no answer from the twin's HTTP server",
        "no trace of this request in the gateway's log",
    ]


def test_the_report_prints_each_cause_and_exits_1_on_any_5xx(monkeypatch, capsys, tmp_path):
    report = {"label": "LOCAL", "cpuCount": 2, "loadAverage1mBeforeAfter": [1.0, 2.0], "apiEnvironments": 20,
              "apiConcurrency": 20, "warmUpS": 9.0,
              "cpuSecondsDuringLoad": {"validator": 1.5, "reconcile": 0.0}, "coresDemandedDuringLoad": 1.2,
              "requests": 2, "failoverName": "payments-dev.example.com",
              "regions": {"us-east-1": 2}, "targetRatePerSecond": 10, "sustainedRatePerSecond": 10,
              "durationS": 0.2, "maxLateS": 0.0, "latencyMs": {"p50": 1, "p99": 2, "max": 2},
              "statusCounts": {"200": 1, "500": 1}, "status5xx": 1, "status429": 0, "connectionErrors": 0,
              "gatewayResponseTypes": {"DEFAULT_5XX": 1},
              "failures": [{"status": 500, "errorType": "DEFAULT_5XX", "sentAtS": 0.1, "cause": THROTTLED_COLD,
                            "causeClass": load_check.cause_class(THROTTLED_COLD)}],
              "failureCauses": {load_check.cause_class(THROTTLED_COLD): 1},
              "apiFunctions": {"validator": {"invocations": 1, "coldStarts": 0, "throttles": 1, "concurrency": 20,
                                             "initSeconds": None}},
              "reconcile": {"graceMinutes": 1, "everyS": 20, "caughtUp": True, "secondsAfterLoadUntilCaughtUp": 1,
                            "recordsInReplica": {}, "replicationCaughtUpAfterwards": True, "behindWatermark": {},
                            "regions": {}}}
    text = load_check.render(report)
    assert "non-2xx cause: 1 x Lambda throttled the integration" in text
    assert "500 DEFAULT_5XX at +0.1 s: " + THROTTLED_COLD in text
    assert "CPU during the load: 1.2 cores' worth of the 2 (validator 1.5 s)" in text
    assert load_check.verdict(report) == 1
    assert load_check.verdict({**report, "status5xx": 0}) == 0
