"""`chalice`, building for one pinned Lambda runtime whatever Python runs it.

chalice takes the Lambda runtime from the Python that runs it (3.11 here, which Lambda no
longer accepts for new functions) and fetches compiled wheels (cffi) for that runtime's
ABI, without telling pip the Python version, so pip only finds wheels for the running one.
Both are fixed here, so a package is the same whoever builds it:

    python -m infra.chalice_runtime python3.13 package --stage prod OUT

It also runs the local stage's API (`make run`), as API Gateway would answer it:

    python -m infra.chalice_runtime local --stage local --port 8001 --no-autoreload

- a listen backlog for 50 clients at once (chalice's server keeps Python's 5, and the sixth
  connection of a burst is reset);
- an unknown path answers 404 `not_found` in the API's envelope, as the deployed gateway's
  answer does, instead of chalice's 403 `Missing Authentication Token`.
"""
from __future__ import annotations

import json
import sys

import chalice.config
from chalice.deploy import packager
from chalice.local import ForbiddenError, LocalGateway, LocalGatewayException

LISTEN_BACKLOG = 128


def pin(runtime: str) -> None:
    """Make chalice package for `runtime` (e.g. python3.13)."""
    chalice.config.Config.lambda_python_version = property(lambda self: runtime)
    original = packager.PipRunner.download_manylinux_wheels
    if getattr(original, "pinned", False):
        return

    def download_manylinux_wheels(self, abi, packages, directory, platforms=None):
        execute = self._execute
        version = f"{abi[2]}.{abi[3:]}"  # cp313 → 3.13

        def with_python_version(command, args, *rest, **options):
            if command == "download" and "--abi" in args:
                args = ["--python-version", version, *args]
            return execute(command, args, *rest, **options)

        self._execute = with_python_version
        try:
            return original(self, abi, packages, directory, platforms)
        finally:
            del self._execute

    download_manylinux_wheels.pinned = True
    packager.PipRunner.download_manylinux_wheels = download_manylinux_wheels


class RouteNotFound(LocalGatewayException):
    """No route has this path: 404 `not_found` in the envelope, in the caller's language."""
    CODE = 404


def not_found(headers: dict | None) -> RouteNotFound:
    from chalicelib.api.contract import API_HEADERS
    from chalicelib.api.http import error_body
    from chalicelib.messages import language
    wanted = {name.lower(): value for name, value in (headers or {}).items()}
    body = error_body("not_found", language(wanted.get("accept-language")))
    return RouteNotFound({**API_HEADERS, "Content-Type": "application/json; charset=utf-8"},
                         json.dumps(body, ensure_ascii=False).encode("utf-8"))


def answer_unknown_routes_with_the_envelope() -> None:
    """chalice's emulated gateway (chalice local and chalice.test.Client alike) answers a path
    no route has with 404 `not_found` in the envelope, as every stage must (SPEC 8 v2)."""
    original = LocalGateway.handle_request
    if getattr(original, "envelope", False):
        return

    def handle_request(self, method, path, headers, body):
        try:
            return original(self, method, path, headers, body)
        except ForbiddenError:
            try:  # a route that exists and was refused (an authorizer) stays refused
                self.event_converter._route_matcher.match_route(path.split("?")[0])
            except ValueError:
                raise not_found(headers) from None
            raise

    handle_request.envelope = True
    LocalGateway.handle_request = handle_request


def serve_locally(argv: list[str]) -> int:
    """`chalice local ARGV...` with the local stage's changes (the module docstring)."""
    from chalice import local
    from chalice.cli import main as chalice_main
    local.ThreadedHTTPServer.request_queue_size = LISTEN_BACKLOG
    answer_unknown_routes_with_the_envelope()
    sys.argv = ["chalice", "local", *argv]
    return chalice_main()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "local":
        return serve_locally(argv[1:])
    pin(argv.pop(0))
    from chalice.cli import main as chalice_main
    sys.argv = ["chalice", *argv]
    return chalice_main()


if __name__ == "__main__":
    sys.exit(main())
