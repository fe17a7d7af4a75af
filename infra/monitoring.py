"""The CloudWatch dashboard and alarms of pwportal, generated from the one list of events.

Every security event (chalicelib.domain.events.EVENTS) is a metric in the `pwportal`
namespace with a `stage` dimension, written by the audit trail in embedded metric format.
The dashboard and the alarms below name those metrics only through EVENTS, next to the
AWS metrics of the parts that carry the service (Lambda, API Gateway, DynamoDB, SQS, SNS).

The reset events that say where their code came from (`channel`, CHANNELS: "sms" or "app",
SPEC 12; "idp", the identity provider's sign-in, SPEC 15) are counted by (stage, channel) as
well. From those the dashboard shows the resets of each channel, the share of resets done
with the authenticator app, and what the app saved in SMS: app resets times the price of one
SMS, the template parameter SmsPriceUsd (given at deploy, `--sms-price-usd`), which
CloudFormation's Fn::Sub writes into the dashboard.

`resources(stage)` gives the CloudFormation resources that the deploy template merges in.
They refer to chalice's own logical ids (APIHandler, RestAPI, one function per event
handler) and to the tables and queues of infra/resources.json.

    python -m infra.monitoring --stage prod      # print the resources as JSON
"""
from __future__ import annotations

import argparse
import json

from chalicelib.domain.events import CHANNEL, EVENTS, METRIC_NAMESPACE
from chalicelib.domain.records import CHANNELS

APP_NAME = "pwportal"
API_STAGE = "api"
FUNCTIONS = ("APIHandler", "DeliverSms", "SendReminders")
TABLES = ("AccountsTable", "ChallengesTable", "LimitsTable", "AuditTable")
DEAD_LETTERS = "SmsDeadLetterQueue"
PERIOD = 300
# The template parameter with the price of one SMS (USD): what an app reset saves.
SMS_PRICE = "SmsPriceUsd"

# What each alarm is for, in the words of docs/operations.md ("Dashboard and alarms").
ALARMS = {
    "Api5xx": "The API answered 5xx: users see 'service unavailable'.",
    "LambdaErrors": "A Lambda function failed (API, SMS worker or reminder job).",
    "SmsDeadLetters": "An SMS could not be sent after every retry and is in the dead-letter "
                      "queue.",
    "SmsFailureRatio": "More than 10 % of SMS failed over an hour.",
    "SmsPumping": "Many codes sent by SMS but few of them verified: someone may be pumping SMS "
                  "for money.",
    "SmsSpend": "This month's SMS spend is near the budget.",
    "DirectoryFailed": "ldap mode: the password directory failed or was slow (users see 503), "
                       "or a password it took could not be recorded yet (outcome "
                       "'unrecorded').",
    "BreachCheckFailed": "The Pwned Passwords range API did not answer for many new passwords "
                         "in an hour: they were taken after the shipped list alone.",
}


def event(name: str) -> str:
    """An event of the list, or an error: the dashboard cannot name a metric nobody emits."""
    if name not in EVENTS:
        raise ValueError(f"{name!r} is not an event of chalicelib.domain.events.EVENTS")
    return name


def _event_metric(name: str, stage: str, channel: str | None = None, **options) -> list:
    """An event's metric by stage, or (`channel`) by stage and channel."""
    line = [METRIC_NAMESPACE, event(name), "stage", stage]
    if channel is not None:
        if channel not in CHANNELS:
            raise ValueError(f"{channel!r} is not a channel of {CHANNELS}")
        line += [CHANNEL, channel]
    return line + [options] if options else line


def _expression(id_: str, expression: str, label: str, **options) -> list:
    """A line of metric math over the widget's other lines (named by their `id`)."""
    return [{"id": id_, "expression": expression, "label": label, **options}]


def _widget(title: str, metrics: list, x: int, y: int, stat: str = "Sum",
            width: int = 12, view: str = "timeSeries", **properties) -> dict:
    return {"type": "metric", "x": x, "y": y, "width": width, "height": 6,
            "properties": {"title": title, "metrics": metrics, "stat": stat,
                           "period": PERIOD, "view": view, "region": "${AWS::Region}",
                           **properties}}


def _app_widgets(stage: str, y: int) -> list:
    """The authenticator app (SPEC 12): codes by channel, the app's share of the resets, and
    the SMS cost it saved. A reset is counted where its code was verified (a reset token was
    given): one with the app is one SMS not sent. The two figures are over the dashboard's
    time range (setPeriodToTimeRange), not per 5 minutes."""
    def verified(channel: str) -> list:
        return _event_metric("reset.code_verified", stage, channel=channel, id=channel,
                             visible=False)

    by_channel = [_event_metric(name, stage, channel=channel, label=f"{what}: {channel}")
                  for name, what in (("reset.code_verified", "verified"),
                                     ("reset.code_failed", "failed"))
                  for channel in CHANNELS]
    share = [verified("app"), verified("sms"),
             _expression("resets", "FILL(app, 0) + FILL(sms, 0)", "resets", visible=False),
             _expression("share", "IF(resets > 0, 100 * FILL(app, 0) / resets, 0)",
                         "% of resets with the app")]
    saved = [verified("app"),
             _expression("saved", "FILL(app, 0) * ${%s}" % SMS_PRICE,
                         "USD saved (app resets x ${%s} USD an SMS)" % SMS_PRICE)]
    whole_range = {"setPeriodToTimeRange": True}
    return [
        _widget("Reset codes by channel: SMS, authenticator app, identity provider", by_channel, 0, y),
        _widget("Resets done with the app (%)", share, 12, y, width=6, view="singleValue",
                **whole_range),
        _widget("SMS cost saved by the app (USD)", saved, 18, y, width=6,
                view="singleValue", **whole_range),
    ]


