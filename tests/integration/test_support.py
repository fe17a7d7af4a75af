"""The support desk's use cases (chalicelib/services/support/) against an in-process moto,
with the fake clock: what `python -m chalicelib.admin` does to accounts and tells about them."""
from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib import bootstrap
from chalicelib.adapters import aws
from chalicelib.domain.errors import (ImportRejected, InvalidCode, InvalidCredentials,
                                      InvalidSession, NotFound, TooManyAttempts)
from chalicelib.domain.events import Caller
from chalicelib.domain.policy import violations

USER = Caller(ip="203.0.113.7", request_id="test", lang="sv")
PASSWORD = "tuvKAJ58!x"
PHONE = "+46701234567"


def login(world, username="hemtjanstab", password=PASSWORD):
    return world.portal.registration.login(username, password, USER)


def audit_events(world, username="hemtjanstab") -> list[str]:
    return [record["event"] for record in world.audit(username)]


def account_names(world) -> set[str]:
    return {item["username"]["S"] for item in
            world.dynamodb.scan(TableName=world.settings.accounts_table)["Items"]}


@pytest.fixture
def dynamodb_calls(world):
    """(operation, index) of every DynamoDB call the portal makes from now on."""
    calls: list[tuple[str, str | None]] = []

    def count(params, model, **_):
        calls.append((model.name, params.get("IndexName")))

    aws.client("dynamodb").meta.events.register("provide-client-params.dynamodb", count)
    return calls


def configure(world, environment, **settings):
    for name, value in settings.items():
        environment.setenv("PWPORTAL_" + name, str(value))
    world.portal = bootstrap.override(clock=world.clock)
    world.settings = world.portal.settings
    return world.portal


# -- disable, enable ---------------------------------------------------------------------------

def test_disable_ends_the_accounts_pwreg_sessions(world):
    world.create_account()
    session = login(world)["session"]
    account, changed = world.portal.account_changes.disable("HemtjanstAB")
    assert changed and account.disabled
    with pytest.raises(InvalidSession):
        world.portal.registration.request_holder(session, "Anna Andersson", "0707654321", USER)
    with pytest.raises(InvalidCredentials):
        login(world)
    assert world.portal.accounts.get("hemtjanstab").disabled
    disabled = [r for r in world.audit("hemtjanstab") if r["event"] == "account.disabled"]
    assert len(disabled) == 1 and disabled[0]["request_id"] == "admin-cli"


def test_disable_also_ends_a_number_change_in_progress(world):
    world.create_account()
    session = login(world)["session"]
    world.portal.registration.request_holder(session, "Anna Andersson", "0707654321", USER)
    code = world.last_code("+46707654321")
    world.portal.account_changes.disable("hemtjanstab")
    with pytest.raises(InvalidSession):
        world.portal.registration.verify_holder(session, code, USER)
    assert world.portal.accounts.get("hemtjanstab").holders[0].phone == PHONE


def test_enable_lets_a_disabled_account_log_in_again_with_a_new_session(world):
    world.create_account()
    world.clock.advance(seconds=1)
    world.portal.account_changes.disable("hemtjanstab")
    world.clock.advance(seconds=1)
    account, changed = world.portal.account_changes.enable("hemtjanstab")
    assert changed and not account.disabled
    world.clock.advance(seconds=1)
    assert login(world)["session"]
    assert audit_events(world)[:3] == ["login.succeeded", "account.enabled", "account.disabled"]


def test_disabling_a_disabled_account_changes_nothing(world):
    world.create_account()
    world.portal.account_changes.disable("hemtjanstab")
    version = world.portal.accounts.get("hemtjanstab").version
    account, changed = world.portal.account_changes.disable("hemtjanstab")
    assert not changed and account.disabled
    assert world.portal.accounts.get("hemtjanstab").version == version
    assert audit_events(world).count("account.disabled") == 1
    _, changed = world.portal.account_changes.enable("hemtjanstab")
    assert changed
    _, changed = world.portal.account_changes.enable("hemtjanstab")
    assert not changed and audit_events(world).count("account.enabled") == 1


def test_disable_of_an_unknown_account_is_not_found_and_writes_nothing(world):
    with pytest.raises(NotFound):
        world.portal.account_changes.disable("finns-inte")
    assert world.audit("finns-inte") == []


