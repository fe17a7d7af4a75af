"""The cross-cutting rules of SPEC 8: headers, the error envelope, languages, JSON bodies,
usernames, oversized bodies, and never telling whether a username exists."""
import json

import pytest

from chalicelib.messages import text
from tests.api.helpers import (API_HEADERS, NEW_PHONE, PASSWORD, PHONE, USERNAME,
                               challenge_of, disable, error, events, login, queued,
                               session_of, start, verify, wrong)
from tests.api_client import get, post

JSON_POSTS = ["/api/registration/login", "/api/registration/holders",
              "/api/registration/holders/verify", "/api/reset/start", "/api/reset/resend",
              "/api/reset/verify", "/api/reset/complete", "/api/reset/unlock"]
ANONYMOUS_POSTS = {
    "/api/registration/login": {"username": USERNAME, "password": PASSWORD},
    "/api/reset/start": {"username": USERNAME, "phone": PHONE},
    "/api/reset/resend": {"challenge": "x" * 43},
    "/api/reset/verify": {"challenge": "x" * 43, "code": "123456"},
    "/api/reset/complete": {"reset_token": "x" * 43, "password": "tuvKAJ58"},
    "/api/reset/unlock": {"reset_token": "x" * 43},
}


def assert_security_headers(response):
    assert {name: response.headers.get(name) for name in API_HEADERS} == API_HEADERS


# -- headers and the envelope, on every kind of answer ----------------------------------------

ANSWERS = [  # method, path, body, content type, status, error code
    ("GET", "/api/config", None, None, 200, None),
    ("POST", "/api/reset/start", {"username": "nobody", "phone": "+46701234567"}, "application/json", 202, None),
    ("POST", "/api/registration/logout", None, "application/json", 204, None),
    ("POST", "/api/reset/start", {}, "application/json", 400, "invalid_request"),
    ("POST", "/api/registration/holders", {"name": "Anna", "phone": NEW_PHONE},
     "application/json", 401,
     "invalid_session"),
    ("GET", "/api/reset/start", None, None, 405, "method_not_allowed"),
    ("POST", "/api/config", {}, "application/json", 405, "method_not_allowed"),
    ("POST", "/api/reset/verify", {"challenge": "nope", "code": "123456"}, "application/json",
     410, "challenge_expired"),
    ("POST", "/api/reset/complete", {"reset_token": "nope", "password": "tuvKAJ58"},
     "application/json", 410, "token_expired"),
    ("POST", "/api/reset/start", {"username": "x" * 20000, "phone": "+46701234567"}, "application/json", 413,
     "request_too_large"),
    ("POST", "/api/reset/start", {"username": "nobody", "phone": "+46701234567"}, "text/plain", 415,
     "unsupported_media_type"),
    ("POST", "/api/reset/start", {"username": "nobody", "phone": "+46701234567"}, None, 415, "unsupported_media_type"),
]


def test_every_answer_is_no_store_and_nosniff_and_every_error_uses_the_envelope(world, client):
    for method, path, body, content_type, status, code in ANSWERS:
        case = (method, path, content_type, status)
        if method == "GET":
            response = get(client, path)
        else:
            response = post(client, path, body, content_type=content_type)
        assert response.status_code == status, (case, response.body[:300])
        assert_security_headers(response)
        if code:
            assert response.headers["Content-Type"].startswith("application/json"), case
            assert error(response)["code"] == code, case
        if status == 204:
            assert response.body == b"", case


def test_too_many_requests_and_rejected_passwords_carry_the_headers_too(world, client):
    world.create_account()
    challenge = challenge_of(client)
    too_soon = post(client, "/api/reset/resend", {"challenge": challenge})
    token = verify(client, challenge, world.last_code(PHONE)).json_body["reset_token"]
    rejected = post(client, "/api/reset/complete", {"reset_token": token, "password": "Åsa12345"})
    assert (rejected.status_code, too_soon.status_code) == (422, 429)
    assert_security_headers(rejected)
    assert_security_headers(too_soon)


