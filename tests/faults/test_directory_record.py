"""SPEC 13 on real DynamoDB calls (moto) and a real slapd: DynamoDB fails exactly between
the directory's write and the portal's, through botocore's own hook on the client the app
uses (the faults of tests/faults/conftest.py), so DynamoStore's error mapping, the retries
and the repair are the code that runs in Lambda."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from chalicelib import bootstrap
from chalicelib.adapters import aws
from tests.api.helpers import PHONE, USERNAME, complete, login, reset_token
from tests.directory.relay import LosingRelay
from tests.directory.conftest import slapd  # noqa: F401 (the module's real directory)
from tests.faults.conftest import dynamodb_error, transaction_items

OLD, NEW = "Gammal-Sol-2026", "Ny-Mane-Regn-7"
OTHER_USER = "korttidsboende"  # the module's directory has USERNAME already


class RecordFails:
    """Fails every TransactWriteItems that deletes a pending marker (the record of a change
    the directory took), as DynamoDB does when it is throttled; everything else passes."""

    def __init__(self):
        self.failed = 0
        self.on = True
        aws.client("dynamodb").meta.events.register("before-call.dynamodb", self._before,
                                                    unique_id="record-fails")

    def _before(self, model, params, **kwargs):
        if not self.on or model.name != "TransactWriteItems":
            return
        for item in transaction_items(params):
            key = json.dumps(item.get("Delete", {}).get("Key", {}))
            if "pending#" in key:
                self.failed += 1
                raise dynamodb_error("throttled", model.name, params)


def test_a_record_dynamodb_refuses_is_answered_changed_and_repaired_later(
        world, client, environment, slapd, capsys):  # noqa: F811
    for name, value in slapd.settings().items():
        environment.setenv(name, value)
    world.clock.set(datetime.now(timezone.utc))
    world.portal = bootstrap.override(clock=world.clock)
    slapd.add_account(USERNAME, OLD)
    world.create_account(USERNAME, None, PHONE)
    before = world.portal.accounts.get(USERNAME)
    world.clock.advance(seconds=2)
    token = reset_token(world, client)

    faults = RecordFails()
    capsys.readouterr()
    answer = complete(client, token, NEW)
    logged = capsys.readouterr().out
    assert answer.status_code == 200, answer.body  # the directory has it: it is changed
    assert faults.failed >= 3  # retried, round after round
    assert slapd.binds(USERNAME, NEW) and not slapd.binds(USERNAME, OLD)
    assert world.portal.accounts.get(USERNAME) == before  # not recorded yet ...
    # ... and said so, in the line the DirectoryFailed alarm counts, never with the password
    lines = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    assert [(line["outcome"], line["step"]) for line in lines
            if line.get("event") == "directory.failed"] == [("unrecorded", "reset")]
    assert any("directory.unrecorded" in line.get("message", "") for line in lines)
    assert NEW not in logged and slapd.service_password not in logged

    faults.on = False  # DynamoDB is back; the next request for the account repairs it
    world.clock.advance(seconds=60)
    assert login(client, USERNAME, NEW).status_code == 200
    after = world.portal.accounts.get(USERNAME)
    assert len(after.history) == len(before.history) + 1
    assert after.session_epoch == before.session_epoch + 1
    assert after.password_expires_at > before.password_expires_at
    trail = world.portal.audit.events(USERNAME, limit=50)
    assert [r.get("via") for r in trail if r["event"] == "password.changed"] == ["repair"]
    assert complete(client, token, "Tredje-Vag-55x").status_code == 410  # spent by the repair


def test_a_lost_answer_is_503_change_unconfirmed_and_the_daily_job_records_it(
        world, client, environment, slapd):  # noqa: F811
    """Issue 21, 5 on real DynamoDB calls: the directory's answer to the set is lost and
    it cannot be asked at once (tests/directory/relay.py); the page is told the outcome is
    being checked, and the daily job, through the by_pending index, records it once."""
    relay = LosingRelay(slapd, refuse_after=True)
    for name, value in {**slapd.settings(), "PWPORTAL_LDAP_URL": relay.url}.items():
        environment.setenv(name, value)
    world.clock.set(datetime.now(timezone.utc))
    world.portal = bootstrap.override(clock=world.clock)
    slapd.add_account(OTHER_USER, OLD)
    world.create_account(OTHER_USER, None, PHONE)
    before = world.portal.accounts.get(OTHER_USER)
    token = reset_token(world, client, OTHER_USER)
    try:
        answer = complete(client, token, NEW, lang="en")
    finally:
        relay.close()
    assert answer.status_code == 503, answer.body
    assert answer.json_body["error"]["code"] == "change_unconfirmed"
    assert answer.json_body["error"]["message"].startswith(
        "We do not know yet whether the password was changed.")
    assert slapd.binds(OTHER_USER, NEW)
    assert world.portal.accounts.get(OTHER_USER) == before

    environment.setenv("PWPORTAL_LDAP_URL", slapd.url)  # the directory answers again
    world.portal = bootstrap.override(clock=world.clock)
    world.clock.advance(seconds=world.portal.password_change.in_flight_seconds() + 1)
    assert world.portal.reminders.run()["pending_recorded"] == 1
    assert "pending_recorded" not in world.portal.reminders.run()  # once
    after = world.portal.accounts.get(OTHER_USER)
    assert len(after.history) == len(before.history) + 1
    trail = world.portal.audit.events(OTHER_USER, limit=50)
    assert [r.get("via") for r in trail if r["event"] == "password.changed"] == ["repair"]
    assert login(client, OTHER_USER, NEW).status_code == 200
    assert complete(client, token, "Tredje-Vag-55x").status_code == 410
