"""The support console (SPEC 14, issue 23) in Chromium, on the `make run IDP=local` stack: the
agent signs in through Canaille's own pages, finds the demo account, verifies the caller with
the code that reached the holder's number, lifts a login lock and sends a reset link, with
which the holder sets a new password on pwreset; a care worker is refused; "Logga ut" ends
the session. axe checks every view of the console, and the pictures of docs/operations.md
are drawn here."""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import requests
from playwright.sync_api import expect

from chalicelib.admin import REASONS
from chalicelib.domain.events import EVENTS
from chalicelib.services.support.monthly import OUTCOMES
from infra.identity_provider import PEOPLE
from infra.local_stack import DEMO_PASSWORD, DEMO_PHONE, DEMO_USERNAME
from infra.site_build import load_texts
from tests.browser.harness import (
    DESKTOP,
    DOCS_SCREENSHOTS,
    PHONE,
    SMS_TIMEOUT,
    check_view,
    docs_screenshot,
    ready,
    shown_step,
)
from tests.conftest import ROOT

AGENT = next(person for person in PEOPLE if person.groups)
CARE_WORKER = next(person for person in PEOPLE if person.user_name == "anna.andersson")
CONSOLE = ROOT / "static_site" / "support"
MASKED = "070-*** ** 67"  # the demo holder's number as the console shows it (as the CLI does)
NEW_PASSWORD = "Sommar-Regn-2027"
COLLEAGUE, COLLEAGUE_PHONE = "Bo Berg", "+46701110099"  # a number no other browser test uses
SWEDISH = {**DESKTOP, "locale": "sv-SE"}  # Accept-Language sv: the API's own pages in Swedish


# -- what the holder's phone received ----------------------------------------------------------

def sms_to(site, number: str) -> list[str]:
    sent = site.http.get(site.url + "/dev/sms", timeout=5)
    assert sent.status_code == 200, sent.text
    return [message["text"] for message in sent.json()["messages"] if message["to"] == number]


def next_sms(site, number: str, seen: int) -> str:
    """The first SMS to `number` after the `seen` already there (the worker delivers
    asynchronously, so this waits for it)."""
    deadline = time.monotonic() + SMS_TIMEOUT
    while time.monotonic() < deadline:
        texts = sms_to(site, number)
        if len(texts) > seen:
            return texts[seen]
        time.sleep(0.2)
    raise AssertionError(f"no SMS reached {number} within {SMS_TIMEOUT} s:\n{site.stack.output[-3000:]}")


def sms_after(site, number: str, seen: int, wanted) -> list[str]:
    """The SMS to `number` after the `seen` already there, once `wanted(texts)` holds."""
    deadline = time.monotonic() + SMS_TIMEOUT
    while time.monotonic() < deadline:
        texts = sms_to(site, number)[seen:]
        if wanted(texts):
            return texts
        time.sleep(0.2)
    raise AssertionError(f"not the SMS expected to {number} within {SMS_TIMEOUT} s: {sms_to(site, number)[seen:]}")


def code_in(text: str) -> str:
    found = re.search(r"#(\d{4,8})\b", text) or re.search(r"(?<![\d:])(\d{6})(?![\d:])", text)
    assert found, f"no code in the SMS {text!r}"
    return found.group(1)


def docs_part(page, name: str, top: str, bottom: str) -> None:
    """A picture for docs/screenshots/ of the part of the console from the top of `top` to the
    bottom of `bottom` (the whole page, with 50 events and a month's report, is too long to
    show), at CSS pixels; `make screenshots` copies it to docs/."""
    edges = page.evaluate("""([top, bottom]) => [
        document.querySelector(top).getBoundingClientRect().top + scrollY,
        document.querySelector(bottom).getBoundingClientRect().bottom + scrollY]""", [top, bottom])
    DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"]
    page.screenshot(path=str(DOCS_SCREENSHOTS / f"{name}.png"), full_page=True, scale="css", animations="disabled",
                    caret="hide", clip={"x": 0, "y": max(0, edges[0] - 16), "width": width,
                                        "height": edges[1] - edges[0] + 24})


# -- the provider's own pages ------------------------------------------------------------------

