import pytest
import requests


@pytest.fixture(scope="module")
def http():
    """An HTTP session for a test module's stack on loopback."""
    with requests.Session() as session:
        session.trust_env = False  # a proxy from the environment must not see loopback calls
        yield session
