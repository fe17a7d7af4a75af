"""The site as a whole: the landing page, the accessibility statement, the language choice,
the weight of a page, its own-origin-only loading under the CSP, narrow screens, the texts."""
from __future__ import annotations

import gzip
import re
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.harness import DESKTOP, PHONE, SUPPORT_SV, check_view, open_site, ready
from tests.conftest import ROOT

SITE = ROOT / "static_site"
PAGE_BUDGET = 30_000  # "under 30 kB" as sent, counted in the stricter decimal kilobytes


def test_the_landing_page_leads_to_both_portals_and_the_accessibility_statement(site, browsers):
    page = browsers(PHONE).page()
    open_site(page, site.url + "/")
    expect(page).to_have_title("Lösenordsportalen")
    expect(page.locator("h1")).to_have_text("Lösenordsportalen")
    expect(page.get_by_role("link", name="Registrera mobilnummer")).to_have_attribute("href", "/pwreg/")
    expect(page.get_by_role("link", name="Byt lösenord")).to_have_attribute("href", "/pwreset/")
    expect(page.locator("#support")).to_have_text(f"Behöver du hjälp? Kontakta support: {SUPPORT_SV}.")
    expect(page.locator("#support").get_by_role("link", name="019-765 43 21")).to_have_attribute(
        "href", "tel:0197654321")
    page.get_by_role("link", name="Tillgänglighetsredogörelse").click()
    ready(page)
    expect(page.locator("h1")).to_have_text("Tillgänglighets\u00adredogörelse")  # a soft hyphen for narrow screens
    expect(page.locator("main")).to_contain_text("2000 (internt kortnummer, knappval 3 och 1)")
    expect(page.get_by_role("link", name="kontakta Digg och påtala det")).to_have_attribute(
        "href", "https://www.digg.se/tdosanmalan")
    check_view(page, "statement-sv-phone")

    with page.expect_response(lambda r: r.url.endswith("/finns-inte/")) as missing:
        page.goto(site.url + "/finns-inte/")
    assert missing.value.status == 404
    ready(page)
    expect(page.locator("h1")).to_have_text("Sidan finns inte")
    check_view(page, "not-found-sv-phone")


def test_english_is_chosen_once_and_remembered_on_every_page(site, browsers):
    page = browsers(DESKTOP).page()
    open_site(page, site.url + "/tillganglighet/")
    switch = page.locator("#language")
    expect(switch).to_have_text("In English")
    expect(switch).to_have_attribute("lang", "en")
    switch.click()
    expect(page.locator("h1")).to_have_text("Accessibility statement")
    expect(page.locator("main")).to_contain_text("Exempelby kommun is behind this website")
    expect(page.locator("main")).to_contain_text("2000 (internal short number, then options 3 and 1)")
    expect(page.locator("body")).not_to_contain_text("knappval")  # SPEC 2 v2: channels in the page's language
    expect(page.locator("main")).to_contain_text("The last assessment was made on 7 October 2026.")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(switch).to_have_text("På svenska")
    expect(switch).to_be_focused()
    check_view(page, "statement-en-desktop")

    for path, heading in (("/pwreg/", "Step 1 of 4 Log in with the account's password"),
                          ("/pwreset/", "Step 1 of 4 Which account is it?"), ("/", "Password portal")):
        open_site(page, site.url + path)
        expect(page.locator("h1:visible")).to_have_text(heading)
    page.reload()
    ready(page)
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.locator("#language").click()  # and back to Swedish, remembered as well
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    open_site(page, site.url + "/pwreset/")
    expect(page.locator("h1:visible")).to_have_text("Steg 1 av 4 Vilket konto gäller det?")


