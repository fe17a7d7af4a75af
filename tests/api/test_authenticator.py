"""SPEC 8, 12 over the API (chalice.test.Client on moto): a holder adds their authenticator
app on pwreg, confirms it with the app's first code (made by pyotp, as an app makes it, at
the test clock's time) and removes it; the answers, the AWS calls of each step, and a
search of every table and log line for the secret."""
from __future__ import annotations

import json
import re

import pyotp
import pytest

from chalicelib.adapters import aws
from chalicelib.domain import authenticator
from tests.api.helpers import (API_HEADERS, NEW_PHONE, PHONE, error, grouped, login,
                               request_phone, scan, session_of, verify_phone)
from tests.api_client import post

BASE = "/api/registration/holders"


def holder_session(world, client, phone=PHONE, name="Anna Berg") -> tuple[str, str]:
    """A session in which the holder at `phone` added themselves: (session, holder id)."""
    session = session_of(client)
    assert request_phone(client, session, phone, name).status_code == 202
    verified = verify_phone(client, session, world.last_code(phone))
    assert verified.status_code == 200, verified.body
    world.deliver()
    return session, verified.json_body["holder"]["id"]


def add(client, session, holder_id, **kw):
    return post(client, f"{BASE}/{holder_id}/authenticator", {}, session=session, **kw)


def confirm(client, session, holder_id, code, **kw):
    return post(client, f"{BASE}/{holder_id}/authenticator/verify", {"code": code},
                session=session, **kw)


def remove(client, session, holder_id, lang=None):
    headers = {"Authorization": f"Bearer {session}"} if session else {}
    if lang:
        headers["Accept-Language"] = lang
    return client.http.delete(f"{BASE}/{holder_id}/authenticator", headers=headers)


def app_code(world, secret: str, offset: int = 0) -> str:
    return pyotp.TOTP(secret).at(world.clock.now().timestamp() + offset)


@pytest.fixture
def anna(world, client):
    world.create_account()
    return holder_session(world, client)


@pytest.fixture
def aws_calls(world):
    """The AWS calls the portal makes from now on (`service.Operation`), as bench/ counts."""
    made: list[str] = []
    for service in ("dynamodb", "sqs", "sns", "ssm"):
        aws.client(service).meta.events.register(
            "before-call", lambda model, **_: made.append(
                f"{model.service_model.service_name}.{model.name}"),
            unique_id=f"authenticator-calls-{service}")
    return made


def test_a_holder_adds_their_app_confirms_it_and_removes_it(world, client, anna):
    session, anna_id = anna
    shown = add(client, session, anna_id)
    assert shown.status_code == 200, shown.body
    body = shown.json_body
    assert set(body) == {"secret", "otpauth_uri", "qr_svg", "expires_in"}
    assert body["expires_in"] == authenticator.ENROLMENT_SECONDS
    assert pyotp.parse_uri(body["otpauth_uri"]).secret == body["secret"]
    assert "<title>QR-kod för autentiseringsappen:" in body["qr_svg"]
    for name, value in API_HEADERS.items():
        assert shown.headers[name] == value
    assert login(client).json_body["holders"][0]["authenticator"] is False

    confirmed = confirm(client, session, anna_id, app_code(world, body["secret"]))
    assert confirmed.status_code == 200, confirmed.body
    assert confirmed.json_body == {"holder": {"id": anna_id, "name": "Anna Berg",
                                              "phone_masked": "070-*** ** 67",
                                              "authenticator": True, "proven": False}}
    assert login(client).json_body["holders"][0]["authenticator"] is True
    world.deliver()
    assert "En autentiseringsapp lades till" in world.sent()[-1][1]

    gone = remove(client, session, anna_id)
    assert gone.status_code == 204 and gone.body in (b"", "", None)
    assert login(client).json_body["holders"][0]["authenticator"] is False
    world.deliver()
    assert world.sent()[-1][0] == PHONE and "togs bort" in world.sent()[-1][1]
    assert error(remove(client, session, anna_id))["code"] == "not_found"


