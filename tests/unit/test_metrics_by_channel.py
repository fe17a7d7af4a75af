"""Codes by channel (issue 15, SPEC 9 and 12): a reset record that says where its code came
from (`channel`: "sms" or "app") is counted by (stage) as every event is, and by (stage,
channel) too, in the same embedded-metric-format line; a record without one is written as
before."""
from __future__ import annotations

import io
import json

import pytest

from chalicelib.adapters.telemetry import TelemetryLog
from chalicelib.repositories.audit import Audit
from chalicelib.domain.events import METRIC_NAMESPACE, Caller
from chalicelib.domain.records import CHANNELS
from chalicelib.settings import Settings
from tests.clock import FakeClock

CHANNELLED = ("reset.requested", "reset.code_failed", "reset.code_verified")


def audited(settings, stream) -> Audit:
    """The audit repository logging to `stream`, with no table behind it."""
    return Audit(settings, FakeClock(), None, TelemetryLog(settings, stream))


def lines_of(*records: tuple[str, dict], metrics: bool = True) -> list[dict]:
    """What the audit writes for each (event, details), one JSON object per line."""
    stream = io.StringIO()
    audit = audited(Settings(stage="prod", metrics=metrics), stream)
    for event, details in records:
        audit.emit(audit.record(event, "hemtjanstab", "success", Caller(ip="192.0.2.9"),
                                **details))
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def emf_lines(*records: tuple[str, dict]) -> list[dict]:
    return [line for line in lines_of(*records) if "_aws" in line]


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("event", CHANNELLED)
def test_a_reset_record_with_a_channel_is_counted_by_stage_and_by_stage_and_channel(
        event, channel):
    [line] = emf_lines((event, {"channel": channel}))

    [directive] = line["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == METRIC_NAMESPACE
    assert directive["Metrics"] == [{"Name": event, "Unit": "Count"}]
    assert directive["Dimensions"] == [["stage"], ["stage", "channel"]]
    assert (line["stage"], line["channel"]) == ("prod", channel)
    assert line[event] in (1, [1])  # counted once, for both dimension sets


def test_a_record_without_a_channel_is_counted_by_stage_alone_as_before():
    [line] = emf_lines(("reset.code_verified", {}))

    assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["stage"]]
    assert "channel" not in line


def test_a_channel_outside_sms_and_app_makes_no_new_metric_and_stays_in_the_line():
    [line] = emf_lines(("reset.code_verified", {"channel": "e-mail"}))

    assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["stage"]]
    assert line["channel"] == "e-mail"  # metadata: the line still says it


def test_the_channel_of_one_line_is_not_carried_into_the_next():
    # Powertools keeps its dimension sets per process: each line must start afresh.
    app, plain, sms = emf_lines(("reset.code_verified", {"channel": "app"}),
                                ("login.failed", {}),
                                ("reset.code_failed", {"channel": "sms"}))

    assert app["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["stage"], ["stage", "channel"]]
    assert plain["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["stage"]]
    assert "channel" not in plain and "reset.code_verified" not in plain
    assert (sms["channel"], sms["_aws"]["CloudWatchMetrics"][0]["Dimensions"]) == \
        ("sms", [["stage"], ["stage", "channel"]])


def test_the_log_line_says_the_channel_whether_or_not_metrics_are_on():
    for metrics in (True, False):
        logged = [line for line in lines_of(("reset.requested", {"channel": "app"}),
                                            metrics=metrics) if "_aws" not in line]
        assert [(line["event"], line["channel"]) for line in logged] == \
            [("reset.requested", "app")]