def test_each_page_with_its_assets_is_under_30_kb_as_sent_and_loads_only_from_its_own_origin(site, browsers):
    """Counted as the bytes travel: gzip, as CloudFront sends every text file (`Compress: true`
    in infra/template.py). Since each page's Swedish text is in its HTML as well as in
    texts/sv.js (SPEC 2 v2), the raw files of a flow are about 68 kB."""
    page = browsers(DESKTOP).page()
    weights = {}
    for path in ("/", "/pwreg/", "/pwreset/", "/tillganglighet/"):
        loaded = []

        def record(response, loaded=loaded):
            loaded.append(response)

        page.on("response", record)
        open_site(page, site.url + path)
        page.wait_for_load_state("networkidle")
        page.remove_listener("response", record)
        assert loaded and all(r.url.startswith(site.url + "/") for r in loaded), [r.url for r in loaded]
        bodies = [r.body() for r in loaded if "/api/" not in r.url]
        weights[path] = (sum(len(body) for body in bodies), sum(len(gzip.compress(body)) for body in bodies))
    print("\npage weights with their assets, raw and as sent (gzip):")
    for path, (raw, sent) in weights.items():
        print(f"  {path:18} {raw / 1000:5.1f} kB  {sent / 1000:5.1f} kB")
    assert all(sent < PAGE_BUDGET for _, sent in weights.values()), weights


def test_the_content_security_policy_is_in_force_and_blocks_inline_script(site, browsers):
    browser = browsers(PHONE)
    page = browser.page()
    open_site(page, site.url + "/pwreset/")
    ran = page.evaluate("""() => new Promise((resolve) => {
        document.addEventListener('securitypolicyviolation',
                                  (e) => resolve('blocked: ' + e.effectiveDirective), {once: true});
        const script = document.createElement('script');
        script.textContent = 'window.inlineRan = true';
        document.body.append(script);
        setTimeout(() => resolve(window.inlineRan ? 'ran' : 'not run'), 2000);
    })""")
    assert ran.startswith("blocked: script-src"), ran
    browser.problems.clear()  # the console's report of the block this test provoked


def test_the_pages_fit_a_320_px_wide_screen_without_sideways_scrolling(site, browsers):
    page = browsers({"name": "narrow", "viewport": {"width": 320, "height": 640}}).page()
    for path in ("/", "/pwreg/", "/pwreset/", "/tillganglighet/"):
        open_site(page, site.url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 320, f"{path} is {width} px wide"
    check_view(page, "pwreset-1-username-sv-320px")


def test_every_text_is_there_in_both_languages_with_the_same_placeholders_and_links(site, browsers):
    page = browsers(DESKTOP).page()
    open_site(page, site.url + "/")
    # the shared texts, and the support console's own beside them (static_site/support/texts)
    texts = page.evaluate("""async () => ({
        sv: {...(await import('/assets/texts/sv.js')).default, ...(await import('/support/texts/sv.js')).default},
        en: {...(await import('/assets/texts/en.js')).default, ...(await import('/support/texts/en.js')).default} })""")
    sv, en = texts["sv"], texts["en"]
    assert sorted(sv) == sorted(en)

    def shape(text: str) -> tuple:
        return (sorted(re.findall(r"\{(\w+)\}", text)), sorted(re.findall(r"\]\(([^)]+)\)", text)))

    different = [key for key in sv if shape(sv[key]) != shape(en[key])]
    assert not different, different

    # and every key the pages name is one of them
    named = set()
    for html in SITE.rglob("*.html"):
        named |= set(re.findall(r'data-t="([^"]+)"', html.read_text(encoding="utf-8")))
    for script in (SITE / "assets").glob("*.js"):
        named |= set(re.findall(r'"((?:site|landing|step|action|field|code|error|password|pwreset|pwreg|statement)'
                                r'\.[\w.]+)"', script.read_text(encoding="utf-8")))
    assert not sorted(named - set(sv)), sorted(named - set(sv))


def test_the_site_is_plain_files_with_no_inline_script_or_style_and_no_third_party_address():
    for path in SITE.rglob("*"):
        if path.suffix not in {".html", ".js", ".css"}:
            continue
        text = Path(path).read_text(encoding="utf-8")
        if path.suffix == ".html":
            assert not re.search(r"<script(?![^>]*\bsrc=)", text), f"inline script in {path}"
            assert not re.search(r"<style|\sstyle=|\son\w+=", text), f"inline style or handler in {path}"
        addresses = set(re.findall(r"(?:https?:)?//[\w.-]+\.\w+", text))
        allowed = {"https://www.digg.se"}  # a link in the statement's texts, never loaded
        assert addresses <= allowed, f"{path}: {addresses - allowed}"
