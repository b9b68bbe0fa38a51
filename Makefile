# The two commands a newcomer needs: `make run` and `make test`. Both start from nothing but python3.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
RUN_DEPS := $(VENV)/.deps-run
DEV_DEPS := $(VENV)/.deps-dev

export AWS_EC2_METADATA_DISABLED ?= true

.PHONY: run test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# `make run` starts the sandbox (rtc-sandbox) when no AWS is configured: the portal's requirements and the sandbox.
$(RUN_DEPS): requirements.txt sandbox/pyproject.toml | $(PY)
	$(PIP) -r requirements.txt -e ./sandbox
	touch $@

$(DEV_DEPS): requirements.txt requirements-dev.txt sandbox/pyproject.toml | $(PY)
	$(PIP) -r requirements-dev.txt
	touch $@ $(RUN_DEPS)

run: $(RUN_DEPS)
	DEBUG=$${DEBUG:-true} $(PY) manage.py migrate --noinput
	DEBUG=$${DEBUG:-true} $(PY) manage.py create_demo_users
	DEBUG=$${DEBUG:-true} exec $(PY) manage.py serve

# The suite in two passes: everything but the process drills on one pytest-xdist worker per core, then the drills
# (marked serial) alone, as their timings assume a machine they do not share.
test: $(DEV_DEPS)
	$(PY) -m ruff check .
	$(PY) -m pytest -n auto --dist worksteal -m "not serial"
	$(PY) -m pytest -m serial

lint: $(DEV_DEPS)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: $(DEV_DEPS)
	$(PY) bench/stage_queries.py

clean:
	rm -rf $(VENV) .venv-cli tests/js/node_modules var .pytest_cache .ruff_cache
