# Intervention: developer entry points.
#   make run    install, migrate the database, load curricula, add demo data, serve
#   make test   install and run the whole test suite
# Needs GNU make, Python 3.11+ as `python3`, and on Debian/Ubuntu the system packages that
# `make system-deps` checks (it installs them itself when run as root with apt-get).

PYTHON      ?= python3
VENV        ?= .venv
HOST        ?= 127.0.0.1
PORT        ?= 5000
DEBUG       ?= 0
PYTEST_ARGS ?=
# Base URL printed in certificate QR codes; follows HOST/PORT unless set in the environment.
INTERVENTION_PUBLIC_URL ?= http://$(HOST):$(PORT)

BIN   := $(VENV)/bin
CATALOGS := $(patsubst %.po,%.mo,$(wildcard intervention/translations/*/LC_MESSAGES/messages.po))
STAMP := $(VENV)/.installed
FLASK := $(BIN)/flask --app intervention
# `make run` is always the development server, whatever the calling shell has set.
RUN_ENV := INTERVENTION_ENV=development FLASK_DEBUG=$(DEBUG) \
	INTERVENTION_PUBLIC_URL=$(INTERVENTION_PUBLIC_URL)

# Debian package for browser tests (the PDF packages are named in system-deps).
BROWSER_PACKAGES := chromium
# The W3C Nu HTML checker for tests/browser/test_html_valid.py: the npm package vnu-jar, kept
# in a project-local folder, run on Java 17 or newer (Debian packages below).
VNU_DIR      := .cache/vnu
VNU_JAR      := $(VNU_DIR)/node_modules/vnu-jar/build/dist/vnu.jar
VNU_PACKAGES := default-jre-headless npm
# Debian package of the load generator the benchmarks drive the app with.
BENCH_PACKAGES := wrk

# `make bench`: a fresh data set of BENCH_SCALE participants, then every benchmark of bench/.
# BENCH_DATABASE_URL may name an empty PostgreSQL database instead of the SQLite file.
BENCH_SCALE        ?= 1000
BENCH_DIR          ?= /tmp/intervention-bench
BENCH_SQLITE       := $(BENCH_DIR)/scale-$(BENCH_SCALE).sqlite3
BENCH_DATABASE_URL ?= sqlite:///$(BENCH_SQLITE)
BENCH_ENV          := INTERVENTION_ENV=development INTERVENTION_DATABASE_URL=$(BENCH_DATABASE_URL)

# Shell helpers shared by the system-deps, browser-deps and bench-deps recipes.
#   has_lib NAME      true when the dynamic linker knows NAME (ldconfig may be off PATH)
#   has_dejavu        true when DejaVu fonts are installed
#   apt_ensure WHAT PKG...  install PKG... as root with apt-get, or say what to install and fail
define SH_HELPERS
has_lib() { { command -v ldconfig >/dev/null 2>&1 && ldconfig -p || /sbin/ldconfig -p; } 2>/dev/null | grep -q "$$1"; }; \
has_dejavu() { if command -v fc-list >/dev/null 2>&1; then fc-list 2>/dev/null | grep -qi dejavu; else ls /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf >/dev/null 2>&1; fi; }; \
apt_ensure() { \
	what="$$1"; shift; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing $$what: $$*"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends "$$@" \
			|| { echo "apt-get could not install: $$*" >&2; return 1; }; \
	else \
		echo "Missing $$what. Install these Debian/Ubuntu packages, then run make again:" >&2; \
		echo "    sudo apt-get install --no-install-recommends $$*" >&2; \
		echo "(elsewhere, install the same software with your system's package manager)" >&2; \
		return 1; \
	fi; \
}
endef

.DEFAULT_GOAL := help
.PHONY: help run test install system-deps browser-deps html-checker bench-deps bench mutation lint format clean

help:
	@echo "make run           install, migrate, load curricula, add demo data, serve http://$(HOST):$(PORT)"
	@echo "make test          install and run the test suite (PYTEST_ARGS='-k name' to filter)"
	@echo "make install       create $(VENV) and install the project with its dev tools"
	@echo "make system-deps   check (or, as root with apt-get, install) PDF libraries, fonts, pdfsig"
	@echo "make browser-deps  check (or install) Debian's chromium for browser tests"
	@echo "make html-checker  install the Nu HTML checker (vnu-jar, needs java and npm) in $(VNU_DIR)"
	@echo "make bench         fresh data set of BENCH_SCALE=$(BENCH_SCALE) participants, then bench/*.py"
	@echo "make bench-deps    check (or install) Debian's wrk for the load benchmark"
	@echo "make mutation      mutation testing of the rule modules (mutmut; long; MUTANTS narrows it)"
	@echo "make lint          ruff check, ruff format --check, bandit (medium and high)"
	@echo "make clean         remove $(VENV) and caches (keeps instance/, your local database)"
	@echo "Variables: PORT=$(PORT) HOST=$(HOST) DEBUG=$(DEBUG) PYTHON=$(PYTHON)"

run: install
	$(RUN_ENV) $(FLASK) db upgrade
	$(RUN_ENV) $(FLASK) curriculum sync
	$(RUN_ENV) $(FLASK) seed-demo --if-empty
	$(RUN_ENV) $(FLASK) signing init
	@echo "Serving http://$(HOST):$(PORT)  (demo logins: see README.md; Ctrl-C to stop)"
	exec env $(RUN_ENV) $(FLASK) run --host $(HOST) --port $(PORT)

# The browser tests (tests/browser) need Debian's chromium and the Nu HTML checker: without
# them, no test run.
test: install browser-deps html-checker
	$(BIN)/python -m pytest $(PYTEST_ARGS)

install: system-deps $(STAMP) $(CATALOGS)

# The Spanish interface: compiled from its .po file whenever that changes.
intervention/translations/%/LC_MESSAGES/messages.mo: intervention/translations/%/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile --statistics -d intervention/translations -l $*

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "$(PYTHON) is older than Python 3.11; run make PYTHON=python3.11 ..." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstalls only when pyproject.toml changes (or the venv is new).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --quiet --disable-pip-version-check -e ".[dev]"
	@touch $@

system-deps:
	@$(SH_HELPERS); \
	check() { \
		missing=""; \
		has_lib libpango-1.0.so.0       || missing="$$missing libpango-1.0-0"; \
		has_lib libpangoft2-1.0.so.0    || missing="$$missing libpangoft2-1.0-0"; \
		has_lib libharfbuzz-subset.so.0 || missing="$$missing libharfbuzz-subset0"; \
		has_dejavu                      || missing="$$missing fonts-dejavu-core"; \
		command -v pdfsig >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	}; \
	check; [ -z "$$missing" ] && exit 0; \
	apt_ensure "PDF libraries and fonts" $$missing || exit 1; \
	check; [ -z "$$missing" ] || { echo "Still missing after install:$$missing" >&2; exit 1; }

browser-deps:
	@$(SH_HELPERS); \
	[ -x /usr/bin/chromium ] && exit 0; \
	apt_ensure "Chromium for browser tests" $(BROWSER_PACKAGES) || exit 1; \
	[ -x /usr/bin/chromium ] || { echo "/usr/bin/chromium is still missing" >&2; exit 1; }

# Java and npm come from apt-get when run as root; otherwise the recipe says what to install.
html-checker:
	@$(SH_HELPERS); \
	missing=""; \
	command -v java >/dev/null 2>&1 || missing="$$missing default-jre-headless"; \
	[ -f $(VNU_JAR) ] || command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
		apt_ensure "Java and npm for the Nu HTML checker" $$missing || exit 1; \
	fi; \
	[ -f $(VNU_JAR) ] && exit 0; \
	echo "Installing the Nu HTML checker (npm package vnu-jar) into $(VNU_DIR)"; \
	mkdir -p $(VNU_DIR); \
	npm install --prefix $(VNU_DIR) --no-audit --no-fund --loglevel=error vnu-jar \
		|| { echo "npm could not install vnu-jar into $(VNU_DIR)" >&2; exit 1; }; \
	[ -f $(VNU_JAR) ] || { echo "$(VNU_JAR) is still missing after npm install" >&2; exit 1; }

bench-deps:
	@$(SH_HELPERS); \
	command -v wrk >/dev/null 2>&1 && exit 0; \
	apt_ensure "wrk for the load benchmark" $(BENCH_PACKAGES) || exit 1; \
	command -v wrk >/dev/null 2>&1 || { echo "wrk is still missing" >&2; exit 1; }

# Takes a few minutes: the data set, 11 load runs of 10 s, 500 certificates rendered for the zip.
bench: install bench-deps
	mkdir -p $(BENCH_DIR)
	rm -f $(BENCH_SQLITE) $(BENCH_SQLITE)-wal $(BENCH_SQLITE)-shm
	$(BENCH_ENV) $(FLASK) db upgrade
	$(BENCH_ENV) $(FLASK) curriculum sync
	$(BENCH_ENV) $(FLASK) seed-demo --scale $(BENCH_SCALE) --manifest $(BENCH_DIR)/manifest-$(BENCH_SCALE).json
	$(BIN)/python bench/load.py --database-url $(BENCH_DATABASE_URL) \
		--manifest $(BENCH_DIR)/manifest-$(BENCH_SCALE).json --out $(BENCH_DIR)/load-$(BENCH_SCALE).json
	$(BIN)/python bench/certificate_generation.py
	$(BIN)/python bench/module_render.py

# Mutation testing of the rules a court relies on (pyproject's [tool.mutmut], docs/testing.md):
# not part of `make test` or CI, it takes long. Results are kept in mutants/ and a rerun only
# tests what changed. MUTANTS narrows it: make mutation MUTANTS='intervention.access*'
MUTANTS ?=
MUTATION_CHILDREN ?= 2
# Each group of rule modules with its own tests, in checkouts under mutants-runs/ (bench/mutation.py).
# MUTANTS=audit runs one group.
mutation: install
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "mutmut==3.8.1"
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python bench/mutation.py --children $(MUTATION_CHILDREN) $(MUTANTS)
	$(BIN)/python bench/mutation_report.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/bandit -q -r intervention -ll

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .coverage $(VNU_DIR)
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
