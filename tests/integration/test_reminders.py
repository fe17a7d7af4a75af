"""SPEC 3: the daily job sends the 14- and 3-day expiry reminders exactly once each per
password, and finds the accounts through the expiry index, never a scan."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.adapters import aws
from chalicelib.domain.errors import ServiceUnavailable

START = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)  # expires 2026-04-05 (summer time)


def reminders_to(world, number):
    world.deliver()
    return [text for to, text in world.sent() if to == number]


def run_days(world, first: int, last: int, number="+46701234567", skip=()):
    """Run the job at 06:00 UTC on each day from `first` to `last` after START; returns
    {day: [reminder texts sent that day]} for the days that sent anything."""
    got = {}
    for day in range(first, last + 1):
        world.clock.set(START.replace(hour=6) + timedelta(days=day))
        if day in skip:
            continue
        before = len(reminders_to(world, number))
        world.portal.reminders.run()
        texts = reminders_to(world, number)[before:]
        if texts:
            got[day] = texts
    return got


@pytest.fixture
def account(world):
    world.clock.set(START)
    return world.create_account()


def test_a_whole_cycle_gets_the_14_and_the_3_day_reminder_once_each(world, account):
    got = run_days(world, 0, 95)
    assert sorted(got) == [76, 87]
    assert got[76] == ["Lösenordet för kontot hemtjanstab går ut om 14 dagar (5 april). "
                       "Frågor? Kontakta support: vardochstod@orebro.se eller 2000 "
                       "(internt nummer, knappval 3 och 1). Byt det i tid på "
                       "https://localhost/pwreset/"]
    assert "går ut om 3 dagar (5 april)" in got[87][0]
    assert [r["event"] for r in world.audit("hemtjanstab")].count("reminder.sent") == 2


def test_running_the_job_twice_a_day_sends_nothing_more(world, account):
    world.clock.set(START.replace(hour=6) + timedelta(days=76))
    first = world.portal.reminders.run()
    second = world.portal.reminders.run()
    assert first["queued"] == 1 and second["queued"] == 0 and second["already_sent"] == 1
    assert len(reminders_to(world, "+46701234567")) == 1


def test_a_new_password_starts_a_new_cycle_of_reminders(world, account):
    run_days(world, 0, 80)
    world.clock.set(START + timedelta(days=80))
    current = world.portal.accounts.get("hemtjanstab")
    changed = current.with_password(current.password_hash, "x", 24, world.clock.now(), 90)
    world.portal.uow.write(world.portal.accounts.save(changed, current.version))
    got = run_days(world, 81, 175)
    assert sorted(got) == [156, 167]


def test_a_missed_day_is_caught_up_the_next_day(world, account):
    got = run_days(world, 70, 95, skip={76})
    assert sorted(got) == [77, 87]
    assert "går ut om 13 dagar" in got[77][0]


def test_no_reminder_for_an_account_without_a_number_or_a_disabled_one(world):
    world.clock.set(START)
    world.create_account("utannummer", phone=None)
    disabled = world.create_account("avstangd", phone="+46707654321")
    world.portal.uow.write(world.portal.accounts.save(
        replace(disabled, disabled=True, version=disabled.version + 1), disabled.version))
    world.clock.set(START.replace(hour=6) + timedelta(days=76))
    counts = world.portal.reminders.run()
    assert counts["queued"] == 0 and counts["no_number"] == 1 and counts["disabled"] == 1
    world.deliver()
    assert world.sent() == []


def test_every_holder_is_reminded_and_a_holder_removed_before_delivery_is_not(world, account):
    support = world.portal
    support.holder_changes.add("hemtjanstab", "Anna Andersson", "+46707654321")
    gone = support.holder_changes.add("hemtjanstab", "Bo Berg", "+46708887766").holder
    world.clock.set(START.replace(hour=6) + timedelta(days=76))
    before = {number: len(reminders_to(world, number))
              for number in ("+46701234567", "+46707654321", "+46708887766")}
    counts = world.portal.reminders.run()  # queued: one message per holder
    support.holder_changes.remove("hemtjanstab", gone.id)  # before the worker delivers them
    assert counts["queued"] == 1  # (accounts)
    got = {number: [text for text in reminders_to(world, number)[before[number]:]
                    if "går ut om 14 dagar" in text] for number in before}
    assert {number: len(texts) for number, texts in got.items()} == {
        "+46701234567": 1, "+46707654321": 1, "+46708887766": 0}
    sent = [r for r in world.audit("hemtjanstab") if r["event"] == "reminder.sent"]
    assert sorted(r["phone"] for r in sent) == ["+4670*****21", "+4670*****67"]


def test_the_reminder_is_in_the_language_the_account_last_used(world, account):
    current = world.portal.accounts.get("hemtjanstab")
    world.portal.uow.write(world.portal.accounts.save(
        replace(current, lang="en", version=current.version + 1), current.version))
    got = run_days(world, 76, 76)
    assert got[76][0].startswith("The password of the account hemtjanstab expires in 14 days "
                                 "(5 April).")


def test_a_reminder_that_cannot_be_queued_is_tried_again_the_next_day(world, account,
                                                                       monkeypatch):
    world.clock.set(START.replace(hour=6) + timedelta(days=76))

    def queue_down(messages):
        raise ServiceUnavailable()
    with monkeypatch.context() as patched:
        patched.setattr(world.portal.queue, "send_many", queue_down)
        with pytest.raises(ServiceUnavailable):
            world.portal.reminders.run()
    assert world.portal.accounts.get("hemtjanstab").reminders_sent == []
    got = run_days(world, 77, 77)
    assert "går ut om 13 dagar" in got[77][0]


def test_the_job_reads_the_expiry_index_and_never_scans_whatever_the_number_of_accounts(
        world):
    calls = []
    dynamodb = aws.client("dynamodb")
    dynamodb.meta.events.register("before-parameter-build.dynamodb",
                                  lambda model, params, **_: calls.append(
                                      (model.name, params.get("IndexName"))))

    def run_once():
        calls.clear()
        world.clock.set(START.replace(hour=6) + timedelta(days=76))
        world.portal.reminders.run()
        return list(calls)

    world.clock.set(START)
    world.create_account("due")
    with_one = run_once()
    world.clock.set(START + timedelta(days=20))
    for index in range(30):
        world.create_account(f"notdue{index}", phone=None)
    with_many = run_once()
    assert not any(name == "Scan" for name, _ in with_many)
    queries = [call for call in with_many if call[0] == "Query"]
    assert queries and all(index == "by_expiry" for _, index in queries)
    assert len(queries) == len(world.portal.reminders.due())
    # the due account was reminded on the first run; the 30 others are not due: same reads
    assert [c for c in with_many if c[0] != "PutItem"] == \
        [c for c in with_one if c[0] != "PutItem"]


def test_the_daily_schedule_runs_the_job(world, account, client, capsys):
    world.clock.set(START.replace(hour=6) + timedelta(days=76))
    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event",
                                            detail={}, resources=[])
    client.lambda_.invoke("send_reminders", event)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    job = [line for line in lines if line.get("job") == "reminders"]
    assert len(job) == 1 and job[0]["queued"] == 1
    # the job's lines carry the scheduled event's id (Powertools Logger's correlation id)
    assert {line["correlation_id"] for line in lines} == {event["id"]}
    assert len(reminders_to(world, "+46701234567")) == 1