def test_an_unexpected_failure_is_a_500_in_the_envelope_without_a_stack_trace(
        world, client, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(type(world.portal.reset), "start", boom)  # a frozen use case
    response = start(client, lang="en")
    assert response.status_code == 500
    assert_security_headers(response)
    assert error(response)["code"] == "internal_error"
    assert "hunter2" not in response.body.decode() and "Traceback" not in response.body.decode()
    assert error(response)["message"].startswith(text("internal_error", "en"))


# -- languages -------------------------------------------------------------------------------

LANGUAGES = [(None, "sv"), ("sv", "sv"), ("sv-SE,sv;q=0.9", "sv"), ("en", "en"),
             ("en-GB,en;q=0.9", "en"), ("de, en;q=0.5", "en"), ("sv;q=0.2, en;q=0.8", "en"),
             ("fr", "sv")]


def test_error_messages_are_swedish_by_default_and_english_on_request(world, client):
    for accept_language, lang in LANGUAGES:
        response = post(client, "/api/reset/start", {}, lang=accept_language)
        message = error(response)["message"]
        assert message.startswith(text("invalid_request", lang)), (accept_language, message)
        support = {"sv": "vardochstod@orebro.se, 2000 (internt nummer, knappval 3 och 1) "
                         "eller ett meddelande i Treserva (sök på ”Treserva”)",
                   "en": "vardochstod@orebro.se, 2000 (internal number, then options 3 and 1) "
                         "or a message in Treserva (search for “Treserva”)"}
        assert support[lang] in message  # the support line is in every error, in its language
        assert error(response)["support"] == support[lang]


def test_errors_with_numbers_say_them_in_the_message(world, client):
    world.create_account()
    challenge = challenge_of(client)
    too_soon = post(client, "/api/reset/resend", {"challenge": challenge}, lang="en")
    assert error(too_soon)["message"].startswith("Wait 60 seconds before asking for a new code.")
    refused = verify(client, challenge, wrong(world.last_code(PHONE)))
    assert error(refused)["message"].startswith("Fel säkerhetskod. Du har 4 försök kvar.")


# -- JSON in ---------------------------------------------------------------------------------

def test_posts_that_are_not_json_are_refused_with_415(world, client):
    for path in JSON_POSTS:
        for content_type in ("text/plain", None, "application/x-www-form-urlencoded",
                             "multipart/form-data; boundary=x", "application/jsonp"):
            response = post(client, path, {"username": USERNAME}, content_type=content_type,
                            session="not-a-session")
            assert response.status_code == 415, (path, content_type, response.body)
            assert error(response)["code"] == "unsupported_media_type"
            assert_security_headers(response)
    assert queued(world) == 0


def test_json_with_a_charset_parameter_is_json(world, client):
    response = post(client, "/api/reset/start", {"username": USERNAME, "phone": "+46701234567"},
                    content_type="application/json; charset=utf-8")
    assert response.status_code == 202


NOT_OBJECTS = [b'{"username": ', b'["hemtjanstab"]', b'"hemtjanstab"', b"null", b"42", b"",
               b"\xff\xfe{}", b"{'username': 'hemtjanstab'}"]
WRONG_TYPES = [
    ("/api/registration/login", "username", 42),
    ("/api/registration/login", "username", None),
    ("/api/registration/login", "password", 12345678),
    ("/api/registration/login", "password", ["tuvKAJ58!x"]),
    ("/api/reset/start", "username", 42),
    ("/api/reset/start", "username", ["hemtjanstab"]),
    ("/api/reset/start", "username", {"name": "hemtjanstab"}),
    ("/api/reset/start", "username", True),
    ("/api/reset/resend", "challenge", 42),
    ("/api/reset/verify", "challenge", None),
    ("/api/reset/verify", "code", 123456),
    ("/api/reset/complete", "reset_token", ["x"]),
    ("/api/reset/complete", "password", 12345678),
    ("/api/reset/unlock", "reset_token", 42),
]


def assert_invalid_request(response, case):
    assert response.status_code == 400, (case, response.body)
    assert error(response)["code"] == "invalid_request", case


def test_a_body_that_is_not_a_json_object_is_an_invalid_request(world, client):
    for path in ANONYMOUS_POSTS:
        for raw in NOT_OBJECTS:
            assert_invalid_request(post(client, path, raw=raw), (path, raw))


def test_a_missing_field_is_an_invalid_request(world, client, argon2_calls):
    world.create_account()
    argon2_calls.clear()
    for path, full in ANONYMOUS_POSTS.items():
        for missing in full:
            body = {k: v for k, v in full.items() if k != missing}
            assert_invalid_request(post(client, path, body), (path, missing))
    assert argon2_calls == []
    assert queued(world) == 0


def test_a_wrongly_typed_field_is_an_invalid_request(world, client):
    world.create_account()
    for path, field, value in WRONG_TYPES:
        body = {**ANONYMOUS_POSTS[path], field: value}
        assert_invalid_request(post(client, path, body), (path, field, value))
    assert queued(world) == 0


def test_hostile_json_is_an_invalid_request_not_a_crash(world, client):
    world.create_account()
    deep = b"[" * 8000 + b"]" * 8000  # valid JSON, within the size limit, deeper than Python
    for path, body in ANONYMOUS_POSTS.items():
        cases = [deep, b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b"}"]
        # A lone surrogate (\ud800) in any string field: JSON allows it, UTF-8 does not.
        cases += [json.dumps({**body, field: "abc\ud800def"}).encode() for field in body]
        for raw in cases:
            response = post(client, path, raw=raw)
            assert_invalid_request(response, (path, raw[:60]))
            assert_security_headers(response)
    assert queued(world) == 0
    assert login(client).status_code == 200


def test_registration_fields_are_checked_behind_the_session(world, client):
    world.create_account()
    session = session_of(client)
    for path, body in [("/api/registration/holders", {}),
                       ("/api/registration/holders", {"phone": 46707654321}),
                       ("/api/registration/holders/verify", {}),
                       ("/api/registration/holders/verify", {"code": 123456})]:
        response = post(client, path, body, session=session)
        assert response.status_code == 400, (path, body, response.body)
        assert error(response)["code"] == "invalid_request"
    assert world.portal.accounts.get(USERNAME).holders[0].phone == PHONE


def test_unknown_fields_are_ignored(world, client):
    world.create_account()
    started = post(client, "/api/reset/start", {"username": USERNAME, "role": "admin",
                                                "phone": PHONE, "lang": "de"})
    assert started.status_code == 202
    assert world.last_code(PHONE)
    assert world.codes_sent_to(NEW_PHONE) == []
    logged_in = post(client, "/api/registration/login", {"username": USERNAME,
                                                         "password": PASSWORD, "remember": True})
    assert logged_in.status_code == 200


# -- usernames -------------------------------------------------------------------------------

def test_usernames_are_trimmed_and_case_insensitive(world, client):
    world.create_account()
    response = login(client, "  HemtjanstAB\t")
    assert response.status_code == 200, response.body
    assert response.json_body["username"] == USERNAME
    assert start(client, " HEMTJANSTAB ").status_code == 202
    world.deliver()
    assert len(world.codes_sent_to(PHONE)) == 1


def test_a_username_with_forbidden_characters_or_too_long_is_an_invalid_request(world, client):
    for username in ("", "   ", "hem tjanst", "hem@tjanst", "hem/tjanst", "hemtjanstab;--",
                     "<script>", "a" * 65, "hem\u0000tjanst", "hemtjanstab\nx", "hem+tjanst",
                     "hemtjänst", "-hemtjanst"):
        assert_invalid_request(start(client, username), ("start", username))
        assert_invalid_request(login(client, username), ("login", username))
    assert queued(world) == 0


def test_usernames_of_1_to_64_ascii_letters_digits_dots_underscores_and_dashes_are_accepted(
        world, client):
    accepted = ["a" * 64, "  " + "b" * 64 + "  ", "x", "hem.tjanst_ab-2", "2hemtjanst"]
    for username in accepted:
        assert start(client, username).status_code == 202, username
    assert queued(world) == len(accepted)


# -- oversized bodies ------------------------------------------------------------------------

@pytest.mark.parametrize("path, body", [
    ("/api/registration/login", {"username": USERNAME, "password": "A1b!" * 262144}),
    ("/api/reset/complete", {"reset_token": "x" * 43, "password": "A1b!" * 262144}),
])
def test_a_one_megabyte_password_is_refused_as_too_large_without_hashing_it(
        world, client, argon2_calls, path, body):
    world.create_account()
    argon2_calls.clear()
    response = post(client, path, body, lang="en")
    assert response.status_code == 413, response.body[:200]
    assert error(response)["code"] == "request_too_large"
    assert error(response)["message"].startswith("The request is too large.")
    assert argon2_calls == []
    assert "login.failed" not in events(world)


def test_a_long_password_within_the_body_limit_costs_no_argon2(world, client, argon2_calls):
    world.create_account()
    challenge = start(client).json_body["challenge"]
    token = verify(client, challenge, world.last_code(PHONE)).json_body["reset_token"]
    argon2_calls.clear()
    too_long = "Ab1!" * 2500  # 10,000 characters
    refused = login(client, USERNAME, too_long)
    assert refused.status_code == 401
    assert error(refused)["code"] == "invalid_credentials"
    rejected = post(client, "/api/reset/complete", {"reset_token": token, "password": too_long})
    assert rejected.status_code == 422
    assert [v["rule"] for v in error(rejected)["violations"]] == ["max_length"]
    assert argon2_calls == []


def test_the_dev_sms_page_exists_only_in_the_local_stage(world, client, configure):
    configure(STAGE="dev")
    response = get(client, "/dev/sms")
    assert response.status_code == 404
    assert error(response)["code"] == "not_found"
    assert_security_headers(response)
    configure(STAGE="local", DEV_SMS="false")
    assert get(client, "/dev/sms").status_code == 404


# -- never telling whether a username exists -------------------------------------------------

def test_reset_start_looks_the_same_for_every_kind_of_username(world, client):
    world.create_account("med-nummer")
    world.create_account("utan-nummer", phone=None)
    world.create_account("avstangd")
    disable(world, "avstangd")
    answers = {name: start(client, name) for name in ("med-nummer", "utan-nummer", "avstangd",
                                                      "finns-inte")}
    shapes = {(r.status_code, tuple(sorted(r.json_body)), tuple(sorted(r.headers)),
               r.json_body["expires_in"], r.json_body["resend_after"],
               len(r.json_body["challenge"])) for r in answers.values()}
    assert len(shapes) == 1, shapes
    assert shapes.pop()[0] == 202
    # Each one queues a message alike; only the worker finds out who has a number.
    assert queued(world) == 4
    assert [to for to, _ in world.sent()] == [PHONE]
    # A wrong code and a too-early resend answer alike too.
    wrong_codes = {json.dumps(verify(client, r.json_body["challenge"], "abcdef").json_body,
                              sort_keys=True) for r in answers.values()}
    too_soon = {json.dumps(post(client, "/api/reset/resend",
                                {"challenge": r.json_body["challenge"]}).json_body,
                           sort_keys=True) for r in answers.values()}
    assert len(wrong_codes) == 1 and len(too_soon) == 1


def test_login_failures_look_the_same_for_unknown_wrong_password_and_disabled(world, client):
    world.create_account()
    world.create_account("avstangd")
    disable(world, "avstangd")
    failures = [login(client, "finns-inte"), login(client, USERNAME, "Fel-Losen-123"),
                login(client, "avstangd")]  # the right password of a disabled account
    assert {r.status_code for r in failures} == {401}
    assert {json.dumps(r.json_body, sort_keys=True) for r in failures} == {
        json.dumps(failures[0].json_body, sort_keys=True)}
    assert {tuple(sorted(r.headers.items())) for r in failures} == {
        tuple(sorted(failures[0].headers.items()))}
    assert error(failures[0])["code"] == "invalid_credentials"
