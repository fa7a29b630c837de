# The two commands a newcomer needs: `make run` and `make test`.
VENV := .venv
PYTHON ?= python3
FLASK := $(VENV)/bin/flask --app wsgi

.PHONY: run test docs bench install

run: install
	$(FLASK) db upgrade
	$(FLASK) api-keys bootstrap
	$(VENV)/bin/gunicorn -c gunicorn.conf.py wsgi:app

test: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@
