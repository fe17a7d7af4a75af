"""SPEC 12 on the fakes: a holder adds their authenticator app on pwreg (the key shown, the
app's first code confirms it, nothing saved before), removes it, and support removes it.

The codes are made as an app makes them: pyotp.TOTP(secret) at the test clock's time.
"""
from __future__ import annotations

import json

import pyotp
import pytest

from chalicelib.domain import authenticator
from chalicelib.domain.errors import (CodeExpired, InvalidCode, InvalidRequest,
                                      InvalidSession, NotFound)
from chalicelib.domain.records import AppEnrolment
from chalicelib.ports import Refused
from tests.api.helpers import grouped
from tests.unit.conftest import (AUTHENTICATOR_KEY, NEW_PASSWORD, NEW_PHONE, PHONE, USER,
                                 USERNAME)

EN = type(USER)(ip=USER.ip, request_id="test-en", lang="en")


def holder_session(rig, phone=PHONE, name="Anna Berg") -> tuple[str, str]:
    """A pwreg session in which the holder at `phone` added themselves (pwreg's "Lägg till
    mig"): (the session, their holder id)."""
    session = rig.session()
    rig.portal.registration.request_holder(session, name, phone, USER)
    held = rig.portal.registration.verify_holder(session, rig.last_code(phone), USER)
    rig.deliver()
    return session, held["holder"]["id"]


@pytest.fixture
def anna(rig):
    rig.create_account()
    return holder_session(rig)


def apps(rig):
    return rig.portal.authenticators


def code_now(rig, secret: str, offset_seconds: int = 0) -> str:
    """The code the app shows (pyotp, RFC 6238) `offset_seconds` from the test clock's now."""
    return pyotp.TOTP(secret).at(rig.clock.now().timestamp() + offset_seconds)


def enrol(rig, session, holder_id, caller=USER) -> dict:
    shown = apps(rig).add_app(session, holder_id, caller)
    apps(rig).verify_app(session, holder_id, code_now(rig, shown["secret"]), caller)
    return shown


def stored_secret(rig, holder_id) -> str:
    """The secret of the app the holder has now, derived from the nonce stored on them."""
    nonce = rig.account().holder(holder_id).app_nonce
    assert nonce
    return authenticator.secret_for(AUTHENTICATOR_KEY.encode(), nonce)


def last(rig, event, **where) -> dict:
    return [record for record in rig.audit() if record["event"] == event
            and all(record.get(k) == v for k, v in where.items())][-1]


# -- showing the key ---------------------------------------------------------------------

def test_the_key_is_shown_as_base32_an_otpauth_uri_and_an_svg_qr_code(rig, anna):
    session, anna_id = anna
    shown = apps(rig).add_app(session, anna_id, USER)
    assert set(shown) == {"secret", "otpauth_uri", "qr_svg", "expires_in"}
    assert len(shown["secret"]) == 32 and set(shown["secret"]) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    parsed = pyotp.parse_uri(shown["otpauth_uri"])
    assert parsed.secret == shown["secret"] and parsed.issuer == rig.settings.organisation_name
    assert parsed.digits == 6 and parsed.interval == 30
    assert parsed.name == f"{USERNAME} (Anna Berg)"
    assert shown["qr_svg"].startswith("<svg role=\"img\"")
    label = f"{rig.settings.organisation_name}:{USERNAME} (Anna Berg)"
    assert f"<title>QR-kod för autentiseringsappen: {label}</title>" in shown["qr_svg"]
    assert shown["expires_in"] == authenticator.ENROLMENT_SECONDS


def test_the_qr_codes_text_alternative_is_in_the_requests_language(rig, anna):
    session, anna_id = anna
    shown = apps(rig).add_app(session, anna_id, EN)
    assert "<title>QR code for the authenticator app: " in shown["qr_svg"]


