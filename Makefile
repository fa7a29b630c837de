# The two commands a newcomer needs: `make run` and `make test`.
VENV := .venv
PYTHON ?= python3
FLASK := $(VENV)/bin/flask --app wsgi

.PHONY: run test docs bench soak install

run: install
	$(FLASK) db upgrade
	$(FLASK) api-keys bootstrap
	@echo "Playground: open http://$${ASSISTANTS_BIND:-127.0.0.1:8000}/ and paste the API key."
	$(VENV)/bin/gunicorn -c gunicorn.conf.py wsgi:app

# flake8 first, on the whole tree (setup.cfg's [flake8]: 110 columns): a finding fails make test before
# any test runs. Then the tests, in a random order (pytest-randomly prints the seed first), with branch
# coverage of pytest and of every Python process it starts (setup.cfg, [coverage:run]), combined and
# reported at the end. A whole run must reach setup.cfg's fail_under; a part of one (PYTEST_ARGS with
# tests/..., -k or -m) only reports.
# Spread over one pytest-xdist worker per core (TEST_WORKERS=N or PYTEST_ARGS=-n0 changes it; a third of
# the suite's time is spent waiting, but one worker more than the cores once made the real-gunicorn scenarios
# miss their deadlines on 2 cores, and measured again it was no faster: 4m52s-5m02s in three runs),
# each with a database of its own (tests/conftest.py says how tests are dealt out to them).
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print(len(os.sched_getaffinity(0)))')

test: install
	$(VENV)/bin/flake8
	rm -f .coverage .coverage.*
	COVERAGE_PROCESS_START=$(CURDIR)/setup.cfg COVERAGE_FILE=$(CURDIR)/.coverage \
	  $(VENV)/bin/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS); \
	status=$$?; \
	$(VENV)/bin/coverage combine --quiet && \
	$(VENV)/bin/coverage report $(if $(filter tests/% -k -m,$(PYTEST_ARGS)),--fail-under=0) || status=$$(( status ? status : 2 )); \
	exit $$status

# HTML into docs/_build/html; every warning is an error. The route reference is generated
# from the app itself at build time (docs/_ext/openapi_reference.py).
docs: install
	$(VENV)/bin/sphinx-build -W --keep-going -q -b html docs docs/_build/html

# Gateway overhead, concurrency, throughput and memory (bench/README.md); not a test, CI does not run it.
# BENCH_DATABASE_URL=postgresql://... adds PostgreSQL; BENCH_ARGS=--publish writes the table into the docs.
bench: install
	$(VENV)/bin/python -m bench $(BENCH_ARGS)

# Mixed traffic against two workers for SOAK_SECONDS (default 600) on SQLite, and on PostgreSQL when
# SOAK_DATABASE_URL names a scratch database: memory, descriptors, connections and every acknowledged write
# checked (bench/soak.py). Not part of make test; exits 1 when a pass criterion fails.
soak: install
	$(VENV)/bin/python -m bench.soak $(SOAK_ARGS)

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@
