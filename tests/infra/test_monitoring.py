"""The dashboard and alarms are built from the one event list, and name only metrics that
the code really emits, in the namespace and with the dimension the audit trail writes."""
from __future__ import annotations

import io
import json
import re

from chalice.utils import to_cfn_resource_name

from chalicelib.adapters.telemetry import TelemetryLog
from chalicelib.repositories.audit import Audit
from chalicelib.domain.events import EVENTS, METRIC_NAMESPACE, Caller
from chalicelib.domain.records import CHANNELS
from chalicelib.settings import Settings
from infra import monitoring, resources
from tests.clock import FakeClock

AWS_METRICS = {
    ("AWS/Lambda", "Errors"), ("AWS/Lambda", "Throttles"), ("AWS/ApiGateway", "5XXError"),
    ("AWS/ApiGateway", "Latency"), ("AWS/DynamoDB", "ReadThrottleEvents"),
    ("AWS/DynamoDB", "WriteThrottleEvents"), ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    ("AWS/SNS", "SMSMonthToDateSpentUSD"),
}


def audited(settings, stream) -> Audit:
    """The audit repository logging to `stream`, with no table behind it."""
    return Audit(settings, FakeClock(), None, TelemetryLog(settings, stream))


def emitted(event: str, settings: Settings) -> list[dict]:
    """What the audit writes for one event: each line one JSON object."""
    stream = io.StringIO()
    audit = audited(settings, stream)
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
                                                      "DirectoryFailed",
                                                      "BreachCheckFailed")}
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]
        assert alarm["Properties"]["AlarmDescription"]


def test_the_dashboard_refers_only_to_resources_the_template_has():
    from app import app
    handlers = {to_cfn_resource_name(source.name) for source in app.event_sources}
    known = {"APIHandler", "AWS::Region"} | handlers | set(resources.definitions()["Tables"])
    known |= {monitoring.SMS_PRICE}  # a template parameter (infra/template.py PARAMETERS)
    known |= {f"{q}.QueueName" for q in resources.definitions()["Queues"]}
    found = monitoring.resources("prod")
    body = found["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    referred = set(re.findall(r"\$\{([^}]+)\}", body))
    assert referred and referred <= known
    assert set(monitoring.FUNCTIONS) <= {"APIHandler"} | handlers


# -- the authenticator app (issue 15): codes by channel, the app's share, the SMS saved ----

def emf_line_with(event: str, channel: str, stage: str = "prod") -> dict:
    stream = io.StringIO()
    audit = audited(Settings(stage=stage, metrics=True), stream)
    audit.emit(audit.record(event, "hemtjanstab", "success", Caller(ip="192.0.2.9"),
                            channel=channel))
    [line] = [json.loads(text) for text in stream.getvalue().splitlines() if "_aws" in text]
    return line


def dashboard_rows(stage: str = "prod") -> list[list]:
    """Every metric line of the dashboard (not metric math), options left off."""
    return [[part for part in row if not isinstance(part, dict)]
            for widget in monitoring.dashboard_body(stage)["widgets"]
            for row in widget["properties"]["metrics"] if isinstance(row[0], str)]


def widget(title_start: str) -> dict:
    [found] = [w["properties"] for w in monitoring.dashboard_body("prod")["widgets"]
               if w["properties"]["title"].startswith(title_start)]
    return found