def dashboard_body(stage: str) -> dict:
    """The dashboard as CloudWatch wants it, with ${...} for CloudFormation's Fn::Sub."""
    def events(*names: str) -> list:
        return [_event_metric(name, stage) for name in names]

    lambdas = []
    for function in FUNCTIONS:
        lambdas.append(["AWS/Lambda", "Errors", "FunctionName", "${%s}" % function])
        lambdas.append(["AWS/Lambda", "Throttles", "FunctionName", "${%s}" % function])
    api = ["ApiName", APP_NAME, "Stage", API_STAGE]
    throttles = []
    for table in TABLES:
        throttles.append(["AWS/DynamoDB", "ReadThrottleEvents", "TableName", "${%s}" % table])
        throttles.append(["AWS/DynamoDB", "WriteThrottleEvents", "TableName", "${%s}" % table])
    widgets = [
        _widget("Resets started vs completed",
                events("reset.requested", "reset.code_verified", "password.changed"), 0, 0),
        _widget("SMS sent vs failed", events("reset.code_sent", "reminder.sent", "sms.failed"),
                12, 0),
        _widget("Codes failed", events("reset.code_failed", "password.rejected"), 0, 6),
        _widget("Locks", events("login.locked", "reset.paused"), 12, 6),
        _widget("Rate-limit hits", events("ratelimit.exceeded"), 0, 12),
        _widget("pwreg logins and numbers",
                events("login.succeeded", "login.failed", "phone.change_requested",
                       "phone.changed"), 12, 12),
        _widget("Lambda errors and throttles", lambdas, 0, 18),
        _widget("API 5xx and latency",
                [["AWS/ApiGateway", "5XXError", *api],
                 ["AWS/ApiGateway", "Latency", *api, {"stat": "p95", "yAxis": "right"}]],
                12, 18),
        _widget("DynamoDB throttles", throttles, 0, 24),
        _widget("SMS dead letters",
                [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName",
                  "${%s.QueueName}" % DEAD_LETTERS]], 12, 24, stat="Maximum"),
        _widget("SNS SMS spend this month (USD)",
                [["AWS/SNS", "SMSMonthToDateSpentUSD"]], 0, 30, stat="Maximum"),
        _widget("Every security event", events(*EVENTS), 12, 30, width=12),
        _widget("Holders and their apps added, removed, expired",
                events("holder.added", "holder.removed", "holder.expired",
                       "authenticator.added", "authenticator.removed"), 0, 36),
        *_app_widgets(stage, 42),
    ]
    return {"widgets": widgets}


def _alarm(name: str, stage: str, **properties) -> dict:
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": f"{APP_NAME}-{stage}-{name}",
        "AlarmDescription": ALARMS[name],
        "AlarmActions": [{"Ref": "AlarmTopic"}],
        "OKActions": [{"Ref": "AlarmTopic"}],
        "TreatMissingData": "notBreaching",
        **properties}}


def _query(id_: str, metric: list, stat: str = "Sum", period: int = 3600) -> dict:
    namespace, name, *dimensions = metric
    return {"Id": id_, "ReturnData": False, "MetricStat": {
        "Metric": {"Namespace": namespace, "MetricName": name,
                   "Dimensions": [{"Name": dimensions[i], "Value": dimensions[i + 1]}
                                  for i in range(0, len(dimensions), 2)]},
        "Period": period, "Stat": stat}}


