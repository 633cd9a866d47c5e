#!/usr/bin/env python3
"""The synthesized stacks in the order they must be planned and applied, from manifest.json.

    scripts/stacks.py [cdktf.out] [--platform | --manual] [--json]

cdktf records in `cdktf.out/manifest.json` which stack depends on which (a cross-stack
reference or `add_dependency`). This prints one stack name per line, every stack after the
stacks it depends on; stacks that do not depend on each other keep the order of
`contract.ALL_STACKS` (then by name), so the order is stable. The workflow and the Makefile
both call this script, so they agree.

--platform  only the stacks CI plans and applies (remote state): everything except
            contract.ACCOUNT_STACK and contract.BOOTSTRAP_STACK
--manual    only those two (local state, applied once by an operator)
--json      print a JSON list (for a GitHub Actions matrix) instead of lines

Exit 2 with a message when the manifest is missing, names a stack without its folder, or has
a dependency cycle.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import contract  # noqa: E402  (dependency-free: names only)

MANUAL_STACKS = (contract.ACCOUNT_STACK, contract.BOOTSTRAP_STACK)


class ManifestError(Exception):
    pass


def load_dependencies(outdir: Path) -> dict[str, list[str]]:
    """{stack: [stacks it depends on]} from outdir/manifest.json."""
    manifest_path = outdir / "manifest.json"
    if not manifest_path.is_file():
        raise ManifestError(f"{manifest_path} not found (run `make synth` first)")
    manifest = json.loads(manifest_path.read_text())
    stacks = manifest.get("stacks")
    if not isinstance(stacks, dict) or not stacks:
        raise ManifestError(f"{manifest_path} lists no stacks")
    deps: dict[str, list[str]] = {}
    for name, entry in stacks.items():
        folder = outdir / entry.get("workingDirectory", f"stacks/{name}")
        if not (folder / "cdk.tf.json").is_file():
            raise ManifestError(f"{manifest_path} names stack {name} but {folder}/cdk.tf.json is missing")
        deps[name] = [str(d) for d in entry.get("dependencies") or []]
    for name, needs in deps.items():
        unknown = sorted(set(needs) - set(deps))
        if unknown:
            raise ManifestError(f"stack {name} depends on {', '.join(unknown)}, which the manifest does not list")
    return deps


def _rank(name: str) -> tuple[int, str]:
    known = contract.ALL_STACKS
    return (known.index(name) if name in known else len(known), name)


def ordered(deps: dict[str, list[str]]) -> list[str]:
    """Topological order (dependencies first); ties by contract.ALL_STACKS order, then name."""
    remaining = {name: set(needs) for name, needs in deps.items()}
    result: list[str] = []
    while remaining:
        ready = sorted((n for n, needs in remaining.items() if not needs), key=_rank)
        if not ready:
            raise ManifestError(f"dependency cycle between stacks: {', '.join(sorted(remaining))}")
        first = ready[0]
        result.append(first)
        del remaining[first]
        for needs in remaining.values():
            needs.discard(first)
    return result


def select(order: list[str], *, platform: bool = False, manual: bool = False) -> list[str]:
    if platform:
        return [s for s in order if s not in MANUAL_STACKS]
    if manual:
        return [s for s in order if s in MANUAL_STACKS]
    return order


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outdir", nargs="?", default=str(ROOT / "cdktf.out"))
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--platform", action="store_true", help="stacks CI plans and applies")
    group.add_argument("--manual", action="store_true", help="stacks applied once by hand")
    parser.add_argument("--json", action="store_true", help="one JSON list instead of lines")
    args = parser.parse_args(argv)
    try:
        names = select(ordered(load_dependencies(Path(args.outdir))),
                       platform=args.platform, manual=args.manual)
    except (ManifestError, json.JSONDecodeError) as error:
        print(f"stacks.py: {error}", file=sys.stderr)
        return 2
    print(json.dumps(names) if args.json else "\n".join(names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
