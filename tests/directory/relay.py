"""A relay between the portal and the test slapd that loses one answer (issue 21, 5): it
forwards everything, both ways, but the server's answer to a password set — an
ExtendedResponse ([APPLICATION 24], 0x78: the Password Modify operation) or a
ModifyResponse ([APPLICATION 7], 0x67: AD's `unicodePwd` replace) — is dropped and the
connection closed. The directory did the work; the portal never hears so.

It ends TLS on each side (the slapd's own certificate towards the portal, the slapd's CA
towards the slapd) so that it can read the LDAP messages; it listens on a port the OS gave.
With `refuse_after`, every connection after the lost answer is closed at once: a directory
that cannot be asked either, until `refuse_after` is set back to False.
"""
from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator

LOST = {0x78, 0x67}  # ExtendedResponse, ModifyResponse


def messages(buffer: bytearray) -> Iterator[bytes]:
    """The whole LDAPMessages (SEQUENCE, definite length) at the head of `buffer`, taken
    out of it."""
    while len(buffer) >= 2:
        first = buffer[1]
        if first < 0x80:
            size, head = first, 2
        else:
            count = first & 0x7F
            if len(buffer) < 2 + count:
                return
            size, head = int.from_bytes(buffer[2:2 + count], "big"), 2 + count
        if len(buffer) < head + size:
            return
        message = bytes(buffer[:head + size])
        del buffer[:head + size]
        yield message


def protocol_op(message: bytes) -> int:
    """The tag of the protocolOp: the element after the messageID (INTEGER, short length)."""
    first = message[1]
    head = 2 if first < 0x80 else 2 + (first & 0x7F)
    id_length = message[head + 1]
    return message[head + 2 + id_length]


class LosingRelay:
    def __init__(self, directory, refuse_after: bool = False):
        self.directory = directory
        self.refuse_after = refuse_after
        self.lost = 0
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self._server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._server_tls.load_cert_chain(str(directory.folder / "server.pem"),
                                         str(directory.folder / "server.key"))
        self._client_tls = ssl.create_default_context(cafile=str(directory.ca_file))
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"ldaps://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stopped = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.lost and self.refuse_after:
                client.close()
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, raw_client: socket.socket) -> None:
        try:
            client = self._server_tls.wrap_socket(raw_client, server_side=True)
            upstream = self._client_tls.wrap_socket(
                socket.create_connection((self.directory.host, self.directory.port)),
                server_hostname=self.directory.host)
        except (OSError, ssl.SSLError):
            raw_client.close()
            return
        done = threading.Event()

        def stop() -> None:
            # Shut down, never close, while the other thread may be blocked in recv() on the
            # socket: a closed descriptor is reused by the next accepted connection, and that
            # recv() would then read the next connection's ClientHello (its handshake fails
            # with UNEXPECTED_MESSAGE). The descriptors are closed once both threads are out.
            done.set()
            for end in (client, upstream):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        def to_server() -> None:
            try:
                while not done.is_set():
                    data = client.recv(65536)
                    if not data:
                        break
                    upstream.sendall(data)
            except (OSError, ssl.SSLError, ValueError):
                pass
            stop()

        forwarding = threading.Thread(target=to_server, daemon=True)
        forwarding.start()
        buffer = bytearray()
        try:
            while not done.is_set():
                data = upstream.recv(65536)
                if not data:
                    break
                buffer += data
                for message in messages(buffer):
                    if protocol_op(message) in LOST:
                        self.lost += 1
                        return
                    client.sendall(message)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            stop()
            forwarding.join(timeout=10)
            for end in (client, upstream):
                end.close()
