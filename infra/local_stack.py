"""The whole of pwportal on this machine: what `make run` starts (SPEC 10).

This module owns the local stage's process layout and nothing of the product itself:

- an embedded AWS: a moto server on 127.0.0.1:`PWPORTAL_MOTO_PORT` (default 5000), with the
  tables and queues created by `infra.resources` from the one definition; it answers one
  call at a time (moto is not thread-safe) and keeps bounded state (the last SMS for
  /dev/sms, the last objects of each kind for moto's dashboard);
- the API: `chalice local --stage local` as a child process on an internal port, through
  `infra.chalice_runtime` (a listen backlog for bursts, unknown paths in the envelope) and
  `infra.child_guard` (it dies with this process, even after a `kill -9`); another child
  (a directory server) is started the same way, with `guarded(command)`;
- the front server on 127.0.0.1:`PWPORTAL_PORT` (default 8000): `static_site/`, built for
  the local stage's settings (infra/site_build.py) into a temporary folder, with the
  security headers a CDN would add, and `/api/...` and `/dev/...` proxied to the API, so the
  pages call the API on their own origin exactly as they do behind CloudFront; its own
  answers (unsupported methods, malformed requests, a body whose end could be read two
  ways, 413) are in the API's envelope;
- the SMS worker: a thread that runs the real Lambda handler (`app.deliver_sms`) over the
  queue, as the SQS event source mapping would;
- expiry: a thread that deletes expired items every minute, as DynamoDB's TTL would;
- a demo account, and the printed URLs and credentials;
- with `PWPORTAL_IDP=local` (`make run IDP=local`), a real OpenID Connect provider on
  127.0.0.1:`PWPORTAL_IDP_PORT` (default 8090): Canaille, a guarded child like the API
  (infra/identity_provider.py), seeded with SPEC 15's people and the pwportal client, and
  the API pointed at it (the support console's sign-in is then on, and pwreg and pwreset
  offer it to holders: PWPORTAL_HOLDER_IDENTITY=offered).

A SIGINT or SIGTERM stops the parts in order; if that takes more than
STOP_TIMEOUT_SECONDS, the process exits anyway.

The parts are plain functions and a `LocalStack` that composes them, so a test can start the
stack in-process, or run `python -m infra.local_stack` and wait for the `READY` line.
"""
from __future__ import annotations

import http.client
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from chalicelib.adapters.dev_sms import STACK_PATH as STACK_SMS_PATH
from chalicelib.api.contract import SITE_HEADERS
from chalicelib.domain.events import truncate_ip
from infra.child_guard import guarded
from infra.site import content_type
from infra.stages import LOCAL, stage_environment

ROOT = Path(__file__).resolve().parents[1]
STATIC_ROOT = ROOT / "static_site"
STAGE = LOCAL
REGION = "eu-north-1"
HOST = "127.0.0.1"

DEMO_USERNAME = "hemtjanstab"
DEMO_PASSWORD = "Demo-Brevlada-2026"
DEMO_PHONE = "+46701234567"

READY = "pwportal is running"
STARTUP_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0
# Short, so that an SMS whose delivery failed is retried within seconds on this stage; the
# deployed queue keeps the 60 s of resources.json.
WORKER_VISIBILITY_TIMEOUT = 5

PROXIED_PREFIXES = ("/api", "/dev")
NOT_FOUND_PAGE = (b'<!doctype html><html lang="sv"><meta charset="utf-8"><title>Sidan finns inte'
                  b'</title><h1>Sidan finns inte</h1><p><a href="/">Till startsidan</a></p>\n')
MAX_PROXIED_BODY = 1024 * 1024  # the API itself refuses far less; this only bounds memory
# After a 413, the rest of the body is read and dropped for at most this long and this much
# (as nginx's lingering close does), so the client gets to read the answer instead of a
# connection reset in the middle of its upload.
LINGER_SECONDS = 5.0
LINGER_IDLE_SECONDS = 1.0
LINGER_MAX_BYTES = 64 * 1024 * 1024
# What API Gateway routes at all; any other method (TRACE, QUERY, ...) is refused here.
API_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
SITE_METHODS = ("GET", "HEAD")
# The front server's own errors (a bad request line, headers too large, ...) as the API's.
ERROR_CODES = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed",
               413: "request_too_large", 414: "invalid_request", 431: "invalid_request",
               501: "method_not_allowed", 505: "invalid_request"}
LISTEN_BACKLOG = 128  # 50 clients connecting at once; Python's default of 5 resets the sixth
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailer", "trailers", "transfer-encoding", "upgrade", "proxy-connection"}
# The front server writes its own; two of each confuse clients.
REPLACED_UPSTREAM = {"server", "date", "content-length"}

# Not under "pwportal": Chalice sets the app's logger (named after the app) to ERROR.
log = logging.getLogger("infra.local_stack")


class StartupFailed(RuntimeError):
    """The stack could not start; the message says what to do about it."""


class Stopped(Exception):
    """A stop was asked for while the stack was still starting."""


# -- environment -------------------------------------------------------------------------------

def local_environment(moto_port: int) -> dict[str, str]:
    """Everything the API, the worker and boto3 need to find the embedded AWS."""
    # A developer's HTTP(S)_PROXY must not carry loopback calls (boto3 to moto, the
    # readiness probes, /dev/sms) off to a corporate proxy that cannot reach them.
    no_proxy = ",".join(part for part in (os.environ.get("NO_PROXY") or
                                          os.environ.get("no_proxy") or "",
                                          HOST, "localhost") if part)
    return {
        "NO_PROXY": no_proxy,
        "no_proxy": no_proxy,
        "AWS_ENDPOINT_URL": f"http://{HOST}:{moto_port}",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        # chalice local overrides these from config.json in its own process; doing the same
        # here keeps the worker (this process) on exactly the API's settings.
        **stage_environment(),
    }


