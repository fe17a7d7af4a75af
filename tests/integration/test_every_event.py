"""SPEC 9: every event of the list is caused by some path and lands in all three places:
the audit table, the JSON log and the CloudWatch metrics (embedded metric format)."""
from __future__ import annotations

import json

import boto3
import pyotp
import pytest

from chalicelib import bootstrap
from chalicelib.domain.events import EVENTS
from tests.api_client import post
from tests.conftest import REGION, FailingGateway
from tests.idp.conftest import provider  # noqa: F401 (the real identity provider, SPEC 15)

PASSWORD = "tuvKAJ58!x"


@pytest.fixture
def metered(world, environment):
    """The world with metrics on, as on a deployed stage, and small limits to reach."""
    environment.setenv("PWPORTAL_METRICS", "true")
    environment.setenv("PWPORTAL_STAGE", "local")
    environment.setenv("PWPORTAL_LIMIT_WRONG_CODES_PER_USERNAME", "2/86400")
    environment.setenv("PWPORTAL_LIMIT_LOGIN_FAILURES_PER_USERNAME", "2/900")
    world.portal = bootstrap.override(clock=world.clock)
    return world


def wrong(code: str) -> str:
    return f"{(int(code) + 500001) % 1000000:06d}"


def cause_every_event(world, client, provider):
    cause_support_sign_in(world, client, provider)
    changes, holders = world.portal.account_changes, world.portal.holder_changes
    world.create_account()                                             # account.created
    started = post(client, "/api/reset/start",                         # reset.requested
                   {"username": "hemtjanstab", "phone": "+46701234567"})
    post(client, "/api/reset/start",                                   # ratelimit.exceeded
         {"username": "hemtjanstab", "phone": "+46701234567"})
    code = world.last_code("+46701234567")                             # reset.code_sent
    challenge = started.json_body["challenge"]
    post(client, "/api/reset/verify", {"challenge": challenge, "code": wrong(code)})
    verified = post(client, "/api/reset/verify", {"challenge": challenge, "code": code})
    token = verified.json_body["reset_token"]                          # reset.code_verified
    post(client, "/api/reset/complete", {"reset_token": token, "password": "password1"})
    post(client, "/api/reset/complete", {"reset_token": token,        # password.changed
                                         "password": "Bla-Hus-2026-x"})
    world.clock.advance(seconds=61)
    login = post(client, "/api/registration/login", {"username": "hemtjanstab",
                                                     "password": "Bla-Hus-2026-x"})
    session = login.json_body["session"]                               # login.succeeded
    post(client, "/api/registration/holders", {"name": "Anna Andersson", "phone": "0707654321"},
         session=session)
    phone_code = world.last_code("+46707654321")                       # phone.change_requested
    post(client, "/api/registration/holders/verify", {"code": wrong(phone_code)},
         session=session)                                              # phone.changed (wrong)
    anna = post(client, "/api/registration/holders/verify", {"code": phone_code},
                session=session).json_body["holder"]["id"]             # holder.added
    app = f"/api/registration/holders/{anna}/authenticator"
    secret = post(client, app, {}, session=session).json_body["secret"]
    post(client, app + "/verify", {"code": pyotp.TOTP(secret).at(      # authenticator.added
        world.clock.now().timestamp())}, session=session)
    client.http.delete(app, headers={"Authorization": f"Bearer {session}"})
    world.deliver()                                                    # authenticator.removed
    for _ in range(2):                                                 # login.failed, .locked
        post(client, "/api/registration/login", {"username": "hemtjanstab",
                                                 "password": "Fel-Losen-1"})
    changes.unlock("hemtjanstab")                                      # account.unlocked
    changes.disable("hemtjanstab")                                     # account.disabled
    changes.enable("hemtjanstab")                                      # account.enabled
    changes.set_phone("hemtjanstab", "0707654321")                     # phone.set_by_support
    bo = holders.add("hemtjanstab", "Bo Ek", "0701112299").holder  # holder.added
    holders.remove("hemtjanstab", bo.id)                         # holder.removed

    world.create_account("nattpatrullen", phone="+46701112233")
    again = post(client, "/api/reset/start", {"username": "nattpatrullen", "phone": "+46701112233"})
    other = world.last_code("+46701112233")
    for _ in range(2):                                                 # reset.paused
        post(client, "/api/reset/verify", {"challenge": again.json_body["challenge"],
                                           "code": wrong(other)})

    world.clock.advance(days=76)                                       # reminder.sent
    world.portal.reminders.run()
    world.deliver()

    world.clock.advance(days=400)                                      # holder.expired
    world.portal.holder_expiry.run()
    cause_directory_failed(world, client)                              # directory.failed
    cause_breach_check_failed(world)                                   # breach_check.failed

    world.use(gateway=FailingGateway())                            # sms.failed
    from chalicelib.domain.sms import NOTICE, SmsMessage
    with pytest.raises(RuntimeError):
        world.portal.delivery.deliver(SmsMessage(NOTICE, "Hej", to="+46701234567"),
                                      receive_count=world.settings.sms_max_receives)


