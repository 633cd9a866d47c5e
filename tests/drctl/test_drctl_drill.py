"""`drctl drill`: the timeline, verdict, rollback and report, on fakes with a simulated clock.

Simulated here (nothing of it is AWS): the FIS experiment lifecycle (initiating -> running ->
stopped/completed, a stop condition), Route 53 health-check evaluation, the DNS answer for the
custom domain, which region answers https://DOMAIN/health, CloudWatch alarm states and the
RPO canary's datapoints. Each is a function of the fake clock, so measured figures are exact.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
import types
from dataclasses import dataclass, field

import pytest
from drctl_fakes import DR, PRIMARY, FakeClock, config

from drctl import exitcodes
from drctl.drill.models import DrillOptions, DrillPorts, PreflightOutcome, SwitchoverOutcome
from drctl.drill.report import LAST_REPORT
from drctl.drill.run import run_drill
from drctl.log import EventLog

DOMAIN = "pay.payments-drill.net"
PREFIX = "payments-dev-"


class InterruptingClock(FakeClock):
    """Ctrl-C arrives while the drill sleeps at or after `at` seconds."""

    def __init__(self, at: float | None = None):
        super().__init__()
        self.at = at

    def sleep(self, seconds):
        super().sleep(seconds)
        if self.at is not None and self.t >= self.at:
            self.at = None
            raise KeyboardInterrupt


@dataclass
class Scenario:
    """When things happen, in fake-clock seconds (None = never)."""
    running_at: float = 10  # FIS reports the experiment running (the fault is active)
    stop_condition_at: float | None = None  # FIS stops it by itself (a stop-condition alarm)
    completes_at: float | None = None  # the action's duration ends
    hc_fails_after: float = 40  # after running_at
    dns_moves_after: float = 100
    dr_serves_after: float | None = 130
    hc_recovers_after_stop: float = 30
    alarms: dict[tuple[str, str], tuple[float, float | None]] = field(default_factory=dict)
    canary_values: list[float] = field(default_factory=lambda: [0.2, 0.6])
    heartbeat_interval: float | None = 60.0  # HeartbeatAge the writer publishes
    peer_healthy: bool = True
    preflight_ok: bool = True
    template: str | None = "EXT123"


class FakeFis:
    def __init__(self, clock: FakeClock, s: Scenario):
        self.clock, self.s = clock, s
        self.started: list[tuple[str, str]] = []
        self.stopped_at: float | None = None
        self.stop_calls: list[tuple[str, str]] = []

    def find_template(self, region, drill, env):
        self.lookup = (region, drill, env)
        return self.s.template

    def start(self, region, template_id, tags):
        self.started.append((region, template_id))
        return "EXP1"

    def stop(self, region, experiment_id):
        self.stop_calls.append((region, experiment_id))
        self.stopped_at = self.clock.t

    def state(self, region, experiment_id):
        t, s = self.clock.t, self.s
        if self.stopped_at is not None:
            return ("stopping", "") if t < self.stopped_at + 10 else ("stopped", "Experiment stopped")
        if s.stop_condition_at is not None and t >= s.stop_condition_at:
            return "stopped", "Stop condition triggered by payments-dev-lambda-errors-validator-primary"
        if s.completes_at is not None and t >= s.completes_at:
            return "completed", ""
        return ("running", "") if t >= s.running_at else ("initiating", "")


class FakeWorld:
    def __init__(self, s: Scenario, clock: FakeClock):
        self.s, self.clock = s, clock
        self.fis = FakeFis(clock, s)
        self.switchovers: list[tuple[str, float]] = []
        self.switchover_results: dict[str, SwitchoverOutcome] = {}

    def _since_fault(self):
        return self.clock.t - self.s.running_at

    def _fault_active(self):
        return self.clock.t >= self.s.running_at and self.fis.stopped_at is None

    def healthy(self, hc):
        if hc == "hc-dr":
            return self.s.peer_healthy
        if self.fis.stopped_at is not None:
            return self.clock.t >= self.fis.stopped_at + self.s.hc_recovers_after_stop
        return not (self._fault_active() and self._since_fault() >= self.s.hc_fails_after)

    def resolve(self, host):
        assert host == DOMAIN
        moved = self._fault_active() and self._since_fault() >= self.s.dns_moves_after
        return frozenset({"198.51.100.7"} if moved else {"203.0.113.9"})

    def fetch(self, url):
        assert url == f"https://{DOMAIN}/health"
        after = self.s.dr_serves_after
        if self._fault_active() and after is not None and self._since_fault() >= after:
            return 200, {"status": "healthy", "region": DR, "regionRole": "dr"}
        if self._fault_active() and self._since_fault() >= self.s.hc_fails_after:
            return 502, {"message": "Internal server error"}
        return 200, {"status": "healthy", "region": PRIMARY, "regionRole": "primary"}

    def alarms(self, region, prefix):
        assert prefix == PREFIX
        out = {}
        for (r, name), (raised, cleared) in self.s.alarms.items():
            if r != region:
                continue
            on = self.clock.t >= raised and (cleared is None or self.clock.t < cleared)
            out[name] = "ALARM" if on else "OK"
        return out

    def metric(self, region, name, dims, start, end):
        assert start < end
        if name == "HeartbeatAge":
            assert dims == {"Store": "dynamodb", "Region": region}  # read where it is written
            interval = self.s.heartbeat_interval
            return [] if interval is None else [(end, interval)]
        assert name == "ObservedReplicationDelay" and set(dims) == {"Store", "From"}
        assert dims["From"] != region
        return [(end, v) for v in self.s.canary_values]

    def switchover(self, to_role):
        self.clock.sleep(60)
        self.switchovers.append((to_role, self.clock.t))
        return self.switchover_results.get(to_role, SwitchoverOutcome(exitcodes.OK, "completed"))

    def ports(self) -> DrillPorts:
        return DrillPorts(fis=self.fis, healthy=self.healthy, alarms=self.alarms,
                          metric=self.metric, resolve=self.resolve, fetch=self.fetch,
                          preflight=lambda: PreflightOutcome(
                              self.s.preflight_ok, [] if self.s.preflight_ok else
                              ["alarms: payments-dev-aurora-rpo-lag-dr in ALARM"]),
                          switchover=self.switchover)


def _run(tmp_path, s: Scenario, *, name="regional-failover", clock=None, **opts):
    clock = clock or FakeClock()
    world = FakeWorld(s, clock)
    cfg = config(alarm_name_prefix=PREFIX)
    options = DrillOptions(name=name, domain_name=DOMAIN, poll=5, report_dir=str(tmp_path),
                           **{"timeout": 600, "recovery_timeout": 300, **opts})
    log = EventLog(io.StringIO(), clock, command="drill")
    return run_drill(cfg, world.ports(), clock, log, options), world


def _report(tmp_path):
    return json.loads((tmp_path / LAST_REPORT).read_text())


def _events(result):
    return {e["event"]: e["t_s"] for e in result.events}


def test_successful_failover_drill_measures_rto_and_rpo_and_rolls_back(tmp_path):
    s = Scenario(alarms={("us-east-1", "payments-dev-health-check-primary"): (60, 200)})
    result, world = _run(tmp_path, s)
    assert (result.outcome, result.exit_code) == ("passed", exitcodes.OK)
    m = result.measured
    assert (m["detection_s"], m["dns_change_s"], m["rto_s"]) == (40, 100, 130)
    assert m["rpo_s"] == 0.6
    # The fault was stopped as soon as DR served (t=140) and the primary recovered after it.
    assert world.fis.started == [("us-east-1", "EXT123")]
    assert world.fis.stop_calls == [("us-east-1", "EXP1")]
    assert world.fis.lookup == ("us-east-1", "regional-failover", "dev")
    events = _events(result)
    assert events["fault_start"] == 0 and events["experiment_stop_requested"] == 130
    assert events["baseline"] == -10 and events["experiment_started"] == -10  # before the fault
    assert events["health_check_recovered"] == 160
    [alarm] = result.alarms
    assert (alarm["name"], alarm["raised_t_s"], alarm["cleared_t_s"]) == (
        "payments-dev-health-check-primary", 50, 190)
    report = _report(tmp_path)
    assert report["outcome"] == "passed" and report["measured"]["rto_s"] == 130
    assert report["targets"] == {"rto_s": 300.0, "rpo_s": 1.0}
    md = next(tmp_path.glob("regional-failover-*.md")).read_text()
    assert "| RTO | 130.0 s | 300 s | PASS |" in md
    assert "| RPO | 0.6 s | 1 s | PASS |" in md


def test_stop_condition_aborts_the_drill_and_the_report_says_why(tmp_path):
    result, world = _run(tmp_path, Scenario(stop_condition_at=60))
    assert (result.outcome, result.exit_code) == ("aborted", exitcodes.FAILED)
    assert "Stop condition triggered" in result.broke[0]
    assert world.fis.stop_calls == []  # FIS already ended it; nothing to stop
    assert result.measured["rpo_upper_s"] == 0.6
    assert _report(tmp_path)["outcome"] == "aborted"
    assert "dr_served" not in _events(result)


def test_ctrl_c_stops_the_experiment_and_writes_the_report(tmp_path):
    result, world = _run(tmp_path, Scenario(), clock=InterruptingClock(at=80))
    assert (result.outcome, result.exit_code) == ("aborted", exitcodes.INTERRUPTED)
    assert world.fis.stop_calls == [("us-east-1", "EXP1")]
    assert result.broke[0] == "interrupted (Ctrl-C)"
    events = _events(result)
    assert events["health_check_failed"] == 40 and "dr_served" not in events
    assert _report(tmp_path)["exit_code"] == exitcodes.INTERRUPTED


def test_timeout_is_an_abort_with_rollback(tmp_path):
    result, world = _run(tmp_path, Scenario(dr_serves_after=None), timeout=300)
    assert (result.outcome, result.exit_code) == ("aborted", exitcodes.FAILED)
    assert result.broke[0].startswith("timeout: us-east-2 did not serve")
    assert world.fis.stop_calls == [("us-east-1", "EXP1")]
    # Bounded: no sleep beyond the deadline plus the bounded wait for the stop to take effect.
    assert world.clock.t <= 300 + 60 + 5


def test_slow_failover_and_lagging_replication_fail_the_drill(tmp_path):
    result, _ = _run(tmp_path, Scenario(dr_serves_after=400, dns_moves_after=380,
                                        canary_values=[0.4, 2.5], heartbeat_interval=1.0))
    assert (result.outcome, result.exit_code) == ("failed", exitcodes.UNHEALTHY)
    assert result.measured["rto_s"] == 400
    assert "RTO 400.0 s exceeds the 300 s target" in result.broke
    assert any(b.startswith("RPO at least 1.5 s (canary delay 2.5 s minus the writer's "
                            "heartbeat interval) exceeds the 1 s target") for b in result.broke)
    assert result.measured["rpo_s"] == 1.5
    md = next(tmp_path.glob("regional-failover-*.md")).read_text()
    assert "| RTO | 400.0 s | 300 s | FAIL |" in md


def test_a_delay_within_the_canarys_resolution_is_inconclusive_and_does_not_pass(tmp_path):
    """Issue 19: a one-minute canary cannot show RPO <= 1 s; the drill must not say "passed"."""
    result, _ = _run(tmp_path, Scenario(canary_values=[30.0, 60.5], heartbeat_interval=60.0))
    assert (result.outcome, result.exit_code) == ("inconclusive", exitcodes.UNHEALTHY), result.broke
    assert result.broke == []
    m = result.measured
    assert (m["rpo_s"], m["rpo_upper_s"], m["rpo_lower_s"]) == (None, 60.5, 0.5)
    assert any(n.startswith("RPO between 0.5 and 60.5 s") for n in result.inconclusive)
    md = next(tmp_path.glob("regional-failover-*.md")).read_text()
    assert "| RPO | 0.5-60.5 s (canary bounds) | 1 s | INCONCLUSIVE |" in md
    assert md.startswith("# Drill `regional-failover`") and "INCONCLUSIVE (exit 1)" in md.splitlines()[0]
    assert "## Not shown (the drill does not pass)" in md


def test_without_the_writers_interval_a_large_delay_stays_inconclusive(tmp_path):
    result, _ = _run(tmp_path, Scenario(canary_values=[75.0], heartbeat_interval=None))
    assert (result.outcome, result.exit_code) == ("inconclusive", exitcodes.UNHEALTHY)
    assert (result.measured["rpo_s"], result.measured["rpo_lower_s"]) == (None, None)
    assert any(n.startswith("RPO between 0.0 and 75.0 s") for n in result.inconclusive)


def test_missing_canary_data_means_rpo_not_measured_not_passed(tmp_path):
    result, _ = _run(tmp_path, Scenario(canary_values=[]))
    assert result.exit_code == exitcodes.UNHEALTHY
    assert result.measured["rpo_s"] is None
    assert any("RPO not measured" in b for b in result.broke)


@pytest.mark.parametrize("scenario, reason", [
    (Scenario(preflight_ok=False), "preflight: alarms: payments-dev-aurora-rpo-lag-dr in ALARM"),
    (Scenario(template=None), "no FIS experiment template tagged DrDrill=regional-failover"),
    (Scenario(peer_healthy=False), "the dr health check is not healthy"),
])
def test_refusals_start_nothing(tmp_path, scenario, reason):
    result, world = _run(tmp_path, scenario)
    assert (result.outcome, result.exit_code) == ("refused", exitcodes.REFUSED)
    assert result.broke[0].startswith(reason)
    assert world.fis.started == [] and world.fis.stop_calls == []


def test_replication_drill_passes_when_each_stores_alarm_fires_and_clears(tmp_path):
    s = Scenario(running_at=10, completes_at=10 + 1500, canary_values=[3.0, 900.0], alarms={
        ("us-east-1", "payments-dev-dynamodb-replication-latency-transactions-primary"): (200, 1600),
        ("us-east-2", "payments-dev-s3-replication-latency-dr"): (1400, 1700)})
    result, world = _run(tmp_path, s, name="replication", timeout=2000)
    assert (result.outcome, result.exit_code) == ("passed", exitcodes.OK), result.broke
    assert result.measured["dynamodb_detection_s"] == 190
    assert result.measured["s3_detection_s"] == 1390
    assert result.measured["max_canary_delay_s"] == 900.0 and result.measured["rpo_s"] is None
    assert world.fis.stop_calls == []  # it completed by itself
    assert _events(result)["alarms_cleared"] == 1690


def test_replication_drill_fails_when_a_store_goes_unnoticed(tmp_path):
    s = Scenario(completes_at=600, alarms={
        ("us-east-1", "payments-dev-dynamodb-replication-latency-transactions-primary"): (200, 650)})
    result, _ = _run(tmp_path, s, name="replication")
    assert result.exit_code == exitcodes.UNHEALTHY
    assert "no s3 replication alarm was raised while its replication was paused" in result.broke


def test_database_drill_switches_over_and_back(tmp_path):
    lag = ("us-east-2", "payments-dev-aurora-rpo-lag-dr")
    result, world = _run(tmp_path, Scenario(alarms={lag: (30, 170)}), name="database")
    assert (result.outcome, result.exit_code) == ("passed", exitcodes.OK)
    assert [r for r, _ in world.switchovers] == ["dr", "primary"]
    assert result.measured["rto_s"] == 60 and result.measured["failback_s"] == 60
    assert world.fis.started == []
    [alarm] = result.alarms  # seen after the switchover, cleared during the bounded wait
    assert (alarm["raised_t_s"], alarm["cleared_t_s"]) == (60, 170)
    assert "alarms_cleared" in _events(result)


def test_database_drill_reports_a_writer_left_in_dr(tmp_path):
    clock = FakeClock()
    world = FakeWorld(Scenario(), clock)
    world.switchover_results["primary"] = SwitchoverOutcome(
        exitcodes.REFUSED, "refused", ["alarms: payments-dev-aurora-rpo-lag-primary in ALARM"])
    options = DrillOptions(name="database", poll=5, report_dir=str(tmp_path))
    result = run_drill(config(alarm_name_prefix=PREFIX), world.ports(), clock,
                       EventLog(io.StringIO(), clock), options)
    assert result.exit_code == exitcodes.UNHEALTHY
    assert any("writer may still be in the DR region" in b for b in result.broke)


def test_cli_dry_run_prints_the_plan_and_writes_nothing(tmp_path, capsys):
    from drctl.cli import main
    out, err = io.StringIO(), io.StringIO()
    code = main(["drill", "replication", "--dry-run", "--quiet", "--environment-suffix", "dev",
                 "--primary-region", "us-east-1", "--dr-region", "us-east-2",
                 "--primary-health-check-id", "hc-p", "--dr-health-check-id", "hc-d",
                 "--replication-lag-threshold-seconds", "1", "--report-dir", str(tmp_path)],
                gateways=lambda args: object(), stdout=out, stderr=err)
    assert code == exitcodes.OK
    text = out.getvalue()
    assert "DRY-RUN" in text
    assert "fis:StartExperiment in us-east-1 from the FIS template tagged DrDrill=replication" in text
    assert "Measured vs target" not in text
    assert list(tmp_path.iterdir()) == []


def test_cli_drill_without_deployment_facts_is_a_usage_error(tmp_path):
    from drctl.cli import main
    err = io.StringIO()
    code = main(["drill", "regional-failover", "--quiet"], gateways=lambda args: object(),
                stdout=io.StringIO(), stderr=err)
    assert code == exitcodes.USAGE
    assert "missing primary_region" in err.getvalue()


# -- the real ports against botocore's Stubber (parameters validated against the models) -------

class _StubbedGateways:
    """The gateways the drill's ports use, over stubbed clients (no `client()`: a port that built
    its own would fail here)."""

    def __init__(self, clients):
        self.clients = clients

    def fis(self, region):
        from drctl.gateways import FisGateway
        return FisGateway(self.clients[("fis", region)], region)

    def metrics(self, region):
        from drctl.gateways import MetricsGateway
        return MetricsGateway(self.clients[("cloudwatch", region)], region)


def _client(service, region="us-east-1"):
    import boto3
    return boto3.Session(aws_access_key_id="a", aws_secret_access_key="b").client(
        service, region_name=region)


def test_fis_port_finds_by_tag_starts_polls_and_stops_with_valid_parameters():
    from botocore.stub import ANY, Stubber

    from drctl.drill.ports import GatewayFis
    fis = _client("fis")
    when = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)
    with Stubber(fis) as stub:
        stub.add_response("list_experiment_templates", {"experimentTemplates": [
            {"id": "EXTother", "tags": {"DrDrill": "replication", "Environment": "dev"}},
            {"id": "EXTqa", "tags": {"DrDrill": "regional-failover", "Environment": "qa"}},
            {"id": "EXTdev", "tags": {"DrDrill": "regional-failover", "Environment": "dev"}}]}, {})
        stub.add_response("start_experiment", {"experiment": {"id": "EXP9"}},
                          {"clientToken": ANY, "experimentTemplateId": "EXTdev",
                           "tags": {"Name": "drctl drill regional-failover"}})
        stub.add_response("get_experiment", {"experiment": {"id": "EXP9", "state": {
            "status": "stopped", "reason": "Stop condition triggered"}, "creationTime": when}},
            {"id": "EXP9"})
        stub.add_response("stop_experiment", {"experiment": {"id": "EXP9"}}, {"id": "EXP9"})
        port = GatewayFis(_StubbedGateways({("fis", "us-east-1"): fis}))
        assert port.find_template("us-east-1", "regional-failover", "dev") == "EXTdev"
        assert port.start("us-east-1", "EXTdev", {"Name": "drctl drill regional-failover"}) == "EXP9"
        assert port.state("us-east-1", "EXP9") == ("stopped", "Stop condition triggered")
        port.stop("us-east-1", "EXP9")
        stub.assert_no_pending_responses()


def test_metric_port_reads_the_canary_metric_with_its_dimensions():
    from botocore.stub import Stubber

    from drctl.drill.ports import metric_points
    cw = _client("cloudwatch", "us-east-2")
    start = dt.datetime(2026, 11, 26, 3, 0, tzinfo=dt.UTC)
    end = start + dt.timedelta(minutes=20)
    with Stubber(cw) as stub:
        stub.add_response("get_metric_data", {"MetricDataResults": [
            {"Id": "m", "Timestamps": [end, start], "Values": [0.7, 0.3],
             "StatusCode": "Complete"}]},
            {"MetricDataQueries": [{"Id": "m", "ReturnData": True, "MetricStat": {
                "Metric": {"Namespace": "PaymentsDR", "MetricName": "ObservedReplicationDelay",
                           "Dimensions": [{"Name": "Store", "Value": "dynamodb"},
                                          {"Name": "From", "Value": "us-east-1"}]},
                "Period": 60, "Stat": "Maximum"}}], "StartTime": start, "EndTime": end})
        points = metric_points(_StubbedGateways({("cloudwatch", "us-east-2"): cw}), "us-east-2",
                               "ObservedReplicationDelay", {"Store": "dynamodb", "From": "us-east-1"},
                               start, end)
    assert points == [(end, 0.7), (start, 0.3)]


def test_default_preflight_refuses_when_the_preflight_module_is_absent(monkeypatch):
    import drctl
    from drctl.drill.ports import default_preflight
    monkeypatch.setitem(sys.modules, "drctl.preflight", None)  # import fails
    monkeypatch.delattr(drctl, "preflight", raising=False)
    outcome = default_preflight(config(), None, FakeClock(), EventLog(io.StringIO()))
    assert outcome.ok is False
    assert "never starts without preflight" in outcome.reasons[0]


def _fake_preflight_module(statuses):
    """The shape of drctl/preflight.py on the preflight branch: Target, Clients, preflight()."""
    from enum import StrEnum

    class Status(StrEnum):
        PASS, WARN, FAIL, UNKNOWN, SKIP = "PASS", "WARN", "FAIL", "UNKNOWN", "SKIP"

    @dataclass
    class Result:
        check: str
        region: str
        status: Status
        detail: str
        fix: str = ""

    module = types.ModuleType("drctl.preflight")
    module.seen = {}
    module.Target = types.SimpleNamespace(from_env=lambda: "target")
    module.Clients = lambda session, endpoint_url=None: ("clients", session, endpoint_url)
    module.public_name_servers = "resolver"

    def preflight(target, clients, resolver, log):
        module.seen.update(target=target, clients=clients, resolver=resolver)
        return types.SimpleNamespace(results=[
            Result(f"check-{i}", "us-east-1" if i else "", Status(s), f"detail {i}", f"fix {i}")
            for i, s in enumerate(statuses)])

    module.preflight = preflight
    return module


@pytest.mark.parametrize("statuses, ok", [
    (["PASS", "SKIP", "WARN"], True),
    (["PASS", "FAIL"], False),
    (["UNKNOWN"], False),
])
def test_default_preflight_runs_drctl_preflight_and_blocks_on_fail_or_unknown(monkeypatch, statuses, ok):
    from drctl.drill.ports import default_preflight
    module = _fake_preflight_module(statuses)
    import drctl
    monkeypatch.setitem(sys.modules, "drctl.preflight", module)
    monkeypatch.setattr(drctl, "preflight", module, raising=False)
    gw = types.SimpleNamespace(session="session", endpoint_url="http://127.0.0.1:5000")
    outcome = default_preflight(config(), gw, FakeClock(), EventLog(io.StringIO()))
    assert outcome.ok is ok
    assert module.seen == {"target": "target", "clients": ("clients", "session", "http://127.0.0.1:5000"),
                           "resolver": "resolver"}
    if not ok:
        assert outcome.reasons[-1].startswith(f"check-{len(statuses) - 1}")
        assert outcome.reasons[-1].endswith(f"fix: fix {len(statuses) - 1}")


def test_alarms_firing_before_the_fault_refuse_the_drill(tmp_path):
    s = Scenario(alarms={("us-east-2", "payments-dev-lambda-errors-validator-dr"): (0, None)})
    result, world = _run(tmp_path, s)
    assert (result.outcome, result.exit_code) == ("refused", exitcodes.REFUSED)
    assert "payments-dev-lambda-errors-validator-dr (us-east-2)" in result.broke[0]
    assert world.fis.started == []


def test_client_side_probes_resolve_and_read_json_on_127_0_0_1():
    import http.server
    import threading

    from drctl.drill.ports import resolve_like_a_client
    from drctl.gateways import HttpGateway

    def fetch_json(url, timeout):
        return HttpGateway(timeout=timeout).get_json(url)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            code = 200 if self.path == "/health" else 503
            body = json.dumps({"status": "healthy" if code == 200 else "unhealthy",
                               "region": "us-east-2"}).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        assert fetch_json(f"{base}/health", timeout=2) == (200, {"status": "healthy", "region": "us-east-2"})
        assert fetch_json(f"{base}/other", timeout=2)[0] == 503
    finally:
        server.shutdown()
        server.server_close()
    assert fetch_json(f"http://127.0.0.1:{server.server_port}/health", timeout=1) == (None, None)
    assert "127.0.0.1" in resolve_like_a_client("localhost")
    assert resolve_like_a_client("no-such-host.invalid") == frozenset()


def test_primary_still_unhealthy_after_the_drill_is_a_note_not_a_failure(tmp_path):
    result, _ = _run(tmp_path, Scenario(hc_recovers_after_stop=10_000), recovery_timeout=120)
    assert (result.outcome, result.exit_code) == ("passed", exitcodes.OK)
    assert result.measured["recovery_s"] is None
    assert "failback gate" in result.notes[0]
    assert "## Notes" in next(tmp_path.glob("regional-failover-*.md")).read_text()


def test_failing_probes_are_retried_and_noted_not_fatal(tmp_path):
    clock = FakeClock()
    world = FakeWorld(Scenario(), clock)
    ports = world.ports()
    calls = {"n": 0}

    def flaky_health(hc):
        calls["n"] += 1
        if calls["n"] in (2, 3):  # after the preflight's check of the DR health check
            raise ConnectionError("route53 read timeout")
        return world.healthy(hc)

    def dark_us_east_1(region, prefix):
        if region == "us-east-1":
            raise ConnectionError("us-east-1 unreachable")
        return world.alarms(region, prefix)

    ports.healthy, ports.alarms = flaky_health, dark_us_east_1
    options = DrillOptions(name="regional-failover", domain_name=DOMAIN, poll=5,
                           report_dir=str(tmp_path), timeout=600, recovery_timeout=300)
    result = run_drill(config(alarm_name_prefix=PREFIX), ports, clock,
                       EventLog(io.StringIO(), clock), options)
    assert (result.outcome, result.exit_code) == ("passed", exitcodes.OK)
    assert result.measured["rto_s"] == 130
    assert "route53:GetHealthCheckStatus: 2 probe(s) failed and were retried" in result.notes
    assert any(n.startswith("alarms in us-east-1:") for n in result.notes)


def test_an_unexpected_error_still_stops_the_fault(tmp_path):
    clock = FakeClock()
    world = FakeWorld(Scenario(), clock)
    ports = world.ports()

    def broken_metrics(*args):
        raise AssertionError("unexpected")

    def stop_fails(region, experiment_id):
        world.fis.stop_calls.append((region, experiment_id))
        raise ConnectionError("fis endpoint unreachable")

    world.fis.stop = stop_fails
    ports.fis = world.fis
    ports.resolve = lambda host: (_ for _ in ()).throw(KeyboardInterrupt()) if clock.t >= 60 \
        else world.resolve(host)
    ports.metric = broken_metrics
    options = DrillOptions(name="regional-failover", domain_name=DOMAIN, poll=5,
                           report_dir=str(tmp_path))
    result = run_drill(config(alarm_name_prefix=PREFIX), ports, clock,
                       EventLog(io.StringIO(), clock), options)
    assert (result.outcome, result.exit_code) == ("aborted", exitcodes.INTERRUPTED)
    assert world.fis.stop_calls == [("us-east-1", "EXP1")]
    assert any("aws fis stop-experiment --id EXP1 --region us-east-1" in b for b in result.broke)
    assert any(b.startswith("ObservedReplicationDelay in us-east-1: unexpected") for b in result.broke)
    assert (tmp_path / LAST_REPORT).is_file()


def test_a_given_template_id_skips_the_lookup(tmp_path):
    clock = FakeClock()
    world = FakeWorld(Scenario(template=None), clock)
    options = DrillOptions(name="regional-failover", domain_name=DOMAIN, poll=5,
                           report_dir=str(tmp_path), template_id="EXTgiven")
    result = run_drill(config(alarm_name_prefix=PREFIX), world.ports(), clock,
                       EventLog(io.StringIO(), clock), options)
    assert result.exit_code == exitcodes.OK
    assert world.fis.started == [("us-east-1", "EXTgiven")]
    assert not hasattr(world.fis, "lookup")


def test_fis_port_against_a_moto_server(moto_url, aws_session):
    """moto (127.0.0.1) models FIS templates and experiments, not their effect on targets."""
    from drctl.drill.ports import GatewayFis
    from drctl.gateways import AwsGateways
    gw = AwsGateways(aws_session, endpoint_url=moto_url, max_attempts=1)
    fis = gw.client("fis", "us-east-1")

    def template(drill, env):
        return fis.create_experiment_template(
            clientToken=f"{drill}-{env}", description=f"{drill} {env}",
            roleArn="arn:aws:iam::123456789012:role/fis",
            stopConditions=[{"source": "aws:cloudwatch:alarm",
                             "value": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:x"}],
            actions={"wait": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1M"}}},
            tags={"DrDrill": drill, "Environment": env})["experimentTemplate"]["id"]

    template("regional-failover", "qa")
    wanted = template("regional-failover", "dev")
    template("replication", "dev")
    port = GatewayFis(gw)
    assert port.find_template("us-east-1", "regional-failover", "dev") == wanted
    assert port.find_template("us-east-1", "database", "dev") is None
    experiment = port.start("us-east-1", wanted, {"Name": "drctl drill regional-failover"})
    status, _ = port.state("us-east-1", experiment)
    assert status in ("pending", "initiating", "running")
    port.stop("us-east-1", experiment)
    assert port.state("us-east-1", experiment)[0] in ("stopping", "stopped")


def test_a_domain_that_does_not_answer_before_the_fault_is_refused(tmp_path):
    clock = FakeClock()
    world = FakeWorld(Scenario(), clock)
    ports = world.ports()
    ports.fetch = lambda url: (None, None)
    options = DrillOptions(name="regional-failover", domain_name=DOMAIN, poll=5,
                           report_dir=str(tmp_path))
    result = run_drill(config(alarm_name_prefix=PREFIX), ports, clock,
                       EventLog(io.StringIO(), clock), options)
    assert (result.outcome, result.exit_code) == ("refused", exitcodes.REFUSED)
    assert "answers None" in result.broke[0] and world.fis.started == []


def test_a_second_ctrl_c_during_rollback_still_writes_the_report(tmp_path):
    clock = InterruptingClock(at=80)
    world = FakeWorld(Scenario(), clock)
    ports = world.ports()
    real_stop = world.fis.stop

    def stop_then_interrupt_again(region, experiment_id):
        real_stop(region, experiment_id)
        clock.at = clock.t  # the next sleep (waiting for the stop) is interrupted too

    world.fis.stop = stop_then_interrupt_again
    ports.fis = world.fis
    options = DrillOptions(name="regional-failover", domain_name=DOMAIN, poll=5,
                           report_dir=str(tmp_path))
    result = run_drill(config(alarm_name_prefix=PREFIX), ports, clock,
                       EventLog(io.StringIO(), clock), options)
    assert (result.outcome, result.exit_code) == ("aborted", exitcodes.INTERRUPTED)
    assert any("interrupted while stopping experiment EXP1" in b for b in result.broke)
    assert (tmp_path / LAST_REPORT).is_file()


def test_cli_database_drill_end_to_end_on_fakes(tmp_path, monkeypatch):
    """`drctl drill database --yes`: the CLI hands --yes and the operator to the switchovers."""
    import drctl.drill.cli as drill_module
    from drctl.cli import main
    clock = FakeClock()
    world = FakeWorld(Scenario(), clock)
    seen = {}

    def fake_aws_ports(cfg, gw, clock_, log, opts, *, confirm=None, operator="drctl"):
        seen.update(confirm=confirm("switch over?"), operator=operator, name=opts.name)
        return world.ports()

    monkeypatch.setattr(drill_module, "aws_ports", fake_aws_ports)
    out = io.StringIO()
    code = main(["drill", "database", "--yes", "--operator", "alice", "--quiet", "--json",
                 "--environment-suffix", "dev", "--primary-region", "us-east-1",
                 "--dr-region", "us-east-2", "--primary-health-check-id", "hc-primary",
                 "--dr-health-check-id", "hc-dr", "--replication-lag-threshold-seconds", "1",
                 "--report-dir", str(tmp_path)],
                gateways=lambda args: object(), clock=clock, stdout=out, stderr=io.StringIO())
    assert code == exitcodes.OK, out.getvalue()
    assert seen == {"confirm": True, "operator": "alice", "name": "database"}
    report = json.loads(out.getvalue())
    assert report["outcome"] == "passed" and report["measured"]["rto_s"] == 60
    assert (tmp_path / LAST_REPORT).is_file()


def test_cli_takes_the_domain_from_the_custom_domain_url_output(tmp_path, monkeypatch):
    from drctl.cli import main
    monkeypatch.delenv("DOMAIN_NAME", raising=False)
    out = io.StringIO()
    code = main(["drill", "regional-failover", "--dry-run", "--quiet", "--environment-suffix", "dev",
                 "--primary-region", "us-east-1", "--dr-region", "us-east-2",
                 "--primary-health-check-id", "hc-p", "--dr-health-check-id", "hc-d",
                 "--replication-lag-threshold-seconds", "1",
                 "--custom-domain-url", "https://pay.payments-drill.net",
                 "--report-dir", str(tmp_path)],
                gateways=lambda args: object(), stdout=out, stderr=io.StringIO())
    assert code == exitcodes.OK
    assert "GET https://pay.payments-drill.net/health" in out.getvalue()
