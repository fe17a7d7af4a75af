# pwportal: `make run` starts the whole system on this machine, `make test` runs every test.
# Both set themselves up on a fresh machine: a virtualenv in .venv with requirements-dev.txt.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The `ldap` mode's tests and `make run DIRECTORY=ldap` run a real OpenLDAP from Debian.
SLAPD  := /usr/sbin/slapd
SAMBA  := /usr/sbin/samba

.PHONY: setup run test typecheck infra-check package deploy teardown bench clean browser-tools

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)

# DIRECTORY=ldap: the passwords in a real OpenLDAP slapd on PWPORTAL_LDAP_PORT (SPEC 13).
# IDP=local: a real OpenID Connect provider (Canaille) on PWPORTAL_IDP_PORT (SPEC 15).
IDP_STAMP := $(VENV)/.installed-idp
$(IDP_STAMP): requirements-idp.txt | $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-idp.txt
	touch $(IDP_STAMP)

run: $(STAMP) $(if $(filter ldap,$(DIRECTORY)),$(SLAPD)) $(if $(filter local,$(IDP)),$(IDP_STAMP))
	$(if $(DIRECTORY),PWPORTAL_DIRECTORY=$(DIRECTORY)) $(if $(IDP),PWPORTAL_IDP=$(IDP)) \
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

$(SLAPD):
	$(SUDO) apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slapd ldap-utils

# Active Directory's path is tested against a Samba AD domain controller (tests/directory).
$(SAMBA):
	$(SUDO) apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends samba

# The deploy template of every stage, built offline (`chalice package --merge-template`), run
# through cfn-lint and checked: tables, queues, least privilege, CloudFront, alarms, hygiene.
infra-check: $(STAMP)
	$(PY) -m pytest tests/infra

# mypy, configured in mypy.ini: strict on chalicelib/domain and ports.py (docs/testing.md).
typecheck: $(STAMP)
	$(PY) -m mypy

test: $(STAMP) typecheck infra-check browser-tools $(SLAPD) $(SAMBA)
	$(PY) -m pytest --ignore=tests/infra

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
	$(if $(DIRECTORY_VPC_ID),--directory-vpc-id $(DIRECTORY_VPC_ID) \
	  --directory-subnet-ids $(DIRECTORY_SUBNET_IDS) \
	  --directory-security-group-id $(DIRECTORY_SECURITY_GROUP_ID) \
	  $(if $(DIRECTORY_ROUTE_TABLE_IDS),--directory-route-table-ids $(DIRECTORY_ROUTE_TABLE_IDS)) \
	  $(if $(DIRECTORY_VPC_ENDPOINTS),--directory-vpc-endpoints $(DIRECTORY_VPC_ENDPOINTS)))

package: $(STAMP)
	$(PY) -m infra.template package --stage $(STAGE) --region $(REGION) --out build/$(STAGE)

deploy: $(STAMP)
	@test -n "$(HOST)" || { echo "make deploy needs HOST=portal.host.name"; exit 2; }
	@test -n "$(CERTIFICATE_ARN)" || { echo "make deploy needs CERTIFICATE_ARN=arn:aws:acm:us-east-1:..."; exit 2; }
	$(PY) -m infra.deploy deploy --stage $(STAGE) --region $(REGION) --host $(HOST) \
		--certificate-arn $(CERTIFICATE_ARN) $(DEPLOY_OPTIONS)

teardown: $(STAMP)
	$(PY) -m infra.deploy teardown --stage $(STAGE) --region $(REGION)

# Figures and their targets (AWS calls per step, times, cold start, package size); writes
# bench/results.json. `chalice package` in it downloads the Lambda wheels from PyPI.
bench: $(STAMP)
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache test-artifacts build
