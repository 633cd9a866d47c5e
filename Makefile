# The two commands a newcomer needs (see README): `make synth` and `make test`.
# Both set the machine up first, so they work on a fresh clone.
SHELL := /bin/bash
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
export PYTHONDONTWRITEBYTECODE := 1
export PIPENV_VENV_IN_PROJECT := 1
export CHECKPOINT_DISABLE := 1
PY := $(CURDIR)/.venv/bin/python

# -- setup -------------------------------------------------------------------------------------
# One stamp file per part, inside the folder it describes and newer than its lock file: a part
# is installed again only when its lock file changes (or its folder is deleted), or for the
# Python parts when scripts/setup.sh (how a part is installed) changes. Warm setup is a few
# stat calls. synth needs the runtime packages, Node and the vendored Powertools for the
# signed Lambda package; tests add the dev packages and checkov; the cdktf CLI (600 MB) only
# `make cli`.
STAMP_PY      := .venv/.stamp-python
STAMP_PY_DEV  := .venv/.stamp-python-dev
STAMP_NODE    := node_modules/.stamp-node
STAMP_CLI     := node_modules/.stamp-cli
STAMP_CHECKOV := tools/checkov/.venv/.stamp
STAMP_CDKTN   := tools/cdktn/.venv/.stamp
STAMP_AWSCLI  := tools/awscli/.venv/.stamp
STAMP_VENDOR  := build/lambda-vendor/.vendored

$(STAMP_PY): Pipfile.lock tools/bootstrap/pip.txt scripts/setup.sh
	./scripts/setup.sh python
$(STAMP_PY_DEV): Pipfile.lock tools/bootstrap/pip.txt scripts/setup.sh
	./scripts/setup.sh python-dev
$(STAMP_NODE): package-lock.json
	./scripts/setup.sh node
$(STAMP_CLI): package-lock.json
	./scripts/setup.sh cli
$(STAMP_CHECKOV): tools/checkov/Pipfile.lock scripts/setup.sh
	./scripts/setup.sh checkov
$(STAMP_AWSCLI): tools/awscli/Pipfile.lock scripts/setup.sh
	./scripts/setup.sh awscli
$(STAMP_CDKTN): tools/cdktn/Pipfile.lock scripts/setup.sh
	./scripts/setup.sh cdktn
$(STAMP_VENDOR): Pipfile.lock scripts/vendor_lambda_deps.py | $(STAMP_PY)
	./scripts/setup.sh vendor

.PHONY: setup setup-synth cli
setup-synth: $(STAMP_PY) $(STAMP_NODE) $(STAMP_VENDOR)
setup: $(STAMP_PY_DEV) $(STAMP_NODE) $(STAMP_CHECKOV) $(STAMP_AWSCLI) $(STAMP_VENDOR)
cli: $(STAMP_PY) $(STAMP_CLI)   # then: npx cdktf deploy <stack> (README, "Deploying")

# -- the two commands ---------------------------------------------------------------------------
.PHONY: synth test
synth: setup-synth
	$(PY) main.py

# Lint and types first (ruff: seconds; mypy --strict on modules/, drctl/, lambda/payments/:
# about a minute cold, a second warm): a finding fails the suite like a failing test.
# pytest without the `slow` tests (pytest.ini: fresh-process synths, --help runs, checkov
# re-recording) on every core (pytest-xdist; tests/conftest.py synthesizes each settings profile
# once per run for all workers); `make test-slow` runs those, and CI (.ci/run, the workflow) runs both.
.PHONY: test-slow
test: setup
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest -n auto -m "not slow and not twin"
test-slow: setup
	$(PY) -m pytest -m "slow and not twin"

# -- the twin (docs/twin.md): the synthesized platform run locally, both regions ----------------
# `make twin` stands it up from cdktf.out and prints its endpoints (Ctrl-C stops it);
# `make twin-test` runs the scenarios on it (tests/twin, marked `twin`: kept out of `make test`
# because standing the twin up costs ~10-20 s; .ci/run calls both).
.PHONY: twin twin-test
twin: synth
	$(PY) -m twin up

twin-test: setup
	$(PY) -m pytest -m twin tests/twin

