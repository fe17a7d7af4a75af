# pwportal: `make run` starts the whole system on this machine, `make test` runs every test.
# Both set themselves up on a fresh machine: a virtualenv in .venv with requirements-dev.txt.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup run test bench clean browser-tools

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(PY) -m infra.local_stack

# The browser tests' tools, for `make test` only: Debian's Chromium (Playwright drives it;
# no browser is downloaded) and axe-core from npm, pinned in tests/browser/package-lock.json.
CHROMIUM := /usr/bin/chromium
AXE      := tests/browser/node_modules/axe-core/axe.min.js
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(CHROMIUM):
	$(SUDO) apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-dejavu-core

$(AXE): tests/browser/package.json tests/browser/package-lock.json
	npm ci --prefix tests/browser --no-audit --no-fund
	touch $@

browser-tools: $(CHROMIUM) $(AXE)

test: $(STAMP) browser-tools
	$(PY) -m pytest

# Figures and their targets (AWS calls per step, times, cold start, package size); writes
# bench/results.json. `chalice package` in it downloads the Lambda wheels from PyPI.
bench: $(STAMP)
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
