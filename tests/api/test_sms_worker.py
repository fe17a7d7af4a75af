"""The SMS worker (SPEC 4): queued codes go out through SNS as Transactional SMS with the
sender ID, only to a registered number, once; SNS failing leaves the message for a retry."""
import json
import re

import pytest

from app import deliver_sms
from infra.local_worker import drain_once, sqs_event
from tests.api.helpers import (NEW_PHONE, PASSWORD, PHONE, USERNAME, complete, disable,
                               events, request_phone, scan, session_of, start, verify,
                               verify_phone)
from tests.conftest import FailingGateway


def test_a_reset_code_is_published_to_the_registered_number_as_transactional_sms(
        world, client, sns_publish):
    world.create_account()
    start(client)
    world.deliver()
    [call] = sns_publish
    assert call["PhoneNumber"] == PHONE
    assert call["Message"] == world.sent()[0][1]
    assert call["MessageAttributes"]["AWS.SNS.SMS.SMSType"] == {
        "DataType": "String", "StringValue": "Transactional"}
    assert call["MessageAttributes"]["AWS.SNS.SMS.SenderID"] == {
        "DataType": "String", "StringValue": "pwportal"}
    [sent] = [r for r in world.audit(USERNAME) if r["event"] == "reset.code_sent"]
    assert sent["outcome"] == "sent" and sent["phone"] != PHONE and sent["phone"].endswith("67")


def test_the_sender_id_is_the_configured_one(world, client, configure, sns_publish):
    configure(SMS_SENDER_ID="Orebro")
    world.create_account()
    start(client)
    world.deliver()
    assert sns_publish[0]["MessageAttributes"]["AWS.SNS.SMS.SenderID"]["StringValue"] == "Orebro"


def test_a_registration_code_is_published_to_the_new_number(world, client, sns_publish):
    world.create_account()
    request_phone(client, session_of(client), NEW_PHONE)
    world.deliver()
    assert [c["PhoneNumber"] for c in sns_publish] == [NEW_PHONE]
    assert sns_publish[0]["MessageAttributes"]["AWS.SNS.SMS.SMSType"]["StringValue"] == \
        "Transactional"


@pytest.mark.parametrize("kind", ["unknown", "disabled", "no-number"])
def test_accounts_without_a_usable_number_get_nothing(world, client, sns_publish, kind):
    if kind == "disabled":
        world.create_account()
        disable(world)
    elif kind == "no-number":
        world.create_account(phone=None)
    assert start(client, USERNAME).status_code == 202
    assert world.deliver() == {"delivered": 1, "failed": 0}  # taken off the queue, not sent
    assert sns_publish == [] and world.sent() == []
    assert "reset.code_sent" not in events(world)
    assert world.sqs.receive_message(QueueUrl=world.queue_url).get("Messages", []) == []


def test_a_redelivered_message_is_not_sent_twice(world, client, sns_publish):
    world.create_account()
    start(client)
    [message] = world.sqs.receive_message(QueueUrl=world.queue_url, AttributeNames=["All"],
                                          MaxNumberOfMessages=10)["Messages"]
    event = sqs_event([message])
    deliver_sms(event, None)
    deliver_sms(event, None)  # SQS delivers at least once: the same message again
    assert len(sns_publish) == 1 and len(world.sent()) == 1
    assert events(world).count("reset.code_sent") == 1


def test_the_queued_message_names_the_username_not_the_number(world, client):
    world.create_account()
    start(client)
    [message] = world.sqs.receive_message(QueueUrl=world.queue_url)["Messages"]
    body = json.loads(message["Body"])
    assert body["username"] == USERNAME and not body.get("to")
    assert PHONE not in message["Body"]


def test_the_api_answers_the_same_while_sns_is_down(world, client):
    world.create_account()
    world.use(gateway=FailingGateway())
    response = start(client)
    assert response.status_code == 202
    assert set(response.json_body) == {"challenge", "expires_in", "resend_after"}


def test_an_sns_failure_leaves_the_message_for_retry_and_the_last_receive_records_sms_failed(
        world, client):
    world.create_account()
    failing = FailingGateway()
    world.use(gateway=failing)
    start(client)
    last = world.settings.sms_max_receives
    for receive in range(1, last):
        assert drain_once(world.sqs, world.queue_url, deliver_sms, visibility_timeout=0,
                          rounds=1) == {"delivered": 0, "failed": 1}
        assert "sms.failed" not in events(world), receive
    assert drain_once(world.sqs, world.queue_url, deliver_sms, visibility_timeout=0,
                      rounds=1) == {"delivered": 0, "failed": 1}
    assert failing.calls == last
    [failed] = [r for r in world.audit(USERNAME) if r["event"] == "sms.failed"]
    assert failed["outcome"] == "dead_letter"
    assert PHONE not in json.dumps(failed)
    assert "reset.code_sent" not in events(world)
    assert world.sent() == []


def test_no_audit_record_holds_a_full_number_a_code_or_a_password(world, client):
    world.create_account()
    challenge = start(client).json_body["challenge"]
    code = world.last_code(PHONE)
    token = verify(client, challenge, code).json_body["reset_token"]
    assert complete(client, token, "Bla-Hus-2026-x").status_code == 200
    session = session_of(client, password="Bla-Hus-2026-x")
    world.clock.advance(seconds=60)
    request_phone(client, session, NEW_PHONE)
    phone_code = world.last_code(NEW_PHONE)
    verify_phone(client, session, phone_code)
    audit = scan(world, world.settings.audit_table)
    for secret in (PHONE, NEW_PHONE, PHONE[1:], NEW_PHONE[1:], PASSWORD, "Bla-Hus-2026-x",
                   token, session, challenge):
        assert secret not in audit
    for secret_code in (code, phone_code):
        assert not re.search(rf"(?<!\d){secret_code}(?!\d)", audit)


def test_the_workers_log_lines_carry_the_sqs_message_id_as_correlation_id(world, client, capsys):
    world.create_account()
    start(client)
    [message] = world.sqs.receive_message(QueueUrl=world.queue_url, AttributeNames=["All"],
                                          MaxNumberOfMessages=10)["Messages"]
    capsys.readouterr()
    deliver_sms(sqs_event([message]), None)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    sent = [line for line in lines if line["event"] == "reset.code_sent"]
    assert sent and {line["correlation_id"] for line in lines} == {message["MessageId"]}
