"""SPEC 15 in the browser, on `make run IDP=local` (the local stack with Canaille beside it),
here with PWPORTAL_HOLDER_IDENTITY=required (no typed name; `offered` is the shared stack's,
which pwreset's step 1 shows the same): Anna signs in at Canaille's own login page from pwreg and
becomes a holder of `hemtjanstab` named from her token, then resets its password on pwreset
through the provider without any SMS; Bo, no holder, signs in on pwreset and is told that he
holds no place on the account. Every view is checked by axe."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from infra.identity_provider import PEOPLE
from infra.local_stack import DEMO_PASSWORD, DEMO_PHONE, DEMO_USERNAME, free_port
from tests.browser.harness import (DESKTOP, PHONE, STACK_SETTINGS, Site, check_view, open_site,
                                   ready, shown_step)
from tests.local_stack_process import RunningStack

ANNA, BO = (next(p for p in PEOPLE if p.user_name == name) for name in ("anna.andersson",
                                                                        "bo.berg"))
ANNA_PHONE, ANNA_NATIONAL = "+46709990091", "070-999 00 91"
NEW_PASSWORD = "Sommar-Regn-Tuva7"


@pytest.fixture(scope="module")
def idp_site():
    """The local stack as `make run IDP=local` starts it (the provider on a free port)."""
    stack = RunningStack({**STACK_SETTINGS, "PWPORTAL_IDP": "local",
                          "PWPORTAL_IDP_PORT": str(free_port()),
                          "PWPORTAL_HOLDER_IDENTITY": "required"})
    try:
        stack.wait_until_ready()
        yield Site(stack)
    finally:
        stack.kill()


def provider_sign_in(page, person) -> None:
    """Canaille's own pages, as a person fills them: the login, the password, the consent
    (asked the first time only)."""
    page.wait_for_selector('input[name="login"], input[name="password"]')
    if page.locator('input[name="login"]').count():
        page.fill('input[name="login"]', person.user_name)
        page.locator('input[name="login"]').press("Enter")
    page.fill('input[name="password"]', person.password)
    page.locator('input[name="password"]').press("Enter")
    accept = page.locator('button[name="answer"][value="accept"]')
    page.wait_for_load_state()
    if accept.count():
        accept.click()


def test_anna_becomes_a_proven_holder_then_resets_through_the_provider_and_bo_is_told_no(
        idp_site, browsers):
    site = idp_site
    # -- pwreg: "Lägg till mig" with the work login -------------------------------------
    page = browsers(PHONE).page()
    open_site(page, site.url + "/pwreg/")
    page.get_by_label("Användarnamn").fill(DEMO_USERNAME)
    page.get_by_label("Nuvarande lösenord").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Nästa").click()
    phone_step = shown_step(page, "phone")
    expect(phone_step.locator("#reg-idp")).to_be_visible()
    expect(page.get_by_label("Ditt namn")).to_be_hidden()  # required: no name is typed ...
    expect(page.get_by_label("Ditt mobilnummer")).to_be_hidden()  # ... nor a number, first
    check_view(page, "pwreg-idp-required-sv-phone")
    page.get_by_role("button", name="Logga in med din jobbinloggning").click()
    provider_sign_in(page, ANNA)

    page.wait_for_url(re.compile(r"/pwreg/$"))
    ready(page)
    expect(page.locator("#reg-idp-text")).to_contain_text(
        "Du är inloggad med din jobbinloggning som Anna Andersson")
    expect(page.get_by_label("Ditt namn")).to_be_hidden()  # the name is the provider's
    expect(page.get_by_label("Ditt mobilnummer")).to_be_visible()
    check_view(page, "pwreg-idp-proven-sv-phone")
    seen = site.sms_count(ANNA_PHONE)
    page.get_by_label("Ditt mobilnummer").fill(ANNA_NATIONAL)
    page.get_by_role("button", name="Nästa").click()
    shown_step(page, "code")
    page.get_by_label("Säkerhetskod").fill(site.next_code(ANNA_PHONE, seen))
    page.get_by_role("button", name="Nästa").click()
    done = shown_step(page, "done")
    expect(done.locator("#reg-done-text")).to_contain_text("Anna Andersson")
    holders = site.api("/registration/login", {"username": DEMO_USERNAME,
                                               "password": DEMO_PASSWORD}).json()["holders"]
    assert [(h["name"], h["proven"]) for h in holders if h["proven"]] == [("Anna Andersson", True)]

    # -- pwreset: the third way, no SMS ----------------------------------------------------
    codes_before = site.sms_count(ANNA_PHONE), site.sms_count(DEMO_PHONE)
    page = browsers(DESKTOP).page()
    open_site(page, site.url + "/pwreset/")
    expect(page.locator("#reset-idp")).to_be_visible()
    check_view(page, "pwreset-idp-offered-sv-desktop")
    page.get_by_label("Användarnamn").fill(DEMO_USERNAME)
    page.get_by_role("button", name="Logga in med din jobbinloggning").click()
    provider_sign_in(page, ANNA)
    page.wait_for_url(re.compile(r"/pwreset/$"))
    ready(page)
    password_step = page.locator('[data-step="password"]')
    expect(password_step).to_be_visible()
    expect(password_step).to_contain_text(f"Nytt lösenord för kontot {DEMO_USERNAME}.")
    assert "reset=" not in page.url  # the token left the address bar at once
    page.get_by_label("Nytt lösenord").fill(NEW_PASSWORD)
    page.get_by_label("Skriv lösenordet igen").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Nästa").click()
    shown_step(page, "done")
    assert (site.sms_count(ANNA_PHONE), site.sms_count(DEMO_PHONE)) == codes_before  # no code

    # -- Bo holds no place on the account --------------------------------------------------
    page = browsers(PHONE).page()
    open_site(page, site.url + "/pwreset/")
    page.get_by_label("Användarnamn").fill(DEMO_USERNAME)
    page.get_by_role("button", name="Logga in med din jobbinloggning").click()
    provider_sign_in(page, BO)
    page.wait_for_url(re.compile(r"/pwreset/$"))
    ready(page)
    step = page.locator('[data-step="username"]')
    expect(step).to_be_visible()
    expect(step.locator("[data-alert]")).to_contain_text(
        f"du finns inte med bland dem som kan byta lösenordet för {DEMO_USERNAME}")
    check_view(page, "pwreset-idp-not-a-holder-sv-phone")
