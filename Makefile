# The two commands a newcomer needs: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-fast faults lint format migrate worker beat web install clean

$(STAMP): pyproject.toml client/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e './client[pandas]'
	touch $(STAMP)

install: $(STAMP)

## Web app, inference service, Celery workers and beat on 127.0.0.1 with demo data; Ctrl-C stops everything.
demo: $(STAMP)
	PYTHONUNBUFFERED=1 $(BIN)/python manage.py demo

## Lint, the apps' layers contract, migration check and the whole test suite (PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest

## The unit tests that need no database, broker, browser or sandbox child (under a minute on 2 cores;
## docs/contributing.md). Left out: the sandbox (tests/unit/packaging), tests that start a package's
## or the demo's processes, and the statistical simulations. Not a substitute for `make test`.
FAST_SKIP := tests/unit/packaging tests/unit/packaging_bundle/test_end_to_end.py \
	tests/unit/demo/test_supervisor.py tests/unit/monitoring_stats/test_calibration.py \
	tests/unit/monitoring_stats/test_checks.py tests/unit/libraries/test_lowest_fix.py
test-fast: $(STAMP)
	env -u DATABASE_URL -u REDIS_URL -u MODELYARD_TEST_BROKER_URL \
		$(BIN)/pytest -q -p no:cacheprovider tests/unit $(addprefix --ignore=,$(FAST_SKIP))

## The fault suite alone (also part of `make test`): PostgreSQL, Redis and processes of its own, stopped and killed.
faults: $(STAMP)
	$(BIN)/pytest tests/faults -s

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrate: $(STAMP)
	$(BIN)/python manage.py migrate

worker: $(STAMP)
	$(BIN)/celery -A config worker -Q default,packaging,deployments,monitoring,ingestion --loglevel INFO

beat: $(STAMP)
	$(BIN)/celery -A config beat --loglevel INFO

## The web app alone, as production starts it: static files collected, gunicorn with config/gunicorn.py.
web: $(STAMP)
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	exec $(BIN)/gunicorn -c config/gunicorn.py config.wsgi

clean:
	rm -rf var staticfiles