def alarms(stage: str, spend_threshold_usd: float = 40.0) -> dict:
    api = ["ApiName", APP_NAME, "Stage", API_STAGE]
    lambda_errors = [_query(f"e{i}", ["AWS/Lambda", "Errors", "FunctionName",
                                      {"Ref": function}], period=PERIOD)
                     for i, function in enumerate(FUNCTIONS)]
    return {
        "Api5xx": _alarm("Api5xx", stage, Namespace="AWS/ApiGateway", MetricName="5XXError",
                         Dimensions=[{"Name": api[0], "Value": api[1]},
                                     {"Name": api[2], "Value": api[3]}],
                         Statistic="Sum", Period=PERIOD, EvaluationPeriods=1, Threshold=5,
                         ComparisonOperator="GreaterThanOrEqualToThreshold"),
        "LambdaErrors": _alarm("LambdaErrors", stage, EvaluationPeriods=1, Threshold=1,
                               ComparisonOperator="GreaterThanOrEqualToThreshold",
                               Metrics=lambda_errors + [{
                                   "Id": "errors", "Expression": "e0 + e1 + e2",
                                   "Label": "Lambda errors", "ReturnData": True}]),
        "SmsDeadLetters": _alarm("SmsDeadLetters", stage, Namespace="AWS/SQS",
                                 MetricName="ApproximateNumberOfMessagesVisible",
                                 Dimensions=[{"Name": "QueueName", "Value": {
                                     "Fn::GetAtt": [DEAD_LETTERS, "QueueName"]}}],
                                 Statistic="Maximum", Period=PERIOD, EvaluationPeriods=1,
                                 Threshold=1,
                                 ComparisonOperator="GreaterThanOrEqualToThreshold"),
        "SmsFailureRatio": _alarm(
            "SmsFailureRatio", stage, EvaluationPeriods=1, Threshold=0.1,
            ComparisonOperator="GreaterThanThreshold",
            Metrics=[_query("failed", _event_metric("sms.failed", stage)),
                     _query("sent", _event_metric("reset.code_sent", stage)),
                     _query("reminded", _event_metric("reminder.sent", stage)),
                     {"Id": "ratio", "Label": "SMS failure ratio", "ReturnData": True,
                      "Expression": "IF(failed + sent + reminded >= 10, "
                                    "failed / (failed + sent + reminded), 0)"}]),
        "SmsPumping": _alarm(
            "SmsPumping", stage, EvaluationPeriods=1, Threshold=0.2,
            ComparisonOperator="LessThanThreshold",
            # SMS codes only: an app's code follows no SMS, and would hide the pumping.
            # FILL: an hour of SMS with not one verified must give 0, not no value.
            Metrics=[_query("sent", _event_metric("reset.code_sent", stage)),
                     _query("verified", _event_metric("reset.code_verified", stage,
                                                      channel="sms")),
                     {"Id": "ratio", "Label": "SMS codes verified per code sent",
                      "ReturnData": True,
                      "Expression": "IF(sent >= 30, FILL(verified, 0) / sent, 1)"}]),
        "SmsSpend": _alarm("SmsSpend", stage, Namespace="AWS/SNS",
                           MetricName="SMSMonthToDateSpentUSD", Statistic="Maximum",
                           Period=PERIOD, EvaluationPeriods=1, Threshold=spend_threshold_usd,
                           ComparisonOperator="GreaterThanOrEqualToThreshold"),
        # SPEC 13: every `directory.failed`, including a change recorded late (`unrecorded`).
        "DirectoryFailed": _alarm("DirectoryFailed", stage, Namespace=METRIC_NAMESPACE,
                                  MetricName=event("directory.failed"),
                                  Dimensions=[{"Name": "stage", "Value": stage}],
                                  Statistic="Sum", Period=PERIOD, EvaluationPeriods=1,
                                  Threshold=1,
                                  ComparisonOperator="GreaterThanOrEqualToThreshold"),
        # SPEC 16: one unanswered breach check is a blip; ten in an hour, an outage.
        "BreachCheckFailed": _alarm("BreachCheckFailed", stage, Namespace=METRIC_NAMESPACE,
                                    MetricName=event("breach_check.failed"),
                                    Dimensions=[{"Name": "stage", "Value": stage}],
                                    Statistic="Sum", Period=3600, EvaluationPeriods=1,
                                    Threshold=10,
                                    ComparisonOperator="GreaterThanOrEqualToThreshold"),
    }


def resources(stage: str, spend_threshold_usd: float = 40.0) -> dict:
    """The CloudFormation resources: the alarm topic, the dashboard and every alarm."""
    body = json.dumps(dashboard_body(stage), separators=(",", ":"))
    found = {
        "AlarmTopic": {"Type": "AWS::SNS::Topic",
                       "Properties": {"TopicName": f"{APP_NAME}-{stage}-alarms"}},
        "OperationsDashboard": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {
            "DashboardName": f"{APP_NAME}-{stage}", "DashboardBody": {"Fn::Sub": body}}},
    }
    found.update({f"{name}Alarm": alarm for name, alarm in
                  alarms(stage, spend_threshold_usd).items()})
    return found


def metrics_named(resources_: dict) -> set[tuple[str, str]]:
    """Every (namespace, metric name) the dashboard and the alarms look at."""
    found = set()
    for resource in resources_.values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::CloudWatch::Dashboard":
            for widget in json.loads(props["DashboardBody"]["Fn::Sub"])["widgets"]:
                found |= {(m[0], m[1]) for m in widget["properties"]["metrics"]
                          if isinstance(m[0], str)}  # not a line of metric math
        elif resource["Type"] == "AWS::CloudWatch::Alarm":
            if "MetricName" in props:
                found.add((props["Namespace"], props["MetricName"]))
            for query in props.get("Metrics", []):
                if "MetricStat" in query:
                    metric = query["MetricStat"]["Metric"]
                    found.add((metric["Namespace"], metric["MetricName"]))
    return found


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--spend-threshold", type=float, default=40.0)
    args = parser.parse_args(argv)
    print(json.dumps({"Resources": resources(args.stage, args.spend_threshold)}, indent=2))


if __name__ == "__main__":
    main()
