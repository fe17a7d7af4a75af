# pwportal: `make run` starts the whole system on this machine, `make test` runs every test.
# Both set themselves up on a fresh machine, in a virtualenv in .venv: `make run` installs
# what running needs (requirements-run.txt), `make test` adds the test tools
# (requirements-dev.txt). Each step says what it does; pip shows each package it fetches.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --disable-pip-version-check --progress-bar off
RUN_STAMP  := $(VENV)/.run-installed
TEST_STAMP := $(VENV)/.test-installed
# The `ldap` mode's tests and `make run DIRECTORY=ldap` run a real OpenLDAP from Debian.
SLAPD  := /usr/sbin/slapd
SAMBA  := /usr/lib/$(shell uname -m)-linux-gnu/samba/ldb/samba_dsdb.so
# Parallel test workers (`make test JOBS=0` runs every test in one process, one at a time).
JOBS   ?= 2

.PHONY: setup run test typecheck infra-check package deploy teardown bench clean browser-tools screenshots

$(PY):
	@echo "== creating the virtualenv $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): requirements.txt requirements-run.txt | $(PY)
	@echo "== installing what running needs (requirements-run.txt) into $(VENV)"
	$(PIP) -r requirements-run.txt
	@touch $@

$(TEST_STAMP): $(RUN_STAMP) requirements-dev.txt requirements-idp.txt
	@echo "== installing the test and build tools (requirements-dev.txt) into $(VENV)"
	$(PIP) -r requirements-dev.txt
	@touch $@

setup: $(TEST_STAMP)

# DIRECTORY=ldap: the passwords in a real OpenLDAP slapd on PWPORTAL_LDAP_PORT (SPEC 13).
# IDP=local: a real OpenID Connect provider (Canaille) on PWPORTAL_IDP_PORT (SPEC 15).
IDP_STAMP := $(VENV)/.idp-installed
$(IDP_STAMP): requirements-idp.txt | $(RUN_STAMP)
	@echo "== installing the local identity provider (requirements-idp.txt) into $(VENV)"
	$(PIP) -r requirements-idp.txt
	@touch $@

# `exec`: Python is the recipe's process, not a child of `sh -c`, so the SIGTERM that make
# passes on to its recipe reaches the stack, which stops its parts (and make's Ctrl-C
# reaches it as the terminal's whole process group does).
run: $(RUN_STAMP) $(if $(filter ldap,$(DIRECTORY)),$(SLAPD)) $(if $(filter local,$(IDP)),$(IDP_STAMP))
	@echo "== starting the local stack (python -m infra.local_stack$(if $(DIRECTORY), with PWPORTAL_DIRECTORY=$(DIRECTORY))$(if $(IDP), with PWPORTAL_IDP=$(IDP)))"
	$(if $(DIRECTORY),export PWPORTAL_DIRECTORY=$(DIRECTORY);) $(if $(IDP),export PWPORTAL_IDP=$(IDP);) exec $(PY) -m infra.local_stack

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

$(SLAPD):
	$(SUDO) apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slapd ldap-utils

# Active Directory's path is tested against a Samba AD domain controller (tests/directory).
# `samba` alone cannot be one: its Recommends, left out by --no-install-recommends, hold the
# provisioning's files (samba-ad-provision), the directory's ldb modules without which the
# secrets database does not open (samba-dsdb-modules, whose samba_dsdb.so is the target) and
# the acl_xattr module provisioning sets the sysvol's ACLs with (samba-vfs-modules).
$(SAMBA):
	$(SUDO) apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends samba samba-ad-provision samba-dsdb-modules samba-vfs-modules

# The deploy template of every stage, built offline (`chalice package --merge-template`), run
# through cfn-lint and checked: tables, queues, least privilege, CloudFront, alarms, hygiene.
infra-check: $(TEST_STAMP)
	$(PY) -m pytest -n $(JOBS) --dist loadgroup tests/infra

# mypy, configured in mypy.ini: strict on chalicelib/domain, ports.py and services (docs/testing.md).
typecheck: $(TEST_STAMP)
	$(PY) -m mypy

