"""Browser tests: the pages in a real Chromium (Debian's), against the `make run` stack.

One stack and one Chromium for the whole package. Each test gets fresh browser contexts (a phone
or a desktop), in which axe-core is present on every page through an init script, which a
page's CSP does not apply to, so the flows run under the site's real headers. Every view a
test looks at is checked by axe against WCAG 2.1 A and AA and saved as a screenshot under
test-artifacts/screenshots/. A context that logged a CSP violation, a script error or any
console error other than an API answer the test asked for fails its test.

`make test` installs Chromium (apt) and axe-core (npm ci) first; see the Makefile.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.browser.harness import (
    ACCOUNTS,
    AXE,
    CHROMIUM,
    CHROMIUM_ARGS,
    STACK_SETTINGS,
    Browser,
    Site,
)
from tests.conftest import ROOT
from tests.local_stack_process import RunningStack

# The accounts, created in one child process through the support CLI as the support desk
# would, each password on standard input.
CREATE_ACCOUNTS = """
import io, sys
from chalicelib.admin import run
for line in sys.stdin.read().splitlines():
    username, phone, password = line.split(" ")
    argv = ["--stage", "local", "accounts", "create", username]
    if phone != "-":
        argv += ["--phone", phone]
    if run(argv, stdin=io.StringIO(password + "\\n")) != 0:
        raise SystemExit(f"could not create {username}")
"""


def _require_browser_tools() -> None:
    missing = [str(path) for path in (CHROMIUM, AXE) if not path.exists()]
    if missing:
        pytest.fail("the browser tests need " + " and ".join(missing)
                    + "; `make test` installs them (Debian's chromium and `npm ci --prefix tests/browser`)")


@pytest.fixture(scope="package")  # one stack for tests/browser, gone before the next package
def site():
    _require_browser_tools()
    stack = RunningStack(STACK_SETTINGS)
    try:
        stack.wait_until_ready()
        accounts = "".join(f"{a.username} {a.phone or '-'} {a.password}\n" for a in ACCOUNTS.values())
        created = subprocess.run([sys.executable, "-c", CREATE_ACCOUNTS], input=accounts, text=True, check=False,
                                 capture_output=True, cwd=ROOT, timeout=120,
                                 env={**stack.env, "PWPORTAL_MOTO_PORT": str(stack.moto_port)})
        assert created.returncode == 0, created.stdout + created.stderr
        yield Site(stack)
    finally:
        stack.kill()


@pytest.fixture(scope="package")
def chromium():
    _require_browser_tools()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browsers(chromium):
    """browsers(PHONE) → a fresh Browser; all are closed, and their console checked, after."""
    opened: list[Browser] = []

    def open_browser(device: dict) -> Browser:
        options = {key: value for key, value in device.items() if key != "name"}
        context = chromium.new_context(**options)
        context.add_init_script(path=str(AXE))
        context.set_default_timeout(15_000)
        browser = Browser(context, device["name"])
        opened.append(browser)
        return browser

    yield open_browser
    problems = [problem for browser in opened for problem in browser.problems]
    for browser in opened:
        browser.context.close()
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="package")
def messages():
    """The API's texts (chalicelib/messages.py), for the few answers a test fakes."""
    from chalicelib.messages import text
    return text

