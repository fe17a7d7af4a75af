"""SPEC 11 on DynamoDB (moto): an account's holders in its item, the daily job that removes
the holders unused too long through the by_holder_use index, and what it tells."""
from __future__ import annotations

import json
from datetime import timedelta

from chalicelib.adapters import aws

PHONE, BO = "+46701234567", "+46707654321"


def texts_to(world, number):
    world.deliver()
    return [text for to, text in world.sent() if to == number]


def test_holders_are_stored_in_the_accounts_item_on_dynamodb(world):
    world.create_account()
    world.portal.holder_changes.add("hemtjanstab", "Bo Ek", "0707654321")
    item = world.dynamodb.get_item(TableName=world.settings.accounts_table,
                                   Key={"username": {"S": "hemtjanstab"}})["Item"]
    names = [h["M"]["name"]["S"] for h in item["holders"]["L"]]
    assert names == ["", "Bo Ek"] and item["phone"]["S"] == PHONE
    assert item["holder_use"]["S"] == "holders"
    account = world.portal.accounts.get("hemtjanstab")
    assert [h.phone for h in account.holders] == [PHONE, BO] and account.version == 2


def test_the_daily_schedule_removes_holders_unused_for_400_days_through_the_index(
        world, client, capsys):
    world.create_account()
    world.clock.advance(days=200)
    world.portal.holder_changes.add("hemtjanstab", "Bo Ek", "0707654321")
    for index in range(5):
        world.create_account(f"ny{index}", phone=f"+4670111000{index}")
    texts_to(world, PHONE)
    calls = []
    aws.client("dynamodb").meta.events.register(
        "before-parameter-build.dynamodb",
        lambda model, params, **_: calls.append((model.name, params.get("IndexName"))))
    world.clock.advance(days=200)
    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event",
                                            detail={}, resources=[])
    client.lambda_.invoke("send_reminders", event)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()
             if line.startswith("{")]
    [job] = [line for line in lines if line.get("job") == "holder_expiry"]
    assert (job["accounts"], job["holders_expired"]) == (1, 1)
    assert not any(name == "Scan" for name, _ in calls)
    assert ("Query", "by_holder_use") in calls
    account = world.portal.accounts.get("hemtjanstab")
    assert [h.name for h in account.holders] == ["Bo Ek"] and account.holders[0].phone == BO
    assert [h.name for h in world.portal.accounts.get("ny0").holders] == [""]
    for number in (PHONE, BO):
        assert "hade inte använt kontot hemtjanstab på 400 dagar" in texts_to(world, number)[-1]
    expired = [r for r in world.audit("hemtjanstab") if r["event"] == "holder.expired"]
    assert len(expired) == 1 and expired[0]["request_id"] == "daily-job"
    assert PHONE not in json.dumps(expired)


def test_a_monthly_log_on_dynamodb_reads_one_month_of_one_account(world):
    world.create_account()
    world.create_account("annat", phone=BO)
    world.clock.advance(days=40)
    world.portal.account_changes.disable("hemtjanstab")
    log = world.portal.monthly_reports.log("hemtjanstab", 2026, 11)
    assert sorted(r["event"] for r in log.records) == ["account.created", "holder.added"]
    later = world.portal.monthly_reports.log("hemtjanstab", 2027, 1)
    assert [r["event"] for r in later.records] == ["account.disabled"]
    assert world.clock.now() - timedelta(days=40) < later.start


def test_the_local_stacks_demo_account_has_its_number_as_its_one_holder(world):
    from infra.local_stack import DEMO_PHONE, DEMO_USERNAME, ensure_demo_account
    assert ensure_demo_account()
    account = world.portal.accounts.get(DEMO_USERNAME)
    assert [(h.name, h.phone, h.added_by) for h in account.holders] == [
        ("", DEMO_PHONE, "support")]
    assert account.holders[0].phone == DEMO_PHONE