def test_every_metric_by_channel_the_dashboard_and_alarms_read_is_one_the_audit_writes():
    alarm_rows = []
    for alarm in monitoring.alarms("prod").values():
        for query in alarm["Properties"].get("Metrics", []):
            if "MetricStat" in query:
                metric = query["MetricStat"]["Metric"]
                alarm_rows.append([metric["Namespace"], metric["MetricName"]] + [
                    part for d in metric["Dimensions"] for part in (d["Name"], d["Value"])])
    by_channel = [row for row in dashboard_rows() + alarm_rows if "channel" in row[2::2]]
    assert {row[row.index("channel") + 1] for row in by_channel} == set(CHANNELS)
    for namespace, name, *dimensions in by_channel:
        wanted = dict(zip(dimensions[::2], dimensions[1::2]))
        line = emf_line_with(name, wanted["channel"])
        directive = line["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == namespace
        assert list(wanted) in directive["Dimensions"]  # (stage, channel), in this order
        assert {key: line[key] for key in wanted} == wanted


def test_the_codes_widget_shows_verified_and_failed_codes_of_each_channel():
    rows = widget("Reset codes by channel")["metrics"]
    assert {(row[1], row[5]) for row in rows} == {
        (event, channel) for event in ("reset.code_verified", "reset.code_failed")
        for channel in CHANNELS}
    assert all(row[4] == "channel" and row[3] == "prod" for row in rows)


def evaluate(properties: dict, app: float | None, sms: float | None,
             price: str = "0.12") -> dict[str, float]:
    """CloudWatch's metric math on the widget's lines, for one period in which `app` and
    `sms` codes were verified (None: no data point), with ${SmsPriceUsd} as Fn::Sub fills
    it in: the value and the label of every expression."""
    def fill(value, default):
        return default if value is None else value

    def if_(condition, yes, no):
        return yes if condition else no

    class Lazy(float):  # IF's branch not taken may divide by 0; CloudWatch does not mind
        def __truediv__(self, other):
            return float("nan") if other == 0 else Lazy(float(self) / other)

        def __rtruediv__(self, other):
            return float("nan") if self == 0 else Lazy(other / float(self))

        def __mul__(self, other):
            return Lazy(float(self) * other)

        __rmul__ = __mul__

    ids: dict = {}
    for row in properties["metrics"]:
        options = row[-1]
        if isinstance(row[0], str):
            assert row[1] == "reset.code_verified" and options["visible"] is False
            value = {"app": app, "sms": sms}[row[5]]
            assert options["id"] == row[5]  # the line named app is the app's
            ids[options["id"]] = None if value is None else Lazy(value)
    shown = {}
    for row in properties["metrics"]:
        if isinstance(row[0], dict):
            expression = row[0]["expression"].replace("${SmsPriceUsd}", price)
            value = eval(expression, {"__builtins__": {}},  # our own template text
                         {"FILL": lambda v, d: Lazy(fill(v, d)), "IF": if_, **ids})
            ids[row[0]["id"]] = Lazy(value)
            if row[0].get("visible", True):
                shown[row[0]["label"].replace("${SmsPriceUsd}", price)] = float(value)
    return shown


def test_the_share_of_resets_done_with_the_app_is_app_over_app_plus_sms_in_percent():
    share = widget("Resets done with the app")
    assert share["view"] == "singleValue" and share["setPeriodToTimeRange"] is True
    assert evaluate(share, app=3, sms=1) == {"% of resets with the app": 75.0}
    assert evaluate(share, app=2, sms=None) == {"% of resets with the app": 100.0}
    assert evaluate(share, app=None, sms=5) == {"% of resets with the app": 0.0}
    assert evaluate(share, app=None, sms=None) == {"% of resets with the app": 0.0}


def test_the_sms_cost_saved_is_app_resets_times_the_price_given_at_deploy():
    saved = widget("SMS cost saved by the app")
    assert saved["view"] == "singleValue" and saved["setPeriodToTimeRange"] is True
    [(label, value)] = evaluate(saved, app=50, sms=7).items()
    assert label == "USD saved (app resets x 0.12 USD an SMS)"
    assert round(value, 6) == 6.0
    [(label, value)] = evaluate(saved, app=50, sms=7, price="0.16").items()
    assert "0.16 USD an SMS" in label and round(value, 6) == 8.0
    assert evaluate(saved, app=None, sms=7, price="0.16") == {
        "USD saved (app resets x 0.16 USD an SMS)": 0.0}


def test_the_holders_widget_shows_apps_added_and_removed():
    names = {row[1] for row in widget("Holders and their apps")["metrics"]}
    assert {"authenticator.added", "authenticator.removed", "holder.added"} <= names


def test_the_sms_pumping_alarm_counts_only_codes_that_came_by_sms():
    alarm = monitoring.alarms("prod")["SmsPumping"]["Properties"]
    queries = {q["Id"]: q for q in alarm["Metrics"]}
    verified = queries["verified"]["MetricStat"]["Metric"]
    assert verified["MetricName"] == "reset.code_verified"
    assert {"Name": "channel", "Value": "sms"} in verified["Dimensions"]
    # an hour of pumping with not one code verified gives 0 (alarm), not no data
    assert "FILL(verified, 0)" in queries["ratio"]["Expression"]
