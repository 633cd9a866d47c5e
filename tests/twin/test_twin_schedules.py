"""The twin's EventBridge schedules (twin/schedules.py) over the default synth's JSON, and the
worker's resolver for the functions' own HTTP calls (twin/worker.py). Stub functions, no
processes, no moto: these run in `make test`. The scheduled functions on the running twin are
tests/twin/test_normal_day.py's and test_outage.py's."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from twin.alarms import ScenarioClock
from twin.functions import Outcome
from twin.model import Platform
from twin.schedules import Scheduler, rate_seconds


@pytest.fixture(scope="module")
def platform(synth_stacks) -> Platform:
    synth_stacks()
    return Platform(synth_stacks.outdir_of())


class StubPool:
    """Stands in for FunctionPool: the JSON's function names, invocations recorded."""

    def __init__(self, platform: Platform):
        self.functions = {}
        for res in platform.resources("aws_lambda_function"):
            name = str(platform.get(res, "function_name"))
            self.functions[(res.region, name)] = SimpleNamespace(name=name, region=res.region,
                                                                 handler=str(platform.get(res, "handler")))
        self.calls: list[tuple[str, str, dict]] = []
        self._lock = threading.Lock()

    def by_arn(self, arn: str):
        _, _, _, region, _, _, name = arn.split(":")[:7]
        return self.functions[(region, name)]

    def invoke(self, fn, event):
        with self._lock:
            self.calls.append((fn.region, fn.name, event))
        return Outcome({"ok": True})


def test_rate_expressions():
    assert rate_seconds("rate(1 minute)") == 60
    assert rate_seconds("rate(15 minutes)") == 900
    assert rate_seconds("rate(2 hours)") == 7200
    assert rate_seconds("rate(1 day)") == 86400
    for refused in ("rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "cron(0/5 * * * ? *)"):
        with pytest.raises(ValueError):
            rate_seconds(refused)


def test_every_scheduled_rule_of_the_json_runs_its_function(platform):
    scheduler = Scheduler(platform, StubPool(platform), ScenarioClock(0.0))
    declared = {(r.region, str(platform.get(r, "name"))): str(platform.get(r, "schedule_expression"))
                for r in platform.resources("aws_cloudwatch_event_rule") if platform.get(r, "schedule_expression")}
    assert declared and set(scheduler.schedules) == set(declared)
    assert scheduler.unsupported == {}
    handlers = {(s.region, fn.handler) for s in scheduler.schedules.values() for fn in s.targets}
    for region in platform.regions():
        if any(r == region for r, _ in declared):
            assert {h for r, h in handlers if r == region} == {
                "probe.lambda_handler", "heartbeat.lambda_handler", "reconcile.lambda_handler"}


def test_due_runs_follow_the_rate_on_the_scenario_clock(platform):
    clock = ScenarioClock(0.0)
    pool = StubPool(platform)
    hosts_written = []
    scheduler = Scheduler(platform, pool, clock, before_run=lambda: hosts_written.append(clock.now()))
    for _ in range(6 * 20):  # 20 scenario minutes in 10 s steps
        clock.advance(10)
        scheduler.tick()
    per_function: dict[str, list[float]] = {}
    for run in scheduler.runs:
        per_function.setdefault(run.function, []).append(run.t)
    probe = next(n for n in per_function if "probe" in n)
    reconcile = next(n for n in per_function if "reconcile" in n)
    assert per_function[probe] == [10.0 + 60 * k for k in range(20)]  # first step, then every minute
    assert per_function[reconcile] == [10.0 + 60 * k for k in range(20)]  # rate(1 minute): watermark runs
    assert hosts_written == sorted(set(r.t for r in scheduler.runs))  # once per step with runs
    _, _, event = pool.calls[0]
    assert event["source"] == "aws.events" and event["detail-type"] == "Scheduled Event"
    assert event["resources"][0].startswith(f"arn:aws:events:{event['region']}:")
    assert event["time"] == "1970-01-01T00:00:10Z"


def test_a_long_step_runs_a_rule_once_not_once_per_missed_period(platform):
    clock = ScenarioClock(0.0)
    scheduler = Scheduler(platform, StubPool(platform), clock)
    clock.advance(10)
    scheduler.tick()
    clock.advance(300)  # five periods of the minute rules in one step
    scheduler.tick()
    probe_runs = [r.t for r in scheduler.runs if "probe" in r.function and r.region == "us-east-1"]
    assert probe_runs == [10.0, 310.0]
    clock.advance(50)
    scheduler.tick()  # next due at 370
    clock.advance(10)
    scheduler.tick()
    assert [r.t for r in scheduler.runs if "probe" in r.function and r.region == "us-east-1"] == [10.0, 310.0, 370.0]


# -- the worker's resolver: the probe's HTTPS calls reach the twin's ports -----------------


class _Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"host": self.headers.get("Host"), "path": self.path,
                           "auth": self.headers.get("Authorization")}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_the_worker_resolver_sends_the_twins_names_to_their_port(tmp_path: Path, monkeypatch):
    import urllib3

    from twin import worker

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hosts = tmp_path / "hosts.json"
    hosts.write_text(json.dumps({"peer.example.com": server.server_address[1]}))
    monkeypatch.setattr(urllib3.PoolManager, "urlopen", urllib3.PoolManager.urlopen)  # restored after
    try:
        worker.install_resolver(str(hosts))
        pool = urllib3.PoolManager(retries=False, timeout=2)
        answer = json.loads(pool.request("GET", "https://peer.example.com/probe?x=1",
                                         headers={"Authorization": "AWS4-HMAC-SHA256 x"}).data)
        assert answer == {"host": "peer.example.com", "path": "/probe?x=1", "auth": "AWS4-HMAC-SHA256 x"}
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        hosts.write_text(json.dumps({"peer.example.com": closed.getsockname()[1]}))  # re-read on every request
        closed.close()
        with pytest.raises(urllib3.exceptions.NewConnectionError):
            pool.request("GET", "https://peer.example.com/probe")
    finally:
        server.shutdown()
        server.server_close()
