# Two commands: `make run` (embedded default: SQLite, tasks inline, mail on the console) and
# `make test` (the whole suite on PostgreSQL and Redis). Everything else is a helper.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# The first Python 3.12+ found: on PATH, or in pyenv's versions.
PYTHON ?= $(shell for p in python3.13 python3.12 $$(ls -d $$HOME/.pyenv/versions/3.1[3-9]*/bin/python3 $$HOME/.pyenv/versions/3.12*/bin/python3 2>/dev/null); do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$p; break; }; done)

PG_URL ?= postgres://postgres@127.0.0.1:5432/undersigned
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1
# Tests run in two processes (pytest-xdist), each with a PostgreSQL and a Redis database of its
# own (tests/environment.py): much of the suite waits on real workers, servers and browsers.
# `make test TEST_PROCESSES=0` runs them in one.
TEST_PROCESSES ?= 2

.PHONY: run test bench lint format lock services chromium pdf-libs check check-deploy audit \
	clean stack stack-test messages compile-messages check-messages

$(VENV)/.base: requirements/base.txt
	@test -n "$(PYTHON)" || { echo "Python 3.12 or newer is needed (python3.12 on PATH)."; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --require-hashes -r requirements/base.txt
	@touch $@

$(VENV)/.dev: requirements/dev.txt $(VENV)/.base
	$(PY) -m pip install -q --disable-pip-version-check --require-hashes -r requirements/dev.txt
	@touch $@

run: $(VENV)/.base compile-messages
	DEBUG=1 $(PY) manage.py migrate --noinput -v 0
	DEBUG=1 $(PY) manage.py demo --password
	@echo "Serving on http://127.0.0.1:8000 ; sign in as printed above; mails are printed below."
	DEBUG=1 $(PY) manage.py runserver 127.0.0.1:8000

services:
	@bin/ensure-services

chromium:
	@bin/ensure-chromium

pdf-libs:
	@bin/ensure-pdf-libs

test: $(VENV)/.dev services chromium pdf-libs compile-messages check-messages
	DATABASE_URL=$(PG_URL) REDIS_URL=$(TEST_REDIS_URL) DEBUG=0 STATIC_MANIFEST=0 SECRET_KEY=test-secret-key-not-for-production \
		$(PY) -m pytest -n $(TEST_PROCESSES) --dist worksteal $(PYTEST_ARGS)

# docker-compose.yml's services as local processes, without Docker (deploy/stack.py): the same
# commands and environment, PostgreSQL, Redis and a mail sink of their own under var/stack.
stack: $(VENV)/.dev
	$(PY) -m deploy.stack up

# A fresh stack driven over HTTP (deploy/stack_check.py), then stopped and removed.
stack-test: $(VENV)/.dev
	$(PY) -m deploy.stack_check

bench: $(VENV)/.dev services
	@bin/ensure-wrk
	$(PY) benchmarks/run.py

lint: $(VENV)/.dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(VENV)/.dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# Translations: locale/LANG/LC_MESSAGES/django.po are shipped, the compiled .mo are built here
# and never committed. `make messages` updates the catalogues after strings are marked;
# `make check-messages` fails while one is out of date or has a string without translation.
MESSAGE_DIRS := --ignore=.venv --ignore=var --ignore=node_modules --ignore=benchmarks --ignore=tests

messages: $(VENV)/.base
	@bin/ensure-gettext
	DEBUG=1 $(PY) manage.py makemessages $(patsubst %,-l %,$(notdir $(wildcard locale/*))) \
		--no-location --no-obsolete $(MESSAGE_DIRS)

compile-messages: $(VENV)/.base
	@bin/ensure-gettext
	DEBUG=1 $(PY) manage.py compilemessages -v 0 $(MESSAGE_DIRS)

check-messages: $(VENV)/.base
	@bin/ensure-gettext
	PYTHON=$(PY) bin/check-messages

# Regenerate the hashed lock files after changing pyproject.toml (needs uv: pip install uv).
lock:
	uv pip compile pyproject.toml --python-version 3.12 --generate-hashes -o requirements/base.txt
	uv pip compile pyproject.toml --group dev --python-version 3.12 --generate-hashes -o requirements/dev.txt

# Before a release: lint, known vulnerabilities in the pinned dependencies, deployment checks.
check: lint audit check-deploy

# Known vulnerabilities in the pinned releases, from PyPI's advisories (bin/audit-deps says how,
# and which pins it could not check). Needs https://pypi.org; installs nothing.
audit:
	bin/audit-deps requirements/base.txt requirements/dev.txt

check-deploy: $(VENV)/.base
	DEBUG=0 SECRET_KEY=$$(head -c 48 /dev/urandom | base64) EMAIL_HASH_KEY=$$(head -c 48 /dev/urandom | base64) \
		SITE_URL=https://letters.example.org \
		DATABASE_URL=$(PG_URL) EMAIL_URL="smtp://mail.example.org:587?tls=1" REDIS_URL=$(TEST_REDIS_URL) \
		LOG_SIGNING_KEY="$$($(PY) manage.py generate_log_key --name letters.example.org 2>/dev/null)" \
		$(PY) manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) var
