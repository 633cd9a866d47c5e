import io
import json

import pytest
from botocore.exceptions import ClientError
from drctl_fakes import DR, PRIMARY, FakeGateways

from drctl import exitcodes
from drctl.cli import main
from drctl.verify import verify


def run(world, gw, cfg, log, **kw):
    kw.setdefault("timeout", 60)
    kw.setdefault("poll", 0.5)
    return verify(cfg, gw, world.clock, log, new_id=lambda: "0000-test", **kw)


def test_measures_replication_time_of_each_canary_and_cleans_up(world, gw, cfg, log):
    world.ddb_delay, world.s3_delay = 1.2, 6.3
    result = run(world, gw, cfg, log)
    assert result.exit_code == 0
    ddb, s3 = result.probes
    assert ddb.replicated and 1.2 <= ddb.seconds <= 1.2 + 0.5
    assert s3.replicated and 6.3 <= s3.seconds <= 6.3 + 0.5
    assert result.canary_id == "drctl-canary-0000-test"
    puts = [c for c in world.calls if c[2] in ("put_item", "put_object")]
    assert {c[1] for c in puts} == {PRIMARY}
    assert world.items == {} and world.objects == {}  # nothing left in either region
    assert result.cleanup_errors == []


def test_canary_item_shape(world, gw, cfg, log):
    written = {}
    original = type(gw.dynamo(PRIMARY)).put_item

    def capture(self, table, item):
        written.update(item, table=table)
        return original(self, table, item)

    type(gw.dynamo(PRIMARY)).put_item = capture
    try:
        run(world, gw, cfg, log)
    finally:
        type(gw.dynamo(PRIMARY)).put_item = original
    assert written["table"] == "payment-transactions-dev"
    assert written["transactionId"].startswith("drctl-canary-")
    assert isinstance(written["timestamp"], int) and written["timestamp"] > 1_700_000_000_000


def test_from_dr_writes_in_dr_and_reads_in_primary(world, gw, cfg, log):
    result = run(world, gw, cfg, log, source_role="dr")
    assert result.exit_code == 0 and (result.source_region, result.target_region) == (DR, PRIMARY)
    assert {c[1] for c in world.calls if c[2] in ("put_item", "put_object")} == {DR}
    assert {c[1] for c in world.calls if c[2] in ("get_item", "head_object")} == {PRIMARY}


def test_not_replicated_within_timeout_exits_1_and_still_cleans_up(world, gw, cfg, log):
    world.s3_delay = 1000
    result = run(world, gw, cfg, log, timeout=30)
    assert result.exit_code == exitcodes.UNHEALTHY
    assert result.probes[0].replicated and not result.probes[1].replicated
    assert 30 <= world.clock.t <= 31
    assert world.items == {} and world.objects == {}
    assert log.named("late_replica_possible")


def test_error_mid_run_cleans_up_and_exits_5(world, gw, cfg, log):
    world.fail_on[("s3", "head_object")] = ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "denied"}}, "HeadObject")
    result = run(world, gw, cfg, log)
    assert result.exit_code == exitcodes.FAILED and "denied" in result.error
    assert world.items == {} and world.objects == {}


def test_interrupt_cleans_up_and_propagates(world, gw, cfg, log):
    def interrupt(seconds):
        raise KeyboardInterrupt
    world.clock.sleep = interrupt
    with pytest.raises(KeyboardInterrupt):
        run(world, gw, cfg, log)
    assert world.items == {} and world.objects == {}
    assert len(log.named("canary_deleted")) == 4


def test_cleanup_failure_is_reported(world, gw, cfg, log):
    world.fail_on[("s3", "delete_objects")] = ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "no delete"}}, "DeleteObjects")
    result = run(world, gw, cfg, log)
    assert result.exit_code == exitcodes.UNHEALTHY
    assert len(result.cleanup_errors) == 2 and world.items == {}


def test_unreachable_target_region_exits_3(world, gw, cfg, log):
    world.unreachable = {DR}
    result = run(world, gw, cfg, log)
    assert result.exit_code == exitcodes.UNREACHABLE
    assert (PRIMARY, "payment-transactions-dev") not in {k[:2] for k in world.items}


def test_cli_verify_json(world):
    out = io.StringIO()
    code = main(["verify", "--primary-region", PRIMARY, "--dr-region", DR, "--environment-suffix",
                 "dev", "--primary-s3-bucket", "audit-primary", "--dr-s3-bucket", "audit-dr",
                 "--timeout", "20", "--json"], gateways=lambda a: FakeGateways(world),
                clock=world.clock, stdout=out, stderr=io.StringIO())
    doc = json.loads(out.getvalue())
    assert code == 0 and [p["replicated"] for p in doc["probes"]] == [True, True]


def test_a_canary_object_lock_retains_is_reported_retained_not_failed(world, gw, cfg, log):
    """Issue 21: in an Object-Locked audit bucket (COMPLIANCE) no one can delete the canary;
    verify says so (and its size) instead of claiming it deleted it, and exits 0."""
    import datetime as dt

    world.s3_locked_until = dt.datetime(2027, 12, 7, tzinfo=dt.UTC)
    result = run(world, gw, cfg, log)
    assert result.exit_code == exitcodes.OK and result.cleanup_errors == []
    assert len(result.retained) == 2  # the source object and its replica
    assert all("retained by Object Lock until 2027-12-07 (120 bytes)" in r for r in result.retained)
    assert not [c for c in world.calls if c[2] == "delete_objects"]
    assert world.items == {}  # the DynamoDB canary is still deleted
    assert "retained: s3 " in result.to_text()
    assert json.loads(result.to_json())["retained"] == result.retained
