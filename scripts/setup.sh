#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine (Python 3.11, Node, npm, pip):
# pipenv, the locked Python environment (.venv), a jsii-supported Node (node_modules/.bin),
# and checkov in its own locked environment (tools/checkov/.venv). Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIPENV_VENV_IN_PROJECT=1 PIPENV_NOSPIN=1 PIPENV_YES=1 PYTHONDONTWRITEBYTECODE=1

if ! python3 -m pipenv --version >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check "pipenv==2026.10.3"
fi
python3 -m pipenv sync --dev
PIPENV_PIPFILE="$PWD/tools/checkov/Pipfile" python3 -m pipenv sync
npm ci --no-audit --no-fund --loglevel=error
# Powertools for the signed function package (Lambda rejects the unsigned public layer).
.venv/bin/python scripts/vendor_lambda_deps.py
echo "setup: python $(.venv/bin/python --version 2>&1 | cut -d' ' -f2), node $(node_modules/.bin/node --version), checkov $(tools/checkov/.venv/bin/checkov --version)"
