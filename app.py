"""pwportal's Lambda entry points: the HTTP API, and the worker that delivers queued SMS.

Routes only parse, call one use case and shape the answer (chalicelib/api); the work is in
chalicelib/services.
"""
import json

from chalice import Chalice

from chalicelib.api.http import with_headers
from chalicelib.api.public import public
from chalicelib.api.registration import registration
from chalicelib.api.reset import reset
from chalicelib.bootstrap import portal

app = Chalice(app_name="pwportal")
app.register_middleware(with_headers, "http")
app.register_blueprint(public)
app.register_blueprint(registration, url_prefix="/api/registration")
app.register_blueprint(reset, url_prefix="/api/reset")


@app.on_sqs_message(queue="pwportal-sms", batch_size=1)
def deliver_sms(event):
    """One SMS per invocation: a failure raises, and SQS retries that message alone."""
    for record in event:
        receives = int(record.to_dict().get("attributes", {}).get("ApproximateReceiveCount", 1))
        portal().delivery.deliver(json.loads(record.body), receive_count=receives)
