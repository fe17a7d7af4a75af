"""What a new user met (issue 13): the organisation named on every page, pages that read
without JavaScript and say the same with it, no layout shift on load, the layout on a phone,
and pwreg's done page leading into pwreset with the username carried over."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.harness import (
    ACCOUNTS,
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    SUPPORT_SV,
    docs_screenshot,
    open_site,
    ready,
    shown_step,
)

PAGES = {"/": "Lösenordsportalen", "/pwreg/": "Steg 1 av 4 Logga in med kontots lösenord",
         "/pwreset/": "Steg 1 av 4 Vilket konto gäller det?", "/tillganglighet/": "Tillgänglighets\u00adredogörelse",
         "/finns-inte/": "Sidan finns inte"}

# The texts a reader gets: every element drawn from a text key, the organisation and the
# support line; not what is inside <noscript> (parsed as markup only without JavaScript).
READ_TEXTS = """() => [...document.querySelectorAll('[data-t], [data-organisation], [data-support-line], [data-support-channels]')]
    .filter((element) => !element.closest('noscript') && element.tagName !== 'TITLE')
    .map((element) => [element.dataset.t || Object.keys(element.dataset).join(), element.textContent])"""

# Cumulative layout shift, as Lighthouse counts it: every shift not caused by the user's input.
CLS_OBSERVER = """window.__cls = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) if (!entry.hadRecentInput) window.__cls += entry.value;
}).observe({type: 'layout-shift', buffered: true});"""
SETTLED_CLS = """() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(
    () => setTimeout(() => resolve(window.__cls), 300))))"""


def test_every_page_reads_whole_in_swedish_without_javascript_and_the_flows_say_they_need_it(site, browsers):
    page = browsers({**PHONE, "java_script_enabled": False}).page()
    for path, heading in PAGES.items():
        page.goto(site.url + path)
        expect(page.locator("h1:visible")).to_have_text(heading)
        expect(page.locator(".site-header .brand")).to_have_text("Exempelby kommun Lösenordsportalen")
        expect(page.locator(".site-header img.logo")).to_have_attribute("src", "/assets/logo.svg")
        expect(page.locator("#support")).to_have_text(f"Behöver du hjälp? Kontakta support: {SUPPORT_SV}.")
        assert page.locator('meta[name="description"]').get_attribute("content").strip(), path
    page.goto(site.url + "/tillganglighet/")
    statement = page.locator("main")
    expect(statement).to_contain_text("Exempelby kommun står bakom den här webbplatsen")
    expect(statement).to_contain_text("Exempelby kommun har åtagit sig")
    expect(statement).to_contain_text("Senaste bedömningen gjordes den 7 oktober 2026.")
    expect(statement.locator("[data-support-channels] li")).to_have_count(4)
    page.goto(site.url + "/")
    expect(page.locator("main")).to_contain_text("Registrera eller byt mobilnummer")
    for path in ("/pwreg/", "/pwreset/"):
        page.goto(site.url + path)
        # (Playwright's text locators skip <noscript>: its box and text are read directly)
        notice = page.locator("main noscript p")
        assert notice.bounding_box()["height"] > 0, path
        assert notice.text_content().startswith("Den här sidan behöver JavaScript för att fungera."), path
        expect(page.locator("form input:visible").first).to_be_disabled()  # nothing sent without it
        expect(page.locator("section[data-step]:visible")).to_have_count(1)
    # (no axe here: it is a script; the same page with JavaScript is checked everywhere else)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "pwreset-1-username-no-javascript-sv-phone.png"), full_page=True)


def test_the_swedish_pages_say_the_same_with_and_without_javascript(site, browsers):
    """The HTML is written from texts/sv.js and the configuration at build time; the scripts
    draw the same texts from the same sources: any drift between them shows here."""
    without = browsers({**DESKTOP, "java_script_enabled": False}).page()
    with_script = browsers(DESKTOP).page()
    for path in PAGES:
        without.goto(site.url + path)
        open_site(with_script, site.url + path)
        written, drawn = without.evaluate(READ_TEXTS), with_script.evaluate(READ_TEXTS)
        assert len(written) > 5, path
        assert written == drawn, path
        assert without.title() == with_script.title() or path in ("/pwreg/", "/pwreset/")


def test_no_page_shifts_its_layout_while_it_loads_on_a_phone_or_a_desktop(site, browsers):
    figures = {}
    for device in (PHONE, DESKTOP):
        browser = browsers(device)
        browser.context.add_init_script(CLS_OBSERVER)
        for path in PAGES:
            page = browser.page()  # a fresh page: a first load, as a user has it
            open_site(page, site.url + path)
            figures[(device["name"], path)] = page.evaluate(SETTLED_CLS)
            page.close()
    print("\nCLS on load (Lighthouse's limit for good: 0.1)")
    for (device, path), cls in figures.items():
        print(f"  {device:8} {path:18} {cls:.4f}")
    assert all(cls < 0.1 for cls in figures.values()), figures


def test_the_landing_pages_two_buttons_are_the_same_size(site, browsers):
    for device in (PHONE, DESKTOP):
        page = browsers(device).page()
        open_site(page, site.url + "/")
        boxes = [page.get_by_role("link", name=name).bounding_box()
                 for name in ("Registrera mobilnummer", "Byt lösenord")]
        assert (boxes[0]["width"], boxes[0]["height"]) == (boxes[1]["width"], boxes[1]["height"]), boxes


def test_a_phone_number_never_wraps_inside_even_on_a_320_px_screen(site, browsers):
    page = browsers({"name": "narrow", "viewport": {"width": 320, "height": 640}}).page()
    open_site(page, site.url + "/tillganglighet/")
    numbers = page.locator(".nowrap")
    assert numbers.count() >= 4
    lines = numbers.evaluate_all("(all) => all.map((n) => [n.textContent, n.getClientRects().length])")
    assert all(count == 1 for _, count in lines), lines


def test_a_username_with_swedish_letters_is_told_how_it_is_written(site, browsers):
    page = browsers(PHONE).page()
    open_site(page, site.url + "/pwreset/")
    page.get_by_label("Användarnamn").fill("hemtjänstab")
    page.get_by_role("button", name="Nästa").click()
    expect(page.locator("#reset-username-error")).to_contain_text("Användarnamnet skrivs utan å, ä och ö")
    expect(page.locator('[data-step="username"]')).to_be_visible()


def test_a_wrong_password_on_pwreg_says_how_many_tries_are_left_when_the_api_tells(site, browsers, messages):
    page = browsers(PHONE).page()
    open_site(page, site.url + "/pwreg/")
    wrong = site.error(messages, "invalid_credentials", "sv", attempts_left=3)
    page.route("**/api/registration/login", lambda route: route.fulfill(status=401, json=wrong))
    page.get_by_label("Användarnamn").fill("hemtjanstab")
    page.get_by_label("Nuvarande lösenord").fill("fel-lösenord")
    page.get_by_role("button", name="Nästa").click()
    error = page.locator("#reg-password-error")
    expect(error).to_contain_text(messages("invalid_credentials", "sv"))
    expect(error).to_contain_text("Du har 3 försök kvar innan inloggningen spärras en stund.")


def test_a_number_registered_on_a_phone_leads_into_pwreset_with_the_username_filled_in(site, browsers):
    """The guide's order: register, then go straight on to the reset. Also the pictures of
    pwreg in docs/screenshots/."""
    account = ACCOUNTS["reg_then_reset"]
    number = "+46701110012"
    page = browsers(PHONE).page()
    open_site(page, site.url + "/pwreg/")
    docs_screenshot(page, "pwreg-1-login")
    page.get_by_label("Användarnamn").fill(account.username)
    page.get_by_label("Nuvarande lösenord").fill(account.password)
    page.get_by_role("button", name="Nästa").click()
    shown_step(page, "phone")
    page.get_by_label("Ditt namn").fill("Anna Andersson")
    page.get_by_label("Ditt mobilnummer").fill("070-111 00 12")
    docs_screenshot(page, "pwreg-2-number")
    seen = site.sms_count(number)
    page.get_by_role("button", name="Nästa").click()
    shown_step(page, "code")
    page.get_by_label("Säkerhetskod").fill(site.next_code(number, seen))
    docs_screenshot(page, "pwreg-3-code")
    page.get_by_role("button", name="Nästa").click()
    done = shown_step(page, "done")
    docs_screenshot(page, "pwreg-4-done")
    link = done.get_by_role("link", name="Byt lösenord")
    expect(link).to_have_attribute("href", f"/pwreset/?username={account.username}")
    link.click()
    ready(page)
    expect(page.get_by_label("Användarnamn")).to_have_value(account.username)
    expect(page.locator('[data-step="username"]')).to_be_visible()
    # Straight on, seconds after pwreg's code: pwreset's code comes (SPEC 5 v2, per flow),
    # to the number just added (SPEC 11).
    seen = site.sms_count(number)
    page.get_by_label("Ditt mobilnummer").fill("070-111 00 12")
    page.get_by_role("button", name="Nästa").click()
    shown_step(page, "code")
    assert site.next_code(number, seen)
