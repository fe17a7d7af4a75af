"""What the browser tests share: the stack's settings and accounts, the Site (URL, SMS,
embedded AWS), a Browser (one user's context with its console watched), and check_view (axe
and a screenshot of what is shown)."""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
import requests
from playwright.sync_api import expect

from tests import app_codes
from tests.conftest import ROOT
from tests.local_stack_process import RunningStack

CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
# The few pictures of the flows that docs/ shows, drawn again by every run (so that they stay
# true) beside the others, never over tracked files: `make screenshots` copies them to
# docs/screenshots/.
DOCS_SCREENSHOTS = ROOT / "test-artifacts" / "docs-screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SMS_TIMEOUT = 20
expect.set_options(timeout=15_000)  # an API call under a busy CI machine, not a user's wait

PHONE = {"name": "phone", "viewport": {"width": 360, "height": 740}, "is_mobile": True,
         "has_touch": True, "device_scale_factor": 2}
DESKTOP = {"name": "desktop", "viewport": {"width": 1280, "height": 800}}

ORGANISATION = {
    "ORGANISATION_NAME": "Exempelby kommun",
    "ORGANISATION_LOGO": "tests/browser/exempelby-logo.svg",
    "STATEMENT_CHECKED_ON": "2026-10-07",
    "SUPPORT_CHANNELS": json.dumps([
        {"phone": "2000", "sv": "internt kortnummer, knappval 3 och 1",
         "en": "internal short number, then options 3 and 1"},
        {"phone": "019-765 43 21", "sv": "från en privat telefon", "en": "from a private phone"},
        {"email": "vardochstod@orebro.se"},
        {"sv": "ett meddelande i Treserva", "en": "a message in Treserva"}], ensure_ascii=False),
}
SUPPORT_SV = ("2000 (internt kortnummer, knappval 3 och 1), 019-765 43 21 (från en privat telefon), "
              "vardochstod@orebro.se eller ett meddelande i Treserva")
SUPPORT_EN = ("2000 (internal short number, then options 3 and 1), 019-765 43 21 (from a private phone), "
              "vardochstod@orebro.se or a message in Treserva")

# What makes the flows testable in seconds rather than minutes: a resend after 3 s instead
# of 60, and limits that the many logins and codes of one run from 127.0.0.1 stay under.
# The login lock (5 failures per 15 min) stays as shipped: a test proves it.
STACK_SETTINGS = {
    "PWPORTAL_CODE_RESEND_AFTER_SECONDS": "3",
    "PWPORTAL_LIMIT_SMS_PER_NUMBER": "20/60,40/900,80/86400",
    "PWPORTAL_LIMIT_SMS_PER_FLOW": "20/60",
    "PWPORTAL_LIMIT_VERIFIES_PER_NETWORK": "1000/3600",
    "PWPORTAL_LIMIT_RESENDS_PER_NETWORK": "1000/3600",
    "PWPORTAL_LIMIT_LOGINS_PER_IP": "1000/3600",
    "PWPORTAL_LIMIT_RESET_STARTS_PER_IP": "1000/3600",
    # The support console's sign-in (SPEC 14, 15): the real provider, as `make run IDP=local`
    # starts it, on a port the OS picks.
    "PWPORTAL_IDP": "local",
    # An organisation of the tests' own, so that what the pages show is seen to come from the
    # configuration: its name, its logo, its channels (an external number among them).
    **{f"PWPORTAL_{name}": value for name, value in ORGANISATION.items()},
}
PASSWORD = "tuvKAJ58!x"  # every test account's first password


@dataclass(frozen=True)
class Account:
    username: str
    phone: str | None  # E.164; None: no number registered
    password: str = PASSWORD


# One account per test, so that no test meets another's limits or changed password.
ACCOUNTS = {
    "reset_phone_sv": Account("brevlada.telefon", "+46701110001"),
    "reset_desktop_en": Account("brevlada.dator", "+46701110002"),
    "reset_reload": Account("brevlada.omladdning", "+46701110003"),
    "reset_attempts": Account("brevlada.forsok", "+46701110004"),
    "reset_keyboard": Account("brevlada.tangentbord", "+46701110009"),
    "reg_phone_en": Account("hemvard.telefon", "+46701110005"),
    "reg_desktop_sv": Account("hemvard.dator", None),
    "reg_locked": Account("hemvard.last", "+46701110007"),
    "reg_session": Account("hemvard.session", "+46701110008"),
    "reset_late": Account("brevlada.sent", "+46701110010"),
    "reg_late": Account("hemvard.sent", "+46701110011"),
    "reg_then_reset": Account("hemvard.vidare", None),
    "reg_holders": Account("hemvard.personer", "+46701110013"),
    "reg_app": Account("hemvard.app", "+46701110016"),
    "reset_app_en": Account("brevlada.app", "+46701110017"),
    "reg_app_en": Account("hemvard.appen", None),
    "reset_app_remembered": Account("brevlada.minne", "+46701110019"),
    "reg_its_me": Account("hemvard.jag", "+46701110020"),
    "reg_five": Account("hemvard.fem", None),
    "reset_unlock": Account("brevlada.upplast", "+46701110021"),
}

