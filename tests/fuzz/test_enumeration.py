"""No answer says whether a username exists (SPEC 5 and 8), seen from outside as a prober
sees it: reset start and pwreg login for an account with a number, one without, a disabled
one (for login: with a wrong and with its right password), one past its SMS limit, and a
username that does not exist must get the same status, the same body shape (keys and value
types, and for reset start the same length of challenge) and the same headers (names, and
values other than per-request ids). bench/ measures the time difference."""
from __future__ import annotations

import pytest

from tests.api.helpers import PASSWORD, disable
from tests.api_client import post

WRONG_PASSWORD = "Fel-Losen-2026!"
PER_REQUEST_HEADERS = {"x-amzn-requestid", "x-amz-apigw-id", "x-amzn-trace-id", "date"}
KINDS = {
    "with_number": "med.nummer",
    "without_number": "utan.nummer",
    "disabled": "avstangd",
    "sms_limit_reached": "mycket.sms",
    "no_such_user": "finns.inte",
}


@pytest.fixture
def accounts(world, client):
    world.create_account(KINDS["with_number"], phone="+46701234567")
    world.create_account(KINDS["without_number"], phone=None)
    world.create_account(KINDS["disabled"], phone="+46707654321")
    disable(world, KINDS["disabled"])
    world.create_account(KINDS["sms_limit_reached"], phone="+46701112233")
    assert post(client, "/api/reset/start", {"username": KINDS["sms_limit_reached"]},
                ip="192.0.2.50").status_code == 202  # 1 per 60 s: the next gets no SMS
    return KINDS


def shape(value):
    """Keys and value types, recursively: what a prober can compare without the values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


def headers_of(response) -> dict:
    return {name.lower(): value for name, value in response.headers.items()
            if name.lower() not in PER_REQUEST_HEADERS}


def answers(client, path, bodies: dict) -> dict:
    # Each from its own client IP, as a prober spreading requests would.
    return {kind: post(client, path, body, ip=f"203.0.113.{i + 1}")
            for i, (kind, body) in enumerate(bodies.items())}


def assert_alike(found: dict):
    statuses = {kind: response.status_code for kind, response in found.items()}
    assert len(set(statuses.values())) == 1, statuses
    shapes = {kind: shape(response.json_body) for kind, response in found.items()}
    first = next(iter(shapes.values()))
    assert all(s == first for s in shapes.values()), shapes
    headers = {kind: headers_of(response) for kind, response in found.items()}
    first = next(iter(headers.values()))
    assert all(h == first for h in headers.values()), headers


def test_reset_start_answers_alike_whether_or_not_the_username_exists(world, client, accounts):
    found = answers(client, "/api/reset/start",
                    {kind: {"username": username} for kind, username in accounts.items()})
    assert_alike(found)
    assert next(iter(found.values())).status_code == 202
    assert len({len(response.json_body["challenge"]) for response in found.values()}) == 1
    assert len({response.json_body["expires_in"] for response in found.values()}) == 1
    assert len({response.json_body["resend_after"] for response in found.values()}) == 1


def test_login_answers_alike_for_every_username_that_cannot_log_in(world, client, accounts):
    bodies = {kind: {"username": username, "password": WRONG_PASSWORD}
              for kind, username in accounts.items()}
    bodies["disabled_right_password"] = {"username": accounts["disabled"],
                                         "password": PASSWORD}
    found = answers(client, "/api/registration/login", bodies)
    assert_alike(found)
    assert next(iter(found.values())).status_code == 401
    assert len({response.json_body["error"]["message"] for response in found.values()}) == 1


def test_the_sixth_failed_login_from_one_network_locks_unknown_and_known_usernames_alike(
        world, client, accounts):
    found, left = {}, {}
    for kind in ("with_number", "no_such_user"):
        left[kind] = []
        for attempt in range(6):
            found[kind] = post(client, "/api/registration/login",
                               {"username": accounts[kind], "password": WRONG_PASSWORD},
                               ip="198.51.100.9")
            if found[kind].status_code == 401:
                left[kind].append(found[kind].json_body["error"]["attempts_left"])
    assert_alike(found)
    assert found["no_such_user"].status_code == 429
    assert found["no_such_user"].json_body["error"]["retry_after"] == \
        found["with_number"].json_body["error"]["retry_after"]
    # The tries left before the lock count down alike (SPEC 8 v2: attempts_left on a 401).
    assert left["with_number"] == left["no_such_user"] == [4, 3, 2, 1, 0]
