"""Holders on pwreg and pwreset (SPEC 2, 7, 8, 9, 11 v2): adding oneself, the same number
again, the maximum, removing, and a reset that names its holder from the code on. What a
stranger's number can and cannot do to an account is here too."""
import json

from tests.api.helpers import (NEW_PHONE, PASSWORD, PHONE, USERNAME, complete, error, events,
                               login, request_phone, session_of, start, verify, verify_phone,
                               wrong)
from tests.api_client import post

STRANGER = "+46709999999"
BO = "+46702222222"


def queued_messages(world) -> list[dict]:
    """The messages waiting on the SMS queue, left there (visible again at once)."""
    found = world.sqs.receive_message(QueueUrl=world.queue_url, MaxNumberOfMessages=10,
                                      VisibilityTimeout=0).get("Messages", [])
    return [json.loads(message["Body"]) for message in found]


def holders(world, username=USERNAME):
    return world.portal.accounts.get(username).holders


def add(world, client, session, phone, name="Anna Andersson"):
    assert request_phone(client, session, phone, name=name).status_code == 202
    verified = verify_phone(client, session, world.last_code(phone))
    assert verified.status_code == 200, verified.body
    return verified.json_body["holder"]


def add_typed(world, client, session, typed, phone, name):
    assert request_phone(client, session, typed, name=name).status_code == 202
    verified = verify_phone(client, session, world.last_code(phone))
    assert verified.status_code == 200, verified.body
    return verified.json_body["holder"]


def delete(client, holder_id, session, **kw):
    return client.http.delete(f"/api/registration/holders/{holder_id}",
                              headers={"Authorization": f"Bearer {session}",
                                       "Accept-Language": kw.get("lang", "sv")})


def test_the_same_number_again_updates_the_holders_name_and_adds_no_one(world, client):
    world.create_account()
    session = session_of(client)
    anna = add(world, client, session, NEW_PHONE)
    world.clock.advance(seconds=61)
    again = add_typed(world, client, session, "070-765 43 21", NEW_PHONE, name="Anna Berg")
    assert again == {**anna, "name": "Anna Berg"}
    assert [(h.name, h.phone) for h in holders(world)] == [
        ("", PHONE), ("Anna Berg", NEW_PHONE)]
    renamed = [r for r in world.audit(USERNAME) if r["event"] == "holder.added"][0]
    assert (renamed["outcome"], renamed["previous_name"]) == ("renamed", "Anna Andersson")


def test_a_sixth_holder_is_409_too_many_holders_before_any_code_is_sent(world, client):
    world.create_account()
    for n in range(4):
        world.portal.holder_changes.add(USERNAME, f"Person {chr(65 + n)}", f"+4670300000{n}")
    world.deliver()
    session = session_of(client)
    assert len(login(client).json_body["holders"]) == 5
    refused = request_phone(client, session, NEW_PHONE)
    assert refused.status_code == 409
    assert error(refused)["code"] == "too_many_holders"
    world.deliver()
    assert world.codes_sent_to(NEW_PHONE) == []
    # one of the five may still change their name
    assert add(world, client, session, "+46703000001", name="Ny Namn")["name"] == "Ny Namn"


def test_names_are_1_to_60_characters_without_control_characters(world, client):
    world.create_account()
    session = session_of(client)
    for name in ["", "   ", "x" * 61, "Anna\u202eBerg", "Anna\nBerg", 42, None]:
        response = request_phone(client, session, NEW_PHONE, name=name)
        assert response.status_code == 400, name
        assert error(response)["code"] == "invalid_name", name
    world.deliver()
    assert world.codes_sent_to(NEW_PHONE) == []
    assert request_phone(client, session, NEW_PHONE, name="Åsa Öberg-Ängström").status_code \
        == 202


def test_removing_a_holder_is_204_audited_and_told_to_the_others_and_the_removed_one(
        world, client):
    world.create_account()
    world.portal.holder_changes.add(USERNAME, "Bo Ek", BO)
    session = session_of(client)
    anna = add(world, client, session, NEW_PHONE)
    world.deliver()
    bo = next(h for h in holders(world) if h.phone == BO)
    removed = delete(client, bo.id, session)
    assert removed.status_code == 204, removed.body
    assert [h.phone for h in holders(world)] == [PHONE, NEW_PHONE]
    [record] = [r for r in world.audit(USERNAME) if r["event"] == "holder.removed"]
    assert (record["holder_id"], record["holder_name"], record["subject_id"],
            record["subject_name"]) == (anna["id"], "Anna Andersson", bo.id, "Bo Ek")
    world.deliver()
    for number in (PHONE, NEW_PHONE, BO):
        notice = [text for to, text in world.sent() if to == number][-1]
        assert "Numret 070-*** ** 22 togs bort" in notice
        assert 'Namn: "Bo Ek". Av: "Anna Andersson".' in notice
    # a removed holder's number gets nothing any more
    world.clock.advance(seconds=61)
    before = len(world.sent())
    assert start(client, phone=BO).status_code == 202
    world.deliver()
    assert len(world.sent()) == before


def test_removing_an_unknown_holder_is_404_and_changes_nothing(world, client):
    world.create_account()
    session = session_of(client)
    for holder_id in ["A" * 16, "nope", "x" * 200]:
        response = delete(client, holder_id, session)
        assert response.status_code == 404, holder_id
        assert error(response)["code"] == "not_found"
    assert [h.phone for h in holders(world)] == [PHONE]
    response = delete(client, holders(world)[0].id, "no-session")
    assert response.status_code == 401
    assert error(response)["code"] == "invalid_session"


