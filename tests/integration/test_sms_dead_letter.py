"""SNS failing: the SMS stays queued and is retried; after maxReceiveCount receives SQS moves
it to the dead-letter queue, and the last failed attempt records `sms.failed`."""
from tests.api_client import post
from tests.conftest import FailingGateway


def test_an_sms_that_keeps_failing_ends_in_the_dead_letter_queue_with_sms_failed(world, client):
    world.create_account()
    failing = FailingGateway()
    world.use(gateway=failing)
    assert post(client, "/api/reset/start", {"username": "hemtjanstab", "phone": "+46701234567"}).status_code == 202
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
    world.use(gateway=failing)
    assert post(client, "/api/reset/start", {"username": "hemtjanstab", "phone": "+46701234567"}).status_code == 202
    from app import deliver_sms
    from infra.local_worker import drain_once
    assert drain_once(world.sqs, world.queue_url, deliver_sms, visibility_timeout=0,
                      rounds=1) == {"delivered": 0, "failed": 1}
    world.use(gateway=real)
    assert drain_once(world.sqs, world.queue_url, deliver_sms)["delivered"] == 1
    assert len(world.codes_sent_to("+46701234567")) == 1
    assert "sms.failed" not in [e["event"] for e in world.audit("hemtjanstab")]


def sns_down_for(publishes: int):
    """SNS itself failing, through the real client the worker uses: the first `publishes`
    Publish calls are throttled, as botocore raises it once its own retries are spent."""
    from botocore.exceptions import ClientError

    from chalicelib.adapters import aws
    tried = []

    def throttle(model, **kwargs):
        tried.append(model.name)
        if len(tried) <= publishes:
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"},
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, model.name)

    aws.client("sns").meta.events.register("before-call.sns.Publish", throttle,
                                           unique_id="sns-down")
    return tried


def test_while_sns_throttles_the_sms_stays_queued_and_goes_out_once_when_it_recovers(
        world, client):
    from app import deliver_sms
    from infra.local_worker import drain_once
    world.create_account()
    assert post(client, "/api/reset/start", {"username": "hemtjanstab", "phone": "+46701234567"}).status_code == 202
    last = world.settings.sms_max_receives
    tried = sns_down_for(last - 1)
    for _ in range(last - 1):
        assert drain_once(world.sqs, world.queue_url, deliver_sms, visibility_timeout=0,
                          rounds=1) == {"delivered": 0, "failed": 1}
    assert world.sent() == []
    # SNS is back on the last receive; each failure gave its claim back, so no waiting.
    assert drain_once(world.sqs, world.queue_url, deliver_sms, visibility_timeout=0,
                      rounds=2) == {"delivered": 1, "failed": 0}
    assert len(tried) == last
    assert len(world.codes_sent_to("+46701234567")) == 1
    events = [e["event"] for e in world.audit("hemtjanstab")]
    assert events.count("reset.code_sent") == 1 and "sms.failed" not in events
    assert world.sqs.receive_message(
        QueueUrl=world.queues["SmsDeadLetterQueue"]).get("Messages", []) == []


def test_an_sms_moved_back_from_the_dead_letter_queue_goes_out_once_sns_is_back(world, client):
    """What an operator does after an SNS outage: redrive the dead letters."""
    from app import deliver_sms
    from infra.local_worker import drain_once
    world.create_account()
    assert post(client, "/api/reset/start", {"username": "hemtjanstab", "phone": "+46701234567"}).status_code == 202
    sns_down_for(world.settings.sms_max_receives)
    for _ in range(world.settings.sms_max_receives + 1):
        drain_once(world.sqs, world.queue_url, deliver_sms, visibility_timeout=0, rounds=1)
    dead_url = world.queues["SmsDeadLetterQueue"]
    [dead] = world.sqs.receive_message(QueueUrl=dead_url).get("Messages", [])
    world.sqs.send_message(QueueUrl=world.queue_url, MessageBody=dead["Body"])
    world.sqs.delete_message(QueueUrl=dead_url, ReceiptHandle=dead["ReceiptHandle"])

    assert drain_once(world.sqs, world.queue_url, deliver_sms) == {"delivered": 1, "failed": 0}
    assert drain_once(world.sqs, world.queue_url, deliver_sms) == {"delivered": 0, "failed": 0}
    assert len(world.codes_sent_to("+46701234567")) == 1
    events = [e["event"] for e in world.audit("hemtjanstab")]
    assert events.count("sms.failed") == 1 and events.count("reset.code_sent") == 1
