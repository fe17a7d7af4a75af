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
    assert post(client, "/api/reset/start",
                {"username": KINDS["sms_limit_reached"], "phone": "+46701112233"},
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


HOLDER_NUMBERS = {"with_number": "+46701234567", "without_number": "+46701234567",
                  "disabled": "+46707654321", "sms_limit_reached": "+46701112233",
                  "no_such_user": "+46701234567"}
STRANGER = "+46709999999"


def test_reset_start_answers_alike_whether_or_not_the_username_exists(world, client, accounts):
    found = answers(client, "/api/reset/start",
                    {kind: {"username": username, "phone": HOLDER_NUMBERS[kind]}
                     for kind, username in accounts.items()})
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


@pytest.fixture
def aws_calls(world):
    """The AWS operations (DynamoDB and SQS) the portal makes from now on, in order."""
    from chalicelib.adapters import aws
    made: list[str] = []
    for service in ("dynamodb", "sqs"):
        aws.client(service).meta.events.register(
            f"provide-client-params.{service}",
            lambda model, service=service, **_: made.append(f"{service}.{model.name}"),
            unique_id=f"enumeration-calls-{service}")
    return made


def test_reset_start_answers_and_works_alike_for_every_username_and_number(
        world, client, accounts, aws_calls):
    """SPEC 11: username x number. An unknown username, a known one with a stranger's
    number and a holder's own number get the same answer and cost the same AWS calls in the
    same order (what their timing follows; bench/ prints the time figures); only the holder
    gets an SMS."""
    cases = {"unknown user": ("finns.inte", "+46701234567"),
             "known user, stranger's number": (accounts["with_number"], STRANGER),
             "known user, holder's number": (accounts["with_number"], "070-123 45 67")}
    world.deliver()
    before = len(world.sent())
    found, made = {}, {}
    for i, (kind, (username, phone)) in enumerate(cases.items()):
        world.clock.advance(seconds=61)
        del aws_calls[:]
        found[kind] = post(client, "/api/reset/start", {"username": username, "phone": phone},
                           ip=f"203.0.113.{i + 40}")
        made[kind] = list(aws_calls)
    assert_alike(found)
    assert next(iter(found.values())).status_code == 202
    first = next(iter(made.values()))
    assert first and all(calls == first for calls in made.values()), made
    assert "sqs.SendMessage" in first  # a message is queued in every case
    world.deliver()
    assert [to for to, _ in world.sent()[before:]] == ["+46701234567"]


def test_reset_with_the_app_answers_and_works_alike_for_every_username_and_number(
        world, client, accounts, aws_calls):
    """SPEC 11 and 12: username x number with `channel: "app"`. An unknown username, a
    disabled account, an account without holders, a stranger's number, the number of a
    holder without an app and that of a holder with one get the same answer to the start,
    to a resend and to a wrong code, and cost the same AWS calls in the same order; none
    queues an SMS."""
    from tests.api.helpers import app_code, give_app
    known = accounts["with_number"]
    world.portal.holder_changes.add(known, "Bo Ek", "+46707777777")  # Bo has no app
    secret = give_app(world.portal, world.clock.now(), known, "+46701234567")
    cases = {"unknown user": ("finns.inte", "+46701234567"),
             "disabled": (accounts["disabled"], "+46707654321"),
             "without holders": (accounts["without_number"], "+46701234567"),
             "known user, stranger's number": (known, STRANGER),
             "holder without an app": (known, "0707777777"),
             "holder with an app": (known, "070-123 45 67")}
    world.deliver()
    before = len(world.sent())
    code = app_code(secret, world.clock.now())
    wrong_code = f"{(int(code) + 1) % 1_000_000:06d}"
    steps = {"start": {}, "resend": {}, "wrong code": {}}
    made = {step: {} for step in steps}
    challenges = {}
    for i, (kind, (username, phone)) in enumerate(cases.items()):
        ip = f"203.0.113.{i + 60}"
        del aws_calls[:]
        steps["start"][kind] = post(client, "/api/reset/start", {
            "username": username, "phone": phone, "channel": "app"}, ip=ip)
        made["start"][kind] = list(aws_calls)
        challenges[kind] = steps["start"][kind].json_body["challenge"]
    world.clock.advance(seconds=61)
    for i, kind in enumerate(cases):
        for step, path, body in (("resend", "/api/reset/resend", {}),
                                 ("wrong code", "/api/reset/verify", {"code": wrong_code})):
            del aws_calls[:]
            steps[step][kind] = post(client, path, {"challenge": challenges[kind], **body},
                                     ip=f"203.0.113.{i + 60}")
            made[step][kind] = list(aws_calls)
    for step, found in steps.items():
        assert_alike(found)
        first = next(iter(made[step].values()))
        assert first and all(calls == first for calls in made[step].values()), (step, made)
        assert not any(call.startswith("sqs.") for call in first), (step, first)
    assert next(iter(steps["start"].values())).status_code == 202
    assert next(iter(steps["resend"].values())).status_code == 202
    assert {r.json_body["error"]["attempts_left"] for r in steps["wrong code"].values()} == {4}
    world.deliver()
    assert world.sent()[before:] == []  # no SMS in any case
    # and the holder with the app gets in with the app's code
    assert post(client, "/api/reset/verify", {
        "challenge": challenges["holder with an app"],
        "code": app_code(secret, world.clock.now())}).status_code == 200


def test_reset_start_works_alike_whatever_the_sms_limits_say(world, client, accounts,
                                                             aws_calls):
    """Issue 21, point 2 (SPEC 5 v3): after a start with a made-up number, a holder's number,
    another made-up number, the holder's number now limited (1 per 60 s) and the first
    made-up number again all get the same answer and cost the same AWS calls in the same
    order: the same writes to the same kinds of items, and one message queued in every case
    (the worker drops those that name no holder). Only the holder's first start is sent."""
    known = accounts["with_number"]
    world.deliver()
    before = len(world.sent())
    assert post(client, "/api/reset/start", {"username": known, "phone": STRANGER},
                ip="203.0.113.90").status_code == 202
    cases = {"holder's number": "+46701234567", "another made-up number": "+46709999998",
             "holder's number, limited": "+46701234567", "the first made-up number": STRANGER}
    found, made = {}, {}
    for i, (kind, phone) in enumerate(cases.items()):
        del aws_calls[:]
        found[kind] = post(client, "/api/reset/start", {"username": known, "phone": phone},
                           ip=f"203.0.113.{i + 91}")
        made[kind] = list(aws_calls)
    assert_alike(found)
    first = next(iter(made.values()))
    assert first and all(calls == first for calls in made.values()), made
    assert first.count("sqs.SendMessage") == 1
    world.deliver()
    assert [to for to, _ in world.sent()[before:]] == ["+46701234567"]


def test_reset_verify_answers_and_works_alike_for_a_holders_number_and_another_in_every_state(
        world, client, accounts, aws_calls):
    """Issue 21, point 1 (SPEC 11 v3): a wrong code on a challenge for a holder's number and
    on one for a made-up number get the same answer and the same AWS calls, fresh, after
    many wrong codes on made-up numbers, and while the account's reset is paused (by wrong
    codes on the holder's number)."""
    known = accounts["with_number"]
    states = {}

    def challenges() -> dict:
        found = {}
        for kind, phone in (("holder", "+46701234567"), ("made-up", STRANGER)):
            world.clock.advance(seconds=61)
            found[kind] = post(client, "/api/reset/start", {
                "username": known, "phone": phone, "channel": "app"},
                ip="203.0.113.120").json_body["challenge"]
        return found

    def wrong_code_on_each(state: str, open_: dict) -> None:
        states[state] = {}
        for i, (kind, challenge) in enumerate(open_.items()):
            del aws_calls[:]
            response = post(client, "/api/reset/verify", {"challenge": challenge,
                                                          "code": "000000"},
                            ip=f"203.0.113.{130 + i}")
            states[state][kind] = (response, list(aws_calls))

    wrong_code_on_each("fresh", challenges())
    for _ in range(3):  # 15 wrong codes on made-up numbers: they count on no account
        made_up = challenges()["made-up"]
        for _ in range(5):
            post(client, "/api/reset/verify", {"challenge": made_up, "code": "000000"},
                 ip="203.0.113.140")
    wrong_code_on_each("after wrong codes on made-up numbers", challenges())
    before_the_pause = challenges()
    for _ in range(2):  # ten wrong codes on the holder's number pause the reset
        holder = challenges()["holder"]
        for _ in range(5):
            post(client, "/api/reset/verify", {"challenge": holder, "code": "000000"},
                 ip="203.0.113.141")
    assert "reset.paused" in [r["event"] for r in world.audit(known)]
    wrong_code_on_each("paused, challenges from before", before_the_pause)
    wrong_code_on_each("paused, new challenges", challenges())
    for state, found in states.items():
        assert_alike({kind: response for kind, (response, _) in found.items()})
        assert len({repr(response.json_body["error"]) for response, _ in found.values()}) == 1, \
            (state, found)
        calls = [made for _, made in found.values()]
        assert calls[0] and all(made == calls[0] for made in calls), (state, calls)
    assert states["fresh"]["holder"][0].status_code == 400
    assert states["paused, new challenges"]["holder"][0].status_code == 410
