"""Session-wide synthesized app: the stacks are synthesized once per pytest session.

`synth_stacks(env)` synthesizes the real app (main.build_app) with settings from the given
environment into a temporary folder and returns {stack name: parsed cdk.tf.json}; results
are cached per environment, so each configuration costs one synth per session.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import main  # noqa: E402,F401  # first: main.py installs fast provider imports (modules/fast_provider.py)
from contract import BOOTSTRAP_STACK, PLATFORM_STACKS  # noqa: E402,F401

_CACHE: dict[tuple, dict] = {}


def _share_botocore_data() -> None:
    """Every boto3 Session reads its service models and endpoint data from disk again (its
    Loader caches per instance), and the code under test makes a Session per client by design
    (thread safety): ~0.1 s per client, a few clients per test. The files do not change during
    a run, and within one Session botocore already hands the same parsed data to every client,
    so all Loaders with the same search paths share one cache here."""
    from botocore import loaders

    shared: dict[tuple[str, ...], dict] = {}
    original_init = loaders.Loader.__init__

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self._cache = shared.setdefault(tuple(self.search_paths), {})

    loaders.Loader.__init__ = __init__


_share_botocore_data()

# Hypothesis: the full example count in CI (CI=true, as GitHub Actions and .ci/run set it),
# a tenth locally; HYPOTHESIS_PROFILE=ci|dev picks one explicitly. Tests set no max_examples.
hypothesis_settings.register_profile("ci", max_examples=1000)
hypothesis_settings.register_profile("dev", max_examples=100)
hypothesis_settings.load_profile(os.environ.get(
    "HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI", "").lower() == "true" else "dev"))


def synthesize(environ: dict[str, str], outdir: Path) -> dict[str, dict]:
    from main import build_app
    from modules.settings import Settings

    app = build_app(Settings.from_env(environ), outdir=str(outdir))
    app.synth()
    _terraform_accepts(outdir, environ)
    stacks = _read_stacks(outdir)
    _aws_api_accepts(stacks, environ)
    return stacks


def _aws_api_accepts(stacks: dict[str, dict], environ: dict[str, str]) -> None:
    """Every literal of every profile the suite synthesizes meets the AWS API's request
    constraints (scripts/api_constraints.py; tests/test_api_constraints.py)."""
    import api_constraints

    report = api_constraints.check_stacks(stacks)
    assert not report.violations and not report.unmapped, \
        f"the AWS API would refuse values synthesized with settings {environ or 'default'}:\n" + \
        "\n".join(map(str, report.violations)) + "".join(
            f"\nunmapped resource type {t} (scripts/api_constraints.py)" for t in report.unmapped)


def _terraform_accepts(outdir: Path, environ: dict[str, str]) -> None:
    """Every settings profile the suite synthesizes must pass Terraform's own configuration
    check (tests/terraform_support.py); tests/test_terraform.py requires terraform in CI."""
    from terraform_support import assert_terraform_accepts, terraform_check

    try:
        terraform_check.terraform_version()
    except terraform_check.TerraformMissing:
        return
    assert_terraform_accepts(outdir, f"settings {environ or 'default'}")


def _read_stacks(outdir: Path) -> dict[str, dict]:
    return {d.name: json.loads((d / "cdk.tf.json").read_text())
            for d in sorted((outdir / "stacks").iterdir())}


def _shared_synth(environ: dict[str, str], root: Path) -> Path:
    """One synth per settings profile per run, also under pytest-xdist (`make test` runs two
    workers): the first worker to need a profile synthesizes it (and its Terraform and API
    checks) into the run's shared temporary folder under a lock; the others wait for it and
    read the JSON. A failed synth leaves no marker, so each worker that needs it fails too."""
    import fcntl
    import hashlib

    name = hashlib.sha256(json.dumps(sorted(environ.items())).encode()).hexdigest()[:16]
    outdir, done = root / f"cdktf-out-{name}", root / f"cdktf-out-{name}.done"
    with open(root / f"cdktf-out-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            if outdir.exists():
                import shutil
                shutil.rmtree(outdir)
            outdir.mkdir()
            synthesize(environ, outdir)
            done.touch()
    return outdir


@pytest.fixture(scope="session")
def synth_stacks(tmp_path_factory):
    # pytest-xdist gives each worker its own base temp folder inside the run's; the run's is shared.
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base

    def _synth(**environ: str) -> dict[str, dict]:
        key = tuple(sorted(environ.items()))
        if key not in _CACHE:
            outdir = _shared_synth(environ, root)
            _CACHE[key] = {"stacks": _read_stacks(outdir), "outdir": outdir}
        return _CACHE[key]["stacks"]

    _synth.outdir_of = lambda **environ: _CACHE[tuple(sorted(environ.items()))]["outdir"]
    return _synth


from platform_support import PROD, QA, STANDARD, TUNED, merged  # noqa: E402  (shared with test modules)


@pytest.fixture(scope="session")
def stacks(synth_stacks) -> dict[str, dict]:
    """Default settings (ENVIRONMENT_SUFFIX=dev, us-east-1 + us-east-2): the dev cost profile."""
    return synth_stacks()


@pytest.fixture(scope="session")
def standard_stacks(synth_stacks) -> dict[str, dict]:
    """The default environment with COST_PROFILE=standard (what prod-like environments run)."""
    return synth_stacks(**STANDARD)


@pytest.fixture(scope="session")
def standard_platform(standard_stacks) -> dict:
    return merged(standard_stacks)


@pytest.fixture(scope="session")
def platform(stacks) -> dict:
    """Every platform stack of the default synth, merged (see `merged`)."""
    return merged(stacks)


@pytest.fixture(scope="session")
def bootstrap(stacks) -> dict:
    return stacks[BOOTSTRAP_STACK]


@pytest.fixture(scope="session")
def qa_stacks(synth_stacks) -> dict[str, dict]:
    """A non-default valid configuration: another environment and DR region."""
    return synth_stacks(**QA)


@pytest.fixture(scope="session")
def qa_platform(qa_stacks) -> dict:
    return merged(qa_stacks)


@pytest.fixture(scope="session")
def prod_stacks(synth_stacks) -> dict[str, dict]:
    return synth_stacks(**PROD)


@pytest.fixture(scope="session")
def prod_platform(prod_stacks) -> dict:
    return merged(prod_stacks)


@pytest.fixture(scope="session")
def tuned_stacks(synth_stacks) -> dict[str, dict]:
    """Every tuning knob a tier test needs, in one synth (platform_support.TUNED)."""
    return synth_stacks(**TUNED)


@pytest.fixture(scope="session")
def tuned_platform(tuned_stacks) -> dict:
    return merged(tuned_stacks)


@pytest.fixture(scope="session", autouse=True)
def _early_checkov_gate(request, synth_stacks):
    """A single-process run starts the live checkov gate (tests/checkov_live.py) before the
    first test when its test is selected: its ~10 CPU-s process runs alongside the session, on
    the other core. Under pytest-xdist every worker collects every test, so the gate starts
    only in the worker that runs its test, when it runs (the other worker uses the other core)."""
    import checkov_live

    if os.environ.get("PYTEST_XDIST_WORKER") or not checkov_live.selected(request.session.items):
        return None
    return checkov_live.start(synth_stacks)


@pytest.fixture(scope="session")
def live_checkov_gate(_early_checkov_gate, synth_stacks):
    import checkov_live

    return _early_checkov_gate or checkov_live.start(synth_stacks)


# -- one moto server on 127.0.0.1 for every test that needs separate processes or endpoints --

@pytest.fixture(scope="session")
def moto_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto_url(moto_server):
    """A clean moto state per test."""
    import requests
    requests.post(f"{moto_server}/moto-api/reset", timeout=5)
    return moto_server
