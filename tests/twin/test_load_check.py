"""Issue 22: the load check (scripts/load_check.py) runs on the twin and reports its figures.

Small on purpose (5 s at 5 payments/s, no wait for the grace period): `make load-check` is the
sustained run. The twin is the session's default-profile twin, shared with the scenarios."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import load_check

pytestmark = pytest.mark.twin


@pytest.mark.parametrize("twin", ["default"], indirect=True)
def test_the_load_check_sends_the_rate_through_the_failover_name_and_reports_every_figure(twin, client_key):
    key = load_check.seed_client_key(twin)
    report = load_check.run_load_check(twin, key, rate=5, duration_s=5, reconcile_every_s=2,
                                       wait_for_reconcile_s=0, environments=2)
    assert report["requests"] == 25 and sum(report["statusCounts"].values()) == 25
    assert set(report["regions"]) == {twin.region_for(report["failoverName"])}
    assert report["sustainedRatePerSecond"] > 0 and report["durationS"] >= 4.8
    assert report["statusCounts"].get("200", 0) > 0
    assert report["status5xx"] == sum(n for s, n in report["statusCounts"].items() if s.startswith("5"))
    # Every non-2xx has a cause from the gateway's trace; the harness's CPU is accounted.
    non_2xx = sum(n for s, n in report["statusCounts"].items() if not s.startswith("2"))
    assert len(report["failures"]) == non_2xx == sum(report["failureCauses"].values())
    assert all(f["cause"] and "no trace" not in f["cause"] for f in report["failures"])
    assert report["cpuSecondsDuringLoad"]["validator"] > 0 and report["coresDemandedDuringLoad"] > 0
    assert report["apiFunctions"]["validator"]["invocations"] >= report["statusCounts"].get("200", 0)
    latency = report["latencyMs"]
    assert 0 < latency["p50"] <= latency["p99"] <= latency["max"]
    # Reconcile ran in both regions from its package, on its scheduled event; nothing it saw is
    # older than the (overridden) grace period yet, so it is caught up to its window's end.
    regions = report["reconcile"]["regions"]
    assert set(regions) == set(twin.ports) and all(r["runs"] >= 1 and r["failedRuns"] == 0 for r in regions.values())
    assert all(r["finalLagSeconds"] is not None and r["finalLagSeconds"] < 60 for r in regions.values())
    assert "LOCAL" in report["label"] and f"p99 {latency['p99']} ms" in load_check.render(report)
    # The scenario tests' client still signs: the load check added its client, replaced none.
    from ops.signing import signed_headers
    from twin_support import CLIENT_ID

    body = json.dumps({"transactionId": f"after-load-{uuid.uuid4().hex[:12]}", "customerId": "c",
                       "amount": 1, "currency": "USD"}).encode()
    response = twin.request("POST", f"https://{report['failoverName']}/validate", body=body,
                            headers={"Content-Type": "application/json",
                                     **signed_headers(key_b64=client_key, client_id=CLIENT_ID, body=body)})
    assert response.status != 401 and response.status != 403
