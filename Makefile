# The two commands a newcomer needs: `make run` and `make test`.
VENV := .venv
PYTHON ?= python3
FLASK := $(VENV)/bin/flask --app wsgi

.PHONY: run test docs bench install

run: install
	$(FLASK) db upgrade
	$(FLASK) api-keys bootstrap
	@echo "Playground: open http://$${ASSISTANTS_BIND:-127.0.0.1:8000}/ and paste the API key."
	$(VENV)/bin/gunicorn -c gunicorn.conf.py wsgi:app

test: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# HTML into docs/_build/html; every warning is an error. The route reference is generated
# from the app itself at build time (docs/_ext/openapi_reference.py).
docs: install
	$(VENV)/bin/sphinx-build -W --keep-going -q -b html docs docs/_build/html

# Gateway overhead, concurrency, throughput and memory (bench/README.md); not a test, CI does not run it.
# BENCH_DATABASE_URL=postgresql://... adds PostgreSQL; BENCH_ARGS=--publish writes the table into the docs.
bench: install
	$(VENV)/bin/python -m bench $(BENCH_ARGS)

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@
