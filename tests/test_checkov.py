"""Security gate: checkov over every synthesized stack, zero unaccepted findings, in every
environment the workflow plans (default synth, dev, prod): one live checkov run over all of
them. The gate's own decisions are tested on recorded checkov output (tests/checkov_recording.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import checkov_gate  # noqa: E402
from checkov_live import CI_ENVIRONMENTS  # noqa: E402
from checkov_recording import INPUTS, Replay, record  # noqa: E402


def test_checkov_passes_on_every_stack_in_every_environment(stacks, live_checkov_gate):
    """The gate was started before the first test (tests/checkov_live.py); here it is awaited."""
    assert live_checkov_gate is not None, "conftest.py starts the gate when this test is selected"
    outdirs, runs = live_checkov_gate.outdirs, live_checkov_gate.runs
    ok, problems, results = live_checkov_gate.result.result(timeout=900)
    assert len(runs) == 1, "one checkov process for every stack of every environment"
    assert {(r.environment, r.stack) for r in results} == {(e, s) for e in outdirs for s in stacks}
    for r in results:
        # The regional stacks hold 150+ resources; foundation and routing a dozen or two; the
        # account stack three (a role and one API Gateway setting per region).
        minimum = {"payments-dr-primary": 100, "payments-dr-dr": 100,
                   "payments-dr-account": 5}.get(r.stack, 10)
        assert r.passed > minimum, f"{r.stack} [{r.environment}]: suspiciously few checks ran ({r.passed})"
    assert ok, "\n".join(problems)
    # Deletion protection is on in prod, so its suppression must not be needed there.
    assert not any(c == "CKV_AWS_139" for r in results if r.environment == "prod" for c, _ in r.accepted)


def test_workflow_gates_exactly_the_declared_environments():
    declared, _ = checkov_gate.load_file()
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "review.yml").read_text())
    planned = workflow["jobs"]["plan"]["strategy"]["matrix"]["environment"]
    assert set(planned) | {checkov_gate.DEFAULT_ENVIRONMENT} == set(declared)
    assert set(CI_ENVIRONMENTS) == set(planned)


def test_suppression_environments_must_be_declared(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("environments: [default, prod]\nsuppressions:\n  - check: CKV_AWS_18\n"
                    "    environments: [staging]\n    resources: [aws_s3_bucket.x/y]\n"
                    "    reason: " + "r" * 50 + "\n")
    with pytest.raises(checkov_gate.SuppressionError, match=r"\['staging'\].*declared environments"):
        checkov_gate.load_file(path)
    path.write_text("suppressions: []\n")
    with pytest.raises(checkov_gate.SuppressionError, match="top-level `environments`"):
        checkov_gate.load_file(path)


def _write(outdir: Path, stack: str, document: dict) -> Path:
    (outdir / "stacks" / stack).mkdir(parents=True)
    (outdir / "stacks" / stack / "cdk.tf.json").write_text(json.dumps(document))
    return outdir


def test_undeclared_environment_fails_the_gate(tmp_path):
    _write(tmp_path, "tiny", INPUTS["queue"])
    ok, problems, _ = checkov_gate.run_gate({"staging": tmp_path}, suppressions=[], declared=("default",),
                                            checkov=Replay())
    assert not ok and any("'staging' is not declared" in p for p in problems), problems


def test_environment_specific_suppressions(tmp_path):
    """An entry applies only where it says; unmatched in one of its environments = stale."""
    outdirs = {"dev": _write(tmp_path / "dev", "tiny", INPUTS["bucket"]),    # findings in dev
               "prod": _write(tmp_path / "prod", "tiny", INPUTS["queue"])}  # none in prod
    replay = Replay()
    _, _, results = checkov_gate.run_gate(outdirs, suppressions=[], checkov=replay)
    dev_failed = {c for r in results if r.environment == "dev" for c, _, _ in r.failed}
    assert "CKV_AWS_18" in dev_failed
    accept_all = [checkov_gate.Suppression(c, ("aws_s3_bucket.tiny/audit/bucket",), "x" * 50, ("dev",))
                  for c in sorted(dev_failed)]
    ok, problems, _ = checkov_gate.run_gate(outdirs, suppressions=accept_all, checkov=replay)
    assert ok, problems
    everywhere = [checkov_gate.Suppression(s.check, s.resources, s.reason, None) for s in accept_all]
    ok, problems, _ = checkov_gate.run_gate(outdirs, suppressions=everywhere, checkov=replay)
    assert not ok
    assert any("stale suppression: CKV_AWS_18" in p and "'prod'" in p for p in problems), problems
    prod_only = [checkov_gate.Suppression(s.check, s.resources, s.reason, ("prod",)) for s in accept_all]
    ok, problems, _ = checkov_gate.run_gate(outdirs, suppressions=prod_only, checkov=replay)
    assert not ok
    assert any(p.startswith("tiny [dev]: CKV_AWS_18 failed on aws_s3_bucket.tiny/audit/bucket") for p in problems)
    assert replay.runs == 4, "one checkov run per gate run, both environments in it"


def test_the_scanned_copy_differs_from_the_stack_only_where_checkov_cannot_parse(stacks):
    for stack in stacks.values():
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
    ok, problems, _ = checkov_gate.run_gate(_write(tmp_path, "broken", INPUTS["bucket-required-version"]),
                                            suppressions=[], checkov=Replay())
    assert not ok
    assert any(p.startswith("broken: CKV_AWS_18 failed on aws_s3_bucket.broken/b") for p in problems), problems
    assert not any("parsing error" in p for p in problems), "required_version is dropped, not refused"
    outdir = tmp_path / "more"
    _write(outdir, "listed", INPUTS["resource-as-list"])
    _write(outdir, "empty", INPUTS["outputs-only"])
    ok, problems, _ = checkov_gate.run_gate(outdir, suppressions=[], checkov=Replay())
    assert not ok
    assert "listed: checkov reported 1 parsing error(s)" in problems, problems
    assert "empty: checkov ran zero checks (unparsed input?)" in problems, problems


def test_stale_suppression_fails_the_gate(tmp_path):
    stale = checkov_gate.Suppression("CKV_AWS_18", ("aws_s3_bucket.tiny/nothing",), "x" * 50)
    ok, problems, _ = checkov_gate.run_gate(_write(tmp_path, "tiny", INPUTS["queue"]), suppressions=[stale],
                                            checkov=Replay())
    assert not ok and any("stale suppression" in p for p in problems), problems
    ok, problems, _ = checkov_gate.run_gate(tmp_path, suppressions=[], checkov=Replay())
    assert ok, problems


def test_a_report_that_does_not_add_up_fails_loudly(tmp_path):
    """Splitting one run's report per stack must not lose a finding or invent a file."""
    files = ["0/a/cdk.tf.json"]
    report = {"results": {"passed_checks": [], "failed_checks": [
        {"check_id": "CKV_X", "resource": "aws_s3_bucket.b", "file_path": "/0/b/cdk.tf.json"}],
        "parsing_errors": []}, "summary": {"passed": 0, "failed": 1, "parsing_errors": 0}}
    with pytest.raises(RuntimeError, match="not given"):
        checkov_gate.report_by_file(json.dumps(report), tmp_path, files)
    report["results"]["failed_checks"][0]["file_path"] = "/0/a/cdk.tf.json"
    assert len(checkov_gate.report_by_file(json.dumps(report), tmp_path, files)[files[0]].failed) == 1
    report["summary"]["failed"] = 2
    with pytest.raises(RuntimeError, match="do not add up"):
        checkov_gate.report_by_file(json.dumps(report), tmp_path, files)


@pytest.mark.slow
def test_the_recording_is_what_checkov_prints_today():
    """The replayed output is checkov's: recorded again live, it is the same (CI runs this)."""
    recorded = json.loads(Path(__file__).with_name("checkov_recorded.json").read_text())
    assert record() == recorded, \
        "checkov's output changed: re-record with .venv/bin/python tests/checkov_recording.py"