def test_disable_retries_when_someone_changed_the_account_meanwhile(world, monkeypatch):
    world.create_account()
    support, accounts = world.portal, world.portal.accounts
    real_get = accounts.get
    raced = []

    def get_then_race(username):
        account = real_get(username)
        if not raced:  # somebody saves a new number between our read and our write
            raced.append(True)
            support.account_changes.set_phone(username, "0707654321")
        return account

    monkeypatch.setattr(accounts, "get", get_then_race)
    _, changed = support.account_changes.disable("hemtjanstab")
    saved = real_get("hemtjanstab")
    assert changed and saved.disabled and saved.holders[0].phone == "+46707654321"
    assert saved.version == 3


# -- unlock ------------------------------------------------------------------------------------

def test_unlock_lets_a_locked_login_in_again(world):
    world.create_account()
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            login(world, password="fel-losen-1A")
    with pytest.raises(TooManyAttempts):
        login(world)
    state = world.portal.account_states.state("hemtjanstab")
    assert state.login_locked_until == world.clock.now() + timedelta(minutes=15)
    done = world.portal.account_changes.unlock("hemtjanstab")
    assert done.cleared == ["login_lock"]
    assert login(world)["session"]
    unlocked = next(r for r in world.audit("hemtjanstab") if r["event"] == "account.unlocked")
    assert unlocked["cleared"] == ["login_lock"]


def test_unlock_lifts_a_reset_pause_so_codes_are_sent_again(world, environment):
    configure(world, environment, LIMIT_WRONG_CODES_PER_USERNAME="2/86400")
    world.create_account()
    reset = world.portal.reset
    challenge = reset.start("hemtjanstab", "+46701234567", USER)["challenge"]
    for _ in range(2):
        with pytest.raises(InvalidCode):
            reset.verify(challenge, "000000", USER)
    world.clock.advance(seconds=60)  # past the 1-per-minute SMS limit
    world.deliver()
    state = world.portal.account_states.state("hemtjanstab")
    assert state.reset_paused_until and state.why_no_code() == ["reset_paused"]
    done = world.portal.account_changes.unlock("hemtjanstab")
    assert done.cleared == ["reset_pause"]
    assert world.portal.account_states.state("hemtjanstab").why_no_code() == []
    world.deliver()
    assert "Spärrar för kontot hemtjanstab togs bort" in world.sent()[-1][1]  # SPEC 14
    sent_before = len(world.sent())
    reset.start("hemtjanstab", "+46701234567", USER)
    world.deliver()
    assert len(world.sent()) == sent_before + 1


def test_unlock_forgets_failures_that_had_not_yet_locked(world):
    world.create_account()
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            login(world, password="fel-losen-1A")
    assert world.portal.account_changes.unlock("hemtjanstab").cleared == ["login_failures"]
    assert world.portal.account_states.state("hemtjanstab").login_failures == 0


def test_unlock_with_nothing_to_clear_writes_nothing(world):
    world.create_account()
    done = world.portal.account_changes.unlock("hemtjanstab")
    assert done.cleared == []
    assert "account.unlocked" not in audit_events(world)


# -- events: why did (or didn't) a username get a code? ----------------------------------------

def test_events_explains_an_account_without_a_number(world):
    world.create_account(phone=None)
    world.clock.advance(seconds=1)
    world.portal.reset.start("hemtjanstab", "+46701234567", USER)
    world.deliver()
    world.clock.advance(minutes=2)  # past the 1-per-minute SMS limit that start counted
    state, trail = world.portal.account_states.events("hemtjanstab")
    assert state.account and state.account.holders == []
    assert state.why_no_code() == ["no_number"]
    assert [r["event"] for r in trail] == ["reset.requested", "account.created"]
    assert trail[0]["outcome"] == "no_holder" and world.sent() == []


def test_events_shows_the_sms_limit_reached_and_when_it_frees(world):
    world.create_account()
    world.portal.reset.start("hemtjanstab", "+46701234567", USER)
    world.clock.advance(seconds=10)
    world.portal.reset.start("hemtjanstab", "+46701234567", USER)
    state, trail = world.portal.account_states.events("hemtjanstab", limit=2)
    assert state.why_no_code() == ["sms_limit"]
    assert state.codes_sent_recently == 1
    assert state.sms_allowed_at == world.clock.now() + timedelta(seconds=50)
    assert len(trail) == 2
    limited = next(r for r in trail if r["event"] == "ratelimit.exceeded")
    assert limited["limit"] == "sms_per_flow" and limited["outcome"] == "no_sms"
    world.clock.advance(seconds=50)
    assert world.portal.account_states.state("hemtjanstab").why_no_code() == []


