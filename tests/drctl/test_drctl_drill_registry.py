"""The drill table (drctl/drill/strategies.py, `DRILLS`) is the one list of drills: the CLI offers
exactly its names, docs/drills.md documents exactly them, the FIS drills are the ones with
templates in the stacks, a drill name is looked up nowhere else in drctl, and a new drill is one
new strategy. Also: the real ports reach AWS, DNS and HTTPS only through the gateways."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest
from drctl_fakes import DR, PRIMARY, FakeClock, FakeGateways, World, config

from contract import DRILL_TAG, METRICS_NAMESPACE
from drctl import cli, exitcodes
from drctl.drill import strategies
from drctl.drill.models import DrillOptions, DrillPorts, PreflightOutcome, SwitchoverOutcome, UnknownDrill
from drctl.drill.ports import aws_ports
from drctl.drill.run import run_drill
from drctl.drill.strategies import DRILLS, DrillStrategy
from drctl.gateways import Datapoint, ExperimentTemplate
from drctl.log import EventLog

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT = ["--environment-suffix", "dev", "--primary-region", PRIMARY, "--dr-region", DR,
              "--primary-health-check-id", "hc-primary", "--dr-health-check-id", "hc-dr",
              "--replication-lag-threshold-seconds", "1", "--quiet"]


def _cli_choices() -> list[str]:
    drill = cli.build_parser()._subparsers._group_actions[0].choices["drill"]  # type: ignore[union-attr]
    (name,) = [a for a in drill._actions if a.dest == "name"]
    return list(name.choices)


def _documented_drills() -> list[str]:
    """First column of docs/drills.md's "Which drill, when" table."""
    text = (ROOT / "docs" / "drills.md").read_text()
    table = text.split("| drill | what it breaks |", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", table, flags=re.M)


def test_the_table_is_the_cli_choices_and_the_documented_drills():
    assert all(key == strategy.name for key, strategy in DRILLS.items())
    assert _cli_choices() == list(DRILLS)
    assert _documented_drills() == list(DRILLS)


def test_the_fis_drills_are_the_ones_the_stacks_have_templates_for(platform):
    tagged = {t["tags"][DRILL_TAG] for t in platform["resource"]["aws_fis_experiment_template"].values()}
    assert {name for name, s in DRILLS.items() if s.uses_fis} == tagged


def test_a_drill_name_is_looked_up_only_in_the_table():
    """No `if name == DRILL_X` anywhere in drctl: the strategies module alone names drills."""
    names = re.compile(r"\bDRILL_(REGIONAL_FAILOVER|REPLICATION|DATABASE)\b|"
                       + "|".join(re.escape(json.dumps(n)) for n in DRILLS))
    naming = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "drctl").rglob("*.py")
                    if names.search(p.read_text()))
    assert naming == ["drctl/drill/strategies.py"]


def test_an_unknown_drill_is_a_usage_error_and_starts_nothing(capsys):
    code = cli.main(["drill", "failover-everything", *DEPLOYMENT],
                    gateways=lambda args: pytest.fail("no gateways for an unknown drill"),
                    stdout=io.StringIO(), stderr=io.StringIO())
    assert code == exitcodes.USAGE
    assert ("drctl drill: error: argument name: invalid choice: 'failover-everything' (choose from "
            "'regional-failover', 'replication', 'database')") in capsys.readouterr().err


def test_an_unknown_drill_name_given_to_the_orchestrator_names_the_known_ones(tmp_path):
    with pytest.raises(UnknownDrill, match=r"unknown drill 'nope': use one of regional-failover, "
                                           r"replication, database"):
        run_drill(config(), _quiet_ports(), FakeClock(), EventLog(io.StringIO()),
                  DrillOptions(name="nope", report_dir=str(tmp_path)))
    assert list(tmp_path.iterdir()) == []


# -- a new drill is one strategy --------------------------------------------------------------

class Restart(DrillStrategy):
    """A made-up drill: restarts nothing, observes one event."""

    name = "restart"

    def plan(self, d):
        return ["restart the made-up thing"]

    def inject(self, d):
        d.timeline.mark("fault_start")
        d.clock.sleep(30)
        d.timeline.mark("restarted")

    def judge(self, d, canary_upper):
        start, at = d.timeline.at("fault_start"), d.timeline.at("restarted")
        d.result.measured["rto_s"] = at - start


def _quiet_ports(canary: list[float] | None = None) -> DrillPorts:
    def metric(region, name, dims, start, end):
        return [] if canary is None or name != "ObservedReplicationDelay" else [(end, v) for v in canary]
    return DrillPorts(fis=None, healthy=lambda hc: True, alarms=lambda region, prefix: {},  # type: ignore[arg-type]
                      metric=metric, resolve=lambda host: frozenset(), fetch=lambda url: (None, None),
                      preflight=lambda: PreflightOutcome(True),
                      switchover=lambda role: SwitchoverOutcome(exitcodes.OK, "completed"))


@pytest.fixture
def with_restart(monkeypatch):
    monkeypatch.setitem(strategies.DRILLS, "restart", Restart())


