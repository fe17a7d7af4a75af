"""Least privilege in `ldap` mode (SPEC 13): the calls the functions make when the password
lives in a real slapd (the pending marker, the record after the directory, the repair's
read, the reminder job asking the directory) are all allowed by the same policies
(tests/infra/test_least_privilege.py's recorder and evaluator), and the bind password comes
from the same secrets parameter."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import boto3

from infra import template
from tests.conftest import REGION
from tests.directory.conftest import slapd  # noqa: F401 (the module's real directory)
from tests.infra.test_least_privilege import (ALLOWED, LOCAL_SECRETS_PARAMETER, SECRETS, STAGE,
                                              Functions, decide, deployed, iam_requests,
                                              recorder, stage_names)

__all__ = ["deployed", "recorder"]

USER, PHONE = "hemtjanstab", "+46701234567"
OLD, NEW = "Gammal-Sol-2026", "Ny-Mane-Regn-7"


def test_the_ldap_modes_calls_are_all_allowed(deployed, client, recorder, slapd,  # noqa: F811
                                              environment):
    world = deployed
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=LOCAL_SECRETS_PARAMETER, Type="SecureString", Overwrite=True,
        Value=json.dumps({**SECRETS, "ldap_bind_password": slapd.service_password}))
    for name, value in slapd.settings().items():
        if name != "PWPORTAL_LDAP_BIND_PASSWORD":  # deployed: from the secrets parameter
            environment.setenv(name, value)
    world.clock.set(datetime.now(timezone.utc))
    from chalicelib import bootstrap
    world.portal = bootstrap.override(clock=world.clock)
    slapd.add_account(USER, OLD)
    world.create_account(USER, None, PHONE)  # a link to the entry

    run = Functions(world, client, recorder)
    started = run.post("/api/reset/start", {"username": USER, "phone": PHONE})
    code = run.last_code(PHONE)
    verified = run.post("/api/reset/verify", {"challenge": started.json_body["challenge"],
                                              "code": code})
    done = run.post("/api/reset/complete", {"reset_token": verified.json_body["reset_token"],
                                            "password": NEW})
    assert done.status_code == 200, done.body
    assert slapd.binds(USER, NEW)
    login = run.post("/api/registration/login", {"username": USER, "password": NEW})
    assert login.status_code == 200, login.body
    world.clock.set(world.portal.accounts.get(USER).password_expires_at.replace(hour=6)
                    - __import__("datetime").timedelta(days=14))
    run.send_reminders()

    names = stage_names(world.portal.settings)
    refused = []
    made = set()
    for call in recorder.calls:
        for action, resource in iam_requests(call.service, call.operation, call.params, names):
            made.add((call.function, action))
            if decide(template.policy(STAGE, call.function), action, resource) != ALLOWED:
                refused.append((call.function, action, resource))
    assert ("api_handler", "ssm:GetParameter") in made  # the bind password's read
    assert ("api_handler", "dynamodb:PutItem") in made  # the pending marker
    assert ("send_reminders", "dynamodb:Query") in made
    assert not refused, refused
