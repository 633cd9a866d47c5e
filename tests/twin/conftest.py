"""The twin of the default synth, stood up once per session (tests/conftest.py synthesizes it)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lambda"))  # ops.signing / ops.httpcheck: what clients and the probe use
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ops.clientkeys import seed_document  # noqa: E402
from ops.signing import new_key  # noqa: E402
from twin_support import CLIENT_ID, PROFILES  # noqa: E402

# Scenario 2's fault kinds per profile (test_outage.py): every kind on the default synth, the
# hang on the prod-like one (the rest would double the run for the same code path).
OUTAGE_FAULTS = {"default": {"hang", "refuse", "5xx"}, "prod": {"hang"}}


def pytest_collection_modifyitems(config, items):
    """Deselect (not skip) the outage scenarios a profile does not play (OUTAGE_FAULTS)."""
    keep, drop = [], []
    for item in items:
        params = item.callspec.params if hasattr(item, "callspec") else {}
        wanted = OUTAGE_FAULTS.get(params.get("twin", ""))
        (drop if "outage" in params and wanted is not None and params["outage"] not in wanted else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session", params=sorted(PROFILES))
def twin(request, synth_stacks):
    """One twin per profile at a time (pytest ends one before it starts the next)."""
    from twin.core import Twin

    environ = PROFILES[request.param]
    synth_stacks(**environ)
    with Twin(synth_stacks.outdir_of(**environ), lag_s=0.3) as running:
        yield running


@pytest.fixture(scope="session")
def client_key(twin) -> str:
    """A client key seeded as docs/calling-the-api.md tells operators: the client-keys secret's
    value in the primary region (Secrets Manager replicates it; in the twin, twin.replication)."""
    key = new_key()
    primary = twin.region_of("primary")
    secret = twin.function(primary, _authorizer(twin, primary)).environment["CLIENT_KEYS_SECRET"]
    twin.client("secretsmanager", primary).put_secret_value(
        SecretId=secret, SecretString=seed_document(CLIENT_ID, key))
    assert twin.replication.wait_caught_up(10), "the client-keys secret did not reach the DR region"
    return key


def _authorizer(twin, region: str) -> str:
    return next(fn.name for (r, _), fn in twin.pool.functions.items()
                if r == region and fn.handler == "authorizer.lambda_handler")
