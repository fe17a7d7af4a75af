"""Runs the SMS worker outside Lambda: receive from SQS, invoke the handler with the same
event shape Lambda gives it, delete the message only if the handler returned.

The local stack loops over `drain_once`; the tests call it to deliver what the API queued.
A handler that raises leaves the message on the queue, so SQS retries it after the
visibility timeout and, after maxReceiveCount, moves it to the dead-letter queue: the same
semantics as the Lambda event source mapping.
"""
from __future__ import annotations


def sqs_event(messages: list[dict], queue_arn: str = "arn:aws:sqs:eu-north-1:123456789012:sms"):
    return {"Records": [{
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    } for message in messages]}


def drain_once(sqs, queue_url: str, handler, wait_seconds: int = 0,
               visibility_timeout: int | None = None, rounds: int | None = None) -> dict:
    """Deliver what is on the queue now, one message per invocation (batch size 1), until
    a receive finds nothing or after `rounds` receives.

    Returns counts: {"delivered": n, "failed": m}.
    """
    counts = {"delivered": 0, "failed": 0}
    while rounds is None or rounds > 0:
        rounds = None if rounds is None else rounds - 1
        kwargs = {"QueueUrl": queue_url, "MaxNumberOfMessages": 10,
                  "WaitTimeSeconds": wait_seconds, "AttributeNames": ["All"]}
        if visibility_timeout is not None:
            kwargs["VisibilityTimeout"] = visibility_timeout
        messages = sqs.receive_message(**kwargs).get("Messages", [])
        if not messages:
            return counts
        for message in messages:
            try:
                handler(sqs_event([message]), None)
            except Exception:
                counts["failed"] += 1
                continue
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            counts["delivered"] += 1
        wait_seconds = 0
    return counts
