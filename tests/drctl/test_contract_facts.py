"""Cross-boundary facts have one definition: contract.py (issue 23).

modules/, lambda/ (the package ships contract.py) and drctl/ import these; none of them
spells one as a literal again. Docstrings and comments may name them.
"""

from __future__ import annotations

import ast
import re
import threading
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

import contract

ROOT = Path(__file__).resolve().parents[2]
TIERS = ("modules", "lambda", "drctl")
# literal -> the contract name that now holds it
RETYPED = {
    "nonce#": "NONCE_KEY_PREFIX", "receipts/": "RECEIPTS_PREFIX", "health/": "HEALTH_PREFIX",
    "heartbeat/": "HEARTBEAT_PREFIX", "expiration": "IDEMPOTENCY_TTL_ATTRIBUTE",
    "/health": "HEALTH_PATH", "/probe": "PROBE_PATH", "consecutiveFailures": "LATCH_FAILURES",
    "METRICS_NAMESPACE": "ENV_METRICS_NAMESPACE",
    "POWERTOOLS_METRICS_NAMESPACE": "ENV_METRICS_NAMESPACE",
    "AuroraGlobalDBRPOLag": "AURORA_RPO_LAG", "ReplicationLatency": "*_REPLICATION_LATENCY",
    "OperationsFailedReplication": "S3_REPLICATION_FAILED",
    "OperationsPendingReplication": "S3_REPLICATION_PENDING",
    "ObservedReplicationDelay": "CANARY_DELAY", "PeerHealthy": "PEER_HEALTHY",
    "OutcomeUnknown": "METRIC_OUTCOME_UNKNOWN",
    "UnhandledError": "METRIC_UNHANDLED_ERROR", "ReceiptWriteFailed": "METRIC_RECEIPT_WRITE_FAILED",
    "DependencyFailure": "METRIC_DEPENDENCY_FAILURE", "Code": "aws_error_code",
    "status-index": "STATUS_INDEX", "customer-index": "CUSTOMER_INDEX",
}

# The environment variables our functions read (contract.ENV_*): modules/ sets them and lambda/
# reads them through the constants; a literal naming one anywhere (a key, a read, an error
# message) is a second definition. Powertools' and the Lambda runtime's own are not ours.
ENV_NAMES = {value: name for name, value in vars(contract).items() if name.startswith("ENV_")}
ENV_NAME_RE = re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(ENV_NAMES))) + r")\b")


def _literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings]


def test_no_tier_retypes_a_contract_fact():
    found = []
    for tier in TIERS:
        for path in sorted((ROOT / tier).rglob("*.py")):
            for line, value in _literals(path):
                if value in RETYPED:
                    found.append(f"{path.relative_to(ROOT)}:{line}: {value!r} is contract.{RETYPED[value]}")
    assert not found, "\n".join(found)


def test_no_tier_spells_an_environment_variable_name():
    found = []
    for tier in TIERS:
        for path in sorted((ROOT / tier).rglob("*.py")):
            for line, value in _literals(path):
                for match in ENV_NAME_RE.finditer(value):
                    found.append(f"{path.relative_to(ROOT)}:{line}: {value!r} names "
                                 f"contract.{ENV_NAMES[match.group()]}")
    assert not found, "\n".join(found)


def test_the_contract_names_each_environment_variable_once():
    """One constant per variable, and none of them Powertools' or the runtime's own."""
    constants = [name for name in vars(contract) if name.startswith("ENV_")]
    assert len(ENV_NAMES) == len(constants) >= 33
    assert not {value for value in ENV_NAMES if value.startswith(("AWS_", "LAMBDA_", "_"))}
    assert set(ENV_NAMES) >= contract.FUNCTION_TUNING_VARIABLES


def test_the_environment_guard_sees_keys_reads_and_messages(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('"""REGION_ROLE in a docstring is fine."""\n'
                      'env = {"TRANSACTIONS_TABLE": name, "POWERTOOLS_SERVICE_NAME": "x"}\n'
                      'role = os.environ.get("REGION_ROLE")\n'
                      'error = f"environment variable PEER_REGION must be {x}"\n'
                      'fine = "TRANSACTIONS_TABLE_ARN, ENV_AUDIT_BUCKET"\n')
    assert [m.group() for _, v in _literals(sample) for m in ENV_NAME_RE.finditer(v)] == [
        "TRANSACTIONS_TABLE", "REGION_ROLE", "PEER_REGION"]


def test_the_guard_sees_literals_in_f_strings_and_calls(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('"""nonce# in a docstring is fine."""\nkey = f"receipts/{x}"\n'
                      'code = e.response.get("Error", {}).get("Code")\n')
    assert [v for _, v in _literals(sample) if v in RETYPED] == ["receipts/", "Code"]


@pytest.mark.parametrize(("error", "missing", "code"), [
    (ClientError({"Error": {"Code": "ParameterNotFound"}}, "GetParameter"), "Unknown", "ParameterNotFound"),
    (ClientError({"Error": {}}, "GetParameter"), "Unknown", "Unknown"),
    (ClientError({}, "GetParameter"), "", ""),
    (EndpointConnectionError(endpoint_url="https://ssm.us-east-2.amazonaws.com"), "",
     "EndpointConnectionError"),
])
def test_one_reader_of_aws_error_codes(error, missing, code):
    assert contract.aws_error_code(error, missing) == code


def test_the_drill_resolves_names_with_a_timeout(monkeypatch):
    """The drill had its own getaddrinfo without one: a hung resolver stalled the drill."""
    import socket

    from drctl import gateways
    from drctl.drill.ports import resolve_like_a_client

    release = threading.Event()

    def hung(*args: object, **kwargs: object) -> list[object]:
        release.wait(3)
        raise OSError("resolver gave up")

    monkeypatch.setattr(socket, "getaddrinfo", hung)
    monkeypatch.setattr(gateways.DnsGateway.__init__, "__defaults__", (0.2,))
    started = time.monotonic()
    try:
        assert resolve_like_a_client("payments.example.com") == frozenset()
        assert time.monotonic() - started < 1.5
    finally:
        release.set()
