"""A holder already listed proves their number to act as themselves ("Det här är jag",
issue 22 point 5): POST /api/registration/holders with `holder_id` sends the code to THAT
holder's number, never shown whole, and once verified the session is theirs (their app may
be added) without a new holder."""
from tests.api.helpers import (NEW_PHONE, PHONE, USERNAME, error, login, request_phone,
                               session_of, verify_phone)
from tests.api_client import post

HOLDERS = "/api/registration/holders"


def its_me(client, session, holder_id, **fields):
    return post(client, HOLDERS, {"holder_id": holder_id, **fields}, session=session)


def anna_listed(world) -> str:
    """An account with its nameless first holder (PHONE) and Anna Andersson (NEW_PHONE),
    added by support: Anna's id."""
    world.create_account()
    world.portal.holder_changes.add(USERNAME, "Anna Andersson", NEW_PHONE)
    world.deliver()
    return next(h.id for h in world.portal.accounts.get(USERNAME).holders
                if h.phone == NEW_PHONE)


def test_a_listed_holder_gets_the_code_on_their_own_number_and_the_session_becomes_theirs(
        world, client):
    anna_id = anna_listed(world)
    session = session_of(client)
    before = post(client, f"{HOLDERS}/{anna_id}/authenticator", {}, session=session)
    assert before.status_code == 404, before.body  # a login alone is nobody's: not theirs

    sent = its_me(client, session, anna_id)
    assert sent.status_code == 202, sent.body
    assert sent.json_body["phone_masked"] == "070-*** ** 21"
    assert "phone" not in sent.json_body and "7654321" not in str(sent.body)
    world.deliver()
    assert len(world.codes_sent_to(NEW_PHONE)) == 1 and world.codes_sent_to(PHONE) == []

    verified = verify_phone(client, session, world.last_code(NEW_PHONE))
    assert verified.status_code == 200, verified.body
    assert verified.json_body["holder"] == {"id": anna_id, "name": "Anna Andersson",
                                            "phone_masked": "070-*** ** 21",
                                            "authenticator": False, "proven": False}
    assert len(login(client).json_body["holders"]) == 2  # no one new
    app = post(client, f"{HOLDERS}/{anna_id}/authenticator", {}, session=session)
    assert app.status_code == 200, app.body


def test_an_id_that_is_no_holder_of_the_account_is_404_and_sends_nothing(world, client):
    anna_listed(world)
    world.create_account(username="annatjanst", phone="+46709999999")
    other_id = world.portal.accounts.get("annatjanst").holders[0].id
    session = session_of(client)
    for holder_id in (other_id, "A" * 16, "x", None, 42):
        refused = its_me(client, session, holder_id)
        assert refused.status_code == 404, (holder_id, refused.body)
        assert error(refused)["code"] == "not_found"
    world.deliver()
    assert [to for to, text in world.sent() if "#" in text] == []


def test_a_holder_without_a_name_gives_one_and_the_row_gets_it(world, client):
    world.create_account()
    first_id = world.portal.accounts.get(USERNAME).holders[0].id
    session = session_of(client)
    nameless = its_me(client, session, first_id)
    assert nameless.status_code == 400 and error(nameless)["code"] == "invalid_name"
    assert its_me(client, session, first_id, name="Bo Berg").status_code == 202
    verified = verify_phone(client, session, world.last_code(PHONE))
    assert verified.status_code == 200, verified.body
    assert verified.json_body["holder"]["id"] == first_id
    assert [h.name for h in world.portal.accounts.get(USERNAME).holders] == ["Bo Berg"]


def test_a_listed_holder_proving_their_number_is_no_new_number_for_the_daily_limit(
        world, client, configure):
    """The new-numbers limit (SPEC 5) counts numbers new to the account: after the day's
    new numbers are spent, a listed holder still gets their code, and proving it counts
    nothing."""
    configure(LIMIT_NUMBERS_PER_ACCOUNT="1/86400")
    anna_id = anna_listed(world)
    session = session_of(client)
    assert request_phone(client, session, "+46701111111").status_code == 202
    assert verify_phone(client, session, world.last_code("+46701111111")).status_code == 200
    world.clock.advance(seconds=61)
    session = session_of(client)
    refused = request_phone(client, session, "+46702222222")  # a second new number: 429
    assert refused.status_code == 429, refused.body

    sent = its_me(client, session, anna_id)
    assert sent.status_code == 202, sent.body
    world.deliver()
    verified = verify_phone(client, session, world.last_code(NEW_PHONE))
    assert verified.status_code == 200, verified.body
    assert verified.json_body["holder"]["id"] == anna_id
