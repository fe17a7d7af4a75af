"""A real OpenID Connect provider on this machine (SPEC 15): Canaille, for `make run IDP=local`
and the tests. Never deployed: a development and test dependency only (requirements-idp.txt,
which `make run IDP=local` installs and requirements-dev.txt includes).

    python -m infra.identity_provider --port 0 --redirect-uri URL [--redirect-uri URL …]
        [--client ID:SECRET:URL …]

Canaille brings its own login and consent pages, a discovery document, a JWKS and ID tokens
signed with RS256/RS512, from a throwaway SQLite file seeded here with the people SPEC 15 names
and the pwportal client. The socket is bound before the app is built (port 0: the OS picks),
because the issuer is the server's own address; the first line on standard output is
`READY <issuer>`, which is how the local stack and the tests' fixture learn the port.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

READY = "READY"
CLIENT_ID = "pwportal"
# The local stack's client secret: this provider runs on loopback only, for development.
LOCAL_CLIENT_SECRET = "local-only-idp-client-secret-not-a-secret"
SUPPORT_GROUP = "pwportal-support"


@dataclass(frozen=True)
class Person:
    user_name: str
    given_name: str
    family_name: str
    password: str
    groups: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"


# SPEC 15: the support agent and two care workers; `make run IDP=local` prints them.
PEOPLE = (
    Person("sam.support", "Sam", "Support", "Demo-Support-2026", (SUPPORT_GROUP,)),
    Person("anna.andersson", "Anna", "Andersson", "Demo-Anna-2026"),
    Person("bo.berg", "Bo", "Berg", "Demo-Bo-2026"),
)


@dataclass(frozen=True)
class Client:
    client_id: str
    secret: str
    redirect_uris: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> "Client":
        """`ID:SECRET:URL[,URL…]` (the URLs' own colons are kept)."""
        client_id, secret, uris = text.split(":", 2)
        return cls(client_id, secret, tuple(u for u in uris.split(",") if u))


def signing_key() -> dict:
    """A fresh RSA key per start: tokens of an earlier run are worthless, as they should be."""
    from joserfc.jwk import RSAKey
    key = RSAKey.generate_key(2048, private=True)
    return {**key.as_dict(private=True), "kid": key.thumbprint()}


def create_app(issuer_host: str, clients: list[Client], database: str,
               organisation: str = "pwportal"):
    """Canaille's Flask app for `issuer_host` (`127.0.0.1:PORT`), seeded, its data in the
    SQLite file `database`.

    SQLite, not Canaille's `memory` backend: that one joins a query's filters with OR, so
    `query(AuthorizationCode, code=…, client=…)` finds any code of the client, and a code
    used once (or another sign-in's) is redeemed again; consents leak between people the
    same way. The SQL backend keeps codes single-use and bound, as a real provider does."""
    # Plain HTTP on loopback: authlib refuses it unless told.
    os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
    from canaille import create_app as canaille_app
    from canaille.oidc import provider
    # Canaille's access tokens are JWTs without a `jti`: two sign-ins of one person within a
    # second get the same one, which its token table refuses as a duplicate (a 500). pwportal
    # never uses the access token (the ID token says who signed in), so an opaque random one,
    # as authlib makes by default, serves; Canaille resolves the dotted name at start.
    provider.generate_access_token = _opaque_access_token
    config = {
        "SECRET_KEY": os.urandom(32).hex(),
        "SERVER_NAME": issuer_host,
        "PREFERRED_URL_SCHEME": "http",
        "TESTING": False,
        "CANAILLE": {
            "DATABASE": "sql",
            "JAVASCRIPT": False,
            "NAME": organisation,
            "ACL": {"DEFAULT": {"PERMISSIONS": ["use_oidc"],
                                "READ": ["user_name", "groups"]}},
        },
        "CANAILLE_OIDC": {"ACTIVE_JWKS": [signing_key()], "REQUIRE_NONCE": True},
        "CANAILLE_SQL": {"DATABASE_URI": f"sqlite:///{database}", "AUTO_MIGRATE": True},
    }
    app = canaille_app(config=config)
    with app.app_context():
        seed(clients)
    return app


def _opaque_access_token(client, grant_type, user, scope) -> str:
    import secrets
    return secrets.token_urlsafe(36)


def seed(clients: list[Client]) -> None:
    from canaille.app import models
    from canaille.backends import Backend
    backend = Backend.instance
    users = {}
    for person in PEOPLE:
        user = models.User(user_name=person.user_name, given_name=person.given_name,
                           family_name=person.family_name, formatted_name=person.name,
                           display_name=person.name,
                           emails=[f"{person.user_name}@example.invalid"],
                           password=person.password)
        backend.save(user)
        users[person.user_name] = user
    for group_name in sorted({g for p in PEOPLE for g in p.groups}):
        members = [users[p.user_name] for p in PEOPLE if group_name in p.groups]
        backend.save(models.Group(display_name=group_name, members=members))
    for client in clients:
        record = models.Client(
            client_id=client.client_id, client_secret=client.secret,
            client_name=client.client_id, redirect_uris=list(client.redirect_uris),
            grant_types=["authorization_code"], response_types=["code"],
            scope=["openid", "profile", "groups"],
            token_endpoint_auth_method="client_secret_basic",
            client_id_issued_at=datetime.now(timezone.utc))
        backend.save(record)
        record.audience = [record]  # its tokens are for itself alone
        backend.save(record)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # the stack prints what matters, not every GET
        pass


def serve(port: int, clients: list[Client], host: str = "127.0.0.1") -> None:
    server = make_server(host, port, lambda e, s: [b""], server_class=_Server,
                         handler_class=_QuietHandler)
    issuer_host = f"{host}:{server.server_address[1]}"
    with tempfile.TemporaryDirectory(prefix="pwportal-idp-") as folder:
        server.set_app(create_app(issuer_host, clients, os.path.join(folder, "idp.sqlite")))
        print(f"{READY} http://{issuer_host}", flush=True)
        try:
            server.serve_forever()
        finally:
            server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8090, help="0: the OS picks one")
    parser.add_argument("--redirect-uri", action="append", default=[],
                        help="the pwportal client's redirect URIs")
    parser.add_argument("--client-secret", default=LOCAL_CLIENT_SECRET)
    parser.add_argument("--client", action="append", default=[], type=Client.parse,
                        help="another client, ID:SECRET:URL[,URL]")
    args = parser.parse_args(argv)
    clients = [Client(CLIENT_ID, args.client_secret, tuple(args.redirect_uri)), *args.client]
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        serve(args.port, clients)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())


