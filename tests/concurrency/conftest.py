"""One single-threaded moto server and one app server for the whole module: each test
works on its own usernames and numbers, so they never see each other's limits or SMS."""
import pytest

from tests.concurrency.stack import start_stack, stop_stack


@pytest.fixture(scope="module")
def stack():
    with pytest.MonkeyPatch.context() as monkeypatch:
        running = start_stack(monkeypatch)
        try:
            yield running
        finally:
            stop_stack(running)
