"""The admin CLI when it cannot reach AWS (issue 13, point 7): it says which endpoint it
could not reach, without anything a URL may carry besides, and on the local stage how to
point it at a stack on other ports."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT, stage_environment
from tests.ports import unanswered_port


def admin(env, *args):
    return subprocess.run([sys.executable, "-m", "chalicelib.admin", "--stage", "local", *args],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)


def environment(**values) -> dict:
    env = {**os.environ, **stage_environment(), "AWS_ACCESS_KEY_ID": "local",
           "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "eu-north-1", **values}
    if "AWS_ENDPOINT_URL" not in values:
        env.pop("AWS_ENDPOINT_URL", None)
    return env


def test_a_stack_that_is_not_running_is_named_with_its_port_and_the_setting():
    with unanswered_port() as port:
        result = admin(environment(PWPORTAL_MOTO_PORT=str(port)), "accounts", "show",
                       "hemtjanstab")
    assert result.returncode == 1
    assert result.stderr.startswith("error: service_unavailable: ")
    assert f"Could not reach http://127.0.0.1:{port}/." in result.stderr
    assert "PWPORTAL_MOTO_PORT" in result.stderr and f"(now {port})" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_endpoint_is_named_without_credentials_or_query():
    with unanswered_port() as port:
        url = f"http://svc-admin:s3cret-word@127.0.0.1:{port}/?token=abc123#frag"
        result = admin(environment(AWS_ENDPOINT_URL=url), "accounts", "list")
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr
    for secret in ("svc-admin", "s3cret-word", "abc123", "frag"):
        assert secret not in result.stderr, result.stderr