class Site:
    """The running stack as the tests see it: its URL, the SMS it sent, its embedded AWS."""

    def __init__(self, stack: RunningStack):
        self.stack = stack
        self.url = stack.url
        self.http = requests.Session()
        self.http.trust_env = False  # a proxy from the environment must not see loopback

    def codes_sent_to(self, number: str) -> list[str]:
        sent = self.http.get(self.url + "/dev/sms", timeout=5)
        assert sent.status_code == 200, sent.text
        return [match.group(1) for message in sent.json()["messages"] if message["to"] == number
                for match in [re.search(r"#(\d{6})\b", message["text"])] if match]

    def sms_count(self, number: str) -> int:
        return len(self.codes_sent_to(number))

    def next_code(self, number: str, seen: int) -> str:
        """The code of the first SMS to `number` after the `seen` already there (the worker
        delivers asynchronously, so this waits for it)."""
        deadline = time.monotonic() + SMS_TIMEOUT
        while time.monotonic() < deadline:
            codes = self.codes_sent_to(number)
            if len(codes) > seen:
                return codes[seen]
            time.sleep(0.2)
        pytest.fail(f"no code reached {number} within {SMS_TIMEOUT} s:\n{self.stack.output[-3000:]}")

    def api(self, path: str, body: dict, session: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {session}"} if session else {}
        return self.http.post(f"{self.url}/api{path}", json=body, headers=headers, timeout=15)

    def error(self, messages, code: str, lang: str, **fields) -> dict:
        """An error envelope as the API writes it, for an answer a test fakes (SPEC 8)."""
        support = self.http.get(self.url + "/api/config", headers={"Accept-Language": lang},
                                timeout=5).json()["support"]["text"]
        params = {**fields, "minutes": -(-fields.get("retry_after", 60) // 60)}
        message = messages(code, lang, **params) + " " + messages("support", lang, support=support)
        return {"error": {"code": code, "message": message, "support": support, **fields}}

    def set_password_expiry(self, username: str, expires_at: str) -> None:
        """Move an account's password expiry (ISO 8601 UTC), as if it had been set long ago."""
        dynamodb = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{self.stack.moto_port}",
                                region_name="eu-north-1", aws_access_key_id="local",
                                aws_secret_access_key="local")
        dynamodb.update_item(
            TableName="pwportal-local-accounts", Key={"username": {"S": username}},
            UpdateExpression="SET password_expires_at = :at, expires_on = :day",
            ExpressionAttributeValues={":at": {"S": expires_at}, ":day": {"S": expires_at[:10]}})


# -- a browser as a user has it ----------------------------------------------------------------

# Chromium logs every non-2xx fetch as a console error; the API's 4xx answers (and the network
# failure a test provokes) are part of the flows and are checked on the page instead.
EXPECTED_CONSOLE = re.compile(r"^Failed to load resource: (the server responded with a status of "
                              r"(4\d\d|503)|net::ERR_FAILED)")


@dataclass
class Browser:
    """One user's browser: a context of one size, its pages' console, and the views seen."""

    context: object
    device: str
    problems: list[str] = field(default_factory=list)

    def page(self):
        page = self.context.new_page()
        page.on("console", lambda message: self._console(message))
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        return page

    def _console(self, message) -> None:
        if message.type == "error" and not EXPECTED_CONSOLE.match(message.text):
            self.problems.append(f"console error: {message.text}")
        if "Content Security Policy" in message.text:
            self.problems.append(f"CSP: {message.text}")


def ready(page) -> None:
    """Wait until the page has its texts and config (page.js marks <body data-ready>)."""
    page.wait_for_selector("body[data-ready]", state="attached")


def check_view(page, name: str) -> None:
    """axe: no WCAG 2.1 A/AA violation on what is shown; and a screenshot of it."""
    result = page.evaluate("""(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags},
                                                           resultTypes: ['violations']})""",
                           WCAG_TAGS)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    violations = [f"{v['id']} ({v['impact']}): {v['help']} at "
                  + ", ".join(" ".join(node["target"]) for node in v["nodes"][:5])
                  for v in result["violations"]]
    assert not violations, f"axe on {name}:\n" + "\n".join(violations)




def docs_screenshot(page, name: str) -> None:
    """A picture for docs/screenshots/ (phone size, at CSS pixels to stay small), written to
    test-artifacts/docs-screenshots/; `make screenshots` copies it to docs/."""
    DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_SCREENSHOTS / f"{name}.png"), full_page=True, scale="css",
                    animations="disabled", caret="hide")


def shown_step(page, name: str):
    """The step now on screen, with the focus on its heading (as after every step change)."""
    section = page.locator(f'[data-step="{name}"]')
    expect(section).to_be_visible()
    expect(section.locator("h1")).to_be_focused()
    return section


def open_site(page, url: str) -> None:
    page.goto(url)
    ready(page)


def app_code(key: str, after_step: int | None = None) -> tuple[str, int]:
    """A code an authenticator app shows for `key` (the grouped text the page shows), as
    Microsoft Authenticator makes it, and its time step. With `after_step`: from a later step
    (the server never accepts a step again: no replay). No new step is waited for while the
    server's window has one (tests/app_codes.py)."""
    return app_codes.app_code(key.replace(" ", ""), after_step)