def apply_environment(values: dict[str, str]) -> None:
    """Put `values` into this process's environment, which the chalice child inherits."""
    # Anything that could send boto3 to a real account or another endpoint goes: a profile,
    # a session token, or a per-service endpoint that would win over AWS_ENDPOINT_URL.
    for name in list(os.environ):
        if name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN",
                    "AWS_SECURITY_TOKEN") or name.startswith("AWS_ENDPOINT_URL_"):
            del os.environ[name]
    os.environ.update(values)
    from chalicelib import bootstrap
    # Clients or settings built before the endpoint was set would talk to the wrong place.
    bootstrap.reset()


def port_setting(name: str, default: int) -> int:
    """A port from the environment; 0 means any free one, which the OS picks when the server
    binds and the summary prints (the tests run stacks side by side this way)."""
    raw = os.environ.get(name, "").strip() or str(default)
    try:
        port = int(raw)
    except ValueError:
        raise StartupFailed(f"{name} must be a port number, not {raw!r}") from None
    if not 0 <= port < 65536:
        raise StartupFailed(f"{name} must be a port number between 1 and 65535 (or 0 for any "
                            f"free one), not {port}")
    return port


def count_setting(name: str, default: int, largest: int = 100_000) -> int:
    raw = os.environ.get(name, "").strip() or str(default)
    if not raw.isdigit() or not 0 < int(raw) <= largest:
        raise StartupFailed(f"{name} must be a whole number from 1 to {largest}, not {raw!r}")
    return int(raw)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def ensure_port_free(port: int, what: str, setting: str) -> None:
    # moto's server thread would die on a taken port and leave start() waiting forever, so
    # this is checked first, with a message that says which setting to change.
    with socket.socket() as sock:
        # As the servers themselves bind: a port left in TIME_WAIT by the last run is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            raise StartupFailed(f"port {port} on {HOST} ({what}) is in use; stop what uses it "
                                f"or choose another with {setting}=<port>") from None


def wait_until_answers(url: str, timeout: float, stop: threading.Event | None = None,
                       process: subprocess.Popen | None = None) -> None:
    """Poll `url` until it answers 200; give up after `timeout`, on a stop, or if `process`
    (the server behind the url) has exited."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        if stop is not None and stop.is_set():
            raise Stopped()
        if process is not None and process.poll() is not None:
            raise StartupFailed(f"the API process exited with code {process.returncode} "
                                f"before it answered {url}; its output is above")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as error:
            last = f"HTTP {error.code}"
        except (OSError, http.client.HTTPException) as error:
            last = str(error)
        if time.monotonic() > deadline:
            raise StartupFailed(f"{url} did not answer 200 within {timeout:.0f} s ({last})")
        time.sleep(0.1)


# -- embedded AWS ------------------------------------------------------------------------------

# Kept by the embedded AWS: the last SMS for /dev/sms, and the last instances of each kind
# for moto's dashboard. moto keeps every one ever made otherwise (a DynamoDB item per write),
# and a long session or a load test grew the stack to gigabytes.
SMS_KEPT = 200
MODELS_KEPT = 100
# The stack's own view of the SMS moto "sent", where chalicelib/adapters/dev_sms.py reads it.
DEV_SMS_PATH = STACK_SMS_PATH


class Ring(OrderedDict):
    """A dict that keeps only its `maxlen` newest keys."""

    def __init__(self, maxlen: int):
        super().__init__()
        self.maxlen = maxlen

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        while len(self) > self.maxlen:
            self.popitem(last=False)


# Every SNS backend (whatever the account or region) writes its SMS here; /dev/sms reads it.
SENT_SMS = Ring(SMS_KEPT)


def bound_moto_memory(sms_kept: int = SMS_KEPT, models_kept: int = MODELS_KEPT) -> None:
    """In this process: moto keeps the last `models_kept` instances of each model for its
    dashboard instead of all of them, and the last `sms_kept` SMS instead of all."""
    from moto.core.common_models import BaseModel
    from moto.sns.models import SNSBackend

    SENT_SMS.maxlen = sms_kept

    def __new__(cls, *args, **kwargs):
        instance = super(BaseModel, cls).__new__(cls)
        tracked = cls.instances_tracked  # the class's own (moto's metaclass sets one each)
        if not isinstance(tracked, deque) or tracked.maxlen != models_kept:
            tracked = cls.instances_tracked = deque(tracked, maxlen=models_kept)
        tracked.append(instance)
        return instance

    BaseModel.__new__ = __new__

    original_init = getattr(SNSBackend.__init__, "original", SNSBackend.__init__)

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.sms_messages = SENT_SMS  # (number, text) by message id
        self.sms_message_objects = Ring(sms_kept)

    __init__.original = original_init
    SNSBackend.__init__ = __init__


def sent_sms() -> list[dict]:
    """`{"id", "to", "text"}` of the SMS kept, oldest first."""
    return [{"id": message_id, "to": number, "text": text}
            for message_id, (number, text) in list(SENT_SMS.items())]


class OneAtATime:
    """moto's WSGI app, one request at a time: its backends are not thread-safe (parallel
    DynamoDB transactions failed with "dictionary changed size during iteration" as 503s),
    and every real service serialises the writes to one item anyway. The server still
    accepts connections in parallel; they queue here. Also serves DEV_SMS_PATH."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == DEV_SMS_PATH:
            with self.lock:
                body = json.dumps({"messages": sent_sms()}, ensure_ascii=False).encode()
            start_response("200 OK", [("Content-Type", "application/json; charset=utf-8"),
                                      ("Content-Length", str(len(body)))])
            return [body]
        with self.lock:
            answer = self.app(environ, start_response)
            try:
                body = b"".join(answer)
            finally:
                if hasattr(answer, "close"):
                    answer.close()
        return [body]


