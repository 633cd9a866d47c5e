"""The real terraform binary, for tests: its configuration check (scripts/terraform_check.py)
and `terraform console` on a providerless configuration, to evaluate our expressions with
Terraform's own functions.

Terraform >= 1.11 is a requirement (README). In CI (CI=true) a missing binary fails the run;
elsewhere tests that need it are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import terraform_check


def require_terraform() -> None:
    try:
        terraform_check.terraform_version()
    except terraform_check.TerraformMissing as error:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI requires terraform: {error}")
        pytest.skip(f"terraform is not usable here: {error} (CI requires it)")


def assert_terraform_accepts(outdir: Path, label: str) -> None:
    """Every stack under outdir passes `terraform init -backend=false` (offline)."""
    failures = [r for r in terraform_check.check_outdir(outdir) if not r.ok]
    assert not failures, f"Terraform refuses the configuration synthesized with {label}:\n" + \
        "\n".join(f"{r.stack}:\n" + "\n".join(r.errors) for r in failures)


def console(expression: str, document: dict | None = None) -> str:
    """`terraform console` evaluating one expression in a configuration of locals only."""
    with tempfile.TemporaryDirectory(prefix="tfconsole-") as work:
        Path(work, "main.tf.json").write_text(json.dumps(document or {"locals": {}}))
        result = subprocess.run(
            ["terraform", "console", "-no-color"], cwd=work, input=expression + "\n",
            capture_output=True, text=True, timeout=60, check=False,
            env={**terraform_check._env(Path(os.devnull))})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()