class RunningProvider:
    """A provider started by `start`: its issuer, and `stop()`."""

    def __init__(self, process, issuer: str):
        self.process = process
        self.issuer = issuer

    def stop(self, timeout: float = 5.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except Exception:
                self.process.kill()
                self.process.wait()


def start(port: int, redirect_uris: list[str], clients: list[str] = (),
          client_secret: str = LOCAL_CLIENT_SECRET, timeout: float = 60.0,
          guard: bool = True) -> RunningProvider:
    """Start the provider as a child process (guarded: it dies with this one, even after a
    `kill -9`, infra/child_guard.py) and wait for its READY line; port 0 lets the OS pick."""
    import subprocess
    import threading
    from infra.child_guard import guarded
    command = [sys.executable, "-m", "infra.identity_provider", "--port", str(port),
               "--client-secret", client_secret]
    for uri in redirect_uris:
        command += ["--redirect-uri", uri]
    for client in clients:
        command += ["--client", client]
    process = subprocess.Popen(guarded(command) if guard else command,
                               stdout=subprocess.PIPE, text=True,
                               cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    found: list[str] = []
    ready = threading.Event()

    def read_ready() -> None:
        for line in process.stdout:
            if line.startswith(READY + " ") and not found:
                found.append(line.split()[1])
                ready.set()
        ready.set()  # the child ended before it was ready

    threading.Thread(target=read_ready, daemon=True, name="idp-ready").start()
    ready.wait(timeout)
    if not found:
        RunningProvider(process, "").stop()
        raise RuntimeError("the identity provider (Canaille) did not start "
                           f"(exit code {process.poll()})")
    return RunningProvider(process, found[0])
