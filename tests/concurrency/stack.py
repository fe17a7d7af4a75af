"""The system under real parallel HTTP: the app served by Chalice's own local server classes
(a thread per connection, as `chalice local` serves it) on a free port, talking to a moto
server in a separate process that handles one request at a time.

Used by the concurrency tests; the faults and the fuzz tests run in-process instead.
"""
from __future__ import annotations

import http.client
import json
import os
import select
import subprocess
import sys
import threading
from dataclasses import dataclass

import pytest

from tests.conftest import REGION, ROOT, stage_environment

HOST = "127.0.0.1"
START_TIMEOUT = 60  # seconds: a loaded machine may take long to import moto
REQUEST_TIMEOUT = 120  # per request, generous: 50 of them queue behind one moto thread
PASSWORD = "tuvKAJ58!x"


class SingleThreadedMoto:
    """`python -m tests.concurrency.single_moto` as a child process."""

    def __init__(self):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.concurrency.single_moto"], cwd=ROOT,
            stdout=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.process.stdout], [], [], START_TIMEOUT)
        line = self.process.stdout.readline() if ready else ""
        if not line.startswith("READY "):
            self.stop()
            pytest.fail(f"the single-threaded moto server did not start: {line!r}")
        self.url = f"http://{HOST}:{int(line.split()[1])}"

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process.stdout.close()


@dataclass
class Answer:
    status: int
    headers: dict
    body: dict | None


class AppServer:
    """The Chalice app on Chalice's LocalDevServer, in this process, on a free port."""

    def __init__(self, app_object):
        from chalice.cli.factory import CLIFactory
        from chalice.local import (
            ChaliceRequestHandler,
            LocalChalice,
            LocalDevServer,
            ThreadedHTTPServer,
            create_local_server,
        )

        class Server(ThreadedHTTPServer):
            request_queue_size = 128  # 50 clients connect at once

        class Handler(ChaliceRequestHandler):
            def log_message(self, format, *args):  # one access-log line per request: noise
                pass

        self._app = app_object
        self._original_class = app_object.__class__
        config = CLIFactory(str(ROOT)).create_config_obj(chalice_stage_name="local")
        if not isinstance(app_object, LocalChalice):
            # What `chalice local` does: the app's current_request becomes per thread.
            create_local_server(app_object, config, HOST, 0).server.server_close()
        self.dev = LocalDevServer(app_object, config, HOST, 0, handler_cls=Handler,
                                  server_cls=Server)
        self.port = self.dev.server.server_address[1]
        self.thread = threading.Thread(target=self.dev.server.serve_forever, daemon=True,
                                       name="app-server")
        self.thread.start()

    def stop(self):
        self.dev.shutdown()
        self.dev.server.server_close()
        self.thread.join(10)
        self._app.__class__ = self._original_class


class Stack:
    def __init__(self, moto: SingleThreadedMoto, server: AppServer, queues: dict):
        self.moto, self.server, self.queues = moto, server, queues

    # -- HTTP ------------------------------------------------------------------------------

    def post(self, path: str, body: dict, *, ip: str = "198.51.100.7",
             session: str | None = None) -> Answer:
        payload = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "X-Forwarded-For": ip}
        if session:
            headers["Authorization"] = f"Bearer {session}"
        connection = http.client.HTTPConnection(HOST, self.server.port, timeout=REQUEST_TIMEOUT)
        try:
            connection.request("POST", path, body=payload, headers=headers)
            response = connection.getresponse()
            raw = response.read()
            return Answer(response.status, dict(response.getheaders()),
                          json.loads(raw) if raw else None)
        finally:
            connection.close()

    @staticmethod
    def parallel(count: int, request) -> list:
        """`request(i)` for i in range(count), each in its own thread, all released at
        once; the answers in the order of i."""
        barrier = threading.Barrier(count)
        answers: list = [None] * count
        errors: list = []

        def run(i):
            try:
                barrier.wait(timeout=REQUEST_TIMEOUT)
                answers[i] = request(i)
            except BaseException as error:  # noqa: BLE001 (reported below)
                errors.append(error)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(REQUEST_TIMEOUT * 2)
        assert not errors, errors
        assert all(answer is not None for answer in answers)
        return answers

    # -- the flows' side effects -----------------------------------------------------------

    @property
    def portal(self):
        from chalicelib.bootstrap import portal
        return portal()

    def create_account(self, username: str, phone: str | None):
        return self.portal.account_changes.create(username, PASSWORD, phone)

    def deliver(self) -> dict:
        from app import deliver_sms
        from chalicelib.adapters import aws
        from infra.local_worker import drain_once
        return drain_once(aws.client("sqs"), self.queues["SmsQueue"], deliver_sms)

    def texts_to(self, number: str) -> list[str]:
        from chalicelib.adapters.dev_sms import sent_messages
        return [sms["text"] for sms in sent_messages() if sms["to"] == number]

    def codes_to(self, number: str) -> list[str]:
        import re
        return [match.group(1) for text in self.texts_to(number)
                for match in [re.search(r"#(\d{6})\b", text)] if match]

    def events(self, username: str) -> list[str]:
        return [record["event"] for record in self.portal.audit.events(username, limit=1000)]

    def items(self, table: str, **where) -> list[dict]:
        from chalicelib.adapters import aws
        from chalicelib.adapters.dynamo import from_dynamo
        found = aws.client("dynamodb").scan(TableName=table)["Items"]
        return [item for item in map(from_dynamo, found)
                if all(item.get(k) == v for k, v in where.items())]


def environment(moto_url: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "NO_PROXY": HOST, "no_proxy": HOST,
        **stage_environment("local"),
    }


def start_stack(monkeypatch) -> Stack:
    from chalicelib import bootstrap
    from chalicelib.adapters import aws
    from chalicelib.settings import load_settings
    from infra import resources

    moto = SingleThreadedMoto()
    try:
        for name in list(os.environ):
            if name in ("AWS_PROFILE", "AWS_SESSION_TOKEN") or name.startswith(
                    "AWS_ENDPOINT_URL_"):
                monkeypatch.delenv(name)
        for name, value in environment(moto.url).items():
            monkeypatch.setenv(name, value)
        bootstrap.reset()
        settings = load_settings()
        resources.create_tables(aws.client("dynamodb"), settings)
        queues = resources.create_queues(aws.client("sqs"), settings)
        monkeypatch.setenv("PWPORTAL_SMS_QUEUE_URL", queues["SmsQueue"])
        bootstrap.reset()
        import app
        server = AppServer(app.app)
    except BaseException:
        moto.stop()
        raise
    stack = Stack(moto, server, queues)
    warm = stack.post("/api/reset/start", {"username": "warm-up", "phone": "0701234567"},
                      ip="192.0.2.1")
    assert warm.status == 202, warm
    return stack


def stop_stack(stack: Stack) -> None:
    from chalicelib import bootstrap
    try:
        stack.server.stop()
    finally:
        stack.moto.stop()
        bootstrap.reset()
