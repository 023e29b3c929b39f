# GIM Manager: `make run` to run it, `make test` to test it.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000

.PHONY: run test drills venv dev-venv migrate bench check-services browser compose-check clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed
dev-venv: $(VENV)/.installed-dev

## Run web server + worker + scheduler on SQLite and a file broker (or DATABASE_URL / CELERY_BROKER_URL).
run: venv
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py gim_bootstrap --demo
	PORT=$(PORT) $(PY) scripts/run.py

## Install test tools (and Chromium, docker-compose for the offline compose check) and run the whole suite
## against the real PostgreSQL and Redis of this machine.
test: dev-venv browser compose-check check-services
	$(PY) -m pytest -q

## The fault drills: the real stack on throwaway PostgreSQL and Redis, broken on purpose (about 20 minutes).
drills: dev-venv
	$(PY) drills/run_drills.py --quick

browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

compose-check:
	@command -v docker-compose >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null; }

check-services: dev-venv
	@$(PY) scripts/check_services.py

bench: dev-venv
	$(PY) bench/run_all.py

clean:
	rm -rf var output .pytest_cache