def test_events_shows_the_service_wide_sms_limit(world, environment):
    configure(world, environment, LIMIT_SMS_PER_SERVICE="1/3600")
    world.create_account()
    world.create_account("hemvardsgruppen", phone="+46707654321")
    world.portal.reset.start("hemvardsgruppen", "+46707654321", USER)
    world.deliver()
    state = world.portal.account_states.state("hemtjanstab")
    assert state.why_no_code() == ["service_sms_limit"]
    assert state.service_sms_allowed_at > world.clock.now()


def test_events_of_an_unknown_username_say_there_is_no_account(world):
    world.portal.reset.start("hemtjanstb", "+46701234567", USER)
    state, trail = world.portal.account_states.events("hemtjanstb")
    assert state.account is None and state.why_no_code() == ["no_account"]
    assert [r["event"] for r in trail] == ["reset.requested"]


def test_events_of_a_disabled_account_say_so_first(world):
    world.create_account(phone=None)
    world.portal.account_changes.disable("hemtjanstab")
    state = world.portal.account_states.state("hemtjanstab")
    assert state.why_no_code() == ["disabled", "no_number"]


# -- list ------------------------------------------------------------------------------------

def create_expiring_in(world, username: str, delta: timedelta, phone=None):
    """An account whose password expires `delta` from the world's now."""
    now = world.clock.now()
    world.clock.set(now + delta - timedelta(days=world.settings.policy.max_age_days))
    world.create_account(username, phone=phone)
    world.clock.set(now)


def test_list_shows_every_account_with_its_locks(world):
    world.create_account()
    world.create_account("hemvardsgruppen", phone=None)
    world.portal.account_changes.disable("hemvardsgruppen")
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            login(world, password="fel-losen-1A")
    states = world.portal.account_states.list_accounts()
    assert [s.username for s in states] == ["hemtjanstab", "hemvardsgruppen"]
    assert states[0].login_locked_until and not states[1].locked
    assert states[1].account.disabled


def test_list_reads_past_one_batch_of_a_hundred(world, dynamodb_calls):
    from dataclasses import replace
    account = world.create_account()
    tx = world.portal.uow.begin()
    for i in range(30):
        tx.add(f"enhet-{i:03}", world.portal.accounts.create(
            replace(account, username=f"enhet-{i:03}")))
    tx.commit()
    assert len(world.portal.account_states.list_accounts()) == 31
    assert sum(1 for op, _ in dynamodb_calls if op == "BatchGetItem") == 2  # 124 keys


def test_expiring_within_queries_the_index_and_never_scans(world, dynamodb_calls):
    create_expiring_in(world, "gick-ut", -timedelta(days=2))
    create_expiring_in(world, "idag", timedelta(hours=3), phone=PHONE)
    create_expiring_in(world, "om-tio-dagar", timedelta(days=10))
    create_expiring_in(world, "sista-dagen", timedelta(days=30))
    create_expiring_in(world, "senare", timedelta(days=31, hours=20))
    dynamodb_calls.clear()
    states = world.portal.account_states.expiring(30)
    assert [s.username for s in states] == ["idag", "om-tio-dagar", "sista-dagen"]
    operations = [op for op, _ in dynamodb_calls]
    assert "Scan" not in operations
    assert dynamodb_calls.count(("Query", "by_expiry")) == 31 == operations.count("Query")
    assert operations.count("BatchGetItem") == 1


def test_whose_passwords_expire_this_month_includes_one_that_expired_earlier_today(world):
    world.clock.set(world.clock.now().replace(hour=20))
    create_expiring_in(world, "imorse", -timedelta(hours=12))
    states = world.portal.account_states.expiring(30)
    assert [s.username for s in states] == ["imorse"]
    assert states[0].account.password_expires_at < world.clock.now()


# -- import ----------------------------------------------------------------------------------

