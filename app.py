"""pwportal's Lambda entry points: the HTTP API, the worker that delivers queued SMS, and
the daily job that sends the expiry reminders.

Routes only parse, call one use case and shape the answer (chalicelib/api); the work is in
chalicelib/services.
"""
import json

from chalice import Chalice, Cron

from chalicelib.adapters import telemetry
from chalicelib.api.http import with_headers
from chalicelib.api.idp import idp
from chalicelib.api.public import public
from chalicelib.api.registration import registration
from chalicelib.api.reset import reset
from chalicelib.api.support import support
from chalicelib.bootstrap import portal
from chalicelib.domain.sms import SmsMessage

# chalice's own log (a view that raised) is the Python logger `pwportal` too: Powertools'
# Logger (chalicelib/adapters/telemetry.py) writes its lines as JSON, so chalice adds no
# text handler of its own.
app = Chalice(app_name="pwportal", configure_logs=False)
app.register_middleware(with_headers, "http")
app.register_blueprint(public)
app.register_blueprint(registration, url_prefix="/api/registration")
app.register_blueprint(reset, url_prefix="/api/reset")
app.register_blueprint(support, url_prefix="/api/support")
# SPEC 15: /api/registration/idp/*, /api/reset/idp/begin and /api/idp/callback
app.register_blueprint(idp, url_prefix="/api")


@app.middleware("http")
def correlate(event, get_response):
    """Every log line of a request carries API Gateway's request id as `correlation_id`
    (under chalice local, the Lambda context's), as its audit records do (`request_id`)."""
    telemetry.correlate((event.context or {}).get("requestId") or getattr(
        getattr(event, "lambda_context", None), "aws_request_id", None))
    return get_response(event)


# The queue named here is a placeholder: infra/template.py points the worker at the stage's
# own queue (pwportal-<stage>-sms, the `sms_queue` setting), and the local stack polls that.
@app.on_sqs_message(queue="pwportal-sms", batch_size=1)
def deliver_sms(event):
    """One SMS per invocation: a failure raises, and SQS retries that message alone."""
    for record in event:
        message = record.to_dict()
        telemetry.correlate(message.get("messageId"))
        receives = int(message.get("attributes", {}).get("ApproximateReceiveCount", 1))
        portal().delivery.deliver(SmsMessage.from_message(json.loads(record.body)),
                                  receive_count=receives)


@app.schedule(Cron(0, 6, "*", "*", "?", "*"), name="send_reminders")
def send_reminders(event):
    """Every day at 06:00 UTC (07:00 or 08:00 in Sweden): the 14- and 3-day reminders, and
    the holders unused too long."""
    telemetry.correlate(event.to_dict().get("id") or "send_reminders")
    counts = portal().reminders.run()
    telemetry.info("reminders", job="reminders", **counts)
    # SPEC 11: holders unused for 400 days *(config)* are removed, the others told.
    telemetry.info("holder_expiry", job="holder_expiry", **portal().holder_expiry.run())