# The declared peak of signed payments through the twin's failover name, sustained, with the
# reconcile functions alongside (scripts/load_check.py; LOAD_DURATION seconds, LOCAL figures).
LOAD_DURATION ?= 90
.PHONY: load-check
load-check: synth
	$(PY) scripts/load_check.py cdktf.out --duration $(LOAD_DURATION)

# A rehearsal on the twin (twin/gameday.py): OUTAGE (hang|refuse|5xx) of the primary region for
# MINUTES scenario minutes, the runbook's drctl steps, a timeline report in build/gameday/.
OUTAGE ?= hang
MINUTES ?= 10
.PHONY: gameday
gameday: synth
	$(PY) -m twin gameday --outage $(OUTAGE) --minutes $(MINUTES)

# `drctl drill`'s orchestrator on the twin (twin/drills.py): DRILL (regional-failover|replication|
# database); drctl's report printed and written to build/drills/ (the twin's simulation).
DRILL ?= regional-failover
.PHONY: twin-drill
twin-drill: synth
	$(PY) -m twin drill $(DRILL)

# -- CI steps (.github/workflows/review.yml runs the same targets) ------------------------------
# Platform stacks in plan/apply order, from cdktf.out/manifest.json (scripts/stacks.py).
STACKS = $(shell $(PY) scripts/stacks.py cdktf.out)

.PHONY: stacks gate validate
stacks: $(STAMP_PY)
	@$(PY) scripts/stacks.py cdktf.out

# checkov gate over cdktf.out (run `make synth` first); GATE_ENVIRONMENT picks the
# environment-specific suppressions (checkov-suppressions.yaml).
GATE_ENVIRONMENT ?= default
gate: $(STAMP_PY) $(STAMP_CHECKOV)
	set -o pipefail; $(PY) scripts/checkov_gate.py --environment $(GATE_ENVIRONMENT) cdktf.out | tee checkov.txt

# Terraform on every stack in cdktf.out (run `make synth` first), in two steps:
# 1. the configuration check, offline: `terraform init -backend=false` with an empty provider
#    mirror decodes and checks the whole configuration before it looks for providers
#    (scripts/terraform_check.py; `make test` runs it on every settings profile);
# 2. `terraform validate` of each stack, which needs the AWS provider: set VALIDATE_PROVIDER=1
#    where it can be installed (the registry, or your mirror via TF_CLI_CONFIG_FILE); CI does.
validate: $(STAMP_PY)
	$(PY) scripts/terraform_check.py cdktf.out
	@if [ "$(VALIDATE_PROVIDER)" = "1" ]; then set -e; for stack in $(STACKS); do \
	  echo "validate $$stack"; \
	  terraform -chdir=cdktf.out/stacks/$$stack init -backend=false -input=false -no-color >/dev/null; \
	  terraform -chdir=cdktf.out/stacks/$$stack validate -no-color; \
	done; else echo "terraform validate skipped: it needs the AWS provider (VALIDATE_PROVIDER=1 where it can be installed)"; fi

# -- review, lint, benchmarks ---------------------------------------------------------------------
# DR review of the synthesized JSON (issue 6): report + docs/architecture.svg.
# CDK Terrain path (docs/cdktn.md): convert a copy, synthesize it with cdktn, compare the JSON
# with cdktf's (only provider version/source may differ). Same settings variables as synth.
.PHONY: cdktn-compare
cdktn-compare: synth $(STAMP_CDKTN)
	$(PY) scripts/cdktn_compare.py --cdktf-out cdktf.out --work build/cdktn

# Monthly cost of the synthesized stacks, idle and at COST_RATE payments/s (scripts/cost.py,
# prices in scripts/prices.json with their date and sources).
COST_RATE ?= 10
.PHONY: cost
cost: synth
	$(PY) scripts/cost.py cdktf.out --rate $(COST_RATE)

.PHONY: review lint bench-setup
review: synth
	$(PY) scripts/review.py cdktf.out --diagram docs/architecture.svg

# ruff + mypy with the checked-in configs (pyproject.toml); LINT_PATHS narrows the scope.
LINT_PATHS ?= .
lint: setup
	$(PY) -m ruff check $(LINT_PATHS)
	$(PY) -m mypy

# Cold (fresh clone, empty caches) and warm setup times: scripts/bench_setup.sh.
bench-setup:
	./scripts/bench_setup.sh
