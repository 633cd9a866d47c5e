#!/usr/bin/env python3
"""Prints a Pipfile.lock section as a hash-pinned requirements file (stdlib only).

    scripts/lock_requirements.py [Pipfile.lock] [--dev]

scripts/setup.sh installs from this with `uv pip sync --require-hashes` (or pip), so setup
does not need pipenv; pipenv stays the tool that writes Pipfile.lock. --dev adds the
[dev-packages] section to the default one (as `pipenv sync --dev` does).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def requirements(lock: dict[str, Any], dev: bool = False) -> list[str]:
    packages = dict(lock.get("default", {}))
    if dev:
        packages.update(lock.get("develop", {}))
    lines = []
    for name, spec in sorted(packages.items()):
        version = spec.get("version")
        if not version or not spec.get("hashes"):
            raise SystemExit(f"lock_requirements.py: {name} has no pinned version and hashes in the lock file")
        extras = f"[{','.join(spec['extras'])}]" if spec.get("extras") else ""
        markers = f" ; {spec['markers']}" if spec.get("markers") else ""
        hashes = " ".join(f"--hash={h}" for h in spec["hashes"])
        lines.append(f"{name}{extras}{version}{markers} {hashes}")
    return lines


def main(argv: list[str]) -> int:
    args = [a for a in argv[1:] if a != "--dev"]
    path = Path(args[0]) if args else Path("Pipfile.lock")
    print("\n".join(requirements(json.loads(path.read_text()), dev="--dev" in argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