# Every folder of tests/ in JOBS parallel workers (pytest-xdist; JOBS=0: in this process).
# Each test module runs whole in one worker, so that a module's stack, slapd or moto server
# is made once; the browser tests share one stack, and the `chalice package` builds one cache,
# so each of those runs in one worker too (tests/conftest.py). Each worker has its own
# in-process moto, portal and environment, and the servers tests start bind ports the OS
# gives them (slapd alone one found free). tests/concurrency runs after, alone: its 50
# clients queue on one single-threaded moto, and the API's AWS calls give up after 5 s, so
# that queue must not wait for the CPU behind other tests. Nothing here writes to tracked
# files: screenshots and each test's time (junit*.xml) go to test-artifacts/.
test: $(TEST_STAMP) typecheck browser-tools $(SLAPD) $(SAMBA)
	@echo "== every test but tests/concurrency, in $(JOBS) workers"
	$(PY) -m pytest -n $(JOBS) --dist loadgroup --ignore=tests/concurrency --durations=15 \
		--junitxml=test-artifacts/junit.xml
	@echo "== tests/concurrency, alone"
	$(PY) -m pytest tests/concurrency --junitxml=test-artifacts/junit-concurrency.xml

# The pictures docs/screenshots.md shows, as the last browser run drew them.
screenshots:
	@test -d test-artifacts/docs-screenshots || { echo "no screenshots yet: run the browser tests first (make test, or $(PY) -m pytest tests/browser)"; exit 2; }
	mkdir -p docs/screenshots
	cp test-artifacts/docs-screenshots/*.png docs/screenshots/

# Deploying to AWS (docs/deploying.md): your AWS credentials, a stage, the portal's host
# name and its ACM certificate in us-east-1.
STAGE  ?= prod
REGION ?= eu-north-1
DEPLOY_OPTIONS = $(if $(ALARM_EMAIL),--alarm-email $(ALARM_EMAIL)) \
	$(if $(SMS_MONTHLY_LIMIT_USD),--sms-monthly-limit-usd $(SMS_MONTHLY_LIMIT_USD)) \
	$(if $(SMS_PRICE_USD),--sms-price-usd $(SMS_PRICE_USD)) \
	$(if $(WAF_REQUESTS_PER_5_MINUTES),--waf-requests-per-5-minutes $(WAF_REQUESTS_PER_5_MINUTES)) \
	$(if $(NO_WAF),--no-waf) \
	$(if $(LOG_RETENTION_DAYS),--log-retention-days $(LOG_RETENTION_DAYS)) \
	$(if $(API_RATE_LIMIT),--api-rate-limit $(API_RATE_LIMIT)) \
	$(if $(API_BURST_LIMIT),--api-burst-limit $(API_BURST_LIMIT)) \
	$(if $(IDP_ISSUER),--idp-issuer $(IDP_ISSUER)) \
	$(if $(IDP_REDIRECT_BASE),--idp-redirect-base $(IDP_REDIRECT_BASE)) \
	$(if $(DIRECTORY_VPC_ID),--directory-vpc-id $(DIRECTORY_VPC_ID) \
	  --directory-subnet-ids $(DIRECTORY_SUBNET_IDS) \
	  --directory-security-group-id $(DIRECTORY_SECURITY_GROUP_ID) \
	  $(if $(DIRECTORY_ROUTE_TABLE_IDS),--directory-route-table-ids $(DIRECTORY_ROUTE_TABLE_IDS)) \
	  $(if $(DIRECTORY_VPC_ENDPOINTS),--directory-vpc-endpoints $(DIRECTORY_VPC_ENDPOINTS)))

package: $(TEST_STAMP)
	$(PY) -m infra.template package --stage $(STAGE) --region $(REGION) --out build/$(STAGE)

deploy: $(TEST_STAMP)
	@test -n "$(HOST)" || { echo "make deploy needs HOST=portal.host.name"; exit 2; }
	@test -n "$(CERTIFICATE_ARN)" || { echo "make deploy needs CERTIFICATE_ARN=arn:aws:acm:us-east-1:..."; exit 2; }
	$(PY) -m infra.deploy deploy --stage $(STAGE) --region $(REGION) --host $(HOST) \
		--certificate-arn $(CERTIFICATE_ARN) $(DEPLOY_OPTIONS)

teardown: $(TEST_STAMP)
	$(PY) -m infra.deploy teardown --stage $(STAGE) --region $(REGION)

# Figures and their targets (AWS calls per step, times, cold start, package size); writes
# bench/results.json. `chalice package` in it downloads the Lambda wheels from PyPI.
bench: $(TEST_STAMP)
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache test-artifacts build
