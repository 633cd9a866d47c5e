"""Every environment variable a function reads is one its aws_lambda_function sets.

A handler that reads a variable the deployment never sets silently runs on its default: the
authorizer read METRICS_NAMESPACE, which only the probe and the heartbeat get, so its
metrics went wherever its default said. The reads are found in the source (ast), following
the handler module's imports inside the package, and compared with the synthesized
`environment.variables` of every function that runs that handler.
"""

from __future__ import annotations

import pytest
from env_reads import LAMBDA_DIR, RUNTIME_VARIABLES, reads
from helpers import resources

import contract


def _functions(stack: dict) -> list[tuple[str, str, set[str]]]:
    return [(name, fn["handler"].rpartition(".")[0], set(fn["environment"]["variables"]))
            for name, fn in sorted(resources(stack, "aws_lambda_function").items())]


def test_the_reader_finds_the_reads_of_every_style():
    """os.environ.get / [] in handlers, ops.env helpers, payments.settings helpers."""
    assert {"MAX_CLOCK_SKEW_SECONDS", "CLIENT_KEYS_SECRET", "NONCE_TABLE",
            "POWERTOOLS_SERVICE_NAME"} <= set(reads("authorizer"))
    assert {"TRANSACTIONS_TABLE", "KMS_KEY_ARN", "REGION_ROLE", "MAX_AMOUNT"} <= set(reads("health"))
    assert {"PEER_HEALTH_URL", "PEER_FAILURES_TO_BLOCK", "DOMAIN_HEALTH_URL"} <= set(reads("probe"))
    assert {"RECONCILE_LOOKBACK_MINUTES", "STATUS_INDEX"} <= set(reads("reconcile"))


@pytest.mark.parametrize("profile", ["platform", "prod_platform"])
def test_every_variable_a_function_reads_is_set_by_its_resource(profile, request):
    stack = request.getfixturevalue(profile)
    functions = _functions(stack)
    assert len(functions) == 12
    unset = []
    for resource, handler, variables in functions:
        for variable, where in sorted(reads(handler).items()):
            if variable not in variables | RUNTIME_VARIABLES | contract.FUNCTION_TUNING_VARIABLES:
                unset.append(f"{resource} ({handler}) reads {variable} in {sorted(where)}")
    assert not unset, "\n".join(unset)


def test_tuning_variables_are_read_by_some_function():
    """The allowance for unset knobs names only variables a handler really reads."""
    read = set().union(*(reads(m) for m in ("authorizer", "health", "validator", "probe",
                                               "heartbeat", "reconcile")))
    assert read >= contract.FUNCTION_TUNING_VARIABLES


def test_every_contract_variable_is_read_by_some_function():
    """contract.ENV_* names only variables a handler (or what it imports) really reads."""
    handlers = sorted(path.stem for path in LAMBDA_DIR.glob("*.py"))
    read = set().union(*(reads(m) for m in handlers))
    ours = {value for name, value in vars(contract).items() if name.startswith("ENV_")}
    # Set on the probe for whoever reads its configuration; the probe derives it from
    # REGION_ROLE (docs/ops-functions.md says "not read").
    set_not_read = {contract.ENV_PEER_ROLE}
    assert not read & set_not_read
    assert not ours - read - set_not_read, sorted(ours - read - set_not_read)
