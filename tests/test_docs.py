"""Claims in README.md and docs/ that are cheap to keep true: every setting, stack, exit code
and local link the docs mention exists, and the documented commands that need no AWS run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from contract import ALL_STACKS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
DOCS = {p.name: p.read_text() for p in (ROOT / "docs").glob("*.md")}


def _settings_variables() -> set[str]:
    source = (ROOT / "modules" / "settings.py").read_text()
    found = set(re.findall(r'(?:text|number|items)\("([A-Z_]+)"', source))
    found |= set(re.findall(r'environ\.get\("([A-Z_]+)"', source))
    return found - {"TF_STATE_LOCK_TABLE"}  # only read to refuse it with a clear message


def test_every_setting_is_in_the_readme_table_and_nothing_else_is():
    variables = _settings_variables()
    assert len(variables) > 20
    rows = [line for line in README.splitlines() if line.startswith("| `")]
    documented = {v for line in rows for v in re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1])}
    assert variables - documented == set(), "settings missing from the README table"
    assert documented - variables == set(), "README documents settings that do not exist"


def test_every_stack_is_in_the_readme():
    for stack in ALL_STACKS:
        assert f"`{stack}`" in README, stack


def test_every_drctl_exit_code_is_in_the_runbook():
    from drctl import exitcodes

    table = DOCS["runbook.md"]
    for name in ("OK", "UNHEALTHY", "USAGE", "UNREACHABLE", "REFUSED", "FAILED", "UNKNOWN",
                 "WARNINGS", "INTERRUPTED"):
        code = getattr(exitcodes, name)
        assert re.search(rf"^\|\s*{code}\s*\|", table, re.M), f"exit code {code} ({name})"


@pytest.mark.parametrize("name, text", [("README.md", README), *DOCS.items()])
def test_local_links_resolve(name, text):
    base = ROOT if name == "README.md" else ROOT / "docs"
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        assert (base / target).exists(), f"{name} links to missing {target}"


@pytest.mark.slow
def test_documented_drctl_help_runs_without_aws():
    for command in (["--help"], ["preflight", "--help"], ["status", "--help"]):
        proc = subprocess.run([sys.executable, "-m", "drctl", *command], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "usage:" in proc.stdout


def test_the_workflow_passes_every_setting_into_synth():
    """A setting the workflow does not pass is silently its default in the reviewed plan."""
    workflow = (ROOT / ".github" / "workflows" / "review.yml").read_text()
    passed = set(re.findall(r"^\s+([A-Z][A-Z0-9_]+): \$\{\{ vars\.\1 \}\}", workflow, re.M))
    assert _settings_variables() - {"TFC_ORGANIZATION", "TFC_WORKSPACE"} <= passed
