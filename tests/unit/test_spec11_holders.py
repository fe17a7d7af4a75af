"""SPEC 9, 11 on the fakes: support lists, adds and removes an account's holders, the
version 1 numbers migrate to holders, and one account's month of events says who did what."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.domain import holders as holding
from chalicelib.domain.errors import (InvalidName, InvalidPhone, NotFound, PhoneNotAllowed,
                                      TooManyHolders)
from chalicelib.ports import Put
from tests.unit.conftest import NEW_PHONE, PHONE, USER, USERNAME

BO = NEW_PHONE


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)

CIA = "+46761112233"


def snapshot(rig):
    return rig.store.items(rig.settings.accounts_table), rig.events(), len(rig.queue.sent)


def last(rig, event, username=USERNAME, **where) -> dict:
    """The one audit record of `event` (with `where`'s fields), or the newest of them;
    records of one instant have no set order, so the tests name what they look for."""
    return [record for record in rig.audit(username) if record["event"] == event
            and all(record.get(k) == v for k, v in where.items())][-1]


def holders(rig, username=USERNAME):
    return [(h.name, h.phone) for h in rig.account(username).holders]


# -- create and add -----------------------------------------------------------------------------

def test_an_account_created_with_a_number_has_that_number_as_its_one_holder(rig):
    rig.create_account()
    [holder] = rig.account().holders
    assert (holder.name, holder.phone, holder.added_by) == ("", PHONE,
                                                              "support")
    assert sorted(rig.events()) == ["account.created", "holder.added"]
    rig.portal.account_changes.create("nattpatrullen", "tuvKAJ58!x", "0707654321", "Bo Ek")
    assert holders(rig, "nattpatrullen") == [("Bo Ek", BO)]


def test_support_adds_a_holder_whom_the_other_holders_and_the_new_one_are_told_of(rig):
    rig.create_account()
    done = rig.portal.holder_changes.add(USERNAME, " Bo Ek ", "070-765 43 21")
    assert done.new and done.changed and done.holder.name == "Bo Ek"
    assert holders(rig) == [("", PHONE), ("Bo Ek", BO)]
    added = last(rig, "holder.added", subject_name="Bo Ek")
    assert (added["event"], added["outcome"], added["subject_id"], added["subject_name"],
            added["added_by"], added["request_id"], added["phone"]) == (
        "holder.added", "success", done.holder.id, "Bo Ek", "support", "admin-cli",
        "+4670*****21")
    rig.deliver()
    for number in (PHONE, BO):
        [notice] = rig.texts_to(number)
        assert "Numret 070-*** ** 21 lades till" in notice
        assert 'Namn: "Bo Ek". Av: support.' in notice
        assert "hemtjanstab" in notice and BO not in notice and "0707654321" not in notice


def test_the_same_number_again_renames_its_holder_and_tells_nobody(rig):
    rig.create_account()
    done = rig.portal.holder_changes.add(USERNAME, "Anna Berg", "0701234567")
    assert not done.new and done.changed
    assert holders(rig) == [("Anna Berg", PHONE)]
    renamed = [r for r in rig.audit() if r["event"] == "holder.added"
               and r["outcome"] == "renamed"][0]
    assert (renamed["event"], renamed["outcome"], renamed["previous_name"]) == (
        "holder.added", "renamed", "")
    assert rig.queue.sent == []
    before = snapshot(rig)
    same = rig.portal.holder_changes.add(USERNAME, "Anna Berg", "+46701234567")
    assert not same.changed and snapshot(rig) == before


@pytest.mark.parametrize("name, number, error", [
    ("", BO, InvalidName), ("Bo\nEk", BO, InvalidName), ("x" * 61, BO, InvalidName),
    ("Bo Ek", "hej", InvalidPhone), ("Bo Ek", "08-123 456 78", PhoneNotAllowed)])
def test_bad_input_for_a_holder_changes_nothing(rig, name, number, error):
    rig.create_account()
    before = snapshot(rig)
    with pytest.raises(error):
        rig.portal.holder_changes.add(USERNAME, name, number)
    assert snapshot(rig) == before


def test_a_sixth_holder_is_refused_and_changes_nothing(rig):
    rig.create_account()
    for i in range(4):
        rig.portal.holder_changes.add(USERNAME, f"Person {chr(65 + i)}", f"+4670111222{i}")
    before = snapshot(rig)
    with pytest.raises(TooManyHolders):
        rig.portal.holder_changes.add(USERNAME, "Sexan", CIA)
    assert snapshot(rig) == before and len(holders(rig)) == 5


def test_the_maximum_is_a_setting(rig, reconfigure):
    reconfigure(max_holders=2)
    rig.create_account()
    rig.portal.holder_changes.add(USERNAME, "Bo Ek", BO)
    with pytest.raises(TooManyHolders):
        rig.portal.holder_changes.add(USERNAME, "Cia", CIA)


def test_adding_to_an_unknown_account_is_not_found(rig):
    with pytest.raises(NotFound):
        rig.portal.holder_changes.add("finns-inte", "Bo Ek", BO)


# -- remove ---------------------------------------------------------------------------------

def test_a_removed_holder_and_the_others_are_told_and_codes_go_to_the_next_holder(rig):
    rig.create_account()
    rig.portal.holder_changes.add(USERNAME, "Bo Ek", BO)
    rig.deliver()
    first = rig.account().holders[0]
    done = rig.portal.holder_changes.remove(USERNAME, first.id)
    assert done.holder == first and holders(rig) == [("Bo Ek", BO)]
    assert rig.account().holders[0].phone == BO
    removed = last(rig, "holder.removed")
    assert (removed["event"], removed["subject_id"], removed["phone"]) == (
        "holder.removed", first.id, "+4670*****67")
    rig.deliver()
    for number in (PHONE, BO):
        assert "Numret 070-*** ** 67 togs bort" in rig.texts_to(number)[-1]
        assert 'för kontot hemtjanstab. Av: support.' in rig.texts_to(number)[-1]
    rig.clock.advance(seconds=61)
    rig.portal.reset.start(USERNAME, PHONE, USER)  # the removed number: no code
    rig.clock.advance(seconds=61)
    rig.portal.reset.start(USERNAME, BO, USER)
    assert rig.last_code(BO) and rig.codes_sent_to(PHONE) == []


def test_removing_the_last_holder_leaves_no_number_to_send_codes_to(rig):
    rig.create_account()
    rig.portal.holder_changes.remove(USERNAME, rig.account().holders[0].id)
    assert rig.account().holders == []
    rig.deliver()
    rig.challenge()
    rig.deliver()
    assert rig.codes_sent_to(PHONE) == []


def test_removing_an_unknown_holder_is_not_found_and_changes_nothing(rig):
    rig.create_account()
    before = snapshot(rig)
    with pytest.raises(NotFound) as missing:
        rig.portal.holder_changes.remove(USERNAME, "A" * 16)
    assert missing.value.fields == {"holder_id": "A" * 16} and snapshot(rig) == before


# -- set-phone, and a version 1 number change -------------------------------------------

def test_support_setting_a_number_makes_it_the_first_holder_and_keeps_the_others(rig):
    rig.create_account()
    account = rig.portal.account_changes.set_phone(USERNAME, "0707654321", "Bo Ek")
    assert account.holders[0].phone == BO
    assert holders(rig) == [("Bo Ek", BO), ("", PHONE)]
    assert last(rig, "phone.set_by_support")["subject_name"] == "Bo Ek"


def test_a_number_added_on_pwreg_is_a_new_holder_and_the_others_keep_theirs(rig):
    rig.create_account()
    rig.portal.holder_changes.add(USERNAME, "Bo Ek", CIA)
    first, second = rig.account().holders
    session = rig.session()
    rig.portal.registration.request_holder(session, "Anna Andersson", "0707654321", rig_caller())
    shown = rig.portal.registration.verify_holder(session, rig.last_code(BO), rig_caller())
    after = rig.account()
    assert after.holders[0].phone == PHONE  # the first holder's, as before
    assert [(h.id, h.name, h.phone) for h in after.holders] == [
        (first.id, first.name, PHONE), (second.id, "Bo Ek", CIA),
        (shown["holder"]["id"], "Anna Andersson", BO)]


def rig_caller():
    from tests.unit.conftest import USER
    return USER


# -- the migration ----------------------------------------------------------------------------

def version_1_account(rig, username, phone):
    """An account as version 1 stored it: a number, no holders."""
    rig.create_account(username, phone=None)
    item = rig.store.items(rig.settings.accounts_table)
    item = next(i for i in item if i["username"] == username)
    item.pop("holders")
    if phone:
        item["phone"] = phone
    rig.store.write(Put(rig.settings.accounts_table, item))


def test_the_migration_makes_each_version_1_number_one_holder_once(rig):
    version_1_account(rig, "gammal", PHONE)
    version_1_account(rig, "utan-nummer", None)
    rig.create_account("ny", phone=BO)
    dry = rig.portal.holder_changes.migrate(dry_run=True)
    assert (dry.migrated, dry.already, dry.without_number) == (["gammal"], 1, 1)
    assert rig.account("gammal").holders == []
    done = rig.portal.holder_changes.migrate()
    assert (done.migrated, done.already, done.without_number) == (["gammal"], 1, 1)
    [holder] = rig.account("gammal").holders
    assert (holder.name, holder.phone, holder.added_by) == ("", PHONE,
                                                              "support")
    assert last(rig, "holder.added", "gammal")["outcome"] == "migrated"
    again = rig.portal.holder_changes.migrate()
    assert (again.migrated, again.already) == ([], 2)
    assert rig.account("gammal").holders == [holder] and rig.queue.sent == []


def test_adding_to_a_version_1_account_migrates_its_number_in_the_same_write(rig):
    version_1_account(rig, "gammal", PHONE)
    rig.portal.holder_changes.add("gammal", "Bo Ek", BO)
    assert holders(rig, "gammal") == [("", PHONE), ("Bo Ek", BO)]
    assert sorted(r["outcome"] for r in rig.audit("gammal")
                  if r["event"] == "holder.added") == ["migrated", "success"]


# -- one account's month -------------------------------------------------------------------

def test_the_monthly_log_holds_the_accounts_events_of_that_month_with_who_did_them(
        rig, monkeypatch):
    rig.clock.set(utc(2026, 10, 31, 22, 30))  # 23:30 in Sweden: still October
    rig.create_account()
    rig.clock.set(utc(2026, 10, 31, 23, 30))  # 00:30 on 1 November in Sweden
    # a name as version 2 took it (today's rules refuse it: issue 21), for the CSV's guard
    monkeypatch.setattr(holding, "is_name", lambda name, reserved=(): True)
    rig.portal.holder_changes.add(USERNAME, "=HYPERLINK(\"x\")", BO)
    monkeypatch.undo()
    rig.clock.set(utc(2026, 11, 30, 22, 59))
    rig.portal.account_changes.disable(USERNAME)
    rig.clock.set(utc(2026, 11, 30, 23, 0))  # December in Sweden
    rig.portal.account_changes.enable(USERNAME)
    log = rig.portal.monthly_reports.log("HEMTJANSTAB", 2026, 11)
    rows = log.rows()
    assert [row[1] for row in rows] == ["holder.added", "account.disabled"]
    assert rows[0][0] == "2026-11-01 00:30:00" and rows[1][0] == "2026-11-30 23:59:00"
    assert rows[0][4] == "support" and rows[0][6].startswith("=HYPERLINK")
    data = log.csv()
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert table[0][:5] == ["Tid (svensk tid)", "Händelse", "Beskrivning", "Utfall", "Vem"]
    assert table[1][2] == "Innehavare lades till" and table[1][6].startswith("'=HYPERLINK")
    assert data.count(b"\r\n") == 3


def test_every_event_has_a_swedish_description_for_the_monthly_log():
    from chalicelib.domain.events import EVENTS
    from chalicelib.services.support.monthly import DESCRIPTIONS
    assert set(DESCRIPTIONS) == set(EVENTS)


# -- the daily job: holders unused too long ---------------------------------------------

def test_the_daily_job_removes_a_holder_unused_for_400_days_and_tells_them_and_the_others(rig):
    rig.create_account()
    rig.clock.advance(days=100)
    rig.portal.holder_changes.add(USERNAME, "Bo Ek", BO)
    rig.deliver()
    rig.clock.advance(days=299, hours=23)
    assert rig.portal.holder_expiry.run() == {"accounts": 0, "holders_expired": 0}
    rig.clock.advance(hours=1)  # 400 days since the holder without a name was added
    assert rig.portal.holder_expiry.run() == {"accounts": 1, "holders_expired": 1}
    assert holders(rig) == [("Bo Ek", BO)] and rig.account().holders[0].phone == BO
    expired = last(rig, "holder.expired")
    assert (expired["subject_name"], expired["request_id"], expired["unused_days"]) == (
        "", "daily-job", 400)
    rig.deliver()
    for number in (PHONE, BO):
        assert "Numret 070-*** ** 67 hade inte använt kontot hemtjanstab på 400 dagar" \
            in rig.texts_to(number)[-1]
        assert 'för kontot. Frågor?' in rig.texts_to(number)[-1]
    assert rig.portal.holder_expiry.run() == {"accounts": 0, "holders_expired": 0}


def test_the_daily_job_catches_up_after_an_outage_and_counts_use_not_adding(rig, reconfigure):
    from dataclasses import replace as replaced
    reconfigure(holder_unused_days=30)
    rig.create_account()
    rig.create_account("nattpatrullen", phone=BO)
    account = rig.account("nattpatrullen")
    used = replaced(account.holders[0], last_used_at=rig.clock.now() + timedelta(days=20))
    rig.store.write(rig.portal.accounts.save(account.with_holders([used]), account.version))
    rig.clock.advance(days=45)  # the job did not run for 45 days
    assert rig.portal.holder_expiry.run() == {"accounts": 1, "holders_expired": 1}
    assert rig.account().holders == []
    assert holders(rig, "nattpatrullen") == [("", BO)]


def test_the_job_finds_accounts_through_the_index_never_a_scan(rig, monkeypatch):
    rig.create_account()
    rig.portal.account_changes.create("utan-nummer", "tuvKAJ58!x")
    item = next(i for i in rig.store.items(rig.settings.accounts_table)
                if i["username"] == USERNAME)
    assert (item["holder_use"], item["least_used_on"]) == ("holders", "2026-11-25")
    bare = next(i for i in rig.store.items(rig.settings.accounts_table)
                if i["username"] == "utan-nummer")
    assert "holder_use" not in bare and "least_used_on" not in bare
    scans = []
    monkeypatch.setattr(rig.store, "scan", lambda *args, **kwargs: scans.append(args))
    rig.clock.advance(days=401)
    rig.portal.holder_expiry.run()
    assert scans == [] and rig.account().holders == []
