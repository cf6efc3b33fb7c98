# The two commands a newcomer needs: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
INI ?= development.ini

.PHONY: install run serve init demo test test-sqlite test-postgresql ckan i18n clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

init: install
	mkdir -p var
	$(BIN)/portal -c $(INI) init

demo: init
	$(BIN)/portal -c $(INI) demo

serve: install
	@$(BIN)/python -c 'import sys; from portal.cli import server_urls; print("serving on", " ".join(server_urls(sys.argv[1])), "(Ctrl-C stops)")' $(INI)
	$(BIN)/pserve $(INI)

run: demo serve

# The whole suite on SQLite, then again on a real PostgreSQL that tests/pgserver.py starts
# (and installs with apt when it is missing and we are root).
test: test-sqlite test-postgresql

test-sqlite: install
	$(BIN)/python -m pytest -q -p no:cacheprovider --db=sqlite

test-postgresql: install
	$(BIN)/python -m pytest -q -p no:cacheprovider --db=postgresql

# A throwaway local CKAN 2.12, started the way the tests start it (tests/ckanserver.py: its own
# virtualenv under ~/.cache, PostgreSQL, Redis, the Solr stand-in); prints the settings to paste.
ckan: install
	$(BIN)/python -m tests.ckanserver --serve

i18n: install
	$(BIN)/pip install -q -e '.[dev]'
	scripts/i18n.sh

clean:
	rm -rf var .pytest_cache