class EmbeddedAws:
    """A moto server on loopback, in this process: the local stage's whole AWS account."""

    def __init__(self, port: int, sms_kept: int = SMS_KEPT):
        from moto.moto_server.werkzeug_app import (DomainDispatcherApplication,
                                                   MotoRequestHandler, create_backend_app)
        from werkzeug.serving import make_server

        bound_moto_memory(sms_kept)
        app = OneAtATime(DomainDispatcherApplication(create_backend_app))
        # Threaded, with werkzeug's listen backlog of 128: a burst waits in OneAtATime.
        self.server = make_server(HOST, port, app, threaded=True,
                                  request_handler=MotoRequestHandler)
        self.port = self.server.server_port  # the one the OS gave, when asked for 0
        self.thread = threading.Thread(target=self.server.serve_forever, name="moto",
                                       daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def start_moto(port: int, sms_kept: int = SMS_KEPT) -> EmbeddedAws:
    # Every request of the worker's polls would otherwise be an access-log line.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    return EmbeddedAws(port, sms_kept)


def create_resources() -> dict[str, str]:
    """The tables and queues of infra/resources.json on the embedded AWS; queue URLs back."""
    from chalicelib.adapters import aws
    from chalicelib.settings import load_settings
    from infra import resources

    settings = load_settings()
    resources.create_tables(aws.client("dynamodb"), settings)
    return resources.create_queues(aws.client("sqs"), settings)


def ensure_demo_account() -> bool:
    """The demo account, with its registered number; False if it was already there."""
    from chalicelib.bootstrap import portal
    from chalicelib.domain.errors import AccountExists

    try:
        portal().account_changes.create(DEMO_USERNAME, DEMO_PASSWORD, DEMO_PHONE)
    except AccountExists:
        return False
    return True


# -- the directory (`make run DIRECTORY=ldap`, SPEC 13) -----------------------------------------

LDAP_FOLDER = ROOT / ".local" / "ldap"


def start_directory(port: int, folder: Path | None = None):
    """A real OpenLDAP slapd on 127.0.0.1:`port` (infra/ldap_server.py), LDAPS with the CA at
    `folder`/ca.pem and the demo account's entry with the demo password; this process's
    environment (which the API inherits) then runs the portal in `ldap` mode against it."""
    from infra.ldap_server import LocalDirectory, slapd_available
    if not slapd_available():
        raise StartupFailed("DIRECTORY=ldap needs Debian's slapd: apt-get install slapd "
                            "ldap-utils (make test installs it)")
    ensure_port_free(port, "the LDAP directory", "PWPORTAL_LDAP_PORT")
    folder = folder or Path(os.environ.get("PWPORTAL_LDAP_FOLDER") or LDAP_FOLDER)
    directory = LocalDirectory(folder, port, HOST).start()
    directory.add_account(DEMO_USERNAME, DEMO_PASSWORD)
    os.environ.update(directory.settings())
    from chalicelib import bootstrap
    bootstrap.reset()
    return directory


# -- the identity provider (IDP=local) ---------------------------------------------------------

def start_identity_provider(port: int, site_url: str):
    """Canaille on 127.0.0.1:`port` (infra/identity_provider.py), a guarded child, with the
    pwportal client's redirect URIs on this stack's site; this process's environment (which
    the API inherits) then points the portal at it."""
    from infra import identity_provider
    ensure_port_free(port, "the identity provider", "PWPORTAL_IDP_PORT")
    try:
        running = identity_provider.start(
            port, [site_url + "/api/support/callback", site_url + "/api/idp/callback"])
    except (ImportError, RuntimeError) as error:
        raise StartupFailed(f"IDP=local: {error} (it needs requirements-dev.txt's canaille; "
                            "make run installs it)") from None
    os.environ.update({
        "PWPORTAL_IDP_ISSUER": running.issuer,
        "PWPORTAL_IDP_CLIENT_ID": identity_provider.CLIENT_ID,
        "PWPORTAL_IDP_CLIENT_SECRET": identity_provider.LOCAL_CLIENT_SECRET,
        # Canaille gives the `groups` claim for its own scope of that name.
        "PWPORTAL_IDP_SCOPES": "openid profile groups",
        "PWPORTAL_IDP_REDIRECT_BASE": site_url,
    })
    # SPEC 15: with IDP=local, pwreg offers "Logga in med din jobbinloggning" (and pwreset
    # its third way), unless the caller chose otherwise
    os.environ.setdefault("PWPORTAL_HOLDER_IDENTITY", "offered")
    from chalicelib import bootstrap
    bootstrap.reset()
    return running


def identity_provider_summary(issuer: str, site_url: str) -> list[str]:
    from infra.identity_provider import PEOPLE
    lines = [f"  identity provider {issuer}  (Canaille; sign in at {site_url}/api/support/login)"]
    if os.environ.get("PWPORTAL_HOLDER_IDENTITY", "").strip().lower() in ("offered", "required"):
        lines.append("    and with \"Logga in med din jobbinloggning\" on pwreg and pwreset "
                     f"(PWPORTAL_HOLDER_IDENTITY={os.environ['PWPORTAL_HOLDER_IDENTITY']})")
    for person in PEOPLE:
        role = "support agent" if person.groups else "care worker"
        lines.append(f"    {person.user_name:16s} {person.password:19s} {person.name} ({role})")
    return [*lines, ""]


# -- the API (chalice local) -------------------------------------------------------------------

def api_command(port: int) -> list[str]:
    """`chalice local` on `port` as the local stage runs it (infra/chalice_runtime.py: a
    listen backlog for bursts, unknown paths answered in the envelope), guarded so that it
    dies with this process even when this one is killed (infra/child_guard.py)."""
    # No autoreload: the reloader forks a second process that a terminate would orphan,
    # and the worker in this process would keep the old code anyway. Restart to reload.
    return guarded([sys.executable, "-m", "infra.chalice_runtime", "local", "--stage", STAGE,
                    "--host", HOST, "--port", str(port), "--no-autoreload"])


def start_api(port: int) -> subprocess.Popen:
    """`chalice local --stage local` on `port`; its output is relayed by `relay_output`."""
    return subprocess.Popen(
        api_command(port),
        cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        # Its own session: a Ctrl-C in the terminal reaches only this process, which then
        # stops the API in order, instead of the API dying mid-request with its own traceback.
        start_new_session=True,
    )


# chalice local's internal URL, its access log (the front server logs each request once,
# with the real client), and botocore's INFO chatter, which chalice local turns on (under a
# burst, urllib3's note that it closed a pooled connection to the embedded AWS).
_CHALICE_NOISE = re.compile(
    r'^(Serving on http|\S+ - - \[[^\]]*\] "|Found (credentials|endpoint) '
    r'|Connection pool is full, discarding connection)')


def relay_output(process: subprocess.Popen, prefix: str = "api | ") -> threading.Thread:
    """Copy the API's output (its audit lines and errors) to ours, prefixed, minus noise."""
    def run():
        for raw in iter(process.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if _CHALICE_NOISE.match(line):
                continue
            try:
                sys.stdout.write(prefix + line + "\n")
                sys.stdout.flush()
            except (OSError, ValueError):  # our stdout is gone; keep draining the pipe
                pass

    thread = threading.Thread(target=run, name="api-output", daemon=True)
    thread.start()
    return thread


def stop_process(process: subprocess.Popen, timeout: float = 5.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


class Background:
    """A daemon thread running `self._run` until `stop()` sets `self._stop`."""

    def __init__(self, name: str):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        raise NotImplementedError

    def start(self):
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)


# -- the SMS worker ----------------------------------------------------------------------------

class SmsWorker(Background):
    """Delivers queued SMS with the real handler until stopped; an error is logged and the
    loop goes on, because a worker that dies silently looks exactly like SMS that are slow.

    It polls without waiting (`wait_seconds` 0) and pauses `idle_seconds` when the queue is
    empty: the embedded AWS answers one request at a time, and a long poll would hold every
    other call for its whole wait."""

    def __init__(self, sqs, queue_url: str, handler, wait_seconds: int = 0,
                 visibility_timeout: int = WORKER_VISIBILITY_TIMEOUT, idle_seconds: float = 0.2):
        self.sqs, self.queue_url, self.handler = sqs, queue_url, handler
        self.wait_seconds, self.visibility_timeout = wait_seconds, visibility_timeout
        self.idle_seconds = idle_seconds
        super().__init__("sms-worker")

    def _deliver(self, event, context):
        # drain_once counts a failure and leaves the message for SQS to retry; only here is
        # the reason still known, so it is logged here.
        try:
            return self.handler(event, context)
        except Exception:
            log.error("sms worker: delivery failed, SQS retries it in %s s\n%s",
                      self.visibility_timeout, traceback.format_exc(limit=8).rstrip())
            raise

    def _run(self) -> None:
        from infra.local_worker import drain_once

        while not self._stop.is_set():
            try:
                counts = drain_once(self.sqs, self.queue_url, self._deliver,
                                    wait_seconds=self.wait_seconds,
                                    visibility_timeout=self.visibility_timeout)
                if not any(counts.values()):
                    self._stop.wait(self.idle_seconds)
            except Exception:  # noqa: BLE001 (see the class docstring)
                if self._stop.is_set():  # the embedded AWS went first during shutdown
                    return
                log.error("sms worker: %s", traceback.format_exc(limit=4).rstrip())
                self._stop.wait(1.0)


# -- expiry (DynamoDB's TTL, which moto does not run) -----------------------------------------

TTL_SWEEP_SECONDS = 60


def sweep_expired(dynamodb, now: float) -> int:
    """Delete the items whose TTL attribute is in the past, in every table that has TTL on,
    as DynamoDB does within a day or two; the number deleted. Without it, every challenge,
    session and limit window of a long session would stay, and moto copies a whole table
    for each transaction that touches it."""
    deleted = 0
    for table in dynamodb.list_tables()["TableNames"]:
        ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        if ttl.get("TimeToLiveStatus") != "ENABLED":
            continue
        keys = [key["AttributeName"] for key in
                dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]]
        names = {"#ttl": ttl["AttributeName"], **{f"#k{n}": key for n, key in enumerate(keys)}}
        expired = {":now": {"N": str(int(now))}}
        pages = dynamodb.get_paginator("scan").paginate(
            TableName=table, FilterExpression="#ttl < :now", ExpressionAttributeNames=names,
            ExpressionAttributeValues=expired,
            ProjectionExpression=", ".join(f"#k{n}" for n in range(len(keys))))
        for page in pages:
            for key in page["Items"]:
                try:
                    dynamodb.delete_item(
                        TableName=table, Key=key, ConditionExpression="#ttl < :now",
                        ExpressionAttributeNames={"#ttl": ttl["AttributeName"]},
                        ExpressionAttributeValues=expired)
                    deleted += 1
                except dynamodb.exceptions.ConditionalCheckFailedException:
                    pass  # renewed since the scan
    return deleted


class TtlSweeper(Background):
    """Runs `sweep_expired` every `interval` seconds until stopped; an error is logged and
    the next round tries again."""

    def __init__(self, dynamodb, interval: float = TTL_SWEEP_SECONDS, clock=time.time):
        self.dynamodb, self.interval, self.clock = dynamodb, interval, clock
        super().__init__("ttl-sweeper")

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                sweep_expired(self.dynamodb, self.clock())
            except Exception:  # noqa: BLE001 (logged; the next round tries again)
                if self._stop.is_set():
                    return
                log.error("ttl sweeper: %s", traceback.format_exc(limit=4).rstrip())


# -- the front server --------------------------------------------------------------------------

def is_proxied(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in PROXIED_PREFIXES)


def _servable_parts(url_path: str) -> list[str] | None:
    """The URL path's segments, or None if it may name nothing under the site."""
    path = urllib.parse.unquote(url_path)
    if "\x00" in path or "\\" in path:
        return None
    parts = [part for part in path.split("/") if part]
    # Dot-segments and hidden files are never served; that also rules out `..`.
    if any(part.startswith(".") for part in parts):
        return None
    return parts


def _directory_target(directory: Path, url_path: str, parts: list[str]) -> Path | str | None:
    if not url_path.endswith("/"):
        # Rebuilt from the parts, never the raw path: `//host` would redirect off-site.
        return "/" + "".join(urllib.parse.quote(part) + "/" for part in parts)
    index = directory / "index.html"
    return index if index.is_file() else None  # never a directory listing


def static_target(root: Path, url_path: str) -> Path | str | None:
    """The file a URL path names under `root`; a str is a redirect (a directory without its
    trailing slash, so the page's relative links resolve); None is not found."""
    parts = _servable_parts(url_path)
    if parts is None:
        return None
    root = root.resolve()
    candidate = root.joinpath(*parts)
    try:
        resolved = candidate.resolve()
    except OSError:
        return None
    if resolved != root and root not in resolved.parents:  # a symlink out of the site
        return None
    if resolved.is_dir():
        return _directory_target(resolved, url_path, parts)
    return resolved if resolved.is_file() else None


def error_envelope(code: str, accept_language: str | None, fallback: str) -> dict:
    """The API's own error envelope (its texts, the caller's language, the support line), so
    an answer from the front server reads like one from the API."""
    try:
        from chalicelib.api.http import error_body
        from chalicelib.messages import language
        return error_body(code, language(accept_language))
    except Exception:  # noqa: BLE001 (an error page must not fail for want of its texts)
        return {"error": {"code": code, "message": fallback}}


def relayed_headers(upstream: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The API's response headers the client gets: hop-by-hop ones and those this server
    sets itself (Server, Date, Content-Length) dropped, then the site's headers the API did
    not set."""
    kept = [(name, value) for name, value in upstream
            if name.lower() not in HOP_BY_HOP | REPLACED_UPSTREAM]
    present = {name.lower() for name, _ in kept}
    kept += [(name, value) for name, value in SITE_HEADERS.items()
             if name.lower() not in present]
    return kept


class BadBody(Exception):
    def __init__(self, status: int, code: str):
        super().__init__(code)
        self.status, self.code = status, code


CHUNKED, LENGTH, NO_BODY = "chunked", "length", "none"


def body_framing(headers) -> tuple[str, int]:
    """How a request says its body ends: (CHUNKED, 0), (LENGTH, bytes) or (NO_BODY, 0).

    A request that two readers could frame two ways is refused (400), as a CDN would: a
    Transfer-Encoding other than exactly `chunked` (`xchunked`, `gzip, chunked`), one next
    to a Content-Length, or Content-Lengths that disagree or are no number. Read another
    way by the API behind, its tail would become a request of its own (RFC 9112, 6.3)."""
    encodings = [value.strip().lower() for value in headers.get_all("Transfer-Encoding") or []]
    lengths = {part.strip() for value in headers.get_all("Content-Length") or []
               for part in value.split(",")}
    if encodings:
        if encodings != [CHUNKED] or lengths:
            raise BadBody(400, "invalid_request")
        return CHUNKED, 0
    if not lengths:
        return NO_BODY, 0
    if len(lengths) != 1 or not next(iter(lengths)).isdigit():
        raise BadBody(400, "invalid_request")
    return LENGTH, int(next(iter(lengths)))


class FrontHandler(BaseHTTPRequestHandler):
    """Static files and the same-origin API, as CloudFront and API Gateway serve them."""

    protocol_version = "HTTP/1.1"  # keep-alive: the pages load several modules each
    server_version = "pwportal-local"
    upstream_timeout = 30

    def do_GET(self):
        self._route()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def __getattr__(self, name: str):
        # BaseHTTPRequestHandler answers a method without a do_<METHOD> with its own 501 HTML
        # page; every other method (TRACE, QUERY, ...) gets the 405 of _route instead.
        if name.startswith("do_"):
            return self._route
        raise AttributeError(name)

    def _route(self) -> None:
        target = urllib.parse.urlsplit(self.path)
        proxied = is_proxied(target.path)
        allowed = API_METHODS if proxied else SITE_METHODS
        try:
            framing, length = body_framing(self.headers)
        except BadBody as problem:
            self._refuse_body(problem)
            return
        if self.command not in allowed:
            # A body (QUERY has one) is never read: the connection ends after the answer,
            # lingering so that the client can send it all and read the 405.
            with_body = framing == CHUNKED or length > 0
            headers = {"Allow": ", ".join(allowed)}
            if with_body:
                self.close_connection = True
                headers["Connection"] = "close"
            if proxied:
                self._json(405, self._envelope("method_not_allowed", "Method not allowed."),
                           headers)
            else:
                self._respond(405, b"Method not allowed\n", "text/plain; charset=utf-8",
                              {**headers, "Cache-Control": "no-store", **SITE_HEADERS})
            if with_body:
                self._linger()
        elif proxied:
            self._proxy(target)
        else:
            self._static(target)

    # -- static

    def _static(self, target) -> None:
        found = static_target(self.server.static_root, target.path)
        if isinstance(found, str):
            location = found + ("?" + target.query if target.query else "")
            self._respond(301, b"", None, {"Location": location, **SITE_HEADERS})
            return
        if found is None:
            page = self.server.static_root / "404.html"
            body = page.read_bytes() if page.is_file() else NOT_FOUND_PAGE
            self._respond(404, body, "text/html; charset=utf-8", SITE_HEADERS)
            return
        # Revalidate every time: on this stage the files change under the developer's hands.
        self._respond(200, found.read_bytes(), content_type(found),
                      {"Cache-Control": "no-cache", **SITE_HEADERS})

    # -- proxy

    def _proxy(self, target) -> None:
        try:
            body = self._request_body()
        except BadBody as problem:
            self._refuse_body(problem)
            return
        path = target.path + ("?" + target.query if target.query else "")
        connection = http.client.HTTPConnection(HOST, self.server.api_port,
                                                timeout=self.upstream_timeout)
        try:
            status, reason, headers, payload = self._exchange(connection, path, body)
        except (OSError, http.client.HTTPException):
            self._json(503, self._envelope("service_unavailable",
                                           "The service is not answering. Try again soon."))
            return
        finally:
            connection.close()
        self._relay(status, reason, headers, payload)

    def _exchange(self, connection, path: str, body: bytes) -> tuple[int, str, list, bytes]:
        """Sends the request to the API and reads its whole answer: (status, reason, headers,
        payload)."""
        connection.putrequest(self.command, path, skip_host=True, skip_accept_encoding=True)
        for name, value in self._upstream_headers():
            connection.putheader(name, value)
        if body or self.command in ("POST", "PUT", "PATCH"):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        upstream = connection.getresponse()
        payload = upstream.read()
        return upstream.status, upstream.reason, upstream.getheaders(), payload

    def _upstream_headers(self) -> list[tuple[str, str]]:
        """The client's headers as the API gets them: its Host kept, hop-by-hop headers (and
        those Connection names) dropped, the forwarding chain extended."""
        dropped = HOP_BY_HOP | {"content-length", "x-forwarded-for", "host"} | {
            token.strip().lower() for token in (self.headers.get("Connection") or "").split(",")}
        forwarded = [*(self.headers.get_all("X-Forwarded-For") or []), self.client_address[0]]
        host = self.headers.get("Host") or f"{HOST}:{self.server.server_address[1]}"
        headers = [("Host", host)]
        headers += [(name, value) for name, value in self.headers.items()
                    if name.lower() not in dropped]
        # Appended, never replaced: the API trusts exactly one hop, this one, and takes
        # the last address; whatever the client wrote before it is ignored there.
        headers += [("X-Forwarded-For", ", ".join(forwarded)), ("X-Forwarded-Proto", "http")]
        return headers

    def _relay(self, status: int, reason: str, headers: list, payload: bytes) -> None:
        """Sends the API's answer on to the client, with the site's headers where the API
        set none of its own."""
        self.send_response(status, reason)
        for name, value in relayed_headers(headers):
            self.send_header(name, value)
        length = len(payload)
        if self.command == "HEAD":  # http.client read no body; keep the GET's length
            length = int({k.lower(): v for k, v in headers}.get("content-length", 0))
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _refuse_body(self, problem: BadBody) -> None:
        """Answer a body this server will not read, and end the connection: its unread
        bytes must not become the next request."""
        self.close_connection = True
        self._json(problem.status, self._envelope(problem.code, "The request body is wrong."),
                   {"Connection": "close"})
        self._linger()

    def _request_body(self) -> bytes:
        framing, length = body_framing(self.headers)
        if framing == CHUNKED:
            return self._chunked_body()
        if framing == NO_BODY:
            return b""
        if length > MAX_PROXIED_BODY:
            self.close_connection = True  # the unread body must not become the next request
            raise BadBody(413, "request_too_large")
        return self.rfile.read(length)

    def _chunked_body(self) -> bytes:
        body = bytearray()
        while True:
            size_line = self.rfile.readline(1024).split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                self.close_connection = True
                raise BadBody(400, "invalid_request") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return bytes(body)
            if len(body) + size > MAX_PROXIED_BODY:
                self.close_connection = True
                raise BadBody(413, "request_too_large")
            body += self.rfile.read(size)
            self.rfile.readline(1024)

    def handle_expect_100(self) -> bool:
        # No "100 Continue" for a body that will be refused: the client then sends nothing
        # and reads the 413 at once.
        raw = (self.headers.get("Content-Length") or "").strip()
        if raw.isdigit() and int(raw) > MAX_PROXIED_BODY:
            return True
        return super().handle_expect_100()

    def _linger(self) -> None:
        """After an answer that leaves the body unread: close our side for writing, then read
        and drop what the client still sends (bounded), so that its upload ends and it reads
        the answer, instead of meeting a reset for unread data."""
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(LINGER_IDLE_SECONDS)
            deadline, drained = time.monotonic() + LINGER_SECONDS, 0
            while time.monotonic() < deadline and drained < LINGER_MAX_BYTES:
                chunk = self.connection.recv(65536)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:  # the client went, or went quiet: either way, done
            pass

    # -- responses

    def _envelope(self, code: str, fallback: str) -> dict:
        headers = getattr(self, "headers", None)
        return error_envelope(code, headers.get("Accept-Language") if headers else None,
                              fallback)

    def _json(self, status: int, body: dict, headers: dict | None = None) -> None:
        self._respond(status, json.dumps(body, ensure_ascii=False).encode("utf-8"),
                      "application/json; charset=utf-8",
                      {**(headers or {}), "Cache-Control": "no-store", **SITE_HEADERS})

    def send_error(self, code: int, message: str | None = None, explain: str | None = None):
        """The server's own errors (a bad request line, a URI or headers too long) in the
        API's envelope with its headers, not http.server's HTML page."""
        self.close_connection = True
        self._json(code, self._envelope(ERROR_CODES.get(code, "invalid_request"),
                                        message or "The request is wrong."),
                   {"Connection": "close"})

    def _respond(self, status: int, body: bytes, kind: str | None, headers: dict) -> None:
        self.send_response(status)
        if kind:
            self.send_header("Content-Type", kind)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format, *args):
        if self.server.quiet:
            return
        # As every log line of the portal (SPEC 9): the client's network, never its address.
        log.info("web | %s %s", truncate_ip(self.client_address[0]) or "-", format % args)


class FrontServer(ThreadingHTTPServer):
    daemon_threads = True  # an idle keep-alive connection must not hold up a shutdown
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, port: int, api_port: int, static_root: Path = STATIC_ROOT):
        self.quiet = False  # the stack's own readiness probes are not worth a log line
        self.api_port = api_port
        self.static_root = Path(static_root)
        super().__init__((HOST, port), FrontHandler)


def start_front(port: int, api_port: int, static_root: Path = STATIC_ROOT) -> FrontServer:
    server = FrontServer(port, api_port, static_root)
    threading.Thread(target=server.serve_forever, name="front", daemon=True).start()
    return server


# -- the whole stack ---------------------------------------------------------------------------

class LocalStack:
    """Starts the parts in dependency order and stops them in the reverse one.

    `stop_event`, when given, lets a signal cut a start short (raising `Stopped`).
    """

    def __init__(self, port: int = 8000, moto_port: int = 5000, api_port: int | None = None,
                 static_root: Path = STATIC_ROOT, stop_event: threading.Event | None = None,
                 timeout: float = STARTUP_TIMEOUT_SECONDS, demo: bool = True,
                 sms_kept: int = SMS_KEPT, ldap_port: int | None = None,
                 idp_port: int | None = None):
        self.port, self.moto_port, self.sms_kept = port, moto_port, sms_kept
        self.api_port = api_port or free_port()
        self.static_root, self.timeout, self.demo = static_root, timeout, demo
        self.stop_event = stop_event or threading.Event()
        self.moto = self.api = self.front = self.worker = self.sweeper = None
        self.built_site = None
        self.queue_urls: dict[str, str] = {}
        self.demo_created = False
        self.ldap_port, self.directory = ldap_port, None  # ldap_port: DIRECTORY=ldap
        self.idp_port, self.idp = idp_port, None  # idp_port: IDP=local

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def aws_url(self) -> str:
        return f"http://{HOST}:{self.moto_port}"

    def start(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        ensure_port_free(self.port, "the site and API", "PWPORTAL_PORT")
        ensure_port_free(self.moto_port, "the embedded AWS", "PWPORTAL_MOTO_PORT")
        self.moto = start_moto(self.moto_port, self.sms_kept)
        self.moto_port = self.moto.port
        apply_environment(local_environment(self.moto_port))
        if self.static_root == STATIC_ROOT:  # the pages with this stage's texts and settings
            from infra.site_build import build_site
            from chalicelib.settings import load_settings
            self.built_site = Path(tempfile.mkdtemp(prefix="pwportal-site-"))
            self.static_root = build_site(load_settings(), self.built_site / "site")
        self.queue_urls = create_resources()
        if self.ldap_port is not None:
            # slapd cannot bind port 0 and say which it got: for 0, a free one is taken here
            self.directory = start_directory(self.ldap_port or free_port())
            self.ldap_port = self.directory.port
        if self.demo:
            self.demo_created = ensure_demo_account()
        if self.idp_port is not None:
            # The provider must know the site's callback before the site listens: for port
            # 0, a free one is taken here (as slapd's above); the provider's own 0 is the
            # OS's choice (the tests start it so).
            self.port = self.port or free_port()
            self.idp = start_identity_provider(self.idp_port, self.url)

        self.api = start_api(self.api_port)
        relay_output(self.api)
        wait_until_answers(f"http://{HOST}:{self.api_port}/api/config", self.timeout,
                           self.stop_event, self.api)

        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        # Only now: the settings and AWS clients that app builds must see the local env.
        import app
        from chalicelib.adapters import aws
        self.worker = SmsWorker(aws.client("sqs"), self.queue_urls["SmsQueue"],
                                app.deliver_sms).start()
        self.sweeper = TtlSweeper(aws.client("dynamodb")).start()

        try:
            self.front = start_front(self.port, self.api_port, self.static_root)
        except OSError as error:  # taken since ensure_port_free looked
            raise StartupFailed(f"the site cannot listen on {self.url}: {error}; choose "
                                "another port with PWPORTAL_PORT=<port>") from None
        self.port = self.front.server_port
        self.front.quiet = True
        wait_until_answers(self.url + "/api/config", self.timeout, self.stop_event)
        self.front.quiet = False

    def stop(self) -> None:
        """Stop whatever was started; safe to call twice or after a failed start."""
        if self.front is not None:
            self.front.shutdown()
            self.front.server_close()
            self.front = None
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        if self.sweeper is not None:
            self.sweeper.stop()
            self.sweeper = None
        if self.api is not None:
            stop_process(self.api)
            self.api.stdout.close()
            self.api = None
        if self.moto is not None:
            self.moto.stop()
            self.moto = None
        if self.directory is not None:
            self.directory.stop()
            self.directory = None
        if self.idp is not None:
            self.idp.stop()
            self.idp = None
        if self.built_site is not None:
            shutil.rmtree(self.built_site, ignore_errors=True)
            self.static_root, self.built_site = STATIC_ROOT, None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def summary(self) -> str:
        from chalicelib.domain.phone import national
        demo_note = "" if self.demo_created else "  (it already existed: its password may differ)"
        return "\n".join([
            "",
            "pwportal, local stage, on an embedded AWS",
            "",
            f"  site (landing)   {self.url}/",
            f"  pwreg            {self.url}/pwreg/",
            f"  pwreset          {self.url}/pwreset/",
            *([f"  support console  {self.url}/support/"] if self.idp else []),
            f"  API              {self.url}/api/config",
            f"  sent SMS         {self.url}/dev/sms",
            f"  embedded AWS     {self.aws_url}  (moto; dashboard at {self.aws_url}/moto-api/)",
            "",
            f"  demo account     {DEMO_USERNAME}{demo_note}",
            f"  demo password    {DEMO_PASSWORD}",
            f"  demo number      {national(DEMO_PHONE)} ({DEMO_PHONE})",
            *([f"  LDAP directory   {self.directory.url}  (base dc=pwportal,dc=local, "
               f"CA {self.directory.ca_file})", ""] if self.directory else [""]),
            *(identity_provider_summary(self.idp.issuer, self.url) if self.idp else []),
        ])


def exit_if_stopping_hangs(timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """Every step of stop() is bounded, but a stop must never depend on that: if the process
    still runs `timeout` seconds after the stop was asked for, it exits at once (its
    children die with it, infra/child_guard.py)."""
    def run():
        time.sleep(timeout)
        sys.stderr.write(f"pwportal: stopping took more than {timeout:.0f} s; exiting now\n")
        sys.stderr.flush()
        os._exit(1)

    threading.Thread(target=run, name="stop-deadline", daemon=True).start()


def main() -> int:
    # Our own logger only: at INFO on the root, boto3 would chat about every client it builds.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    stop = threading.Event()

    def on_signal(signum, frame):
        # Only a flag: the main thread stops the parts in order. Repeats are harmless, and
        # they are common (`timeout` and make both forward a SIGTERM the group also got).
        if not stop.is_set():
            stop.set()
            exit_if_stopping_hangs()

    # Before anything starts: a signal during startup must stop cleanly too, not as a
    # KeyboardInterrupt from somewhere inside boto3.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack = LocalStack(port=port_setting("PWPORTAL_PORT", 8000),
                           moto_port=port_setting("PWPORTAL_MOTO_PORT", 5000), stop_event=stop,
                           sms_kept=count_setting("PWPORTAL_DEV_SMS_KEPT", SMS_KEPT),
                           ldap_port=(port_setting("PWPORTAL_LDAP_PORT", 6360)
                                      if os.environ.get("PWPORTAL_DIRECTORY", "").strip()
                                      .lower() == "ldap" else None),
                           idp_port=(port_setting("PWPORTAL_IDP_PORT", 8090)
                                     if os.environ.get("PWPORTAL_IDP", "").strip()
                                     .lower() == "local" else None))
        stack.start()
    except Stopped:
        print("pwportal stopped before it was running.", flush=True)
        return 0
    except StartupFailed as failure:
        print(f"pwportal could not start: {failure}", file=sys.stderr, flush=True)
        return 1

    print(stack.summary(), flush=True)
    print(f"{READY} on {stack.url}/ (Ctrl-C stops it)", flush=True)
    code = 0
    while not stop.wait(0.5):
        if stack.api.poll() is not None:
            print(f"pwportal: the API process exited with code {stack.api.returncode}; "
                  "stopping everything", file=sys.stderr, flush=True)
            code = 1
            break
    print("pwportal is stopping...", flush=True)
    stack.stop()
    print("pwportal stopped.", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