def test_nothing_is_saved_on_the_holder_before_the_first_code_is_right(rig, anna):
    session, anna_id = anna
    account, trail, sent = rig.account(), rig.events(), len(rig.queue.sent)
    shown = apps(rig).add_app(session, anna_id, USER)
    with pytest.raises(InvalidCode):
        apps(rig).verify_app(session, anna_id, "000000" if code_now(rig, shown["secret"])
                             != "000000" else "111111", USER)
    after = rig.account()
    assert after == account and after.holder(anna_id).authenticator is None
    assert sorted(rig.events()) == sorted(trail + ["authenticator.added"])  # the wrong code
    assert last(rig, "authenticator.added")["outcome"] == "wrong_code"
    assert len(rig.queue.sent) == sent
    assert rig.login()["holders"][0]["authenticator"] is False


def test_the_key_waits_at_most_ten_minutes_and_never_past_the_session(rig, anna):
    session, anna_id = anna
    rig.clock.advance(minutes=10)  # the session (15 min) has 5 minutes left
    shown = apps(rig).add_app(session, anna_id, USER)
    assert shown["expires_in"] == 5 * 60
    rig.clock.advance(minutes=5)
    with pytest.raises(InvalidSession):
        apps(rig).verify_app(session, anna_id, code_now(rig, shown["secret"]), USER)


def test_a_key_not_confirmed_within_ten_minutes_expires(rig):
    rig.create_account()
    session, anna_id = holder_session(rig)
    shown = apps(rig).add_app(session, anna_id, USER)
    rig.clock.advance(seconds=authenticator.ENROLMENT_SECONDS)
    with pytest.raises(CodeExpired):
        apps(rig).verify_app(session, anna_id, code_now(rig, shown["secret"]), USER)
    assert rig.account().holder(anna_id).authenticator is None


# -- the first code --------------------------------------------------------------------------

def test_the_apps_first_code_saves_it_on_the_holder_audited_and_told_by_sms(rig, anna):
    session, anna_id = anna
    shown = apps(rig).add_app(session, anna_id, USER)
    answer = apps(rig).verify_app(session, anna_id, code_now(rig, shown["secret"]), USER)
    assert answer == {"holder": {"id": anna_id, "name": "Anna Berg",
                                 "phone_masked": "070-*** ** 67", "authenticator": True,
                                 "proven": False}}
    holder = rig.account().holder(anna_id)
    assert holder.authenticator["added_by"] == anna_id
    assert stored_secret(rig, anna_id) == shown["secret"]
    added = last(rig, "authenticator.added")
    assert (added["outcome"], added["holder_id"], added["holder_name"], added["subject_id"],
            added["subject_name"]) == ("success", anna_id, "Anna Berg", anna_id, "Anna Berg")
    rig.deliver()
    [notice] = rig.texts_to(PHONE)[-1:]
    assert "En autentiseringsapp lades till på kontot hemtjanstab" in notice
    assert 'Namn: "Anna Berg". Av: "Anna Berg".' in notice and "Kontakta support" in notice
    assert shown["secret"] not in notice and code_now(rig, shown["secret"]) not in notice
    assert rig.login()["holders"][0]["authenticator"] is True


def test_wrong_codes_count_down_and_the_sixth_try_is_refused_even_if_right(rig, anna):
    session, anna_id = anna
    shown = apps(rig).add_app(session, anna_id, USER)
    right = code_now(rig, shown["secret"])
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    left = []
    for _ in range(5):
        with pytest.raises(InvalidCode) as refused:
            apps(rig).verify_app(session, anna_id, wrong, USER)
        left.append(refused.value.fields["attempts_left"])
    assert left == [4, 3, 2, 1, 0]
    with pytest.raises(CodeExpired):
        apps(rig).verify_app(session, anna_id, right, USER)
    assert rig.account().holder(anna_id).authenticator is None
    outcomes = [r["outcome"] for r in rig.audit() if r["event"] == "authenticator.added"]
    assert sorted(outcomes) == ["no_attempts_left"] + ["wrong_code"] * 5