def test_a_holder_of_another_account_cannot_be_removed_with_this_session(world, client):
    world.create_account()
    world.create_account("annat", phone=BO)
    other = holders(world, "annat")[0]
    response = delete(client, other.id, session_of(client))
    assert response.status_code == 404
    assert [h.phone for h in holders(world, "annat")] == [BO]


def test_adding_a_holder_is_told_to_the_others_but_not_to_the_new_number(world, client):
    world.create_account()
    session = session_of(client)
    add(world, client, session, NEW_PHONE)
    world.deliver()
    [notice] = [text for to, text in world.sent() if to == PHONE]
    assert "Numret 070-*** ** 21 lades till" in notice
    assert 'Namn: "Anna Andersson", som lade till sig själv.' in notice
    assert all("lades till" not in text for to, text in world.sent() if to == NEW_PHONE)


# -- pwreset with a holder's number ----------------------------------------------------------

def test_a_reset_sends_a_code_only_to_a_holders_number_in_either_form(world, client):
    world.create_account()
    for typed in ["070-123 45 67", "+46701234567", "0046701234567"]:
        assert start(client, phone=typed).status_code == 202
        world.clock.advance(seconds=61)
    world.deliver()
    assert len(world.codes_sent_to(PHONE)) == 3
    assert start(client, phone=STRANGER).status_code == 202
    world.deliver()
    assert len(world.sent()) == 3  # nothing to the stranger, nothing to the holder


def test_an_invalid_phone_on_start_is_400_invalid_request_for_every_username(world, client):
    world.create_account()
    answers = set()
    for username in (USERNAME, "finns-inte"):
        for phone in ["", "hello", "08-123 456 78", "+4915112345678", 46701234567, None]:
            response = post(client, "/api/reset/start", {"username": username, "phone": phone})
            answers.add((response.status_code, error(response)["code"]))
    assert answers == {(400, "invalid_request")}
    world.deliver()
    assert world.sent() == []


def test_a_challenge_for_a_strangers_number_never_succeeds_even_with_its_code(world, client):
    world.create_account()
    started = start(client, phone=STRANGER)
    challenge = started.json_body["challenge"]
    # the code made for it is in the queued message the worker drops: the right one
    [message] = [m for m in queued_messages(world) if m["kind"] == "code"]
    code = message["text"].split("#")[-1].strip()
    response = verify(client, challenge, code)
    assert response.status_code == 400
    assert error(response)["code"] == "invalid_code"
    world.deliver()
    assert world.sent() == []


def test_wrong_codes_on_a_strangers_number_never_pause_the_account(world, client):
    world.create_account()
    for n in range(4):  # 20 wrong codes, twice the pause's 10
        challenge = start(client, phone=STRANGER, ip=f"198.51.100.{n}").json_body["challenge"]
        for _ in range(5):
            assert verify(client, challenge, "000000",
                          ip=f"198.51.100.{n}").status_code in (400, 410)
        world.clock.advance(seconds=61)
    assert "reset.paused" not in events(world)
    # the holder still resets at once
    challenge = start(client).json_body["challenge"]
    verified = verify(client, challenge, world.last_code(PHONE))
    assert verified.status_code == 200, verified.body


def test_a_reset_names_its_holder_in_the_audit_the_log_and_every_holders_notice(
        world, client):
    world.create_account()
    session = session_of(client)
    anna = add(world, client, session, NEW_PHONE)
    world.clock.advance(seconds=61)
    challenge = start(client, phone="0707654321").json_body["challenge"]
    token = verify(client, challenge, world.last_code(NEW_PHONE)).json_body["reset_token"]
    world.clock.advance(minutes=1)
    assert complete(client, token, "Ny-Sommarvind-81").status_code == 200
    [changed] = [r for r in world.audit(USERNAME) if r["event"] == "password.changed"]
    assert (changed["holder_id"], changed["holder_name"]) == (anna["id"], "Anna Andersson")
    [verified] = [r for r in world.audit(USERNAME) if r["event"] == "reset.code_verified"]
    assert verified["holder_id"] == anna["id"]
    account = world.portal.accounts.get(USERNAME)
    used = {h.id: h.last_used_at for h in account.holders}
    assert used[anna["id"]] == world.clock.now()
    world.deliver()
    for number in (PHONE, NEW_PHONE):
        notices = [text for to, text in world.sent() if to == number and "byttes" in text]
        assert len(notices) == 1 and 'Av: "Anna Andersson".' in notices[0], number
    assert login(client, password="Ny-Sommarvind-81").status_code == 200
    assert PASSWORD  # the old one is gone (tests/api/test_sessions_tokens.py)


def test_a_holder_removed_after_their_code_was_sent_cannot_change_the_password(world, client):
    world.create_account()
    world.portal.holder_changes.add(USERNAME, "Bo Ek", BO)
    challenge = start(client, phone=BO).json_body["challenge"]
    code = world.last_code(BO)
    bo = next(h for h in holders(world) if h.phone == BO)
    world.portal.holder_changes.remove(USERNAME, bo.id)
    token = verify(client, challenge, code).json_body["reset_token"]
    response = complete(client, token, "Ny-Sommarvind-81")
    assert response.status_code == 410
    assert error(response)["code"] == "token_expired"
    assert login(client).status_code == 200  # the password is unchanged
    assert wrong(code) != code