def test_import_changes_nothing_when_one_row_is_bad(world):
    world.create_account("finns-redan")
    csv_text = ("username,phone\n"
                "hemtjanstab,070-123 45 67\n"
                "hemvard gruppen,\n"
                "HEMTJANSTAB,\n"
                "nattpatrullen,08-123 456 78\n"
                "finns-redan,\n"
                "dagverksamheten,inget nummer\n"
                "hemvardsgruppen\n")
    with pytest.raises(ImportRejected) as rejected:
        world.portal.imports.import_accounts(csv_text)
    assert [(p.line, p.reason) for p in rejected.value.problems] == [
        (3, "invalid_username"), (4, "duplicate"), (5, "phone_not_allowed"),
        (6, "account_exists"), (7, "invalid_phone")]
    assert rejected.value.problems[1].detail == "2"
    assert account_names(world) == {"finns-redan"}
    assert world.audit("hemtjanstab") == [] and world.audit("hemvardsgruppen") == []


def test_import_refuses_every_look_alike_of_an_existing_username(world):
    world.create_account("hemtjanstab")
    twins = ["hemtj\u0430nstab", "ｈｅｍｔｊａｎｓｔａｂ", "hemtjanstab\u3164", "-h",
             "hemtj\u00e4nstab", "hemtjanst\u212ab"]
    with pytest.raises(ImportRejected) as rejected:
        world.portal.imports.import_accounts("username,phone\n" + "\n".join(twins) + "\n")
    assert [(p.line, p.reason, p.username) for p in rejected.value.problems] == [
        (line, "invalid_username", twin) for line, twin in enumerate(twins, start=2)]
    assert account_names(world) == {"hemtjanstab"}


def test_import_creates_every_account_and_returns_only_the_passwords_to_hand_out(world):
    result = world.portal.imports.import_accounts(
        "username,phone\nHemtjanstAB,070-123 45 67\nhemvardsgruppen,\n")
    assert result.not_created == [] and result.error is None
    by_name = {entry.username: entry for entry in result.created}
    assert set(by_name) == {"hemtjanstab", "hemvardsgruppen"}
    with_number, without = by_name["hemtjanstab"], by_name["hemvardsgruppen"]
    assert with_number.phone == PHONE and with_number.password is None
    assert violations(without.password, "hemvardsgruppen", world.settings.policy) == []
    assert login(world, "hemvardsgruppen", without.password)["holders"] == []
    created = next(r for r in world.audit("hemtjanstab") if r["event"] == "account.created")
    assert created["source"] == "import"
    assert created["handover"] == "pwreset"
    # The holder with a number sets a password with a code sent to that number.
    challenge = world.portal.reset.start("hemtjanstab", "+46701234567", USER)["challenge"]
    token = world.portal.reset.verify(challenge, world.last_code(PHONE), USER)["reset_token"]
    assert world.portal.completion.complete(token, "Nytt-Hus-2026!x", USER)["changed"]


def test_import_reads_a_spreadsheets_semicolons_byte_order_mark_and_column_order(world):
    result = world.portal.imports.import_accounts(
        "\ufeffPhone;Username\r\n0701234567;hemtjanstab\r\n\r\n;hemvardsgruppen\r\n")
    assert sorted((e.username, e.phone) for e in result.created) == [
        ("hemtjanstab", PHONE), ("hemvardsgruppen", None)]


@pytest.mark.parametrize("csv_text, reason", [
    ("", "no_rows"),
    ("username,phone\n", "no_rows"),
    ("user,phone\nhemtjanstab,\n", "bad_header"),
    ("username,phone,email\nhemtjanstab,,a@b.se\n", "bad_header"),
    ("username,phone\nhemtjanstab,0701234567,extra\n", "malformed_row"),
])
def test_import_rejects_a_file_that_is_not_an_account_list(world, csv_text, reason):
    with pytest.raises(ImportRejected) as rejected:
        world.portal.imports.import_accounts(csv_text)
    assert [p.reason for p in rejected.value.problems] == [reason]
    assert account_names(world) == set()


