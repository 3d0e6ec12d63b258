# Godview: `make demo` runs the demo agency, `make test` runs every check.
# Both need only Python 3.11+: they create .venv, install the project, and start a
# project-local PostgreSQL and Redis unless DATABASE_URL / REDIS_URL are set.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LOCAL := $(PY) -m godview.localservices
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_CLIENTS ?= 160

.PHONY: demo test lint bench install clean-local

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[local,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	DEBUG=$${DEBUG:-true} $(LOCAL) --data .local -- sh -c '\
	  $(PY) manage.py migrate --noinput && \
	  $(PY) manage.py seed_demo --clients $(DEMO_CLIENTS) --if-empty && \
	  $(PY) manage.py snapshot_metrics --weeks 26 && \
	  $(PY) manage.py demo_logins --url http://$(HOST):$(PORT)/ && \
	  exec $(PY) manage.py runserver $(HOST):$(PORT)'

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=true $(LOCAL) --throwaway -- sh -c '\
	  $(PY) manage.py makemigrations --check --dry-run && \
	  $(PY) -m pytest $(PYTEST_ARGS)'

bench: $(STAMP)
	DEBUG=true $(LOCAL) --throwaway -- $(PY) -m pytest tests/bench -o addopts='-p no:cacheprovider' -s $(PYTEST_ARGS)

clean-local:
	rm -rf .local
