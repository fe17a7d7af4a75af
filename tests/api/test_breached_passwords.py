"""SPEC 16, breached passwords: a new password known from breaches is refused with rule
`breached`; the Pwned Passwords range API is asked with k-anonymity (5 hex characters of
the SHA-1, padding asked for); when it cannot answer, the change goes on and
`breach_check.failed` is counted. The range API here is tests/range_server.py on loopback,
serving the real list the package ships."""
from __future__ import annotations

import json
import re

import pytest

from infra.stages import chalice_config, stage_settings
from tests.api.helpers import (PASSWORD, USERNAME, complete, error, events, login,
                               reset_token)
from tests.range_server import range_server, sha1_hex, unanswering

# On the shipped list (Django's copy of Pwned Passwords' most seen, as `aptx4869`), and
# meeting every other rule of the default policy: only the breach check refuses it.
BREACHED = "Aptx4869"
FRESH = "Bla-Hus-2026-x"  # on no list


def rules_of(response) -> list[str]:
    return [v["rule"] for v in error(response)["violations"]]


@pytest.fixture
def ranged(configure):
    """The portal with the range API on, asking the loopback server."""
    with range_server() as server:
        configure(BREACH_CHECK="range", BREACH_RANGE_URL=server.url)
        yield server


def test_a_password_on_the_shipped_list_is_refused_as_breached_and_nothing_changes(
        world, client):
    world.create_account()
    response = complete(client, reset_token(world, client), BREACHED)
    assert response.status_code == 422 and error(response)["code"] == "password_rejected"
    assert rules_of(response) == ["breached"]
    assert "password.changed" not in events(world)
    assert login(client, password=PASSWORD).status_code == 200  # the old one still works
    assert login(client, password=BREACHED).status_code == 401


@pytest.mark.parametrize("lang, said", [
    ("sv", "läckt vid dataintrång"), ("en", "leaked in data breaches")])
def test_the_message_says_the_password_has_leaked_not_that_it_is_weak(world, client, lang,
                                                                      said):
    world.create_account()
    [violation] = error(complete(client, reset_token(world, client), BREACHED,
                                 lang=lang))["violations"]
    assert said in violation["message"] and "svag" not in violation["message"]
    assert "weak" not in violation["message"]


def test_a_password_the_range_server_lists_is_refused_and_only_its_hash_prefix_leaves(
        world, client, ranged):
    world.create_account()
    ranged.received.clear()  # support's password for the account was asked about too
    response = complete(client, reset_token(world, client), BREACHED)
    assert response.status_code == 422 and rules_of(response) == ["breached"]
    [asked] = ranged.received
    digest = sha1_hex(BREACHED)
    assert asked.path == "/range/" + digest[:5]  # 5 hex characters, and nothing else
    assert re.fullmatch(r"/range/[0-9A-F]{5}", asked.path)
    assert asked.headers["Add-Padding"] == "true"
    sent = json.dumps(asked.headers) + asked.path
    assert digest[5:] not in sent and BREACHED not in sent and BREACHED.lower() not in sent
    assert "password.changed" not in events(world)


def test_a_password_on_no_list_is_taken_after_the_range_server_is_asked(world, client,
                                                                       ranged):
    world.create_account()
    ranged.received.clear()
    response = complete(client, reset_token(world, client), FRESH)
    assert response.status_code == 200, response.body
    [asked] = ranged.received  # its answer: padding alone, 800 lines of count 0
    assert asked.path == "/range/" + sha1_hex(FRESH)[:5]
    assert login(client, password=FRESH).status_code == 200
    assert "breach_check.failed" not in events(world)


def test_a_password_another_rule_refuses_sends_nothing_to_the_range_server(world, client,
                                                                          ranged):
    world.create_account()
    ranged.received.clear()
    token = reset_token(world, client)
    assert rules_of(complete(client, token, "Qwerty123")) == ["common"]
    assert rules_of(complete(client, token, PASSWORD)) == ["reused"]
    assert ranged.received == []


def test_a_range_server_that_does_not_answer_lets_the_change_go_on_and_is_counted(
        world, client, configure, environment, capsys):
    environment.setenv("PWPORTAL_METRICS", "true")
    with unanswering() as url:
        configure(BREACH_CHECK="range", BREACH_RANGE_URL=url, BREACH_TIMEOUT_MS=50)
        world.create_account()
        response = complete(client, reset_token(world, client), FRESH)
    assert response.status_code == 200, response.body
    assert login(client, password=FRESH).status_code == 200
    # one for support's password of the new account, one for the reset's
    support, failed = sorted((r for r in world.audit(USERNAME)
                              if r["event"] == "breach_check.failed"),
                             key=lambda r: r["request_id"] != "admin-cli")
    assert support["request_id"] == "admin-cli" and failed["ip"] == "198.51.100.0/24"
    assert failed["outcome"] == "unanswered" and FRESH not in json.dumps(failed)
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines()
               if '"_aws"' in line]
    assert any("breach_check.failed" in line for line in metrics)


def test_a_range_server_that_is_down_still_leaves_the_shipped_list_refusing(
        world, client, configure):
    from tests.ports import unanswered_port
    with unanswered_port() as port:  # nothing listens: the connection is refused
        configure(BREACH_CHECK="range", BREACH_RANGE_URL=f"http://127.0.0.1:{port}/range/")
        world.create_account()
        token = reset_token(world, client)
        refused = complete(client, token, BREACHED)
        taken = complete(client, token, FRESH)
    assert refused.status_code == 422 and rules_of(refused) == ["breached"]
    assert taken.status_code == 200, taken.body  # the change goes on, and is counted
    failed = [r for r in world.audit(USERNAME) if r["event"] == "breach_check.failed"
              and r["request_id"] != "admin-cli"]
    assert [r["outcome"] for r in failed] == ["unanswered"]


def test_off_asks_no_range_server_but_the_shipped_list_still_refuses(world, client,
                                                                     configure):
    with range_server() as server:
        configure(BREACH_CHECK="off", BREACH_RANGE_URL=server.url)
        world.create_account()
        token = reset_token(world, client)
        assert rules_of(complete(client, token, BREACHED)) == ["breached"]
        assert complete(client, token, FRESH).status_code == 200
    assert server.received == []


def test_support_cannot_give_a_new_account_a_breached_password(world):
    from chalicelib.domain.errors import PasswordRejected
    with pytest.raises(PasswordRejected) as refused:
        world.create_account(password=BREACHED)
    assert refused.value.rules == ["breached"]


def test_a_generated_password_is_asked_about_too(world, ranged):
    account, given = world.portal.account_changes.imported("nattpatrullen", None)
    [asked] = ranged.received
    assert given and asked.path == "/range/" + sha1_hex(given)[:5]


def test_every_deployed_stage_asks_the_range_api_and_the_local_stage_does_not():
    stages = chalice_config()["stages"]
    assert stage_settings("local").breach_check == "off"
    deployed = [stage for stage in stages if stage != "local"]
    assert deployed and all(stage_settings(s).breach_check == "range" for s in deployed)
    assert stage_settings("prod").breach_range_url == "https://api.pwnedpasswords.com/range/"
    assert stage_settings("prod").breach_timeout_ms == 1000
