"""Issue 21 ("security, second pass"): each attack of the repeat outside test, replayed
against the API, with the answer it gets now compared to the answer of a case that was
always refused (or always accepted)."""
from __future__ import annotations

import pytest

from tests.api.helpers import (NEW_PHONE, PASSWORD, complete, login, request_phone,
                               reset_token, scan, session_of, verify_phone)

# -- 3: a holder's name is a name --------------------------------------------------------------

ATTACK_3 = ["Konto spärras! Ring 0701234567 el. https://orebro-it.se", "support"]


@pytest.mark.parametrize("name", ATTACK_3)
def test_a_name_that_is_no_persons_name_is_refused_as_an_empty_one_and_nothing_is_sent(
        world, client, name):
    world.create_account()
    session = session_of(client)
    before = scan(world, world.settings.challenges_table), world.sent()
    empty = request_phone(client, session, NEW_PHONE, name="")  # refused since version 2
    attack = request_phone(client, session, NEW_PHONE, name=name)
    assert (attack.status_code, attack.json_body) == (empty.status_code, empty.json_body)
    assert attack.status_code == 400 and attack.json_body["error"]["code"] == "invalid_name"
    assert "bokstäver" in attack.json_body["error"]["message"]  # it says what a name holds
    world.deliver()
    assert (scan(world, world.settings.challenges_table), world.sent()) == before
    assert world.codes_sent_to(NEW_PHONE) == []
    assert [h.name for h in world.portal.accounts.get("hemtjanstab").holders] == [
        ""]


def test_the_others_read_a_new_holders_name_quoted_after_the_facts(world, client):
    world.create_account()
    session = session_of(client)
    assert request_phone(client, session, NEW_PHONE, name="Anna Andersson").status_code == 202
    assert verify_phone(client, session, world.last_code(NEW_PHONE)).status_code == 200
    world.deliver()
    [notice] = [text for to, text in world.sent() if to == "+46701234567"]
    assert notice.startswith("Numret 070-*** ** 21 lades till ")
    assert 'för kontot hemtjanstab. Namn: "Anna Andersson", som lade till sig själv. ' in notice


# -- 4: the common-word rule and Unicode's punctuation ---------------------------------------

ATTACK_4 = ["Sommar2024§", "§Sommar2024", "Fotboll123§", "Vinter2025¡", "Januari2026«",
            "Sommar2024¿"]


@pytest.mark.parametrize("password", ATTACK_4)
def test_a_common_word_behind_non_ascii_punctuation_is_refused_as_with_ascii_punctuation(
        world, client, password):
    world.create_account()
    token = reset_token(world, client)
    ascii_ = complete(client, token, "Sommar2024!")  # refused since version 2
    attack = complete(client, token, password)
    assert (attack.status_code, attack.json_body) == (ascii_.status_code, ascii_.json_body)
    assert attack.status_code == 422
    assert [v["rule"] for v in attack.json_body["error"]["violations"]] == ["common"]
    assert login(client, password=password).status_code == 401
    assert login(client, password=PASSWORD).status_code == 200  # nothing was changed


# -- 8: a refusal is audited once per subject, and a network is part of the subject -----------

def refusals(world, username: str, limit: str) -> list[dict]:
    return [r for r in world.audit(username)
            if r["event"] == "ratelimit.exceeded" and r.get("limit") == limit]


def test_two_networks_past_the_login_limit_are_two_refusals_in_the_audit(world, client):
    networks = ("203.0.113.9", "198.51.100.7")
    for ip in networks:
        for n in range(30):  # 30 logins per network and hour, each to its own username
            assert login(client, f"konto{n}", "Fel-Losen-1", ip=ip).status_code == 401
        for _ in range(3):  # refused again in the same window: still once per network
            assert login(client, "konto-x", "Fel-Losen-1", ip=ip).status_code == 429
    records = refusals(world, "konto-x", "logins_per_ip")
    assert len(records) == len(networks) == 2
    assert sorted(r["ip"] for r in records) == ["198.51.100.0/24", "203.0.113.0/24"]


# -- 6: what SASLprep refuses is an invalid character, in both modes ---------------------------

ATTACK_6 = ["Sommar-Regn-\u05d0\u05d1-7", "Sommar-Regn-\u0633\u0644-7", "Sommar-Regn-\ue000-7",
            "Sommar-Regn-\ufdd0-7", "Sommar-Regn\u2028Tuva-7"]


@pytest.mark.parametrize("password", ATTACK_6)
def test_a_password_saslprep_refuses_is_422_invalid_characters_as_a_control_character_is(
        world, client, password):
    world.create_account()
    token = reset_token(world, client)
    control = complete(client, token, "Sommar-Regn\u0000Tuva-7")  # refused since version 2
    attack = complete(client, token, password)
    assert (attack.status_code, attack.json_body) == (control.status_code, control.json_body)
    assert [v["rule"] for v in attack.json_body["error"]["violations"]] == [
        "invalid_characters"]
    assert complete(client, token, "Ny-Sommarvind-81").status_code == 200  # the token held
