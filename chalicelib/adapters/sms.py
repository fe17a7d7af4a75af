"""SMS out: the API puts messages on an SQS queue; the worker publishes them with SNS.

A queued message is JSON: `id`, `kind` (`code` or `notice`), either `to` (an E.164 number)
or `username` (the worker looks the account's number up), `text` (the SMS body) and the
audit `event` to record once it is sent. The body of a code SMS holds the code: that is the
one place it exists in clear, and no log line ever shows a message.
"""
from __future__ import annotations

import json
import uuid
from functools import cached_property

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters import aws
from chalicelib.domain.errors import ServiceUnavailable


def message(kind: str, text: str, *, to: str | None = None, username: str | None = None,
            event: str | None = None, lang: str = "sv") -> dict:
    return {"id": uuid.uuid4().hex, "kind": kind, "to": to, "username": username,
            "text": text, "event": event, "lang": lang}


class SmsQueue:
    def __init__(self, settings):
        self._settings = settings

    @cached_property
    def url(self) -> str:
        if self._settings.sms_queue_url:
            return self._settings.sms_queue_url
        return aws.client("sqs").get_queue_url(QueueName=self._settings.sms_queue)["QueueUrl"]

    def send(self, sms: dict) -> None:
        try:
            aws.client("sqs").send_message(QueueUrl=self.url, MessageBody=json.dumps(sms))
        except (ClientError, BotoCoreError) as error:
            raise ServiceUnavailable() from error


class SmsGateway:
    """Amazon SNS direct-to-phone publishing, as Transactional SMS with a sender ID."""

    def __init__(self, settings):
        self._settings = settings

    def publish(self, phone: str, text: str) -> str:
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String",
                                              "StringValue": "Transactional"}}
        if self._settings.sms_sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String",
                                                  "StringValue": self._settings.sms_sender_id}
        response = aws.client("sns").publish(PhoneNumber=phone, Message=text,
                                             MessageAttributes=attributes)
        return response.get("MessageId", "")
