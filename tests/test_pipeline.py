"""The CI pipeline's scripts: stack order from manifest.json, required settings, setup stamps."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import ci_settings  # noqa: E402
import stacks as stacks_script  # noqa: E402

import contract  # noqa: E402


def manifest(tmp_path: Path, deps: dict[str, list[str]]) -> Path:
    entries = {}
    for name, needs in deps.items():
        (tmp_path / "stacks" / name).mkdir(parents=True)
        (tmp_path / "stacks" / name / "cdk.tf.json").write_text("{}")
        entries[name] = {"name": name, "workingDirectory": f"stacks/{name}", "dependencies": needs}
    (tmp_path / "manifest.json").write_text(json.dumps({"version": "0.21.0", "stacks": entries}))
    return tmp_path


def run_stacks(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "stacks.py"), *args],
                          capture_output=True, text=True, check=False)


def test_dependencies_come_first_and_ties_follow_the_contract(tmp_path):
    edge, primary, dr, routing = contract.PLATFORM_STACKS
    # Listed in a scrambled order; routing reads both regions, the regions read the edge.
    out = manifest(tmp_path, {routing: [primary, dr], dr: [edge], contract.BOOTSTRAP_STACK: [],
                              primary: [edge], edge: [], contract.ACCOUNT_STACK: []})
    proc = run_stacks(str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [contract.ACCOUNT_STACK, contract.BOOTSTRAP_STACK, *contract.PLATFORM_STACKS]
    proc = run_stacks(str(out), "--platform", "--json")
    assert json.loads(proc.stdout) == list(contract.PLATFORM_STACKS)
    assert run_stacks(str(out), "--manual").stdout.split() == [contract.ACCOUNT_STACK, contract.BOOTSTRAP_STACK]


def test_a_dependency_overrides_the_contract_order(tmp_path):
    edge, primary, _, _ = contract.PLATFORM_STACKS
    out = manifest(tmp_path, {edge: [primary], primary: []})
    assert run_stacks(str(out)).stdout.split() == [primary, edge]


@pytest.mark.parametrize("deps, message", [
    ({"a": ["b"], "b": ["a"]}, "dependency cycle between stacks: a, b"),
    ({"a": ["ghost"]}, "stack a depends on ghost, which the manifest does not list"),
])
def test_bad_manifests_exit_2_with_the_reason(tmp_path, deps, message):
    proc = run_stacks(str(manifest(tmp_path, deps)))
    assert proc.returncode == 2
    assert message in proc.stderr and proc.stdout == ""


def test_missing_manifest_or_stack_folder(tmp_path):
    proc = run_stacks(str(tmp_path))
    assert proc.returncode == 2 and "manifest.json not found (run `make synth` first)" in proc.stderr
    out = manifest(tmp_path, {"a": []})
    (out / "stacks" / "a" / "cdk.tf.json").unlink()
    proc = run_stacks(str(out))
    assert proc.returncode == 2 and "names stack a but" in proc.stderr


def test_order_of_the_real_synth_respects_its_manifest(stacks, synth_stacks):
    outdir = synth_stacks.outdir_of()
    deps = stacks_script.load_dependencies(outdir)
    order = stacks_script.ordered(deps)
    assert set(order) == set(stacks)
    for name, needs in deps.items():
        assert all(order.index(n) < order.index(name) for n in needs), (name, needs, order)
    assert contract.BOOTSTRAP_STACK not in stacks_script.select(order, platform=True)


# -- required settings -----------------------------------------------------------------------

COMPLETE = {"ENVIRONMENT_SUFFIX": "prod", "DOMAIN_NAME": "payments.acme-payments.net",
            "HOSTED_ZONE_ID": "Z0123", "ALARM_EMAIL": "oncall@acme-payments.net",
            "AWS_ACCOUNT_ID": "123456789012", "AWS_PLAN_ROLE_ARN": "arn:aws:iam::123456789012:role/plan"}


def run_settings(environ: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "ci_settings.py"), "--environment", "prod", *args],
                          capture_output=True, text=True, check=False, env={"PATH": "/usr/bin:/bin", **environ})


def test_complete_settings_pass():
    assert ci_settings.missing(COMPLETE) == []
    assert run_settings(COMPLETE, "--require").returncode == 0


def test_missing_settings_fail_on_main_and_skip_on_pull_requests():
    partial = {**COMPLETE, "HOSTED_ZONE_ID": " ", "ALARM_EMAIL": ""}
    proc = run_settings(partial, "--require")
    assert proc.returncode == 1
    assert "::error::environment prod: variable HOSTED_ZONE_ID is not set" in proc.stdout
    assert "::error::environment prod: variable ALARM_EMAIL or ALARM_HTTPS_ENDPOINTS is not set" in proc.stdout
    assert run_settings({**partial, "HOSTED_ZONE_ID": "Z1", "ALARM_HTTPS_ENDPOINTS": "https://pager.example"},
                        "--require").returncode == 0
    assert "refusing to synthesize prod with default settings" in proc.stderr
    proc = run_settings(partial)
    assert proc.returncode == 3 and "::warning::environment prod: variable HOSTED_ZONE_ID" in proc.stdout


def test_workflow_passes_every_checked_setting_into_the_plan_job():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "review.yml").read_text())
    env = workflow["jobs"]["plan"]["env"]
    for entry in ci_settings.REQUIRED:
        for name in entry.split(" or "):
            assert env[name] == f"${{{{ vars.{name} }}}}", name


def test_every_action_is_pinned_to_a_commit_with_its_version():
    for path in (ROOT / ".github" / "workflows").glob("*.yml"):
        for line in path.read_text().splitlines():
            if "uses:" in line:
                ref = line.split("uses:", 1)[1].strip()
                action, _, rest = ref.partition("@")
                sha, _, comment = rest.partition(" # ")
                assert len(sha) == 40 and all(c in "0123456789abcdef" for c in sha), line
                assert comment.startswith("v"), f"{path.name}: {action} needs '# vX.Y.Z'"


def test_checkouts_do_not_persist_the_token():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "review.yml").read_text())
    checkouts = [step for job in workflow["jobs"].values() for step in job["steps"]
                 if step.get("uses", "").startswith("actions/checkout@")]
    assert checkouts and all(step["with"]["persist-credentials"] is False for step in checkouts)