def cause_console_work(world, browser, headers):
    """The agent's work on an account of its own: support.caller_failed,
    support.caller_verified, support.reset_link_sent."""
    import re
    world.portal.account_changes.create("konsolkonto", PASSWORD, "+46701112233")
    account = "/api/support/accounts/konsolkonto"

    def send(path, body):
        sent = {**headers, "Content-Type": "application/json",
                "Cookie": "; ".join(f"{k}={v}" for k, v in browser.jar.items())}
        return browser.client.http.post(account + path, headers=sent,
                                        body=json.dumps(body).encode())

    holder = world.portal.accounts.get("konsolkonto").holders[0].id
    assert send("/verify/start", {"holder_id": holder, "channel": "sms"}).status_code == 200
    world.deliver()
    code = re.search(r"\b(\d{6})\b", [text for to, text in world.sent()
                                        if "Supportens kod" in text][-1]).group(1)
    assert send("/verify", {"code": wrong(code)}).status_code == 400    # caller_failed
    assert send("/verify", {"code": code}).status_code == 200           # caller_verified
    assert send("/reset-link", {"holder_id": holder}).status_code == 200  # reset_link_sent


def cause_support_sign_in(world, client, provider):
    """The console's sign-in (SPEC 14) at the real provider, on the real time its tokens
    carry: support.signed_in, support.signed_out, support.sign_in_refused; and a holder's
    (SPEC 15) refused: idp.sign_in_refused."""
    from datetime import datetime, timezone

    from infra.identity_provider import LOCAL_CLIENT_SECRET
    from tests.idp.conftest import PORTAL
    from tests.idp.test_support_sign_in import CONSOLE_HEADERS, Browser
    world.clock.set(datetime.now(timezone.utc))
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"IDP_ISSUER": provider.issuer, "IDP_REDIRECT_BASE": PORTAL,
                            "IDP_CLIENT_SECRET": LOCAL_CLIENT_SECRET,
                            "IDP_SCOPES": "openid profile groups",
                            "HOLDER_IDENTITY": "offered"}.items():
            patch.setenv("PWPORTAL_" + name, value)
        world.portal = bootstrap.override(clock=world.clock)
        browser = Browser(client)
        assert browser.callback(browser.provider_answer()).status_code == 303   # signed_in
        cause_console_work(world, browser, CONSOLE_HEADERS)
        assert browser.post("/api/support/logout", CONSOLE_HEADERS).status_code == 204
        assert browser.get("/api/support/callback?state=forged&code=x"       # sign_in_refused
                           ).status_code == 400
        assert browser.get("/api/idp/callback?state=forged&code=x"   # idp.sign_in_refused
                           ).status_code == 303
    world.portal = bootstrap.override(clock=world.clock)


def cause_directory_failed(world, client):
    """`ldap` mode (SPEC 13) against a directory that is not there: 503 at the login."""
    from tests.ports import unanswered_port
    with unanswered_port() as port, pytest.MonkeyPatch.context() as patch:
        for name, value in {"DIRECTORY": "ldap", "LDAP_URL": f"ldaps://127.0.0.1:{port}",
                            "LDAP_CA_FILE": "/etc/ssl/certs/ca-certificates.crt",
                            "LDAP_BIND_DN": "cn=pwportal,dc=pwportal,dc=local",
                            "LDAP_BIND_PASSWORD": "service-password",
                            "LDAP_BASE_DN": "dc=pwportal,dc=local"}.items():
            patch.setenv("PWPORTAL_" + name, value)
        world.portal = bootstrap.override(clock=world.clock)
        answer = post(client, "/api/registration/login", {"username": "nattpatrullen",
                                                          "password": "Bla-Hus-2026-x"})
        assert answer.status_code == 503
    world.portal = bootstrap.override(clock=world.clock)


def cause_breach_check_failed(world):
    """SPEC 16: the range API does not answer (nothing listens) for support's password."""
    from tests.ports import unanswered_port
    with unanswered_port() as port, pytest.MonkeyPatch.context() as patch:
        patch.setenv("PWPORTAL_BREACH_CHECK", "range")
        patch.setenv("PWPORTAL_BREACH_RANGE_URL", f"http://127.0.0.1:{port}/range/")
        world.portal = bootstrap.override(clock=world.clock)
        world.create_account("kvallspatrullen", phone=None)
    world.portal = bootstrap.override(clock=world.clock)


def test_every_event_is_in_the_audit_table_the_log_and_the_metrics(metered, client, capsys,
                                                                   provider):
    cause_every_event(metered, client, provider)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()
             if line.startswith('{"')]
    logged = {line["event"] for line in lines if "event" in line}
    metrics = {metric["Name"] for line in lines if "_aws" in line
               for directive in line["_aws"]["CloudWatchMetrics"]
               for metric in directive["Metrics"]}
    items = boto3.client("dynamodb", region_name=REGION).scan(
        TableName=metered.settings.audit_table)["Items"]
    stored = {item["event"]["S"] for item in items}
    assert stored == set(EVENTS), sorted(set(EVENTS) - stored)
    assert logged == set(EVENTS), sorted(set(EVENTS) - logged)
    assert metrics == set(EVENTS), sorted(set(EVENTS) - metrics)