def test_a_new_key_for_the_session_starts_over_with_new_attempts(rig, anna):
    session, anna_id = anna
    first = apps(rig).add_app(session, anna_id, USER)
    for _ in range(5):
        with pytest.raises(InvalidCode):
            apps(rig).verify_app(session, anna_id, "abcdef", USER)
    second = apps(rig).add_app(session, anna_id, USER)
    assert second["secret"] != first["secret"]
    with pytest.raises(InvalidCode):  # the first key's code: that app is not the one waiting
        apps(rig).verify_app(session, anna_id, code_now(rig, first["secret"]), USER)
    apps(rig).verify_app(session, anna_id, code_now(rig, second["secret"]), USER)
    assert stored_secret(rig, anna_id) == second["secret"]


@pytest.mark.parametrize("offset", [-30, 30])
def test_a_code_one_step_early_or_late_is_accepted(rig, anna, offset):
    session, anna_id = anna
    rig.clock.advance(seconds=45)  # mid-step
    shown = apps(rig).add_app(session, anna_id, USER)
    apps(rig).verify_app(session, anna_id, code_now(rig, shown["secret"], offset), USER)
    assert rig.account().holder(anna_id).authenticator is not None


@pytest.mark.parametrize("offset", [-60, 60])
def test_a_code_two_steps_early_or_late_is_wrong(rig, anna, offset):
    session, anna_id = anna
    rig.clock.advance(seconds=45)
    shown = apps(rig).add_app(session, anna_id, USER)
    with pytest.raises(InvalidCode):
        apps(rig).verify_app(session, anna_id, code_now(rig, shown["secret"], offset), USER)
    assert rig.account().holder(anna_id).authenticator is None


def test_a_code_that_is_no_six_digits_is_a_wrong_code_and_no_text_is_invalid(rig, anna):
    session, anna_id = anna
    apps(rig).add_app(session, anna_id, USER)
    for bad in ("", "12345", "1234567", "abcdef", "١٢٣٤٥٦"):
        with pytest.raises(InvalidCode):
            apps(rig).verify_app(session, anna_id, bad, USER)
    with pytest.raises(InvalidRequest):
        apps(rig).verify_app(session, anna_id, 123456, USER)


def test_the_enrolments_code_is_noted_so_that_its_step_is_never_accepted_again(rig, anna):
    session, anna_id = anna
    enrol(rig, session, anna_id)
    step = authenticator.step_at(rig.clock.now().timestamp())
    noted = rig.store.items(rig.settings.challenges_table)
    assert [item["last_step"] for item in noted if item["id"] == "step#" + anna_id] == [step]
    with pytest.raises(Refused):  # what a reset with the same code would write
        rig.portal.uow.write(rig.portal.records.accepted_step(anna_id, step))
    # the same code again on this session: its key is used up
    with pytest.raises(CodeExpired):
        apps(rig).verify_app(session, anna_id, code_now(rig, stored_secret(rig, anna_id)),
                             USER)


def test_a_new_apps_code_for_a_step_accepted_before_is_answered_as_a_wrong_code(rig, anna):
    session, anna_id = anna
    enrol(rig, session, anna_id)
    first = rig.account().holder(anna_id).authenticator
    shown = apps(rig).add_app(session, anna_id, USER)  # at once: the same time step
    with pytest.raises(InvalidCode) as refused:
        apps(rig).verify_app(session, anna_id, code_now(rig, shown["secret"]), USER)
    assert refused.value.fields == {"attempts_left": 4}
    assert rig.account().holder(anna_id).authenticator == first
    assert last(rig, "authenticator.added", outcome="code_used")["attempts_left"] == 4
    rig.clock.advance(seconds=30)  # the app's next code
    apps(rig).verify_app(session, anna_id, code_now(rig, shown["secret"]), USER)
    assert stored_secret(rig, anna_id) == shown["secret"]


