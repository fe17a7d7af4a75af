"""The SMS worker dying in the middle of a batch, and two workers on one message (SPEC 4:
queue + worker with retries). What SQS gives back after a crash must be sent once: not lost,
not twice. chalicelib/services/delivery.py says how, and names the one window it cannot
close."""
from __future__ import annotations

import threading
from collections import Counter

import pytest

from app import deliver_sms
from chalicelib.adapters import aws
from chalicelib.services.delivery import CLAIM_LEASE_SECONDS, DeliveryInProgress
from infra.local_worker import drain_once, sqs_event
from tests.api.helpers import start
from tests.faults.conftest import WorkerDied

PEOPLE = [("anna.lind", "+46701110011"), ("bo.ek", "+46701110012"),
          ("cecilia.ros", "+46701110013"), ("dan.berg", "+46701110014")]


@pytest.fixture
def four_codes_queued(world, client):
    for username, phone in PEOPLE:
        world.create_account(username, phone=phone)
        assert start(client, username, phone).status_code == 202
    return PEOPLE


def crash_on(events, event_name: str, nth: int):
    """Kill the worker at the `nth` `event_name` of the given client."""
    seen = []

    def die(**kwargs):
        seen.append(1)
        if len(seen) == nth:
            raise WorkerDied()

    events.register(event_name, die, unique_id="crash")
    return lambda: events.unregister(event_name, unique_id="crash")


def worker_run(world, rounds=1) -> dict:
    """One worker over the queue; what it does not delete is visible again at once (as after
    the visibility timeout)."""
    return drain_once(world.sqs, world.queue_url, deliver_sms, visibility_timeout=0,
                      rounds=rounds)


def sms_per_number(world) -> Counter:
    return Counter(to for to, _ in world.sent())


def assert_each_sent_once(world):
    assert sms_per_number(world) == {phone: 1 for _, phone in PEOPLE}
    assert world.sqs.receive_message(QueueUrl=world.queue_url).get("Messages", []) == []
    dead = world.sqs.receive_message(QueueUrl=world.queues["SmsDeadLetterQueue"])
    assert dead.get("Messages", []) == []
    for username, _ in PEOPLE:
        events = [record["event"] for record in world.audit(username)]
        assert events.count("reset.code_sent") == 1, username


def test_a_worker_dying_after_an_sms_was_sent_but_before_sqs_deleted_it_sends_nothing_twice(
        world, four_codes_queued):
    stop = crash_on(world.sqs.meta.events, "before-call.sqs.DeleteMessage", 2)
    with pytest.raises(WorkerDied):
        worker_run(world)
    stop()
    assert sum(sms_per_number(world).values()) == 2

    assert worker_run(world, rounds=3) == {"delivered": 3, "failed": 0}

    assert_each_sent_once(world)


def test_a_worker_dying_after_its_claim_but_before_sns_loses_nothing(world, four_codes_queued):
    sns = aws.client("sns")
    stop = crash_on(sns.meta.events, "before-call.sns.Publish", 2)
    with pytest.raises(WorkerDied):
        worker_run(world)
    stop()
    assert sum(sms_per_number(world).values()) == 1

    # Received again before the dead worker's lease has run out: left on the queue.
    assert worker_run(world) == {"delivered": 2, "failed": 1}
    assert sum(sms_per_number(world).values()) == 3
    world.clock.advance(seconds=CLAIM_LEASE_SECONDS + 1)
    assert worker_run(world, rounds=3) == {"delivered": 1, "failed": 0}

    assert_each_sent_once(world)


def test_a_worker_dying_between_sns_accepting_and_the_sent_mark_sends_that_sms_again(
        world, four_codes_queued):
    """The one window for a duplicate (delivery.py: at least once). SNS took the SMS, and the
    worker died before it could write that down: after the lease, the SMS goes again."""
    sns = aws.client("sns")
    stop = crash_on(sns.meta.events, "after-call.sns.Publish", 2)
    with pytest.raises(WorkerDied):
        worker_run(world)
    stop()
    assert worker_run(world) == {"delivered": 2, "failed": 1}  # not before the lease ends
    world.clock.advance(seconds=CLAIM_LEASE_SECONDS + 1)
    assert worker_run(world, rounds=3) == {"delivered": 1, "failed": 0}

    counts = sms_per_number(world)
    second = PEOPLE[1][1]
    assert counts == {**{phone: 1 for _, phone in PEOPLE}, second: 2}
    first, again = [text for to, text in world.sent() if to == second]
    assert first == again


def test_two_workers_receiving_one_message_at_once_send_it_once(world, four_codes_queued):
    [message] = world.sqs.receive_message(QueueUrl=world.queue_url, AttributeNames=["All"],
                                          MaxNumberOfMessages=1)["Messages"]
    event = sqs_event([message])
    second_done = threading.Event()
    publishes = []

    def slow_sns(**kwargs):
        publishes.append(1)
        second_done.wait(timeout=60)  # the first worker is inside SNS while the second runs

    sns = aws.client("sns")
    sns.meta.events.register("before-call.sns.Publish", slow_sns, unique_id="slow")
    outcome = {}

    def first_worker():
        try:
            deliver_sms(event, None)
            outcome["first"] = "returned"
        except BaseException as error:  # noqa: BLE001 (reported by the assertion)
            outcome["first"] = repr(error)

    thread = threading.Thread(target=first_worker)
    thread.start()
    try:
        while not publishes and thread.is_alive():
            thread.join(0.01)
        with pytest.raises(DeliveryInProgress):
            deliver_sms(event, None)  # SQS handed the same message to a second worker
    finally:
        second_done.set()
        thread.join(60)
        sns.meta.events.unregister("before-call.sns.Publish", unique_id="slow")
    assert outcome == {"first": "returned"}
    deliver_sms(event, None)  # the second worker's retry: already sent, so nothing
    assert len(publishes) == 1
    assert len(world.sent()) == 1
