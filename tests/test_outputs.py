"""The stacks' outputs are the contract with operators and drctl (contract.OUTPUTS): every key
is written by exactly the stack the contract names, and drctl reads nothing else."""

from __future__ import annotations

from contract import OUTPUTS, PLATFORM_STACKS


def _declared(stack: dict) -> set[str]:
    return {k for k in stack.get("output", {}) if not k.startswith("cross-stack-output-")}


def test_each_contract_output_is_written_by_exactly_its_stack(stacks):
    for key, (owner, description) in OUTPUTS.items():
        writers = [name for name in PLATFORM_STACKS if key in _declared(stacks[name])]
        assert writers == [owner], f"{key}: written by {writers}, contract says {owner}"
        assert stacks[owner]["output"][key]["description"] == description


def test_no_stack_writes_an_output_the_contract_does_not_know(stacks):
    extra = {name: _declared(stacks[name]) - set(OUTPUTS) for name in PLATFORM_STACKS}
    # The created zone's name servers: an instruction for the operator, not read by drctl.
    assert extra == {name: set() for name in PLATFORM_STACKS} | {
        "payments-dr-foundation": {"hosted_zone_name_servers"}}


def test_every_output_drctl_reads_is_in_the_contract():
    from drctl.config import OUTPUTS as DRCTL_OUTPUTS

    missing = sorted(set(DRCTL_OUTPUTS) - set(OUTPUTS))
    assert not missing, f"drctl reads outputs no stack declares: {missing}"


def test_plain_setting_outputs_carry_their_values(platform, qa_platform):
    assert platform["output"]["dynamodb_table_name"]["value"] == "payment-transactions-dev"
    assert qa_platform["output"]["dr_region"]["value"] == "us-west-2"
    assert qa_platform["output"]["environment_suffix"]["value"] == "qa"
    assert platform["output"]["replication_lag_threshold_seconds"]["value"] == 1.0
    assert platform["output"]["alarm_name_prefix"]["value"] == "payments-dev-"
    assert platform["output"]["dr_api_endpoint"]["value"] == "https://us-east-2.payments-dev.example.com"
