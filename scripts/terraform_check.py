"""Terraform's own configuration check of synthesized stacks, offline: `terraform init
-backend=false` decodes and checks the whole configuration (pre/postconditions, depends_on,
for_each/count shapes, references to undeclared objects, backend and cloud blocks) before it
looks for providers, so its verdict needs no registry.

Each stack's `cdk.tf.json` is copied to a scratch folder (init writes `.terraform/`) and
checked with a CLI configuration whose only provider source is an empty filesystem mirror:
no network is tried, and the one error left for a valid configuration is "provider not found
in any of the search locations". Anything else is a configuration error a user would meet
at `cdktf deploy`, `terraform init` or in Terraform Cloud.

    python scripts/terraform_check.py cdktf.out      # every stack; exit 0 / 1 (errors) / 2

Used by tests/test_terraform.py (every settings profile the suite synthesizes) and by
`make validate` before `terraform validate`, which needs the provider.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MINIMUM_TERRAFORM = (1, 11, 0)
# The one error a valid configuration ends with when no provider can be installed.
_PROVIDER_NOT_FOUND = re.compile(
    r"Error: Failed to query available provider packages.*?"
    r"provider registry\.terraform\.io/(?P<provider>[\w-]+/[\w-]+) was not found",
    re.S)
_FINDING = re.compile(r'- Finding (?:latest version of )?(?P<provider>[\w-]+/[\w-]+)'
                      r'(?: versions matching "(?P<constraint>[^"]*)")?')
_ERROR = re.compile(r"^(?:│ )?Error: (?P<summary>.+)$", re.M)

_CLI_CONFIG = """provider_installation {{
  filesystem_mirror {{
    path    = "{mirror}"
    include = ["registry.terraform.io/*/*"]
  }}
}}
"""


class TerraformMissing(RuntimeError):
    """No usable terraform binary: the check cannot say anything."""


@dataclass
class StackCheck:
    stack: str
    errors: list[str] = field(default_factory=list)
    providers: dict[str, str] = field(default_factory=dict)   # source -> version constraint
    output: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors


def terraform_version(binary: str = "terraform") -> tuple[int, int, int]:
    path = shutil.which(binary)
    if not path:
        raise TerraformMissing(f"{binary} is not on PATH (Terraform >= "
                               f"{'.'.join(map(str, MINIMUM_TERRAFORM))} is required)")
    out = subprocess.run([path, "version", "-json"], capture_output=True, text=True,
                         timeout=60, env=_env(None), check=False).stdout
    try:
        version = json.loads(out)["terraform_version"]
    except (ValueError, KeyError) as error:
        raise TerraformMissing(f"cannot read `{path} version -json`: {out[:200]!r}") from error
    parts = tuple(int(p) for p in re.findall(r"\d+", version)[:3])
    found = (parts + (0, 0, 0))[:3]
    if found < MINIMUM_TERRAFORM:
        raise TerraformMissing(f"terraform {version} is older than "
                               f"{'.'.join(map(str, MINIMUM_TERRAFORM))}")
    return found  # type: ignore[return-value]


def _env(cli_config: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    env["CHECKPOINT_DISABLE"] = "1"
    env["TF_IN_AUTOMATION"] = "1"
    if cli_config is not None:
        env["TF_CLI_CONFIG_FILE"] = str(cli_config)
    return env


def check_document(document: dict[str, Any] | str, name: str = "stack",
                   binary: str = "terraform") -> StackCheck:
    """Runs `terraform init -backend=false` on one JSON configuration; never uses the network."""
    text = document if isinstance(document, str) else json.dumps(document)
    with tempfile.TemporaryDirectory(prefix="tfcheck-") as scratch:
        root = Path(scratch)
        (root / "mirror").mkdir()
        (root / "cli.tfrc").write_text(_CLI_CONFIG.format(mirror=root / "mirror"))
        work = root / "config"
        work.mkdir()
        (work / "cdk.tf.json").write_text(text)
        result = subprocess.run(
            [binary, "init", "-backend=false", "-input=false", "-no-color"], cwd=work,
            capture_output=True, text=True, timeout=120, env=_env(root / "cli.tfrc"),
            check=False)
    return parse(name, result.stdout + result.stderr, result.returncode)


def parse(name: str, output: str, returncode: int) -> StackCheck:
    """Configuration errors, and the providers init went on to look for."""
    check = StackCheck(stack=name, output=output)
    check.providers = {m["provider"]: m["constraint"] or "(any version)"
                       for m in _FINDING.finditer(output)}
    missing = {m["provider"] for m in _PROVIDER_NOT_FOUND.finditer(output)}
    reached_providers = "Initializing provider plugins" in output
    for match in _ERROR.finditer(output):
        summary = match["summary"].strip()
        if summary == "Failed to query available provider packages" and reached_providers:
            continue  # the empty mirror: expected for every provider the config requires
        check.errors.append(_error_block(output, match.start()))
    if returncode != 0 and not check.errors and not (reached_providers and missing):
        check.errors.append(f"terraform init exited {returncode} without a recognised cause:\n"
                            + output[-2000:])
    return check


def _error_block(output: str, start: int) -> str:
    """One diagnostic: its summary and detail, up to the next diagnostic."""
    following = _ERROR.search(output, start + 1)
    block = output[start:following.start() if following else len(output)]
    lines = [line for line in block.splitlines() if line.strip()]
    return "\n".join(lines[:12])


def check_outdir(outdir: Path, binary: str = "terraform") -> list[StackCheck]:
    """Every stack under `<outdir>/stacks`, in parallel (each init is ~0.1 s)."""
    stacks = sorted(p for p in (Path(outdir) / "stacks").iterdir()
                    if (p / "cdk.tf.json").is_file())
    if not stacks:
        raise FileNotFoundError(f"no stacks under {outdir}/stacks: synthesize first")
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(
            lambda p: check_document((p / "cdk.tf.json").read_text(), p.name, binary), stacks))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", nargs="?", default="cdktf.out")
    args = parser.parse_args(argv)
    try:
        version = terraform_version()
    except TerraformMissing as error:
        print(f"terraform check: {error}", file=sys.stderr)
        return 2
    results = check_outdir(Path(args.outdir))
    print(f"terraform {'.'.join(map(str, version))}: init -backend=false of "
          f"{len(results)} stacks in {args.outdir} (offline, empty provider mirror)")
    for result in results:
        providers = ", ".join(f"{p} {c}" for p, c in sorted(result.providers.items()))
        if result.ok:
            print(f"  ok    {result.stack}  ({providers})")
        else:
            print(f"  FAIL  {result.stack}: {len(result.errors)} configuration error(s)")
            for message in result.errors:
                print("        " + message.replace("\n", "\n        "))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
