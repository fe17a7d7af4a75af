"""The log and the metrics, through Powertools for AWS Lambda (Python).

Powertools is not in the Lambda package: AWS's published layer brings it to every function
(infra/template.py, POWERTOOLS_LAYER), requirements-dev.txt to the tests and the local
stack. It is imported and set up on the first line written, not when the app is imported,
so a cold start that logs nothing does not pay for it.

- `info(message, **fields)`: one JSON object on one line, through the Powertools `Logger`
  (service `pwportal`, UTC times), with the request's correlation id; `error(message,
  **fields)` the same at level ERROR (every error line of chalicelib goes through it);
- `count(name, stage, **fields)`: one CloudWatch embedded-metric-format line, through the
  Powertools `Metrics` (namespace `pwportal`, the dimension `stage`, unit Count), the
  fields as metadata; a record with a `channel` ("sms" or "app": where a reset's code came
  from) is counted by (stage, channel) too, a second dimension set of the same line;
- `correlate(request_id)`: the id that every line carries as `correlation_id` until the
  next call (app.py: the API Gateway request id, the SQS message id, the scheduled event's
  id).

Both write to standard output as it is at the time of writing (what Lambda sends to
CloudWatch Logs, what pytest's capsys and the bench's redirect_stdout replace), or to the
stream given to `writing_to`.
"""
from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from typing import IO, TYPE_CHECKING, Any

from chalicelib.domain.events import CHANNEL, METRIC_NAMESPACE
from chalicelib.domain.records import CHANNELS

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics

    from chalicelib.settings import Settings

SERVICE = "pwportal"

_target: ContextVar[IO[str] | None] = ContextVar("pwportal_telemetry_stream", default=None)
_lock = threading.Lock()
_logger: Logger | None = None
_metrics: Metrics | None = None
# chalice local serves requests in threads: the first ones must not build two loggers at once
# (Powertools' second one finds the first half made and fails with AttributeError).
_building = threading.Lock()
_correlation_id: str | None = None
# A field may not take the name of what logging or Powertools put on every line.
_TAKEN = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime", "level", "location", "timestamp", "service", "correlation_id",
    "sampling_rate", "xray_trace_id"}


class _Out:
    """The stream a line goes to: `writing_to`'s, else sys.stdout as it is now."""

    @staticmethod
    def _stream() -> IO[str]:
        return _target.get() or sys.stdout

    def write(self, text: str) -> None:
        self._stream().write(text)

    def flush(self) -> None:
        self._stream().flush()


@contextmanager
def writing_to(stream: IO[str] | None) -> Iterator[None]:
    """Lines written inside go to `stream` (None: standard output)."""
    token = _target.set(stream)
    try:
        yield
    finally:
        _target.reset(token)


def logger() -> Logger:
    if _logger is None:
        with _building:
            if _logger is None:
                return _build_logger()
    return _logger


def _build_logger() -> Logger:
    global _logger
    from aws_lambda_powertools import Logger
    built = Logger(service=SERVICE, level="INFO", utc=True,
                   logger_handler=logging.StreamHandler(_Out()),
                   # one line per record whatever POWERTOOLS_DEV says; a newline in a
                   # value is escaped, so no value can start a line of its own
                   json_serializer=partial(json.dumps, default=str, ensure_ascii=False,
                                           separators=(",", ":")))
    built.set_correlation_id(_correlation_id)
    # Our handler writes the line; a root handler (Lambda's, pytest's, a basicConfig
    # somewhere) would write a second one, and not as JSON.
    logging.getLogger(SERVICE).propagate = False  # the logger Powertools configured
    _logger = built
    return built


def metrics() -> Metrics:
    global _metrics
    if _metrics is None:
        from aws_lambda_powertools import Metrics
        # service="": no `service` dimension even if POWERTOOLS_SERVICE_NAME is set; the
        # dashboard and the alarms ask for the dimension `stage` alone.
        _metrics = Metrics(namespace=METRIC_NAMESPACE, service="")
    return _metrics


def correlate(request_id: str | None) -> None:
    global _correlation_id
    _correlation_id = request_id or None
    if _logger is not None:
        _logger.set_correlation_id(_correlation_id)


def info(message: str, **fields: Any) -> None:
    fields = {(f"field_{key}" if key in _TAKEN else key): value
              for key, value in fields.items()}
    logger().info(message, extra=fields, stacklevel=3)  # `location`: who called info


def error(message: str, **fields: Any) -> None:
    """As `info`, at level ERROR: a failure or an alarm the operator must see."""
    fields = {(f"field_{key}" if key in _TAKEN else key): value
              for key, value in fields.items()}
    logger().error(message, extra=fields, stacklevel=3)


def count(name: str, stage: str, **fields: Any) -> None:
    """One EMF line: `name` counted once in namespace pwportal, dimension stage; `fields`
    ride along as metadata (in the line, not dimensions), so the line says what it counts.

    A `channel` of CHANNELS is a dimension as well, in a second dimension set: the line is
    counted both as (name, stage), which every dashboard widget and alarm of before reads,
    and as (name, stage, channel), which the app's widgets read. Two metrics per channelled
    event and stage, whatever the traffic; any other value stays metadata."""
    from aws_lambda_powertools.metrics import MetricUnit
    found = metrics()
    channel = fields.get(CHANNEL)
    by_channel = channel if isinstance(channel, str) and channel in CHANNELS else None
    with _lock:  # Powertools keeps the metric set per process, not per call
        found.add_dimension(name="stage", value=stage)
        if by_channel:
            found.add_dimensions(**{"stage": stage, CHANNEL: by_channel})
        found.add_metric(name=name, unit=MetricUnit.Count, value=1)
        for key, value in fields.items():
            if key not in (name, "stage", "_aws") and not (by_channel and key == CHANNEL):
                found.add_metadata(key=key, value=value)
        blob = found.serialize_metric_set()
        found.clear_metrics()
    # Powertools' flush_metrics prints to sys.stdout; the same line, to our stream.
    out = _Out()
    out.write(json.dumps(blob, default=str, ensure_ascii=False, separators=(",", ":")) + "\n")
    out.flush()


class TelemetryLog:
    """The `AuditLog` port: one JSON line through the Powertools Logger and, where metrics
    are on, one embedded metric format line through Powertools Metrics (to `stream`, or
    standard output)."""

    def __init__(self, settings: Settings, stream: IO[str] | None = None) -> None:
        self._settings = settings
        self._stream = stream

    def emit(self, event: str, line: dict[str, Any]) -> None:
        with writing_to(self._stream):
            info(event, **line)
            if self._settings.metrics:
                count(event, self._settings.stage, **line)

    def error(self, message: str, **fields: Any) -> None:
        """The `OperationsLog` port: one line at level ERROR."""
        with writing_to(self._stream):
            error(message, **fields)