def test_a_new_app_replaces_the_old_one_whose_codes_are_accepted_no_longer(rig, anna):
    session, anna_id = anna
    old = enrol(rig, session, anna_id)["secret"]
    rig.clock.advance(seconds=90)
    new = enrol(rig, session, anna_id)["secret"]
    assert new != old and stored_secret(rig, anna_id) == new
    assert last(rig, "authenticator.added", outcome="replaced")["subject_id"] == anna_id
    now = rig.clock.now().timestamp()
    assert authenticator.accepted_step(stored_secret(rig, anna_id),
                                       code_now(rig, old), now) is None
    assert authenticator.accepted_step(stored_secret(rig, anna_id),
                                       code_now(rig, new), now) is not None


# -- one's own holder only ---------------------------------------------------------------------

def test_only_the_sessions_own_holder_may_add_or_remove_an_app(rig, anna):
    session, anna_id = anna
    bo = rig.portal.holder_changes.add(USERNAME, "Bo Ek", NEW_PHONE).holder
    rig.clock.advance(seconds=61)  # one pwreg code a minute
    enrol(rig, holder_session(rig, NEW_PHONE, "Bo Ek")[0], bo.id)
    before = rig.account()
    for holder_id in (bo.id, "A" * 16, "nope", "", None, 42):
        with pytest.raises(NotFound):
            apps(rig).add_app(session, holder_id, USER)
        with pytest.raises(NotFound):
            apps(rig).remove_app(session, holder_id, USER)
    shown = apps(rig).add_app(session, anna_id, USER)
    with pytest.raises(NotFound):
        apps(rig).verify_app(session, bo.id, code_now(rig, shown["secret"]), USER)
    assert rig.account() == before


def test_a_login_alone_names_no_holder_and_adds_no_app(rig):
    rig.create_account()
    anna_id = rig.account().holders[0].id
    session = rig.session()
    with pytest.raises(NotFound):
        apps(rig).add_app(session, anna_id, USER)
    with pytest.raises(NotFound):
        apps(rig).verify_app(session, anna_id, "123456", USER)


@pytest.mark.parametrize("session", [None, "", "C" * 43, 42])
def test_no_live_session_is_an_invalid_session(rig, anna, session):
    _, anna_id = anna
    with pytest.raises(InvalidSession):
        apps(rig).add_app(session, anna_id, USER)
    with pytest.raises(InvalidSession):
        apps(rig).verify_app(session, anna_id, "123456", USER)
    with pytest.raises(InvalidSession):
        apps(rig).remove_app(session, anna_id, USER)


def test_a_password_change_ends_the_enrolment_with_the_session(rig, anna):
    session, anna_id = anna
    shown = apps(rig).add_app(session, anna_id, USER)
    rig.clock.advance(seconds=61)
    rig.portal.completion.complete(rig.reset_token(), NEW_PASSWORD, USER)
    with pytest.raises(InvalidSession):
        apps(rig).verify_app(session, anna_id, code_now(rig, shown["secret"]), USER)
    assert rig.account().holder(anna_id).authenticator is None


def test_logging_out_forgets_the_waiting_key(rig, anna):
    session, anna_id = anna
    shown = apps(rig).add_app(session, anna_id, USER)
    rig.portal.registration.logout(session)
    assert not [item for item in rig.store.items(rig.settings.challenges_table)
                if item["id"] == AppEnrolment.id_of(session)]
    with pytest.raises(InvalidSession):
        apps(rig).verify_app(session, anna_id, code_now(rig, shown["secret"]), USER)


# -- removing ------------------------------------------------------------------------------

