"""twin/aurora.py's role model and twin/faultproxy.py, without processes (runs in `make test`)."""

from __future__ import annotations

import http.client
import http.server
import threading
import time

import pytest

from twin import aurora
from twin.aurora import AuroraModel, InvalidState, Member
from twin.faultproxy import RegionFaultProxy

P, D = "payments-primary-dev", "payments-dr-dev"


@pytest.fixture
def model(monkeypatch):
    made: list[tuple[str, ...]] = []
    monkeypatch.setattr(aurora, "_create_snapshot", lambda *a: made.append(("snapshot", *a)))
    monkeypatch.setattr(aurora, "_detach_in_moto", lambda *a: made.append(("detach", *a)))
    m = AuroraModel("http://unused", global_id="g", switch_s=0.0, resync_s=0.0)
    m.members = {P: Member(P, "us-east-1", f"arn:{P}"), D: Member(D, "us-east-2", f"arn:{D}")}
    m.writer = P
    m.made = made  # type: ignore[attr-defined]
    return m


def _members(m: AuroraModel) -> dict[str, dict]:
    return {x["DBClusterArn"]: x for x in m.describe()["GlobalClusterMembers"]}


def test_switchover_moves_the_writer_after_the_operation(model):
    model.switch_s = 0.2
    doc = model.switchover(f"arn:{D}")
    assert doc["FailoverState"]["Status"] == "switching-over" and not doc["FailoverState"]["IsDataLossAllowed"]
    with pytest.raises(InvalidState, match="in progress"):
        model.switchover(f"arn:{D}")
    time.sleep(0.25)
    assert _members(model)[f"arn:{D}"]["IsWriter"] and "FailoverState" not in model.describe()


def test_unplanned_failover_then_rejoin_through_pending_resync(model):
    model.resync_s = 0.2
    model.failover(f"arn:{D}", allow_data_loss=True)
    assert model.writer_region() == "us-east-2"
    with pytest.raises(InvalidState, match="unreachable"):
        model.switchover(f"arn:{P}")  # the old primary is cut off: no switchover back
    snapshot = model.recover("us-east-1")
    assert snapshot and snapshot.startswith(f"rds:unplanned-global-failover-{P}-")
    assert _members(model)[f"arn:{P}"]["SynchronizationStatus"] == "pending-resync"
    with pytest.raises(InvalidState, match="pending-resync"):
        model.switchover(f"arn:{P}")
    time.sleep(0.25)
    assert _members(model)[f"arn:{P}"]["SynchronizationStatus"] == "connected"
    model.switchover(f"arn:{P}")
    assert model.writer_region() == "us-east-1"
    assert model.recover("us-east-1") is None  # nothing cut off any more: no second snapshot


def test_detached_old_primary_leaves_the_global_cluster(model):
    model.detach = True
    model.failover(f"arn:{D}", allow_data_loss=True)
    model.recover("us-east-1")
    assert list(_members(model)) == [f"arn:{D}"]
    assert ("detach", "us-east-1", P) in model.made
    with pytest.raises(InvalidState, match="detached"):
        model.switchover(f"arn:{P}")


def test_rpo_lag_grows_while_replication_is_stopped_and_the_writer_publishes_none(model):
    assert model.rpo_lag_ms() == {("us-east-2", D): 20.0}
    model.pause()
    time.sleep(0.2)
    assert model.rpo_lag_ms()[("us-east-2", D)] >= 200
    model.resume()
    model.failover(f"arn:{D}", allow_data_loss=True)
    assert model.rpo_lag_ms() == {}  # the new writer publishes none; the old primary is cut off


@pytest.fixture
def upstream():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _post(url: str, region: str, timeout: float = 2.0) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("POST", "/", body=b"hello", headers={
            "Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20261207/{region}/rds/aws4_request, X"})
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def test_fault_proxy_breaks_only_the_faulted_region(upstream):
    proxy = RegionFaultProxy(upstream).start()
    try:
        assert _post(proxy.url, "us-east-1") == (200, b"hello")
        proxy.faults["us-east-1"] = "hang"
        with pytest.raises(TimeoutError):
            _post(proxy.url, "us-east-1", timeout=0.5)
        assert _post(proxy.url, "us-east-2") == (200, b"hello")
        proxy.faults["us-east-1"] = "5xx"
        assert _post(proxy.url, "us-east-1")[0] == 503
        proxy.faults["us-east-1"] = "refuse"
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            _post(proxy.url, "us-east-1")
    finally:
        proxy.stop()
