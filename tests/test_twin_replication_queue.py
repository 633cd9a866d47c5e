"""The twin's replication queue (twin/replication.py), without moto: a key written more often
than the lag is still copied (its queued copy keeps its due time), a held write reports the
scenario time it waited, and the destination's own later write wins over a queued copy."""

from __future__ import annotations

from twin.provision import Inventory
from twin.replication import Replicator


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _replicator() -> tuple[Replicator, Clock, list]:
    clock = Clock()
    inv = Inventory(table_replicas={"hb": ["us-east-1", "us-east-2"]})
    rep = Replicator("http://unused", inv, lag_s=0.5, clock=clock, scenario_clock=clock)
    applied: list = []
    rep._apply = lambda item: applied.append((item.source, item.region, item.key, item.seq))  # type: ignore[method-assign]
    rep._poll_secrets = lambda baseline=False: None  # type: ignore[method-assign]
    return rep, clock, applied


def test_a_key_written_faster_than_the_lag_is_still_copied():
    rep, clock, applied = _replicator()
    for _ in range(10):  # every 0.2 s, for 2 s: each write supersedes the queued one
        rep._table_written("us-east-2", "hb", {"pk": {"S": "heartbeat"}})
        clock.t += 0.2
        rep.tick()
    assert len(applied) >= 3, applied  # due 0.5 s after the first write of each round, not starved
    assert {(a[0], a[1]) for a in applied} == {("us-east-2", "us-east-1")}
    assert rep.take_latencies() == {("dynamodb", "hb", "us-east-2", "us-east-1"): 0.5}


def test_a_held_write_reports_the_scenario_time_it_waited():
    rep, clock, applied = _replicator()
    rep.pause("dynamodb")
    rep._table_written("us-east-1", "hb", {"pk": {"S": "k"}})
    clock.t += 300
    rep.tick()
    assert applied == [] and rep.backlog()[0][4] == 300
    rep._table_written("us-east-1", "hb", {"pk": {"S": "k"}})  # superseded: still behind since then
    rep.resume()
    rep.tick()
    assert len(applied) == 1
    assert rep.take_latencies() == {("dynamodb", "hb", "us-east-1", "us-east-2"): 300}
    assert rep.backlog() == [] and rep.wait_caught_up(0.1)


def test_the_destinations_later_write_wins_over_a_queued_copy():
    rep, clock, applied = _replicator()
    rep._table_written("us-east-1", "hb", {"pk": {"S": "k"}})
    rep._table_written("us-east-2", "hb", {"pk": {"S": "k"}})  # later, in the destination
    clock.t += 1
    rep.tick()
    assert [(a[0], a[1]) for a in applied] == [("us-east-2", "us-east-1")]  # the last writer's copy only