def test_the_holder_removes_their_app_audited_and_told_by_sms(rig, anna):
    session, anna_id = anna
    enrol(rig, session, anna_id)
    rig.deliver()
    apps(rig).remove_app(session, anna_id, USER)
    assert rig.account().holder(anna_id).authenticator is None
    removed = last(rig, "authenticator.removed")
    assert (removed["outcome"], removed["holder_id"], removed["subject_id"]) == (
        "success", anna_id, anna_id)
    rig.deliver()
    notice = rig.texts_to(PHONE)[-1]
    assert "En autentiseringsapp togs bort från kontot hemtjanstab" in notice
    assert 'Namn: "Anna Berg". Av: "Anna Berg".' in notice
    with pytest.raises(NotFound):  # no app (any more)
        apps(rig).remove_app(session, anna_id, USER)


def test_support_removes_a_holders_app_audited_and_told_by_sms(rig, anna):
    session, anna_id = anna
    enrol(rig, session, anna_id)
    rig.deliver()
    done = rig.portal.holder_changes.remove_app(" HemtjanstAB ", anna_id)
    assert done.holder.id == anna_id and done.account.holder(anna_id).authenticator is None
    assert rig.account().holder(anna_id).authenticator is None
    removed = last(rig, "authenticator.removed")
    assert (removed["outcome"], removed["request_id"], removed["subject_id"],
            removed.get("holder_id")) == ("success", "admin-cli", anna_id, None)
    rig.deliver()
    assert "togs bort" in rig.texts_to(PHONE)[-1] and "Av: support." in rig.texts_to(PHONE)[-1]


def test_support_is_told_what_is_wrong_and_nothing_changes(rig, anna):
    _, anna_id = anna
    before = rig.store.items(rig.settings.accounts_table), rig.events()
    with pytest.raises(NotFound) as no_account:
        rig.portal.holder_changes.remove_app("finns.inte", anna_id)
    assert "holder_id" not in no_account.value.fields
    with pytest.raises(NotFound) as no_holder:
        rig.portal.holder_changes.remove_app(USERNAME, "A" * 16)
    assert no_holder.value.fields == {"holder_id": "A" * 16}
    with pytest.raises(NotFound) as no_app:
        rig.portal.holder_changes.remove_app(USERNAME, anna_id)
    assert no_app.value.fields == {"holder_id": anna_id, "without_app": True}
    assert (rig.store.items(rig.settings.accounts_table), rig.events()) == before


# -- the secret is nowhere ---------------------------------------------------------------------

def test_the_secret_is_in_no_item_and_no_log_line_and_the_nonce_only_on_the_holder(rig, anna):
    session, anna_id = anna
    shown = enrol(rig, session, anna_id)
    secret = shown["secret"]
    nonce = rig.account().holder(anna_id).app_nonce
    tables = {table: json.dumps(rig.store.items(table), default=str) for table in (
        rig.settings.accounts_table, rig.settings.challenges_table,
        rig.settings.limits_table, rig.settings.audit_table)}
    assert [table for table, text in tables.items() if nonce in text] == [
        rig.settings.accounts_table]
    apps(rig).remove_app(session, anna_id, USER)
    rig.portal.holder_changes.add(USERNAME, "Bo Ek", NEW_PHONE)
    rig.deliver()
    everything = rig.stored() + rig.audit_stream.getvalue() + json.dumps(rig.sent)
    for form in (secret, grouped(secret), secret.lower(), nonce,
                 shown["otpauth_uri"]):
        assert form not in everything


# -- cold start ------------------------------------------------------------------------------

def test_the_api_and_the_code_flows_import_without_pyotp_or_segno():
    """Only a route that checks an app's code or shows a key loads them: every other
    route's cold start does not pay for them (issue 15)."""
    import subprocess
    import sys
    from pathlib import Path
    probe = subprocess.run(
        [sys.executable, "-c", (
            "import sys, app, chalicelib.repositories.records, chalicelib.services.reset, "
            "chalicelib.services.authenticator_enrolment; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyotp', 'segno')))")],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2], timeout=60)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "[]"
