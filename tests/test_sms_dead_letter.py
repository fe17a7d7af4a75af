"""SNS failing: the SMS stays queued and is retried; after maxReceiveCount receives SQS moves
it to the dead-letter queue, and the last failed attempt records `sms.failed`."""
from tests.api_client import post
from tests.conftest import FailingGateway


def test_an_sms_that_keeps_failing_ends_in_the_dead_letter_queue_with_sms_failed(world, client):
    world.create_account()
    failing = FailingGateway()
    world.portal.gateway = failing
    assert post(client, "/api/reset/start", {"username": "hemtjanstab"}).status_code == 202
    from app import deliver_sms
    from infra.local_worker import drain_once
    for _ in range(6):
        drain_once(world.sqs, world.queue_url, deliver_sms, visibility_timeout=0)
    assert failing.calls == world.settings.sms_max_receives == 5
    dead = world.sqs.receive_message(QueueUrl=world.queues["SmsDeadLetterQueue"],
                                     MaxNumberOfMessages=10).get("Messages", [])
    assert len(dead) == 1
    events = [e["event"] for e in world.audit("hemtjanstab")]
    assert events.count("sms.failed") == 1
    assert "reset.code_sent" not in events


def test_an_sms_that_fails_once_is_delivered_on_the_retry(world, client):
    world.create_account()
    real = world.portal.gateway
    failing = FailingGateway()
    world.portal.gateway = failing
    assert post(client, "/api/reset/start", {"username": "hemtjanstab"}).status_code == 202
    from app import deliver_sms
    from infra.local_worker import drain_once
    assert drain_once(world.sqs, world.queue_url, deliver_sms, visibility_timeout=0,
                      rounds=1) == {"delivered": 0, "failed": 1}
    world.portal.gateway = real
    assert drain_once(world.sqs, world.queue_url, deliver_sms)["delivered"] == 1
    assert len(world.codes_sent_to("+46701234567")) == 1
    assert "sms.failed" not in [e["event"] for e in world.audit("hemtjanstab")]
