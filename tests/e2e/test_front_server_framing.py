"""The local stack's front server (infra/local_stack.py) and how a request says where its
body ends (issue 21, point 9): a request that could be read two ways is refused with 400,
as a malformed Content-Length always was, and nothing of it reaches the API. Raw sockets,
since an HTTP client would not send such a request."""
from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from infra.local_stack import FrontServer

BODY = b'{"username": "x", "phone": "0701234567"}'


class Api(BaseHTTPRequestHandler):
    """Stands in for the API: answers 200 with the body it read, and keeps each one."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append(body)
        payload = json.dumps({"got": body.decode("latin-1")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def front(tmp_path):
    api = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    api.received = []
    server = FrontServer(0, api_port=api.server_address[1], static_root=tmp_path)
    for part in (api, server):
        threading.Thread(target=part.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], api.received
    finally:
        for part in (server, api):
            part.shutdown()
            part.server_close()


def exchange(port: int, head: str, body: bytes = BODY) -> tuple[int, dict]:
    """Send a request as written (its head, ending in a blank line, then `body`) and read
    the first answer: (status, JSON body); (0, {}) if none came within 5 s."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + body)
        received = b""
        try:
            while b"\r\n\r\n" not in received or len(received.split(b"\r\n\r\n", 1)[1]) < \
                    _length(received):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
        except socket.timeout:
            return 0, {}
    if not received:
        return 0, {}
    status = int(received.split(b" ", 2)[1])
    payload = received.split(b"\r\n\r\n", 1)[1][:_length(received)]
    return status, json.loads(payload) if payload else {}


def _length(received: bytes) -> int:
    for line in received.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def post(extra: str) -> str:
    return ("POST /api/reset/start HTTP/1.1\nHost: localhost\n"
            f"Content-Type: application/json\n{extra}\n")


def test_a_well_framed_body_reaches_the_api(front):
    port, received = front
    status, body = exchange(port, post(f"Content-Length: {len(BODY)}\n"))
    assert (status, body) == (200, {"got": BODY.decode()})
    chunked = f"{len(BODY):x}\r\n".encode() + BODY + b"\r\n0\r\n\r\n"
    assert exchange(port, post("Transfer-Encoding: chunked\n"), chunked)[0] == 200
    same_twice = post(f"Content-Length: {len(BODY)}\nContent-Length: {len(BODY)}\n")
    assert exchange(port, same_twice)[0] == 200  # one length said twice is one length
    assert received == [BODY, BODY, BODY]


@pytest.mark.parametrize("framing", [
    f"Content-Length: {len(BODY) - 20}\nContent-Length: {len(BODY)}\n",  # the first was used
    f"Content-Length: {len(BODY)}\nContent-Length: {len(BODY) - 20}\n",
    f"Content-Length: {len(BODY)}, {len(BODY) - 20}\n",
    "Transfer-Encoding: xchunked\n",  # hung: read as chunked, waiting for a size line
    f"Transfer-Encoding: xchunked\nContent-Length: {len(BODY)}\n",
    "Transfer-Encoding: gzip, chunked\n",
    f"Transfer-Encoding: chunked\nContent-Length: {len(BODY)}\n",
    "Transfer-Encoding: chunked\nTransfer-Encoding: chunked\n",
])
def test_a_body_that_could_be_read_two_ways_is_refused_as_a_malformed_length_is(front, framing):
    port, received = front
    malformed = exchange(port, post("Content-Length: abc\n"))  # 400 before this issue too
    assert malformed[0] == 400 and malformed[1]["error"]["code"] == "invalid_request"
    assert exchange(port, post(framing)) == malformed
    assert received == []  # nothing reached the API
