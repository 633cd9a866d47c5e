"""`drctl lost-writes` and `drctl rejoin` (issue 11 items 2 and 8). Simulated in the fakes:
Aurora's unplanned-failover snapshot, RDS events, the cluster after the outage."""

import datetime as dt
import io
import json

from drctl_fakes import DR, PRIMARY, T0, FakeGateways, arn

from drctl import exitcodes
from drctl.cli import main
from drctl.gateways import ClusterState, Event, Snapshot
from drctl.recovery import fencing_verdict, lost_writes, manual_copy_id, rejoin

SNAP = "rds:unplanned-global-failover-payments-primary-dev-2026-11-25-02-12"


def failed_over(world):
    world.writer_region = DR
    world.members_present[PRIMARY] = True
    world.sync_status[PRIMARY] = "pending-resync"
    world.lag_ms = {PRIMARY: None, DR: 1800.0}
    world.lag_age_s = 3000
    world.snapshots[PRIMARY] = [
        Snapshot("rds:payments-primary-dev-2026-11-24", "payments-primary-dev", "available", "automated",
                 T0 - dt.timedelta(days=1)),
        Snapshot(SNAP, "payments-primary-dev", "available", "automated", T0 - dt.timedelta(minutes=40))]


def test_lost_writes_copies_the_unplanned_failover_snapshot_once(world, gw, cfg, log):
    failed_over(world)
    world.events[PRIMARY] = [Event("payments-primary-dev", "Write fencing on the old primary timed out",
                                   T0 - dt.timedelta(minutes=50))]
    result = lost_writes(cfg, gw, world.clock, log)
    assert world.copies == [(PRIMARY, SNAP, "lost-writes-payments-primary-dev-2026-11-25-02-12")]
    rows = {c.name: c for c in result.checks}
    assert rows["manual copy"].state == "OK" and "kept until you delete it" in rows["manual copy"].detail
    assert rows["write fencing"].detail.startswith("timed out: the old primary may have accepted writes")
    assert "AuroraGlobalDBRPOLag 1800 ms" in rows["rpo estimate"].detail
    assert any("restore-db-cluster-from-snapshot" in s and "lost-writes-payments" in s for s in result.steps)
    assert any("idempotency keys" in s for s in result.steps)
    assert result.exit_code == exitcodes.OK
    again = lost_writes(cfg, gw, world.clock, log)  # re-run: the manual copy exists, no second copy
    assert len(world.copies) == 1 and "already exists" in {c.name: c for c in again.checks}["manual copy"].detail


def test_lost_writes_dry_run_copies_nothing(world, gw, cfg, log):
    failed_over(world)
    result = lost_writes(cfg, gw, world.clock, log, dry_run=True)
    assert world.copies == [] and "dry-run: would copy" in {c.name: c for c in result.checks}["manual copy"].detail


def test_no_snapshot_yet_says_when_to_re_run(world, gw, cfg, log):
    failed_over(world)
    world.snapshots[PRIMARY] = world.snapshots[PRIMARY][:1]
    result = lost_writes(cfg, gw, world.clock, log)
    assert result.exit_code == exitcodes.UNHEALTHY and world.copies == []
    assert "re-run later" in {c.name: c for c in result.checks}["lost-writes snapshot"].detail


def test_old_region_still_dark_exits_3(world, gw, cfg, log):
    failed_over(world)
    world.unreachable = {PRIMARY}
    result = lost_writes(cfg, gw, world.clock, log)
    assert result.exit_code == exitcodes.UNREACHABLE and world.copies == []


def test_fencing_verdicts():
    at = T0
    assert fencing_verdict([])[0] == "unknown"
    fenced = Event("c", "Global database failover: writes fenced on the old primary", at)
    assert fencing_verdict([fenced])[0] == "succeeded"  # "failover" is not "failed"
    assert fencing_verdict([Event("c", "Unable to fence writes on the old primary", at)])[0] == "failed"
    assert fencing_verdict([Event("c", "DB cluster created", at)])[0] == "unknown"


def test_manual_copy_id_is_a_valid_identifier():
    copy = manual_copy_id(Snapshot(SNAP, "payments-primary-dev", "available", "automated"))
    assert copy == "lost-writes-payments-primary-dev-2026-11-25-02-12" and ":" not in copy


class _Detached:
    """The old primary after a detach: a standalone cluster with master user and database."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def cluster(self, identifier):
        self.inner.w.call("rds", self.inner.region, "describe_db_clusters")
        engine = dict(engine="aurora-postgresql", engine_version="16.4")
        if self.inner.region == PRIMARY:
            return ClusterState(identifier, arn(PRIMARY, identifier), "available", None,
                                subnet_group="payments-db-primary-dev", security_groups=("sg-1",),
                                kms_key_id="arn:aws:kms:us-east-1:111122223333:key/k",
                                instances=("payments-primary-dev-1", "payments-primary-dev-2"),
                                master_username="payments_admin", database_name="payments", **engine)
        return ClusterState(identifier, arn(DR, identifier), "available", "payments-global-dev", **engine)


def test_rejoin_prints_the_real_procedure_and_changes_nothing(world, cfg, log):
    world.writer_region, world.members_present[PRIMARY] = DR, False

    class Gw(FakeGateways):
        def aurora(self, region):
            return _Detached(super().aurora(region))
    result = rejoin(cfg, Gw(world), world.clock, log)
    steps = "\n".join(result.steps)
    assert "DETACHED" in {c.name: c for c in result.checks}["old primary"].detail
    create = next(s for s in result.steps if s.startswith("aws rds create-db-cluster"))
    command = create.split("   (")[0]
    assert "--global-cluster-identifier payments-global-dev" in command
    assert "--engine-version 16.4" in command and "--db-subnet-group-name payments-db-primary-dev" in command
    assert "--master-username" not in command and "--database-name" not in command
    assert steps.index("drctl lost-writes") < steps.index("delete-db-cluster") < steps.index("create-db-cluster")
    assert "payments-dr-primary" in steps and "terraform import" in steps
    assert {op for _, _, op in world.calls} <= {"describe_global_clusters", "describe_db_clusters"}


def test_rejoin_when_already_a_member_has_nothing_to_do(world, gw, cfg, log):
    failed_over(world)
    result = rejoin(cfg, gw, world.clock, log)
    assert result.steps[0].startswith("payments-primary-dev is already a member (pending-resync)")


def test_cli_lost_writes_json(world):
    failed_over(world)
    out = io.StringIO()
    code = main(["lost-writes", "--primary-region", PRIMARY, "--dr-region", DR, "--environment-suffix",
                 "dev", "--json"], gateways=lambda a: FakeGateways(world), clock=world.clock,
                stdout=out, stderr=io.StringIO())
    doc = json.loads(out.getvalue())
    assert code == 0 and doc["data"]["manual_copy"].startswith("lost-writes-")
