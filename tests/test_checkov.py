"""Security gate: checkov over every synthesized stack, zero unaccepted findings."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import checkov_gate  # noqa: E402


@pytest.mark.slow
def test_checkov_passes_on_every_stack(stacks, synth_stacks):
    ok, problems, results = checkov_gate.run_gate(synth_stacks.outdir_of())
    assert {r.stack for r in results} == set(stacks)
    for r in results:
        # The small stacks (foundation, account) hold a dozen resources; the regional ones 80+.
        minimum = 100 if r.stack in ("payments-dr-primary", "payments-dr-dr") else 10
        assert r.passed > minimum, f"{r.stack}: suspiciously few checks ran ({r.passed})"
    assert ok, "\n".join(problems)


def test_the_scanned_copy_differs_from_the_stack_only_where_checkov_cannot_parse(stacks):
    for name, stack in stacks.items():
        scanned = checkov_gate.checkov_input(stack)
        assert "required_version" not in scanned["terraform"]
        assert {**scanned["terraform"], "required_version": stack["terraform"]["required_version"]} \
            == stack["terraform"]
        assert {k: v for k, v in scanned.items() if k != "terraform"} == {
            k: v for k, v in stack.items() if k != "terraform"}


def test_suppressions_name_resources_and_give_reasons():
    suppressions = checkov_gate.load_suppressions()
    assert suppressions
    for s in suppressions:
        assert len(s.reason) > 40, s
        assert all("/" in p for p in s.resources), f"{s.check}: patterns must name construct paths"


def test_gate_rejects_unparsed_input_and_unaccepted_findings(tmp_path):
    """The traps: checkov reports 0 checks and exits 0 on input it cannot parse."""
    stack_dir = tmp_path / "stacks" / "broken"
    stack_dir.mkdir(parents=True)
    (stack_dir / "cdk.tf.json").write_text('{"terraform": {"required_version": ">= 1.11"}, '
                                           '"resource": {"aws_s3_bucket": {"b": {"bucket": "x"}}}}')
    ok, problems, _ = checkov_gate.run_gate(tmp_path, suppressions=[])
    assert not ok
    assert any("zero checks" in p or "parsing error" in p or "failed on" in p for p in problems), problems


def test_stale_suppression_fails_the_gate(tmp_path):
    stack_dir = tmp_path / "stacks" / "tiny"
    stack_dir.mkdir(parents=True)
    (stack_dir / "cdk.tf.json").write_text(
        '{"resource": {"aws_sqs_queue": {"q": {"name": "q", "sqs_managed_sse_enabled": true}}}}')
    stale = checkov_gate.Suppression("CKV_AWS_18", ("aws_s3_bucket.tiny/nothing",), "x" * 50)
    ok, problems, _ = checkov_gate.run_gate(tmp_path, suppressions=[stale])
    assert any("stale suppression" in p for p in problems), problems