def test_a_body_is_optional_on_adding_and_must_be_json_if_sent(world, client, anna):
    session, anna_id = anna
    bare = client.http.post(f"{BASE}/{anna_id}/authenticator",
                            headers={"Authorization": f"Bearer {session}"}, body=b"")
    assert bare.status_code == 200
    assert add(client, session, anna_id, raw=b"[]").status_code == 400
    assert add(client, session, anna_id, raw=b"{}", content_type="text/plain"
               ).status_code == 415


def test_wrong_codes_count_down_and_the_sixth_is_code_expired(world, client, anna):
    session, anna_id = anna
    secret = add(client, session, anna_id).json_body["secret"]
    right = app_code(world, secret)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    left = []
    for _ in range(5):
        answer = confirm(client, session, anna_id, wrong, lang="en")
        assert answer.status_code == 400
        left.append(error(answer)["attempts_left"])
        assert "Wrong security code" in error(answer)["message"]
    assert left == [4, 3, 2, 1, 0]
    sixth = confirm(client, session, anna_id, right)
    assert sixth.status_code == 410 and error(sixth)["code"] == "code_expired"
    assert world.portal.accounts.get("hemtjanstab").holder(anna_id).authenticator is None


def test_only_ones_own_holder_and_only_with_a_session(world, client, anna):
    session, anna_id = anna
    bo = world.portal.holder_changes.add("hemtjanstab", "Bo Ek", NEW_PHONE).holder
    for holder_id in (bo.id, "A" * 16, "nope"):
        assert error(add(client, session, holder_id))["code"] == "not_found"
        assert error(confirm(client, session, holder_id, "123456"))["code"] == "not_found"
        assert error(remove(client, session, holder_id))["code"] == "not_found"
    for nobody in (None, "C" * 43):
        assert add(client, nobody, anna_id).status_code == 401
        assert confirm(client, nobody, anna_id, "123456").status_code == 401
        assert remove(client, nobody, anna_id).status_code == 401
        assert error(remove(client, nobody, anna_id))["code"] == "invalid_session"
    assert all(h.authenticator is None
               for h in world.portal.accounts.get("hemtjanstab").holders)


def test_each_step_stays_within_four_aws_calls(world, client, anna, aws_calls):
    """What bench/ counts, per step: add 3, a wrong code 2, the right code 4, remove 4."""
    session, anna_id = anna
    del aws_calls[:]
    secret = add(client, session, anna_id).json_body["secret"]
    assert aws_calls == ["dynamodb.GetItem", "dynamodb.GetItem", "dynamodb.PutItem"]
    del aws_calls[:]
    assert confirm(client, session, anna_id, "000000" if app_code(world, secret) != "000000"
                   else "111111").status_code == 400
    assert aws_calls == ["dynamodb.UpdateItem", "dynamodb.PutItem"]
    del aws_calls[:]
    assert confirm(client, session, anna_id, app_code(world, secret)).status_code == 200
    assert aws_calls == ["dynamodb.UpdateItem", "dynamodb.GetItem",
                         "dynamodb.TransactWriteItems", "sqs.SendMessage"]
    del aws_calls[:]
    assert remove(client, session, anna_id).status_code == 204
    assert aws_calls == ["dynamodb.GetItem", "dynamodb.GetItem",
                         "dynamodb.TransactWriteItems", "sqs.SendMessage"]


def test_the_secret_is_in_no_table_and_no_log_line_the_nonce_only_in_the_account(
        world, client, anna, capsys):
    session, anna_id = anna
    secret = add(client, session, anna_id).json_body["secret"]
    assert confirm(client, session, anna_id, app_code(world, secret)).status_code == 200
    nonce = world.portal.accounts.get("hemtjanstab").holder(anna_id).app_nonce
    settings = world.settings
    tables = {name: scan(world, name) for name in (
        settings.accounts_table, settings.challenges_table, settings.limits_table,
        settings.audit_table)}
    assert [name for name, text in tables.items() if nonce in text] == [
        settings.accounts_table]
    assert remove(client, session, anna_id).status_code == 204
    world.deliver()
    logged = capsys.readouterr()
    everything = "".join(scan(world, name) for name in tables) + logged.out + logged.err \
        + json.dumps(world.sent())
    assert "authenticator.added" in logged.out and "authenticator.removed" in logged.out
    for form in (secret, grouped(secret), nonce):
        assert form not in everything
    assert not re.search(r"otpauth://", everything)
