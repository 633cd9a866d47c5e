#!/usr/bin/env bash
# Installs one part of the project's tooling from its lock file. The Makefile calls it through
# stamp files (see "Setup" there), so a part is installed again only when its lock file changes.
#
#   scripts/setup.sh python       the locked runtime packages (Pipfile.lock [default]) into .venv
#   scripts/setup.sh python-dev   the runtime and dev packages (tests, lint) into .venv
#   scripts/setup.sh node         a jsii-supported Node from npm (package-lock.json dependencies)
#   scripts/setup.sh cli          Node and the pinned cdktf CLI (package-lock.json devDependencies)
#   scripts/setup.sh checkov      checkov in its own locked environment (tools/checkov/Pipfile.lock)
#   scripts/setup.sh all          everything (what `make setup` does on a fresh clone)
#
# Needs Python 3.11, npm and pip. Safe to re-run. Each part writes its stamp last, so an
# interrupted install is redone next time.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIPENV_VENV_IN_PROJECT=1 PIPENV_NOSPIN=1 PIPENV_YES=1 PYTHONDONTWRITEBYTECODE=1 \
  PIPENV_VERBOSITY=-1 PIP_DISABLE_PIP_VERSION_CHECK=1

pipenv() {
  if ! python3 -m pipenv --version >/dev/null 2>&1; then
    python3 -m pip install --quiet "pipenv==2026.10.3"
  fi
  python3 -m pipenv "$@"
}

part() {
  case "$1" in
    python)
      pipenv sync --quiet
      touch .venv/.stamp-python ;;
    python-dev)
      pipenv sync --dev --quiet
      touch .venv/.stamp-python .venv/.stamp-python-dev ;;
    node)
      npm ci --omit=dev --no-audit --no-fund --loglevel=error
      touch node_modules/.stamp-node ;;
    cli)
      npm ci --no-audit --no-fund --loglevel=error
      touch node_modules/.stamp-node node_modules/.stamp-cli ;;
    checkov)
      PIPENV_PIPFILE="$PWD/tools/checkov/Pipfile" pipenv sync --quiet
      touch tools/checkov/.venv/.stamp ;;
    all)
      part python-dev; part node; part checkov ;;
    *)
      echo "usage: scripts/setup.sh python|python-dev|node|cli|checkov|all" >&2
      exit 2 ;;
  esac
  echo "setup: $1 done"
}

[ $# -gt 0 ] || set -- all
for p in "$@"; do part "$p"; done
