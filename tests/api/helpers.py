"""Small steps of the two portals, as the pages take them, for the API tests."""
from __future__ import annotations

import json
from dataclasses import replace

from tests.api_client import post

USERNAME = "hemtjanstab"
PASSWORD = "tuvKAJ58!x"
PHONE = "+46701234567"
NEW_PHONE = "+46707654321"
# The headers of every answer of the API (chalicelib/api/contract.py), written out here so
# that the tests check the contract rather than restate it.
API_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def error(response) -> dict:
    """The error object of a non-2xx answer, after checking the envelope's shape."""
    body = response.json_body
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def login(client, username=USERNAME, password=PASSWORD, **kw):
    return post(client, "/api/registration/login", {"username": username, "password": password},
                **kw)


def session_of(client, username=USERNAME, password=PASSWORD) -> str:
    response = login(client, username, password)
    assert response.status_code == 200, response.body
    return response.json_body["session"]


def start(client, username=USERNAME, phone=PHONE, **kw):
    return post(client, "/api/reset/start", {"username": username, "phone": phone}, **kw)


def resend(client, challenge, **kw):
    return post(client, "/api/reset/resend", {"challenge": challenge}, **kw)


def verify(client, challenge, code, **kw):
    return post(client, "/api/reset/verify", {"challenge": challenge, "code": code}, **kw)


def complete(client, token, password, **kw):
    return post(client, "/api/reset/complete", {"reset_token": token, "password": password},
                **kw)


def challenge_of(client, username=USERNAME, phone=PHONE, **kw) -> str:
    response = start(client, username, phone, **kw)
    assert response.status_code == 202, response.body
    return response.json_body["challenge"]


def reset_token(world, client, username=USERNAME, phone=PHONE) -> str:
    """Start a reset and verify the code that reached `phone`: a fresh reset token."""
    challenge = challenge_of(client, username, phone)
    verified = verify(client, challenge, world.last_code(phone))
    assert verified.status_code == 200, verified.body
    return verified.json_body["reset_token"]


def request_phone(client, session, phone, name="Anna Andersson", **kw):
    """pwreg's "add me": a name and a number; the code goes to the number."""
    return post(client, "/api/registration/holders", {"name": name, "phone": phone},
                session=session, **kw)


def verify_phone(client, session, code, **kw):
    return post(client, "/api/registration/holders/verify", {"code": code}, session=session,
                **kw)


def wrong(code: str) -> str:
    """A six-digit code that is not `code`."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


def disable(world, username=USERNAME) -> None:
    """What `accounts disable` does to the stored account."""
    accounts = world.portal.accounts
    account = accounts.get(username)
    world.portal.uow.write(accounts.save(replace(account, disabled=True,
                                                 version=account.version + 1), account.version))


def events(world, username=USERNAME) -> list[str]:
    """The audit trail's event names for `username`, oldest first."""
    return [record["event"] for record in reversed(world.audit(username))]


def sms_count(world) -> int:
    """How many SMS SNS has published, after running the worker over the queue."""
    world.deliver()
    return len(world.sent())


def queued(world) -> int:
    """How many SMS messages the API queued since the last call (the worker takes them)."""
    return world.deliver()["delivered"]


def reached(world) -> int:
    """How many SMS reached a phone of what the API queued since the last call (the worker
    takes them). SPEC 5 v3: a reset's start queues one message in every case, and the
    worker drops one that names no holder: what a limit held back never reaches a phone."""
    before = len(world.sent())
    world.deliver()
    return len(world.sent()) - before


def scan(world, table: str) -> str:
    """A whole DynamoDB table as one JSON text, to look for what must not be stored."""
    items = world.dynamodb.scan(TableName=table)["Items"]
    return json.dumps(items, ensure_ascii=False)


# -- the authenticator app (SPEC 12) ---------------------------------------------------------

def give_app(portal, now, username=USERNAME, phone=PHONE) -> str:
    """What enrolment saves, written straight to the account: the holder at `phone` gets an
    app (a new nonce replaces any they had). The app's secret, as the app keeps it."""
    from chalicelib.domain import authenticator
    account = portal.accounts.get(username)
    nonce = authenticator.new_nonce()
    assert any(holder.phone == phone for holder in account.holders), phone
    updated = account.with_holders([holder.with_app(nonce, now, holder.id)
                                     if holder.phone == phone else holder
                                     for holder in account.holders])
    portal.uow.write(portal.accounts.save(updated, account.version))
    return authenticator.secret_for(portal.authenticators.authenticator_key(), nonce)


def grouped(secret: str) -> str:
    """The key in groups of 4, as pwreg shows it for typing (assets/authenticator.js)."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def app_code(secret: str, moment, steps: int = 0) -> str:
    """The code an authenticator app shows at `moment` (`steps` time steps later or, if
    negative, earlier): pyotp, as a real app makes it (RFC 6238, SHA-1, 6 digits, 30 s)."""
    import pyotp
    from datetime import timedelta
    return pyotp.TOTP(secret).at(moment + timedelta(seconds=30 * steps))


def start_app(client, username=USERNAME, phone=PHONE, **kw):
    """pwreset's "Använd kod från autentiseringsappen i stället": a start with no SMS."""
    return post(client, "/api/reset/start",
                {"username": username, "phone": phone, "channel": "app"}, **kw)


def app_challenge(client, username=USERNAME, phone=PHONE, **kw) -> str:
    response = start_app(client, username, phone, **kw)
    assert response.status_code == 202, response.body
    return response.json_body["challenge"]
