"""One latch format (contract.latch_json) for its two writers: the DR probe and `drctl failback`.

drctl wrote only state/since/by/reason: a field the probe (or an operator) had added was
dropped on every `drctl failback`, and the probe's own `consecutiveFailures` went missing
instead of being reset explicitly.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lambda"
if str(LAMBDA_DIR) not in sys.path:
    sys.path.insert(0, str(LAMBDA_DIR))

from drctl_fakes import FakeClock  # noqa: E402
from ops import latch as probe_latch  # noqa: E402

import contract  # noqa: E402
from drctl import gateways, operations  # noqa: E402

NAME = "/payments-dr/dev/failback/primary"
BLOCKED_BY_PROBE = probe_latch.Latch(
    contract.FAILBACK_BLOCKED, "2026-11-26T03:00:00Z", probe_latch.BY_PROBE,
    "us-east-1 failed 3 consecutive probes", 3, {"ticket": "INC-42"}).to_json()


class _Ssm:
    """The two SSM calls ParameterGateway makes, on one stored value."""

    def __init__(self, value: str) -> None:
        self.value = value

    def get_parameter(self, Name: str) -> dict:
        return {"Parameter": {"Name": Name, "Type": "String", "Value": self.value}}

    def put_parameter(self, Name: str, Value: str, Type: str, Overwrite: bool) -> dict:
        assert (Name, Type, Overwrite) == (NAME, "String", True)
        self.value = Value
        return {"Version": 2}


class _Gateways:
    def __init__(self, ssm: _Ssm) -> None:
        self.ssm = ssm

    def parameters(self, region: str) -> gateways.ParameterGateway:
        return gateways.ParameterGateway(self.ssm, region)


def test_drctl_reads_every_field_the_probe_writes():
    read = gateways.Latch.parse(BLOCKED_BY_PROBE)
    assert (read.state, read.by, read.failures, read.extra) == (
        "blocked", "probe", 3, {"ticket": "INC-42"})
    assert json.loads(read.to_json()) == json.loads(BLOCKED_BY_PROBE)


def test_drctl_failback_keeps_unknown_fields_and_resets_the_count(cfg, log):
    ssm = _Ssm(BLOCKED_BY_PROBE)
    check = operations.set_gate(cfg, _Gateways(ssm), FakeClock(), log, contract.PRIMARY,
                                contract.FAILBACK_OPEN, "alice", "caught up")
    assert check.state == "OK", check.detail
    written = json.loads(ssm.value)
    assert written == {"state": "open", "since": written["since"], "by": "alice",
                       "reason": "caught up", "consecutiveFailures": 0, "ticket": "INC-42"}
    # ... and the probe reads what drctl wrote as an open latch with no failures
    reread = probe_latch.parse(ssm.value, now=0)
    assert (reread.state, reread.failures, reread.extra) == ("open", 0, {"ticket": "INC-42"})
    assert set(written) == {*contract.LATCH_FIELDS, "ticket"}
