"""The dashboard and alarms are built from the one event list, and name only metrics that
the code really emits, in the namespace and with the dimension the audit trail writes."""
from __future__ import annotations

import io
import json
import re

from chalice.utils import to_cfn_resource_name

from chalicelib.adapters.audit import Audit
from chalicelib.domain.events import EVENTS, METRIC_NAMESPACE, Caller
from chalicelib.settings import Settings
from infra import monitoring, resources
from tests.clock import FakeClock

AWS_METRICS = {
    ("AWS/Lambda", "Errors"), ("AWS/Lambda", "Throttles"), ("AWS/ApiGateway", "5XXError"),
    ("AWS/ApiGateway", "Latency"), ("AWS/DynamoDB", "ReadThrottleEvents"),
    ("AWS/DynamoDB", "WriteThrottleEvents"), ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    ("AWS/SNS", "SMSMonthToDateSpentUSD"),
}


def emitted(event: str, settings: Settings) -> list[dict]:
    """What the audit writes for one event: each line one JSON object."""
    stream = io.StringIO()
    audit = Audit(settings, FakeClock(), store=None, stream=stream)
    audit.emit(audit.record(event, "hemtjanstab", "success", Caller(ip="192.0.2.9")))
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def emf_line(event: str, stage: str = "prod") -> dict:
    """The one embedded-metric-format line (Powertools Metrics writes it apart from the
    log line, which Powertools Logger writes)."""
    lines = emitted(event, Settings(stage=stage, metrics=True))
    metrics = [line for line in lines if "_aws" in line]
    assert len(lines) == 2 and len(metrics) == 1, lines
    return metrics[0]


def test_every_metric_of_the_dashboard_and_the_alarms_is_an_event_the_code_emits():
    named = monitoring.metrics_named(monitoring.resources("prod"))
    ours = {name for namespace, name in named if namespace == METRIC_NAMESPACE}
    assert ours and ours <= set(EVENTS)
    assert named - {(METRIC_NAMESPACE, name) for name in ours} <= AWS_METRICS


def test_the_dashboard_shows_every_event_of_the_list():
    body = monitoring.dashboard_body("prod")
    shown = {m[1] for widget in body["widgets"] for m in widget["properties"]["metrics"]
             if m[0] == METRIC_NAMESPACE}
    assert shown == set(EVENTS)


def test_a_name_outside_the_event_list_cannot_be_put_on_the_dashboard():
    try:
        monitoring.event("reset.started")
    except ValueError as error:
        assert "reset.started" in str(error)
    else:
        raise AssertionError("an unknown metric name was accepted")


def test_each_event_is_written_as_an_emf_metric_the_dashboard_can_find():
    for name in EVENTS:
        line = emf_line(name)
        directive = line["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == METRIC_NAMESPACE
        assert directive["Metrics"] == [{"Name": name, "Unit": "Count"}]
        assert directive["Dimensions"] == [["stage"]]
        # EMF takes a value or a list of values; Powertools writes the list
        assert line[name] in (1, [1]) and line["stage"] == "prod"
    # the dashboard asks for exactly this namespace, name and dimension
    first = monitoring.dashboard_body("prod")["widgets"][0]["properties"]["metrics"][0]
    assert first[:4] == [METRIC_NAMESPACE, first[1], "stage", "prod"]


def test_metrics_are_off_in_the_local_stage_and_in_tests():
    lines = emitted("login.failed", Settings(stage="local"))
    assert len(lines) == 1 and lines[0]["event"] == "login.failed"
    assert "_aws" not in lines[0]


def test_the_alarms_the_support_desk_relies_on_exist_and_notify_the_alarm_topic():
    found = monitoring.resources("prod")
    alarms = {name: r for name, r in found.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert set(alarms) == {f"{name}Alarm" for name in ("Api5xx", "LambdaErrors",
                                                      "SmsDeadLetters", "SmsFailureRatio",
                                                      "SmsPumping", "SmsSpend",
                                                      "DirectoryFailed")}
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]
        assert alarm["Properties"]["AlarmDescription"]


def test_the_dashboard_refers_only_to_resources_the_template_has():
    from app import app
    handlers = {to_cfn_resource_name(source.name) for source in app.event_sources}
    known = {"APIHandler", "AWS::Region"} | handlers | set(resources.definitions()["Tables"])
    known |= {f"{q}.QueueName" for q in resources.definitions()["Queues"]}
    found = monitoring.resources("prod")
    body = found["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    referred = set(re.findall(r"\$\{([^}]+)\}", body))
    assert referred and referred <= known
    assert set(monitoring.FUNCTIONS) <= {"APIHandler"} | handlers
