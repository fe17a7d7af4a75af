"""End to end, the authenticator app (SPEC 12): the `make run` stack as a separate process,
with pyotp as the app. A holder proves their number on pwreg, adds the app from the key the
API shows once, and later resets the password with the app's code instead of an SMS. Then
every table of the embedded AWS and every line the stack printed are searched for the app's
secret: it must be nowhere."""
from __future__ import annotations

import time
from urllib.parse import parse_qs, unquote, urlparse

import boto3
import pyotp
import pytest

from infra.local_stack import DEMO_PASSWORD, DEMO_PHONE, DEMO_USERNAME, REGION
from tests.app_codes import earliest_accepted_step
from tests.e2e.test_local_stack import codes_sent_to, next_code, post
from tests.local_stack_process import RunningStack

NEW_PASSWORD = "Appen-Visar-2026!x"
ORGANISATION = "Exempelby kommun"
HOLDER = "Anna Andersson"


@pytest.fixture(scope="module")
def stack():
    running = RunningStack({"PWPORTAL_ORGANISATION_NAME": ORGANISATION,
                            "PWPORTAL_LIMIT_SMS_PER_NUMBER": "5/60,5/900,5/86400"})
    try:
        running.wait_until_ready()
        yield running
    finally:
        running.kill()


def every_item(stack) -> list[dict]:
    """Every item of every table in the stack's embedded AWS, as DynamoDB returns them."""
    dynamodb = boto3.client("dynamodb", region_name=REGION,
                            endpoint_url=f"http://127.0.0.1:{stack.moto_port}",
                            aws_access_key_id="local", aws_secret_access_key="local")
    items = []
    for table in dynamodb.list_tables()["TableNames"]:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            items.extend(page["Items"])
    return items


def test_a_holder_adds_the_app_and_resets_with_its_code_without_any_sms(stack, http):
    # pwreg: log in, prove one's own number (the demo holder's: that renames them), add the app
    login = post(http, stack, "/api/registration/login",
                 {"username": DEMO_USERNAME, "password": DEMO_PASSWORD})
    assert login.status_code == 200, login.text
    assert [h["authenticator"] for h in login.json()["holders"]] == [False]
    session = login.json()["session"]
    seen = len(codes_sent_to(http, stack, DEMO_PHONE))
    asked = post(http, stack, "/api/registration/holders",
                 {"name": HOLDER, "phone": "070-123 45 67"}, session)
    assert asked.status_code == 202, asked.text
    proved = post(http, stack, "/api/registration/holders/verify",
                  {"code": next_code(http, stack, DEMO_PHONE, seen)}, session)
    assert proved.status_code == 200, proved.text
    holder = proved.json()["holder"]
    assert (holder["name"], holder["authenticator"]) == (HOLDER, False)

    shown = post(http, stack, f"/api/registration/holders/{holder['id']}/authenticator", {},
                 session)
    assert shown.status_code == 200, shown.text
    enrolment = shown.json()
    secret = enrolment["secret"]
    uri = urlparse(enrolment["otpauth_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert unquote(uri.path) == f"/{ORGANISATION}:{DEMO_USERNAME} ({HOLDER})"
    assert parse_qs(uri.query)["issuer"] == [ORGANISATION]
    assert parse_qs(uri.query)["secret"] == [secret]
    assert enrolment["qr_svg"].startswith("<svg") and 'role="img"' in enrolment["qr_svg"]
    app = pyotp.parse_uri(enrolment["otpauth_uri"])  # the app scans the QR code's URI
    assert (app.digits, app.interval, app.issuer) == (6, 30, ORGANISATION)

    enrolled_at = earliest_accepted_step()  # the app of a phone a little behind
    confirmed = post(http, stack,
                     f"/api/registration/holders/{holder['id']}/authenticator/verify",
                     {"code": app.at(enrolled_at * 30)}, session)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["holder"]["authenticator"] is True
    again = post(http, stack, "/api/registration/login",
                 {"username": DEMO_USERNAME, "password": DEMO_PASSWORD})
    assert [h["authenticator"] for h in again.json()["holders"]] == [True]

    # pwreset with the app: no SMS is sent for it
    sms_before = len(http.get(stack.url + "/dev/sms", timeout=5).json()["messages"])
    started = post(http, stack, "/api/reset/start",
                   {"username": DEMO_USERNAME, "phone": "070-123 45 67", "channel": "app"})
    assert started.status_code == 202, started.text
    challenge = started.json()["challenge"]
    # the enrolment's own code is a replay: refused as a wrong code
    replayed = post(http, stack, "/api/reset/verify",
                    {"challenge": challenge, "code": app.at(enrolled_at * 30)})
    assert replayed.status_code == 400, replayed.text
    assert replayed.json()["error"]["code"] == "invalid_code"
    # the next step's code (as the app shows it a moment later) is accepted
    verified = post(http, stack, "/api/reset/verify",
                    {"challenge": challenge, "code": app.at((enrolled_at + 1) * 30)})
    assert verified.status_code == 200, verified.text
    completed = post(http, stack, "/api/reset/complete",
                     {"reset_token": verified.json()["reset_token"], "password": NEW_PASSWORD})
    assert completed.status_code == 200, completed.text
    assert post(http, stack, "/api/registration/login",
                {"username": DEMO_USERNAME, "password": NEW_PASSWORD}).status_code == 200
    time.sleep(2)  # the worker would have delivered a code by now, had one been queued
    texts = [m["text"] for m in http.get(stack.url + "/dev/sms", timeout=5).json()["messages"]]
    assert not [text for text in texts[sms_before:] if "#" in text]  # no code SMS at all
    assert texts[sms_before:], "the added app and the changed password are told by SMS"

    # the secret is nowhere: not in any table, not in any line the stack printed
    stored = repr(every_item(stack))
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    for form in (secret, secret.lower(), grouped):
        assert form not in stored
        assert form not in stack.output
    # (the search looked at real data: the holder's records and the stack's audit lines)
    assert DEMO_USERNAME in stored and HOLDER in stored
    assert "authenticator.added" in stack.output and "reset.code_verified" in stack.output
