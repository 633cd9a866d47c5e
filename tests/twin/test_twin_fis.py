"""The twin's FIS (twin/drills.py) over the default synth's templates, with a stub twin: no
moto, no processes (runs in `make test`). The scenario with drctl's orchestrator is
tests/twin/test_drills_on_twin.py."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from contract import DRILL_DATABASE, DRILL_REGIONAL_FAILOVER, DRILL_REPLICATION
from twin.alarms import ScenarioClock
from twin.drills import TwinClock, TwinFis, iso_duration
from twin.model import Platform


class _Replication:
    def __init__(self) -> None:
        self.paused: set[str] = set()

    def pause(self, *names: str) -> None:
        self.paused.update(names)

    def resume(self, *names: str) -> None:
        self.paused.difference_update(names)


def _stub_twin(platform: Platform) -> SimpleNamespace:
    region_of = {str(platform.get(r, "bucket")): r.region for r in platform.resources("aws_s3_bucket")}
    rules = [(region_of[str(platform.get(res, "bucket"))], str(platform.get(res, "bucket")),
              region_of.get(dest := str(rule["destination"]["bucket"]).rsplit(":", 1)[-1], ""), dest)
             for res in platform.resources("aws_s3_bucket_replication_configuration")
             for rule in platform.get(res, "rule", [])]
    functions: dict = {}
    stopped: list[str] = []
    return SimpleNamespace(
        platform=platform, clock=ScenarioClock(0), alarms=SimpleNamespace(alarms={}),
        replication=_Replication(), inventory=SimpleNamespace(bucket_replication=rules),
        pool=SimpleNamespace(stop_function=lambda fn: stopped.append(fn.name)), stopped=stopped,
        functions=functions,
        function=lambda region, name: functions.setdefault((region, name), SimpleNamespace(name=name, environment={})))


@pytest.fixture(scope="module")
def platform(synth_stacks) -> Platform:
    """The default synth's JSON, read once for the module (the stub below is fresh per test)."""
    synth_stacks()
    return Platform(synth_stacks.outdir_of())


@pytest.fixture
def twin(platform):
    return _stub_twin(platform)


def test_templates_found_by_drill_and_environment_tags(twin):
    fis = TwinFis(twin)
    for region in ("us-east-1", "us-east-2"):
        for drill in (DRILL_REGIONAL_FAILOVER, DRILL_REPLICATION):
            found = fis.find_template(region, drill, "dev")
            assert found and next(t for t in fis.templates if t.id == found).region == region
        assert fis.find_template(region, DRILL_DATABASE, "dev") is None  # no FIS template: a switchover
        assert fis.find_template(region, DRILL_REGIONAL_FAILOVER, "prod") is None  # Environment from default tags


def test_failover_cuts_dynamodb_for_the_subnets_functions_until_its_duration(twin):
    fis = TwinFis(twin)
    experiment = fis.start("us-east-1", fis.find_template("us-east-1", DRILL_REGIONAL_FAILOVER, "dev"), {})
    assert fis.state("us-east-1", experiment) == ("running", "")
    cut = {name for (region, name), fn in twin.functions.items() if fn.environment.get("AWS_ENDPOINT_URL_DYNAMODB")}
    # the functions in the template's subnets (the authorizer too, since it runs in the VPC)
    assert cut == {"payment-health-primary-dev", "payment-validator-primary-dev", "payment-reconcile-primary-dev",
                   "payment-authorizer-primary-dev"}
    assert sorted(twin.stopped) == sorted(cut)  # fresh execution environments take the change
    twin.clock.advance(599)  # PT10M on the scenario clock
    assert fis.state("us-east-1", experiment)[0] == "running"
    twin.clock.advance(1)
    assert fis.state("us-east-1", experiment) == ("completed", "Experiment completed.")
    assert not any(fn.environment for fn in twin.functions.values())
    fis.close()


def test_a_stop_condition_alarm_stops_the_experiment(twin):
    fis = TwinFis(twin)
    experiment = fis.start("us-east-2", fis.find_template("us-east-2", DRILL_REGIONAL_FAILOVER, "dev"), {})
    twin.alarms.alarms["payments-dev-peer-unreachable-dr"] = SimpleNamespace(state="ALARM")
    status, reason = fis.state("us-east-2", experiment)
    assert status == "stopped" and "payments-dev-peer-unreachable-dr" in reason
    assert not any(fn.environment for fn in twin.functions.values())
    fis.close()


def test_replication_pauses_the_tables_and_the_regions_bucket_rules(twin):
    fis = TwinFis(twin)
    clock = TwinClock(SimpleNamespace(clock=twin.clock), advance=twin.clock.advance)
    clock.after_step.append(fis.tick)
    experiment = fis.start("us-east-2", fis.find_template("us-east-2", DRILL_REPLICATION, "dev"), {})
    assert fis.state("us-east-2", experiment)[0] == "running"
    tables = {str(twin.platform.get(r, "name")) for r in twin.platform.resources("aws_dynamodb_table")
              if twin.platform.get(r, "replica")}
    dr_rules = {dest for src_region, _, dest_region, dest in twin.inventory.bucket_replication
                if src_region == "us-east-2" and dest_region == "us-east-1"}
    assert dr_rules and twin.replication.paused == tables | dr_rules
    clock.sleep(25 * 60)  # PT25M: drctl's sleep advances the scenario clock, FIS ends the pause
    assert fis.experiments[experiment].status == "completed" and not twin.replication.paused
    assert clock.monotonic() == twin.clock.start + 25 * 60


def test_no_target_fails_the_experiment(twin):
    for res in twin.platform.resources("aws_subnet"):
        res.body.get("tags", {}).pop("DrDrill", None)  # nothing tagged: empty_target_resolution_mode=fail
    fis = TwinFis(twin)
    experiment = fis.start("us-east-1", fis.find_template("us-east-1", DRILL_REGIONAL_FAILOVER, "dev"), {})
    status, reason = fis.state("us-east-1", experiment)
    assert status == "failed" and "resolved to no resource" in reason
    assert not twin.functions


def test_iso_durations():
    assert iso_duration("PT10M") == 600 and iso_duration("PT1H30M") == 5400 and iso_duration("PT90S") == 90
    with pytest.raises(ValueError):
        iso_duration("10 minutes")