def test_an_import_stopped_by_aws_still_returns_what_it_created(world, monkeypatch):
    from chalicelib.domain.errors import ServiceUnavailable
    support = world.portal
    changes = type(support.account_changes)
    real = changes.imported

    def fail_on_second(self, username, *args, **kwargs):
        if username == "andra":
            raise ServiceUnavailable()
        return real(self, username, *args, **kwargs)

    monkeypatch.setattr(changes, "imported", fail_on_second)
    result = support.imports.import_accounts("username\nforsta\nandra\ntredje\n")
    assert [e.username for e in result.created] == ["forsta"] and result.created[0].password
    assert [(p.line, p.username) for p in result.not_created] == [(3, "andra"), (4, "tredje")]
    assert result.error.code == "service_unavailable"


# -- report ----------------------------------------------------------------------------------

def test_report_counts_the_resets_done_with_the_app_and_the_apps_added_and_removed(world):
    from tests.api.helpers import app_code, give_app
    world.create_account()
    reset = world.portal.reset
    secret = give_app(world.portal, world.clock.now())
    challenge = reset.start("hemtjanstab", "+46701234567", USER, channel="app")["challenge"]
    reset.verify(challenge, app_code(secret, world.clock.now()), USER)
    world.clock.advance(seconds=90)
    challenge = reset.start("hemtjanstab", "+46701234567", USER)["challenge"]
    world.deliver()
    reset.verify(challenge, world.last_code(PHONE), USER)
    holder = world.portal.accounts.get("hemtjanstab").holders[0]
    world.portal.holder_changes.remove_app("hemtjanstab", holder.id)

    counts = world.portal.reports.report(timedelta(hours=24)).counts
    assert counts["resets started"] == 2 and counts["resets started with the app"] == 1
    assert counts["codes verified"] == 2 and counts["codes verified with the app"] == 1
    assert counts["codes sent"] == 1  # the app's reset sent none
    assert counts["authenticator apps removed"] == 1


def test_report_counts_the_periods_events(world):
    clock = world.clock
    now = clock.now()  # 2026-11-25 08:00 UTC
    reset = world.portal.reset
    clock.set(now - timedelta(days=3))  # outside the last 24 h
    world.create_account()
    world.create_account("hemvardsgruppen", phone=None)
    reset.start("hemtjanstab", "+46701234567", USER)
    world.deliver()
    clock.set(now - timedelta(hours=12))  # yesterday evening: the day before, but inside
    challenge = reset.start("hemtjanstab", "+46701234567", USER)["challenge"]
    code = world.last_code(PHONE)
    with pytest.raises(InvalidCode):
        reset.verify(challenge, "000000", USER)
    token = reset.verify(challenge, code, USER)["reset_token"]
    world.portal.completion.complete(token, "Nytt-Hus-2026!x", USER)
    clock.set(now - timedelta(hours=1))  # today
    reset.start("hemtjanstab", "+46701234567", USER)
    reset.start("hemtjanstab", "+46701234567", USER)  # too soon: no SMS
    world.deliver()
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            login(world, "hemvardsgruppen", "fel-losen-1A")
    clock.set(now)
    create_expiring_in(world, "snart-ute", timedelta(days=5))

    report = world.portal.reports.report(timedelta(hours=24))
    counts = report.counts
    assert counts["resets started"] == 3
    assert counts["reset requests without SMS"] == 1
    assert counts["codes sent"] == 2
    assert counts["wrong codes"] == 1
    assert counts["codes verified"] == 1
    assert counts["passwords changed"] == 1
    assert counts["pwreg login failures"] == 5 and counts["login locks"] == 1
    assert counts["rate-limit hits"] == 1 and report.rate_limits == {"sms_per_flow": 1}
    assert counts["accounts created"] == 0  # 3 days ago, and snart-ute 85 days ago
    assert [s.username for s in report.expiring] == ["snart-ute"]
    assert report.without_number == ["hemvardsgruppen", "snart-ute"]
    assert report.accounts == 3 and report.disabled == 0
    assert report.start == now - timedelta(hours=24)

    week = world.portal.reports.report(timedelta(days=7))
    assert week.counts["resets started"] == 4 and week.counts["accounts created"] == 2


def test_report_reads_one_day_at_a_time_through_the_by_day_index(world, dynamodb_calls):
    world.portal.reports.report(timedelta(days=7))
    days = [index for op, index in dynamodb_calls if op == "Query" and index == "by_day"]
    assert len(days) == 8  # 7 × 24 h from 08:00 touches 8 UTC days
