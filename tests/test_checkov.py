"""Security gate: checkov over every synthesized stack, zero unaccepted findings, in every
environment the workflow plans (default synth, dev, prod)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import checkov_gate  # noqa: E402

# What the workflow's GitHub environments hold (representative values): HOSTED_ZONE_ID is
# required there, so no zone is created; prod turns deletion protection on.
CI_ENVIRONMENTS = {
    "dev": {"ENVIRONMENT_SUFFIX": "dev", "DOMAIN_NAME": "payments-dev.acme-payments.net",
            "HOSTED_ZONE_ID": "Z0123456789DEVZONE", "ALARM_EMAIL": "oncall@acme-payments.net",
            "AWS_ACCOUNT_ID": "111111111111", "CI_GITHUB_REPOSITORY": "acme-payments/payments-dr"},
    "prod": {"ENVIRONMENT_SUFFIX": "prod", "DOMAIN_NAME": "payments.acme-payments.net",
             "HOSTED_ZONE_ID": "Z0123456789PRODZONE", "ALARM_EMAIL": "oncall@acme-payments.net",
             "AWS_ACCOUNT_ID": "222222222222", "CI_GITHUB_REPOSITORY": "acme-payments/payments-dr"},
}


@pytest.mark.slow
def test_checkov_passes_on_every_stack_in_every_environment(stacks, synth_stacks):
    outdirs = {checkov_gate.DEFAULT_ENVIRONMENT: synth_stacks.outdir_of()}
    for env, settings in CI_ENVIRONMENTS.items():
        synth_stacks(**settings)
        outdirs[env] = synth_stacks.outdir_of(**settings)
    ok, problems, results = checkov_gate.run_gate(outdirs)
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


def test_undeclared_environment_fails_the_gate(tmp_path):
    (tmp_path / "stacks" / "tiny").mkdir(parents=True)
    (tmp_path / "stacks" / "tiny" / "cdk.tf.json").write_text(TINY_QUEUE)
    ok, problems, _ = checkov_gate.run_gate({"staging": tmp_path}, suppressions=[], declared=("default",))
    assert not ok and any("'staging' is not declared" in p for p in problems), problems


TINY_QUEUE = '{"resource": {"aws_sqs_queue": {"q": {"name": "q", "sqs_managed_sse_enabled": true}}}}'
# An unencrypted bucket: CKV_AWS_18 (access logging) among others fails on it.
TINY_BUCKET = ('{"resource": {"aws_s3_bucket": {"b": {"bucket": "b", "//": {"metadata": '
               '{"path": "tiny/audit/bucket"}}}}}}')


@pytest.mark.slow
def test_environment_specific_suppressions(tmp_path):
    """An entry applies only where it says; unmatched in one of its environments = stale."""
    for env in ("dev", "prod"):
        (tmp_path / env / "stacks" / "tiny").mkdir(parents=True)
    (tmp_path / "dev" / "stacks" / "tiny" / "cdk.tf.json").write_text(TINY_BUCKET)  # finding in dev
    (tmp_path / "prod" / "stacks" / "tiny" / "cdk.tf.json").write_text(TINY_QUEUE)  # none in prod
    outdirs = {"dev": tmp_path / "dev", "prod": tmp_path / "prod"}
    _, _, results = checkov_gate.run_gate(outdirs, suppressions=[])
    dev_failed = {c for r in results if r.environment == "dev" for c, _, _ in r.failed}
    assert "CKV_AWS_18" in dev_failed
    accept_all = [checkov_gate.Suppression(c, ("aws_s3_bucket.tiny/audit/bucket",), "x" * 50, ("dev",))
                  for c in sorted(dev_failed)]
    ok, problems, _ = checkov_gate.run_gate(outdirs, suppressions=accept_all)
    assert ok, problems
    everywhere = [checkov_gate.Suppression(s.check, s.resources, s.reason, None) for s in accept_all]
    ok, problems, _ = checkov_gate.run_gate(outdirs, suppressions=everywhere)
    assert not ok
    assert any("stale suppression: CKV_AWS_18" in p and "'prod'" in p for p in problems), problems
    prod_only = [checkov_gate.Suppression(s.check, s.resources, s.reason, ("prod",)) for s in accept_all]
    ok, problems, _ = checkov_gate.run_gate(outdirs, suppressions=prod_only)
    assert not ok
    assert any(p.startswith("tiny [dev]: CKV_AWS_18 failed on aws_s3_bucket.tiny/audit/bucket") for p in problems)


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
    assert not ok and any("stale suppression" in p for p in problems), problems
