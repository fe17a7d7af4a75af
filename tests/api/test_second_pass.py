"""Issue 21 ("security, second pass"): each attack of the repeat outside test, replayed
against the API, with the answer it gets now compared to the answer of a case that was
always refused (or always accepted)."""
from __future__ import annotations

import pytest

from tests.api.helpers import PASSWORD, complete, login, reset_token

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
