"""Session-wide synthesized app: the stacks are synthesized once per pytest session.

`synth_stacks(env)` synthesizes the real app (main.build_app) with settings from the given
environment into a temporary folder and returns {stack name: parsed cdk.tf.json}; results
are cached per environment, so each configuration costs one synth per session.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import main  # noqa: E402,F401  # first: main.py installs fast provider imports (modules/fast_provider.py)
from contract import BOOTSTRAP_STACK, PLATFORM_STACKS  # noqa: E402

_CACHE: dict[tuple, dict] = {}


def synthesize(environ: dict[str, str], outdir: Path) -> dict[str, dict]:
    from main import build_app
    from modules.settings import Settings

    app = build_app(Settings.from_env(environ), outdir=str(outdir))
    app.synth()
    stacks = {}
    for stack_dir in sorted((outdir / "stacks").iterdir()):
        stacks[stack_dir.name] = json.loads((stack_dir / "cdk.tf.json").read_text())
    return stacks


@pytest.fixture(scope="session")
def synth_stacks(tmp_path_factory):
    def _synth(**environ: str) -> dict[str, dict]:
        key = tuple(sorted(environ.items()))
        if key not in _CACHE:
            outdir = tmp_path_factory.mktemp("cdktf-out")
            _CACHE[key] = {"stacks": synthesize(environ, outdir), "outdir": outdir}
        return _CACHE[key]["stacks"]

    _synth.outdir_of = lambda **environ: _CACHE[tuple(sorted(environ.items()))]["outdir"]
    return _synth


# Settings a prod-like environment must have (modules/settings.py refuses it otherwise).
PROD = {"ENVIRONMENT_SUFFIX": "prod", "AWS_ACCOUNT_ID": "123456789012",
        "DOMAIN_NAME": "payments.acme-pay.com", "HOSTED_ZONE_ID": "Z0123456789ABCDEFGHIJ",
        "ALARM_EMAIL": "oncall@acme-pay.com",
        "ALARM_HTTPS_ENDPOINTS": "https://events.pagerduty.com/integration/abc123/enqueue"}


_REMOTE = re.compile(r"\$\{data\.terraform_remote_state\.cross-stack-reference-input-"
                     r"([A-Za-z0-9-]+)\.outputs\.([A-Za-z0-9_-]+)\}")


def merged(stacks: dict[str, dict]) -> dict:
    """All platform stacks as one JSON document, for assertions that do not care which stack
    holds a resource (logical ids are unique across stacks; tests/test_stacks.py checks it).

    Cross-stack references (cdktf's remote-state outputs) are resolved to the producer's own
    expression, so `${aws_kms_key.x.arn}` reads the same whichever stack uses the key; the
    per-stack tests (tests/test_stacks.py) check the remote-state wiring itself."""
    view: dict = {"resource": {}, "data": {}, "output": {}, "ephemeral": {}, "provider": {"aws": []}}
    aliases = set()
    for name in PLATFORM_STACKS:
        stack = stacks[name]
        for kind in ("resource", "data", "ephemeral"):
            for rtype, items in stack.get(kind, {}).items():
                if rtype != "terraform_remote_state":
                    view[kind].setdefault(rtype, {}).update(items)
        view["output"].update({k: v for k, v in stack.get("output", {}).items()
                               if not k.startswith("cross-stack-output-")})
        for provider in stack.get("provider", {}).get("aws", []):
            if provider.get("alias") not in aliases:
                aliases.add(provider.get("alias"))
                view["provider"]["aws"].append(provider)

    def resolve(match: re.Match) -> str:
        return stacks[match.group(1)]["output"][match.group(2)]["value"]

    return json.loads(_REMOTE.sub(resolve, json.dumps(view)))


@pytest.fixture(scope="session")
def stacks(synth_stacks) -> dict[str, dict]:
    """Default settings (ENVIRONMENT_SUFFIX=dev, us-east-1 + us-east-2)."""
    return synth_stacks()


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
    return synth_stacks(ENVIRONMENT_SUFFIX="qa", DR_REGION="us-west-2")


@pytest.fixture(scope="session")
def qa_platform(qa_stacks) -> dict:
    return merged(qa_stacks)


@pytest.fixture(scope="session")
def prod_stacks(synth_stacks) -> dict[str, dict]:
    return synth_stacks(**PROD)


@pytest.fixture(scope="session")
def prod_platform(prod_stacks) -> dict:
    return merged(prod_stacks)
