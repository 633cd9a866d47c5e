#!/usr/bin/env bash
# Installs one part of the project's tooling from its lock file. The Makefile calls it through
# stamp files (see "setup" there), so a part is installed again only when its lock file changes.
#
#   scripts/setup.sh python       the locked runtime packages (Pipfile.lock "default") into .venv
#                                 (added; dev packages already there stay)
#   scripts/setup.sh python-dev   the runtime and dev packages (tests, lint) into .venv
#   scripts/setup.sh node         a jsii-supported Node from npm (package-lock.json dependencies)
#   scripts/setup.sh cli          Node and the pinned cdktf CLI (package-lock.json devDependencies)
#   scripts/setup.sh checkov      checkov in its own locked environment (tools/checkov/Pipfile.lock)
#   scripts/setup.sh cdktn        CDK Terrain in its own locked environment (tools/cdktn/Pipfile.lock)
#   scripts/setup.sh vendor       Powertools for the signed function package (build/lambda-vendor,
#                                 scripts/vendor_lambda_deps.py: Lambda rejects the unsigned layer)
#   scripts/setup.sh all          everything (what `make setup` does on a fresh clone)
#
# Needs Python 3.11, npm and pip. Python packages are installed by uv from the hash-pinned
# Pipfile.lock (scripts/lock_requirements.py), with parallel downloads and installs: a cold
# `pipenv sync` took minutes here. pipenv remains the tool that writes the lock files
# (`pipenv lock`). Each part writes its stamp last, so an interrupted install is redone next
# time. Safe to re-run.
#
# Supply chain (issue 21; tests/test_pipeline.py): every file installed is checked against a
# hash committed here. uv itself and the .venv's pip come from tools/bootstrap/*.txt
# (--require-hashes); venvs are created without uv's seed packages (unpinned, unhashed);
# npm installs package-lock.json with --ignore-scripts, so no package runs code at install
# (the Node binary is a locked per-platform package, not the `node` package's download).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 UV_PYTHON_DOWNLOADS=never
UV_REQUIREMENTS=tools/bootstrap/uv.txt
UV_VERSION=$(sed -n 's/^uv==\([^ ]*\).*/\1/p' "$UV_REQUIREMENTS")
PYTHON=${PYTHON:-python3}

uv() {
  if ! "$PYTHON" -m uv --version 2>/dev/null | grep -q "^uv $UV_VERSION\( \|$\)"; then
    "$PYTHON" -m pip install --quiet --root-user-action=ignore --require-hashes --no-deps \
      --only-binary=:all: -r "$UV_REQUIREMENTS"
  fi
  "$PYTHON" -m uv "$@"
}

# The locked Node (package-lock.json optionalDependencies): npm installs the one package whose
# os/cpu match this machine and links node_modules/.bin/node; none matches elsewhere.
check_node() {
  if ! node_modules/.bin/node -e 'process.exit(process.versions.node.split(".")[0] === "22" ? 0 : 1)'; then
    echo "setup: no locked Node 22 for $(uname -sm) (package-lock.json has linux x64/arm64, darwin x64)" >&2
    exit 1
  fi
}

# sync_env <sync|install> <venv> <Pipfile.lock> [--dev]: `sync` leaves exactly the locked
# packages in the venv (the tool venvs); `install` adds the locked packages at their locked
# versions and removes nothing, like `pipenv sync` did (.venv: a synth setup never takes the
# test tools away, and worktrees that share one venv do not fight over it).
sync_env() {
  local mode=$1 venv=$2 lock=$3 requirements
  shift 3
  # No --seed: it installs the newest pip/setuptools/wheel unpinned and unhashed. The .venv
  # gets the hash-pinned pip (scripts/vendor_lambda_deps.py downloads wheels with it).
  [ -x "$venv/bin/python" ] || uv venv --quiet --python "$(command -v "$PYTHON")" "$venv"
  requirements=$(mktemp)
  "$PYTHON" scripts/lock_requirements.py "$lock" "$@" > "$requirements"
  if [ "$mode" = sync ]; then
    uv pip sync --quiet --require-hashes --python "$venv/bin/python" "$requirements"
  else
    uv pip install --quiet --no-deps --require-hashes --python "$venv/bin/python" -r "$requirements" \
      -r tools/bootstrap/pip.txt
  fi
  # Bytecode for all of site-packages, written once here (pip does this at install; uv does
  # not, and `uv pip install --compile-bytecode` skips it when nothing was installed). The
  # project runs with PYTHONDONTWRITEBYTECODE=1, so without it every process compiles what it
  # imports again: ~2 s of each synth (the provider modules), ~3 s of each checkov start,
  # seconds of every test subprocess. Up-to-date files are skipped (~1 s warm).
  "$venv/bin/python" -m compileall -q -j 0 "$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
  rm -f "$requirements"
}

part() {
  case "$1" in
    python)
      sync_env install .venv Pipfile.lock
      touch .venv/.stamp-python ;;
    python-dev)
      sync_env install .venv Pipfile.lock --dev
      touch .venv/.stamp-python .venv/.stamp-python-dev ;;
    node)
      npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
      check_node
      touch node_modules/.stamp-node ;;
    cli)
      npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
      check_node
      # The one install script in the CLI's locked tree: node-pty's. It tests that the
      # prebuilt binary shipped inside the (integrity-checked) package loads, and only if not
      # downloads one (prebuild-install) or compiles it. Run the test alone: a platform
      # without a shipped prebuild fails here instead of fetching unlocked code.
      node_modules/.bin/node node_modules/@cdktf/node-pty-prebuilt-multiarch/scripts/check-prebuild.js
      touch node_modules/.stamp-node node_modules/.stamp-cli ;;
    checkov)
      sync_env sync tools/checkov/.venv tools/checkov/Pipfile.lock
      touch tools/checkov/.venv/.stamp ;;
    awscli)
      sync_env sync tools/awscli/.venv tools/awscli/Pipfile.lock
      touch tools/awscli/.venv/.stamp ;;
    cdktn)
      sync_env sync tools/cdktn/.venv tools/cdktn/Pipfile.lock
      touch tools/cdktn/.venv/.stamp ;;
    vendor)
      .venv/bin/python scripts/vendor_lambda_deps.py
      touch build/lambda-vendor/.vendored ;;
    all)
      part python-dev; part node; part checkov; part awscli; part vendor ;;
    *)
      echo "usage: scripts/setup.sh python|python-dev|node|cli|checkov|awscli|cdktn|vendor|all" >&2
      exit 2 ;;
  esac
  echo "setup: $1 done"
}

[ $# -gt 0 ] || set -- all
for p in "$@"; do part "$p"; done
