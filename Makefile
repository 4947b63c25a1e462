# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run serve test test-fast lint format coverage bench messages clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime-installed

## make run: install, migrate, load demo data and serve the shop on http://127.0.0.1:8000/
## manage.py runs in debug mode unless DJANGO_DEBUG is set (environment or .env), which
## without Iamport credentials turns on the local sandbox: checkout works offline.
run: $(VENV)/.runtime-installed
	@$(PY) manage.py migrate --noinput && \
	$(PY) manage.py load_demo_data && \
	echo "" && echo "  The shop:    http://$(HOST):$(PORT)/" && \
	echo "  Admin:       http://$(HOST):$(PORT)/admin/" && echo "" && \
	SANDBOX_SITE_URL=$${SANDBOX_SITE_URL:-http://$(HOST):$(PORT)} \
	$(PY) manage.py runserver $(HOST):$(PORT)

## make serve: the production start (README, "Going live"): needs DJANGO_DEBUG=0 and the
## production settings; migrates, collects static files and runs gunicorn on HOST:PORT.
serve: $(VENV)/.runtime-installed
	@HOST=$(HOST) PORT=$(PORT) $(PY) -m config.serve

## make test: install what the tests need and run the whole suite (SQLite unless DATABASE_URL).
## PYTEST_ARGS narrows it (CI's SQLite pass: -m "not e2e"; the browsers run on PostgreSQL).
test: $(VENV)/.dev-installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) manage.py makemigrations --check --dry-run --settings=tests.settings
	$(PY) -m pytest --cov --cov-report= $(PYTEST_ARGS)
	$(PY) -m coverage report --skip-covered --skip-empty

test-fast: $(VENV)/.dev-installed
	$(PY) -m pytest -m "not e2e" -q

## make bench: measure a payment verification through the webhook (Iamport calls, latency, SQL,
## throughput under gunicorn), the product list page, and a PortOne V2 verification; prints the
## report the README quotes.
## BENCH_DELAY_MS (default 50) is the stand-in's delay; `make bench BENCH_ARGS=--quick` smokes.
bench: $(VENV)/.dev-installed
	$(PY) -m bench $(BENCH_ARGS)

## make messages: after changing a translatable text, update locale/en/LC_MESSAGES/django.po
## from the code (needs GNU gettext: apt-get install gettext), translate the new entries, then
## run it again to compile django.mo. Both files are committed: a clone needs no gettext.
## locale/ko holds only corrections to Django's own Korean (the shop's texts are Korean already).
MESSAGE_SOURCES := -i ".venv/*" -i "tests/*" -i "bench/*" -i "sandbox/*" -i "staticfiles/*" -i ".test-staticfiles/*"
messages: $(VENV)/.dev-installed
	$(PY) manage.py makemessages -l en --no-location $(MESSAGE_SOURCES) --settings=tests.settings
	$(PY) manage.py compilemessages -l en -l ko -i .venv --settings=tests.settings

lint: $(VENV)/.dev-installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(VENV)/.dev-installed
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

coverage: $(VENV)/.dev-installed
	$(PY) -m pytest --cov --cov-report=term-missing --cov-fail-under=0
	$(PY) -m coverage report --include='*' --show-missing --fail-under=0

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .test-db.sqlite3 htmlcov .coverage
