# One command for each everyday job. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install install-dev demo run migrate seed test test-postgres test-browser lint hooks fmt migrations-check check-deploy ci clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "} {printf "  make %-18s %s\n", $$1, $$2}'

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt $(BIN)/activate
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed ## Create the virtualenv and install runtime dependencies

install-dev: $(VENV)/.installed-dev ## Install runtime + test/dev tools

migrate: install ## Apply database migrations (SQLite by default)
	$(PY) manage.py migrate --noinput

seed: migrate ## Load the demo data (idempotent)
	$(PY) manage.py seed_demo

demo: seed ## Install, migrate, load demo data, then serve on http://127.0.0.1:8000 with a worker (PORT=8001 to move)
	@echo ""
	@echo "  Open http://$(HOST):$(PORT)/ and log in with one of the demo logins above."
	@echo "  The web server and a background worker run together: Ctrl-C stops both."
	@echo ""
	PATH="$(abspath $(BIN)):$$PATH" HOST=$(HOST) $(BIN)/honcho -f Procfile start -p $(PORT)

run: install ## Serve the app without reseeding
	$(PY) manage.py runserver $(HOST):$(PORT)

test: install-dev ## Install everything and run the whole test suite (SQLite)
	$(BIN)/pytest $(PYTEST_ARGS)

test-postgres: install-dev ## Run the suite on PostgreSQL (DATABASE_URL=postgres://…)
	@test -n "$(DATABASE_URL)" || (echo "Set DATABASE_URL=postgres://user@host/db" && exit 2)
	DATABASE_URL=$(DATABASE_URL) $(BIN)/pytest $(PYTEST_ARGS)

test-browser: install-dev ## Run only the browser tests (headless Chromium)
	CRM_REQUIRE_BROWSER=1 $(BIN)/pytest -m browser $(PYTEST_ARGS)

lint: install-dev ## Lint: ruff (code and format) and djhtml (template indentation), as pre-commit does
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/djhtml --check templates

hooks: install-dev ## Install the pre-commit git hook (the same checks as `make lint`)
	$(BIN)/pre-commit install

fmt: install-dev ## Format code with ruff and templates with djhtml
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/djhtml templates

migrations-check: install ## Fail when models and migrations disagree
	$(PY) manage.py makemigrations --check --dry-run

check-deploy: install ## Django's deployment checks with production settings
	DJANGO_SETTINGS_MODULE=crm.settings.production SECRET_KEY=$${SECRET_KEY:-ci-$$(date +%s)-not-secret-but-long-enough-for-the-deploy-check-xyz} \
		SITE_URL=$${SITE_URL:-https://crm.example.com} $(PY) manage.py check --deploy --fail-level WARNING

ci: ## What CI runs (needs PostgreSQL on 127.0.0.1:5432)
	bash .ci/run

clean: ## Remove the virtualenv, the SQLite database and collected static files
	rm -rf $(VENV) db.sqlite3 db.sqlite3-wal db.sqlite3-shm staticfiles
