"""A moto server that handles ONE request at a time: moto's own WSGI app under werkzeug with
threaded=False, on 127.0.0.1 and a port the system picks. Run as a separate process
(`python -m tests.concurrency.single_moto`), it prints `READY <port>` once it listens.

DynamoDB, SQS and SNS then serialise every call, as each real service does per item; so any
race the concurrency tests find is pwportal's, not the fake's.
"""
from __future__ import annotations

import logging
import sys

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server


def main() -> int:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", 0, app, threaded=False,
                         request_handler=MotoRequestHandler)
    assert not server.multithread and not server.multiprocess
    print(f"READY {server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