def test_a_new_strategy_is_offered_planned_and_run(with_restart, tmp_path, monkeypatch):
    assert _cli_choices()[-1] == "restart"
    out = io.StringIO()
    code = cli.main(["drill", "restart", "--dry-run", "--report-dir", str(tmp_path), *DEPLOYMENT],
                    gateways=lambda args: object(), stdout=out, stderr=io.StringIO())
    assert code == exitcodes.OK
    assert "1. preflight (drctl/preflight.py)" in out.getvalue()
    assert "2. restart the made-up thing" in out.getvalue()

    clock = FakeClock()
    result = run_drill(config(), _quiet_ports([0.3]), clock, EventLog(io.StringIO(), clock),
                       DrillOptions(name="restart", report_dir=str(tmp_path), poll=5))
    assert (result.outcome, result.exit_code) == ("passed", exitcodes.OK)
    assert result.measured["rto_s"] == 30 and result.measured["rpo_s"] == 0.3
    assert json.loads((tmp_path / "last-report.json").read_text())["drill"] == "restart"


def test_a_new_strategy_without_rpo_evidence_does_not_pass(with_restart, tmp_path):
    """The orchestrator, not each strategy, refuses a pass on a figure that was not measured."""
    clock = FakeClock()
    result = run_drill(config(), _quiet_ports(None), clock, EventLog(io.StringIO(), clock),
                       DrillOptions(name="restart", report_dir=str(tmp_path), poll=5))
    assert (result.outcome, result.exit_code) == ("failed", exitcodes.UNHEALTHY)
    assert "RPO not measured" in result.broke[0]


# -- the real ports: gateways only -------------------------------------------------------------

def test_the_real_ports_reach_the_world_only_through_the_gateways():
    """FakeGateways has no `client()` or session: a port that built its own client would fail."""
    world = World()
    when = dt.datetime(2026, 11, 25, 3, 5, tzinfo=dt.UTC)
    world.fis_templates[PRIMARY] = [
        ExperimentTemplate("EXTqa", {DRILL_TAG: "regional-failover", "Environment": "qa"}),
        ExperimentTemplate("EXTdev", {DRILL_TAG: "regional-failover", "Environment": "dev"}),
        ExperimentTemplate("EXTrep", {DRILL_TAG: "replication", "Environment": "dev"})]
    world.series[(DR, METRICS_NAMESPACE, "ObservedReplicationDelay")] = [Datapoint(0.4, when)]
    world.dns["pay.example.net"] = ["192.0.2.1"]
    world.pages["https://pay.example.net/health"] = (200, {"region": DR})
    gw = FakeGateways(world)
    clock = FakeClock()
    ports = aws_ports(config(), gw, clock, EventLog(io.StringIO(), clock),
                      DrillOptions(name="regional-failover"))
    assert world.calls == []  # building the ports calls nothing

    assert ports.fis.find_template(PRIMARY, "regional-failover", "dev") == "EXTdev"
    experiment = ports.fis.start(PRIMARY, "EXTdev", {"Name": "drctl drill regional-failover"})
    assert ports.fis.state(PRIMARY, experiment) == ("running", "")
    ports.fis.stop(PRIMARY, experiment)
    assert ports.fis.state(PRIMARY, experiment)[0] == "stopped"
    assert ports.metric(DR, "ObservedReplicationDelay", {"Store": "dynamodb", "From": PRIMARY},
                        when - dt.timedelta(minutes=5), when) == [(when, 0.4)]
    assert ports.healthy("hc-dr") is True
    assert ports.alarms(DR, "payments-dev-") == {"payments-dev-api-5xx-us-east-2": "OK",
                                                 "payments-dev-lag-us-east-2": "OK"}
    assert ports.resolve("pay.example.net") == frozenset({"192.0.2.1"})
    assert ports.resolve("nowhere.example.net") == frozenset()
    assert ports.fetch("https://pay.example.net/health") == (200, {"region": DR})

    assert [c for c in world.calls if c[0] == "fis"] == [
        ("fis", PRIMARY, "list_experiment_templates"), ("fis", PRIMARY, "start_experiment"),
        ("fis", PRIMARY, "get_experiment"), ("fis", PRIMARY, "stop_experiment"),
        ("fis", PRIMARY, "get_experiment")]
    assert ("cloudwatch", DR, "get_metric_data") in world.calls
    assert ("route53", "us-east-1", "get_health_check_status") in world.calls
    assert ("https", "-", "https://pay.example.net/health") in world.calls


def test_two_templates_for_one_drill_refuse_the_drill(tmp_path):
    world = World()
    world.fis_templates[PRIMARY] = [ExperimentTemplate(i, {DRILL_TAG: "replication", "Environment": "dev"})
                                    for i in ("EXTold", "EXTnew")]
    clock = FakeClock()
    log = EventLog(io.StringIO(), clock)
    opts = DrillOptions(name="replication", report_dir=str(tmp_path), poll=5)
    ports = aws_ports(config(), FakeGateways(world), clock, log, opts)
    ports.preflight = lambda: PreflightOutcome(True)
    result = run_drill(config(), ports, clock, log, opts)
    assert (result.outcome, result.exit_code) == ("refused", exitcodes.REFUSED)
    assert result.broke == ["2 FIS templates tagged DrDrill=replication in us-east-1 (EXTold, EXTnew): "
                            "remove the stale ones"]
    assert world.ops("start_experiment") == []