def sign_in(page, site, person) -> None:
    """From the console's "Logga in" through Canaille's login, password and consent pages."""
    page.goto(site.url + "/support/")
    ready(page)
    page.get_by_role("link", name="Logga in").click()
    page.get_by_label("Login").fill(person.user_name)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("textbox", name="Password").fill(person.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    if not page.url.startswith(site.url):  # consent is asked once per person
        page.get_by_role("button", name="Accept").click()
    page.wait_for_url(re.compile(re.escape(site.url) + r"/(support/|api/support/callback)"))


def console_cookie(browser) -> str:
    return next(c["value"] for c in browser.context.cookies() if c["name"] == "pwportal_support")


def lock_the_login(site, username: str) -> None:
    """Five wrong passwords on pwreg, as a forgetful colleague makes them: the login lock."""
    for _ in range(5):
        answer = site.api("/registration/login", {"username": username, "password": "inte-rätt-2026"})
        assert answer.status_code in (401, 429), answer.text
    locked = site.api("/registration/login", {"username": username, "password": DEMO_PASSWORD})
    assert locked.status_code == 429, locked.text


# -- the Done-when test ------------------------------------------------------------------------

def test_an_agent_verifies_the_caller_lifts_a_lock_and_sends_a_reset_link_the_holder_uses(site, browsers):
    assert f"support console  {site.url}/support/" in site.stack.output  # as `make run IDP=local` prints it
    lock_the_login(site, DEMO_USERNAME)
    agent = browsers(SWEDISH)
    page = agent.page()

    # Signed out: the console says what it is and how to sign in.
    page.goto(site.url + "/support/")
    ready(page)
    signed_out = page.locator('[data-view="signed-out"]')
    expect(signed_out.locator("h1")).to_have_text("Supportkonsolen")
    expect(page.locator('[data-view="console"]')).to_be_hidden()
    check_view(page, "support-signed-out-sv-desktop")
    docs_screenshot(page, "support-1-signed-out")

    sign_in(page, site, AGENT)
    ready(page)
    expect(page.locator("#agent")).to_have_text(f"Inloggad: {AGENT.name}")
    expect(page.get_by_role("button", name="Logga ut")).to_be_visible()

    # Find the account: its state in words, the lock among it, the actions closed.
    page.get_by_label("Användarnamn").fill(DEMO_USERNAME)
    page.get_by_role("button", name="Visa kontot").click()
    account = page.locator("#account")
    expect(account.locator("#account-heading")).to_have_text(f"Kontot {DEMO_USERNAME}")
    expect(account.locator("#account-heading")).to_be_focused()
    expect(account.locator("#state")).to_contain_text("Spärrad till")
    expect(account.locator("#holders li")).to_have_count(1)
    expect(account.locator("#holders")).to_contain_text(MASKED)
    expect(account.locator("#events")).to_contain_text("Inloggningen spärrades")
    expect(page.locator("#actions-locked")).to_be_visible()
    for name in ("Häv spärr och paus", "Stäng av kontot"):
        expect(page.get_by_role("button", name=name)).to_be_disabled()
    expect(page.locator("#reset-link")).to_be_disabled()
    check_view(page, "support-account-sv-desktop")
    docs_part(page, "support-2-account", ".site-header", "#holders")

    # Verify the caller: the code goes to the holder's number, the caller reads it out.
    seen = len(sms_to(site, DEMO_PHONE))
    page.get_by_label("Kod på sms till personens nummer").check()
    page.get_by_role("button", name="Fortsätt").click()
    expect(page.locator("#verify-sent")).to_contain_text(MASKED)
    code = code_in(next(t for t in sms_after(site, DEMO_PHONE, seen, lambda texts: any(
        "Supportens kod" in t for t in texts)) if "Supportens kod" in t))
    page.get_by_label("Koden som personen läser upp").fill(code)
    page.get_by_role("button", name="Verifiera").click()
    verified = page.locator("#verified")
    expect(verified).to_contain_text(re.compile(rf"Verifierad: du \({AGENT.name}\) agerar för .+ till \d\d:\d\d\."))
    expect(page.locator("#actions-locked")).to_be_hidden()
    expect(page.locator("#actions-heading")).to_be_focused()
    check_view(page, "support-verified-sv-desktop")
    docs_part(page, "support-3-verified", "#account-heading", "#disable")

    # Lift the lock: the login works again, and the holder is told who did it.
    seen = len(sms_to(site, DEMO_PHONE))
    page.get_by_role("button", name="Häv spärr och paus").click()
    expect(page.locator("#actions-notice")).to_contain_text("spärren av inloggningen")
    expect(account.locator("#state")).to_contain_text("Inte spärrad")
    sms_after(site, DEMO_PHONE, seen, lambda texts: any(AGENT.name in text for text in texts))
    opened = site.api("/registration/login", {"username": DEMO_USERNAME, "password": DEMO_PASSWORD})
    assert opened.status_code == 200, opened.text

    # Add a colleague on the unit manager's word: their number proven by the code they read out.
    seen_new = len(sms_to(site, COLLEAGUE_PHONE))
    page.get_by_label("Personens namn").fill(COLLEAGUE)
    page.get_by_label("Personens mobilnummer").fill("070-111 00 99")
    page.get_by_role("button", name="Skicka kod till numret").click()
    expect(page.locator("#add-sent")).to_contain_text("En kod har skickats till")
    page.get_by_label("Koden som den nya personen läser upp").fill(code_in(next_sms(site, COLLEAGUE_PHONE, seen_new)))
    page.get_by_role("button", name="Lägg till personen").click()
    expect(page.locator("#actions-notice")).to_contain_text(f"{COLLEAGUE} är tillagd")
    expect(account.locator("#holders li")).to_have_count(2)

    # Send a reset link: to the verified holder's own number; the other holder is told who sent it.
    seen = len(sms_to(site, DEMO_PHONE))
    seen_new = len(sms_to(site, COLLEAGUE_PHONE))
    page.locator("#reset-link").click()
    expect(page.locator("#actions-notice")).to_contain_text(f"Länken har skickats till {MASKED}")
    # the notice of the colleague's adding may reach the number first: the link is the one
    # SMS that carries one
    texts = sms_after(site, DEMO_PHONE, seen, lambda texts: any("/pwreset/#reset=" in t
                                                               for t in texts))
    link = re.search(r"https?://\S+/pwreset/#reset=\S+",
                     next(t for t in texts if "/pwreset/#reset=" in t))
    assert link, sms_to(site, DEMO_PHONE)[seen:]
    sms_after(site, COLLEAGUE_PHONE, seen_new,
              lambda texts: any(AGENT.name in text and "länk" in text for text in texts))
    assert f"u={DEMO_USERNAME}" in link.group(0)
    expect(account.locator("#events")).to_contain_text(AGENT.name)

    # The holder opens the link on their phone and sets a new password; the link is then spent.
    holder = browsers(PHONE).page()
    holder.goto(link.group(0))
    ready(holder)
    step = holder.locator('[data-step="password"]')  # at once, as a page first opened (no focus moved)
    expect(step).to_be_visible()
    assert "#" not in holder.url and "reset=" not in holder.url, holder.url
    expect(step).to_contain_text(f"Nytt lösenord för kontot {DEMO_USERNAME}.")
    holder.get_by_label("Nytt lösenord", exact=True).fill(NEW_PASSWORD)
    holder.get_by_label("Skriv lösenordet igen").fill(NEW_PASSWORD)
    holder.get_by_role("button", name="Nästa").click()
    shown_step(holder, "done")
    changed = site.api("/registration/login", {"username": DEMO_USERNAME, "password": NEW_PASSWORD})
    assert changed.status_code == 200, changed.text
    holder.goto(link.group(0))
    ready(holder)
    expect(step).to_be_visible()
    holder.get_by_label("Nytt lösenord", exact=True).fill(NEW_PASSWORD + "x")
    holder.get_by_label("Skriv lösenordet igen").fill(NEW_PASSWORD + "x")
    holder.get_by_role("button", name="Nästa").click()
    expect(holder.locator('[data-step="password"] [data-alert]')).to_contain_text(
        "Tiden för att byta lösenord har gått ut.")

    # The month's report, shown and as CSV, without another verification.
    page.get_by_role("button", name="Visa rapporten").click()
    report = page.locator("#report")
    expect(report.locator("#report-title")).to_be_focused()
    csv_link = page.get_by_role("link", name="Ladda ned rapporten som CSV")
    expect(csv_link).to_have_attribute(
        "href", re.compile(r"/api/support/accounts/hemtjanstab/report\?month=\d{4}-\d{2}&format=csv$"))
    check_view(page, "support-report-sv-desktop")
    docs_part(page, "support-4-report", "#report-heading", "#report-csv")
    csv = page.request.get(site.url + csv_link.get_attribute("href"))
    assert csv.status == 200 and csv.headers["content-type"].startswith("text/csv"), csv.headers

    # Readable on a phone: nothing wider than the screen but the tables, which scroll.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    check_view(page, "support-report-sv-390px")

    # "Logga ut" ends the session: the same cookie is refused after.
    cookie = console_cookie(agent)
    page.get_by_role("button", name="Logga ut").click()
    expect(signed_out.locator("#signed-out-notice")).to_have_text("Du är utloggad.")
    expect(page.get_by_role("link", name="Logga in")).to_be_visible()
    after = requests.get(site.url + "/api/support/me", headers={"Cookie": f"pwportal_support={cookie}"}, timeout=10)
    assert after.status_code == 401, after.text
    assert after.json()["error"]["code"] == "not_signed_in"


def cli(site, *argv: str, stdin: str = "") -> None:
    """The support CLI against the running stack, as the desk would run it."""
    done = subprocess.run([sys.executable, "-m", "chalicelib.admin", "--stage", "local", *argv], input=stdin,
                          text=True, capture_output=True, cwd=ROOT, timeout=60, check=False,
                          env={**site.stack.env, "PWPORTAL_MOTO_PORT": str(site.stack.moto_port)})
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_wrong_code_says_the_tries_left_and_disable_enable_and_remove_ask_first(site, browsers):
    username, first, second = "hemvard.konsol", ("Cecilia Ek", "+46701110022"), ("Dan Ek", "+46701110023")
    cli(site, "accounts", "create", username, "--phone", first[1], "--name", first[0], stdin="tuvKAJ58!x\n")
    cli(site, "holders", "add", username, *second)
    agent = browsers(SWEDISH)
    page = agent.page()
    sign_in(page, site, AGENT)
    ready(page)
    page.get_by_label("Användarnamn").fill("finns.inte")
    page.get_by_role("button", name="Visa kontot").click()
    expect(page.locator("#find-username-error")).to_have_text("Det finns inget konto med användarnamnet finns.inte.")
    page.get_by_label("Användarnamn").fill(username)
    page.get_by_role("button", name="Visa kontot").click()
    account = page.locator("#account")
    expect(account.locator("#holders li")).to_have_count(2)
    expect(page.locator("#find-username-error")).to_be_hidden()

    # The caller says they are Dan: the code goes to Dan's number; a wrong one says the tries left.
    seen = len(sms_to(site, second[1]))
    page.get_by_label(f"{second[0]}, 070-*** ** 23").check()
    expect(page.get_by_label("Kod från personens autentiseringsapp")).to_be_disabled()  # Dan has no app
    page.get_by_role("button", name="Fortsätt").click()
    code = code_in(next_sms(site, second[1], seen))
    page.get_by_label("Koden som personen läser upp").fill("000000" if code != "000000" else "111111")
    page.get_by_role("button", name="Verifiera").click()
    expect(page.locator("#verify-code-error")).to_have_text(re.compile(r"Fel kod\. \d försök kvar\."))
    expect(page.locator("#actions-locked")).to_be_visible()
    page.get_by_label("Koden som personen läser upp").fill(code)
    page.get_by_role("button", name="Verifiera").click()
    expect(page.locator("#verified")).to_contain_text(f"agerar för {second[0]} till")

    # Disabling asks first: No leaves the account as it was, Yes disables it.
    page.get_by_role("button", name="Stäng av kontot").click()
    question = page.locator("#confirm-question")
    expect(question).to_be_focused()
    expect(question).to_contain_text(f"Stänga av kontot {username}?")
    page.get_by_role("button", name="Nej, avbryt").click()
    expect(page.locator("#confirm")).to_be_hidden()
    expect(page.locator("#account-status")).to_have_text("Kontot är aktivt.")
    seen = len(sms_to(site, first[1]))
    page.get_by_role("button", name="Stäng av kontot").click()
    page.get_by_role("button", name="Ja, gör det").click()
    expect(page.locator("#account-status")).to_contain_text("Kontot är avstängt")
    expect(page.locator("#actions-notice")).to_contain_text("Kontot är avstängt.")
    sms_after(site, first[1], seen, lambda texts: any(AGENT.name in text for text in texts))

    # A disabled account takes no reset link: the API's refusal is said; enabling needs no question.
    page.locator("#reset-link").click()
    expect(page.locator("#actions-alert")).to_contain_text("Kontot är avstängt.")
    page.get_by_role("button", name="Aktivera kontot").click()
    expect(page.locator("#account-status")).to_have_text("Kontot är aktivt.")

    # Cecilia has left the unit: removed after the question.
    page.get_by_role("button", name=f"Ta bort {first[0]}").click()
    expect(page.locator("#confirm-question")).to_contain_text(f"Ta bort {first[0]} från kontot?")
    page.get_by_role("button", name="Ja, gör det").click()
    expect(page.locator("#actions-notice")).to_contain_text(f"{first[0]} är borttagen från kontot.")
    expect(account.locator("#holders li")).to_have_count(1)
    expect(account.locator("#events")).to_contain_text("Person borttagen")

    # A reload shows the same account, still verified (the API keeps the verification).
    page.reload()
    ready(page)
    expect(page.locator("#account-heading")).to_have_text(f"Kontot {username}")
    expect(page.locator("#verified")).to_contain_text(f"agerar för {second[0]} till")

    # In English, the same account in the other language.
    page.get_by_role("button", name="In English").click()
    expect(page.locator("#account-heading")).to_have_text(f"The account {username}")
    expect(page.locator("#verified")).to_contain_text(f"Verified: you ({AGENT.name}) act for {second[0]} until")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(account.locator("#events")).to_contain_text("Person removed")
    check_view(page, "support-account-en-desktop")


def test_a_care_worker_who_signs_in_is_refused_the_console(site, browsers):
    page = browsers(SWEDISH).page()
    sign_in(page, site, CARE_WORKER)
    expect(page.locator("body")).to_contain_text("Du är inloggad, men du är inte supporthandläggare")
    refused = page.request.get(site.url + "/api/support/me")
    assert refused.status == 401, refused.text()


def test_every_text_the_console_names_is_there_in_swedish_and_english():
    sv, en = load_texts("sv", CONSOLE / "texts"), load_texts("en", CONSOLE / "texts")
    assert sorted(sv) == sorted(en)
    shared = load_texts("sv")
    named = set()
    for source in (CONSOLE / "index.html", CONSOLE / "console.js"):
        text = Path(source).read_text(encoding="utf-8")
        named |= set(re.findall(r'data-t="([^"]+)"', text))
        named |= set(re.findall(r'"((?:console|site|error)\.[\w.]+)"', text))
    prefixes = {key for key in named if any(text.startswith(key + ".") for text in sv)}  # word(prefix, value)
    assert not sorted(named - prefixes - set(sv) - set(shared)), sorted(named - prefixes - set(sv) - set(shared))
    # every event and every reason the API may name has its words
    assert not [event for event in EVENTS if f"console.event.{event}" not in sv]
    assert not [reason for reason in REASONS if f"console.reason.{reason}" not in sv]
    assert not [outcome for outcome in OUTCOMES if f"console.outcome.{outcome}" not in sv]


def test_the_built_console_page_reads_whole_in_swedish_before_its_script_runs(tmp_path):
    """The site build writes the console's own texts into its page beside the shared ones
    (infra/site_build.py page_texts); the portals' pages get none of them."""
    from chalicelib.settings import Settings
    from infra.site_build import build_site

    site = build_site(Settings(), tmp_path / "site")
    page = (site / "support" / "index.html").read_text(encoding="utf-8")
    assert not re.findall(r'data-t="([^"]+)"[^>]*></', page)  # every text element has its text
    assert "<title data-t=\"console.name\">Supportkonsolen</title>" in page
    assert '<a class="button" id="sign-in" href="/api/support/login" data-t="console.signIn">Logga in</a>' in page
    assert not re.search(r"\{\w+\}", re.sub(r"data-t-params='[^']*'", "", page))
    assert "console." not in (site / "assets" / "texts" / "sv.js").read_text(encoding="utf-8")
