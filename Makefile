# The two commands a newcomer needs: `make run` and `make test`. Both start from nothing but python3.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEPS := $(VENV)/.deps-installed

export AWS_EC2_METADATA_DISABLED ?= true

.PHONY: run test lint clean

$(DEPS): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(DEPS)

run: $(DEPS)
	DEBUG=$${DEBUG:-true} $(PY) manage.py migrate --noinput
	DEBUG=$${DEBUG:-true} $(PY) manage.py create_demo_users
	DEBUG=$${DEBUG:-true} exec $(PY) manage.py serve

test: $(DEPS)
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: $(DEPS)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
