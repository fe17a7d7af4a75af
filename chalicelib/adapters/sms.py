"""SMS out: the API puts messages (domain/sms.py) on an SQS queue; the worker publishes
them with SNS. No log line ever shows a message: a code SMS holds the code."""
from __future__ import annotations

import json
from functools import cached_property
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters import aws
from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.domain.sms import SmsMessage

if TYPE_CHECKING:
    from chalicelib.settings import Settings


class SmsQueue:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @cached_property
    def url(self) -> str:
        if self._settings.sms_queue_url:
            return self._settings.sms_queue_url
        return str(aws.client("sqs").get_queue_url(
            QueueName=self._settings.sms_queue)["QueueUrl"])

    def send(self, sms: SmsMessage) -> None:
        try:
            aws.client("sqs").send_message(QueueUrl=self.url,
                                           MessageBody=json.dumps(sms.to_message()))
        except (ClientError, BotoCoreError) as error:
            raise ServiceUnavailable() from error

    def send_many(self, messages: list[SmsMessage]) -> None:
        """Up to 10 messages in one call (a notice to every holder: at most 5); any one
        refused is ServiceUnavailable."""
        if not messages:
            return
        try:
            answer = aws.client("sqs").send_message_batch(QueueUrl=self.url, Entries=[
                {"Id": str(n), "MessageBody": json.dumps(sms.to_message())}
                for n, sms in enumerate(messages)])
        except (ClientError, BotoCoreError) as error:
            raise ServiceUnavailable() from error
        if answer.get("Failed"):
            raise ServiceUnavailable()


class SmsGateway:
    """Amazon SNS direct-to-phone publishing, as Transactional SMS with a sender ID."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def publish(self, phone: str, text: str) -> str:
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String",
                                              "StringValue": "Transactional"}}
        if self._settings.sms_sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String",
                                                  "StringValue": self._settings.sms_sender_id}
        response = aws.client("sns").publish(PhoneNumber=phone, Message=text,
                                             MessageAttributes=attributes)
        return str(response.get("MessageId", ""))
