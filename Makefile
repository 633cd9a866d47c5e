# The two commands a newcomer needs (see README): `make synth` and `make test`.
# Both set the machine up first (idempotent), so they work on a fresh clone.
SHELL := /bin/bash
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
export PYTHONDONTWRITEBYTECODE := 1
export PIPENV_VENV_IN_PROJECT := 1
PY := $(CURDIR)/.venv/bin/python

.PHONY: setup synth test
setup:
	./scripts/setup.sh

synth: setup
	$(PY) main.py

test: setup
	$(PY) -m pytest

# DR review of the synthesized JSON (issue 6): report + docs/architecture.svg.
.PHONY: review
review: synth
	$(PY) scripts/review.py cdktf.out --diagram docs/architecture.svg
