"""pwreg in the browser (SPEC 2 v2): log in → the account's holders (add oneself: name and
number; or remove one who left, confirmed first) → the code sent to the new number → done,
as a person does it on a phone or a computer, in Swedish or English; and pwreset with the
number just added; an authenticator app added, used on pwreset and removed (SPEC 12)."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from tests.browser.harness import (
    ACCOUNTS,
    DESKTOP,
    PHONE,
    SUPPORT_EN,
    SUPPORT_SV,
    app_code,
    check_view,
    docs_screenshot,
    open_site,
    ready,
    shown_step,
)


def hostile_svg(svg: str) -> str:
    """A QR code's SVG with what a hostile answer could add: handlers, style, a script, a
    link, HTML in a foreignObject."""
    return svg.replace("<svg ", '<svg onload="window.drawnBy=1" style="display:none" ', 1).replace(
        "</svg>", '<script>window.drawnBy=2</script><style>path{display:none}</style>'
                  '<a href="https://example.org/"><rect width="9" height="9"/></a>'
                  '<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>'
                  '<path d="M0 0h1" onclick="window.drawnBy=3"/></svg>')


def add_me(page, site, name: str, national: str, number: str):
    """pwreg's "Lägg till mig" in Swedish: name and number, then the code sent to it; the
    session acts as that holder from then on. Answers the done step."""
    seen = site.sms_count(number)
    page.get_by_label("Ditt namn").fill(name)
    page.get_by_label("Ditt mobilnummer").fill(national)
    page.get_by_role("button", name="Nästa").click()
    shown_step(page, "code")
    page.get_by_label("Säkerhetskod").fill(site.next_code(number, seen))
    page.get_by_role("button", name="Nästa").click()
    return shown_step(page, "done")


def other_than(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_a_new_number_is_registered_on_a_phone_in_english_after_a_typo_is_corrected(site, browsers, messages):
    account = ACCOUNTS["reg_phone_en"]
    typo, meant = "+46709990050", "+46709990005"
    page = browsers(PHONE).page()
    open_site(page, site.url + "/")
    page.get_by_role("button", name="In English").click()
    page.get_by_role("link", name="Register a mobile number").click()
    ready(page)

    # 1. log in, first with a wrong password
    login = page.locator('[data-step="login"]')
    expect(login.locator("h1")).to_have_text("Step 1 of 4 Log in with the account's password")
    check_view(page, "pwreg-1-login-en-phone")
    page.get_by_label("Username").fill(account.username)
    page.get_by_label("Current password").fill("not-the-password")
    page.get_by_role("button", name="Next").click()
    error = page.locator("#reg-password-error")
    expect(error).to_contain_text(messages("invalid_credentials", "en"))
    expect(error).not_to_contain_text(SUPPORT_EN)  # short: support only where one cannot get past alone
    expect(page.locator("body")).not_to_contain_text("knappval")
    expect(page.get_by_label("Current password")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Current password")).to_be_focused()
    check_view(page, "pwreg-1-login-wrong-en-phone")
    page.get_by_label("Current password").fill(account.password)
    page.get_by_role("button", name="Next").click()

    # 2. the account's holders with masked numbers, and the form to add oneself
    phone_step = shown_step(page, "phone")
    expect(phone_step.locator("#reg-account")).to_have_text(account.username)
    expect(phone_step.locator("#reg-holders li")).to_have_count(1)
    expect(phone_step.locator("#reg-holders li")).to_contain_text("Name missing 070-*** ** 05")  # migrated (SPEC 2 v3)
    expect(phone_step).to_contain_text("Use a work mobile if you have one. If you do not, your private number is fine.")
    check_view(page, "pwreg-2-phone-en-phone")
    page.get_by_label("Your name").fill("Anna Andersson")
    number = page.get_by_label("Your mobile number")
    expect(number).to_have_attribute("type", "tel")
    number.fill("12345")
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#reg-phone-error")).to_contain_text(messages("invalid_phone", "en"))
    expect(number).to_have_attribute("aria-invalid", "true")
    check_view(page, "pwreg-2-phone-invalid-en-phone")
    # a real mobile number, but in a country the portal does not send to
    number.fill("+47 412 34 567")
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#reg-phone-error")).to_contain_text(messages("phone_not_allowed", "en"))
    expect(number).to_be_focused()
    seen_typo = site.sms_count(typo)
    number.fill("070-999 00 50")
    page.get_by_role("button", name="Next").click()

    # 3. the code goes to the number typed; a typo is caught here, before anything is saved
    code_step = shown_step(page, "code")
    expect(code_step).to_contain_text("We have sent a security code to 070-999 00 50.")
    site.next_code(typo, seen_typo)
    page.get_by_role("button", name="Change the number").click()
    shown_step(page, "phone")
    expect(number).to_have_value("070-999 00 50")
    seen = site.sms_count(meant)
    number.fill("0709990005")
    page.get_by_role("button", name="Next").click()
    code_step = shown_step(page, "code")
    expect(code_step).to_contain_text("We have sent a security code to 070-999 00 05.")
    expect(page.get_by_role("button", name="Send a new code")).to_be_disabled()
    check_view(page, "pwreg-3-code-en-phone")
    first_code = site.next_code(meant, seen)

    field = page.get_by_label("Security code")
    field.fill(other_than(first_code))
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#reg-code-error")).to_contain_text(messages("invalid_code", "en", attempts_left=4))
    check_view(page, "pwreg-3-code-wrong-en-phone")
    resend = page.get_by_role("button", name="Send a new code")
    expect(resend).to_be_enabled()
    resend.click()
    expect(code_step.locator("[data-notice]")).to_contain_text("We have sent a new security code to 070-999 00 05.")
    field.fill(site.next_code(meant, seen + 1))
    page.get_by_role("button", name="Next").click()

    # 4. done, with the way on to pwreset
    done = shown_step(page, "done")
    expect(done.locator("h1")).to_have_text("Step 4 of 4 The registration is complete")
    expect(done).to_contain_text(
        f"Anna Andersson (070-999 00 05) can now get security codes for the account {account.username}.")
    expect(done.get_by_role("link", name="Change the password")).to_have_attribute(
        "href", f"/pwreset/?username={account.username}")
    check_view(page, "pwreg-4-done-en-phone")

    again = site.api("/registration/login", {"username": account.username, "password": account.password})
    assert again.status_code == 200, again.text
    holders = [(h["name"], h["phone_masked"]) for h in again.json()["holders"]]
    assert holders == [("", "070-*** ** 05"), ("Anna Andersson", "070-*** ** 05")]
    assert site.sms_count(typo) == seen_typo + 1  # the typo got its code, and is no holder


def test_a_first_number_is_registered_on_a_desktop_in_swedish_and_an_expiring_password_is_pointed_out(
        site, browsers):
    account = ACCOUNTS["reg_desktop_sv"]
    expires = (datetime.now(UTC) + timedelta(days=5)).replace(hour=12, minute=0, second=0)
    site.set_password_expiry(account.username, expires.strftime("%Y-%m-%dT%H:%M:%SZ"))
    page = browsers(DESKTOP).page()
    open_site(page, site.url + "/")
    page.get_by_role("link", name="Registrera mobilnummer").click()
    ready(page)
    check_view(page, "pwreg-1-login-sv-desktop")
    page.get_by_label("Användarnamn").fill(account.username)
    page.get_by_label("Nuvarande lösenord").fill(account.password)
    page.get_by_role("button", name="Nästa").click()

    phone_step = shown_step(page, "phone")
    expect(phone_step.locator("#reg-no-holders")).to_have_text("Ingen är registrerad för kontot än. Lägg till dig nedan.")
    expect(phone_step.locator("#reg-holders")).to_be_hidden()
    expect(phone_step).to_contain_text("Använd i första hand en arbetsmobil. Har du ingen arbetsmobil "
                                       "går det bra med ditt privata nummer.")
    # SPEC 15 `offered` (the stack's provider is on): the work login beside the typed name
    expect(phone_step.get_by_role("button", name="Logga in med din jobbinloggning")).to_be_visible()
    expect(page.get_by_label("Ditt namn")).to_be_visible()
    check_view(page, "pwreg-2-phone-sv-desktop")
    seen = site.sms_count("+46709990006")
    page.get_by_role("button", name="Nästa").click()  # nothing filled in
    expect(page.locator("#reg-name-error")).to_contain_text("Skriv ditt namn.")
    expect(page.get_by_label("Ditt namn")).to_be_focused()
    page.get_by_label("Ditt namn").fill("Åsa Öberg")
    page.get_by_label("Ditt mobilnummer").fill("070-999 00 06")
    page.get_by_role("button", name="Nästa").click()

    code_step = shown_step(page, "code")
    expect(code_step).to_contain_text("Vi har skickat en säkerhetskod till 070-999 00 06. Det kan ta upp till 3 minuter.")
    check_view(page, "pwreg-3-code-sv-desktop")
    page.get_by_label("Säkerhetskod").fill(site.next_code("+46709990006", seen))
    page.get_by_role("button", name="Nästa").click()

    done = shown_step(page, "done")
    expect(done.locator("h1")).to_have_text("Steg 4 av 4 Registreringen är klar")
    expiry = done.locator("#reg-expiry")
    expect(expiry).to_contain_text(f"Lösenordet för {account.username} går ut")
    expect(expiry).to_contain_text("om 5 dagar")
    expect(expiry.get_by_role("link", name="Byt lösenord nu")).to_have_attribute(
        "href", f"/pwreset/?username={account.username}")
    check_view(page, "pwreg-4-done-expiring-sv-desktop")

    # Done: logging out ends the session there and then (a shared computer)
    with page.expect_response("**/api/registration/logout") as ended:
        done.get_by_role("button", name="Logga ut").click()
    assert ended.value.status == 204
    login_step = shown_step(page, "login")
    expect(login_step.locator("[data-notice]")).to_have_text("Du är utloggad.")
    expect(page.get_by_label("Användarnamn")).to_have_value(account.username)
    session = ended.value.request.headers["authorization"]
    after = page.request.post(site.url + "/api/registration/holders",
                              data={"name": "Åsa Öberg", "phone": "070-999 00 06"},
                              headers={"Authorization": session})
    assert after.status == 401 and after.json()["error"]["code"] == "invalid_session"


def test_five_wrong_passwords_lock_the_login_and_the_page_says_when_to_try_again(site, browsers, messages):
    account = ACCOUNTS["reg_locked"]
    page = browsers(PHONE).page()
    open_site(page, site.url + "/pwreg/")
    page.get_by_label("Användarnamn").fill(account.username)
    for attempt in range(5):
        page.get_by_label("Nuvarande lösenord").fill(f"fel-{attempt}")
        with page.expect_response("**/api/registration/login") as answer:
            page.get_by_role("button", name="Nästa").click()
        assert answer.value.status == 401
        expect(page.locator("#reg-password-error")).to_contain_text(messages("invalid_credentials", "sv"))

    page.get_by_label("Nuvarande lösenord").fill(account.password)  # right, but too late
    page.get_by_role("button", name="Nästa").click()
    alert = page.locator('[data-step="login"] [data-alert]')
    expect(alert).to_contain_text("För många misslyckade inloggningar.")
    expect(alert).not_to_contain_text("om 15 min")  # the time of day instead (SPEC 2 v3)
    expect(alert).to_contain_text(re.compile(r"Du kan försöka igen klockan \d\d[:.]\d\d\."))
    expect(alert).to_contain_text(SUPPORT_SV)
    expect(alert.get_by_role("link", name="vardochstod@orebro.se")).to_be_visible()
    expect(page.locator('[data-step="login"]')).to_be_visible()
    check_view(page, "pwreg-1-login-locked-sv-phone")


def test_an_ended_session_brings_the_user_back_to_log_in_with_the_username_kept(site, browsers, messages):
    account = ACCOUNTS["reg_session"]
    page = browsers(DESKTOP).page()
    open_site(page, site.url + "/pwreg/")
    page.get_by_label("Användarnamn").fill(account.username)
    page.get_by_label("Nuvarande lösenord").fill(account.password)
    page.get_by_role("button", name="Nästa").click()
    shown_step(page, "phone")
    session = page.evaluate("JSON.parse(sessionStorage.getItem('pwportal.pwreg')).session")
    assert session and session not in page.url
    assert site.api("/registration/logout", {}, session).status_code == 204  # as after 15 minutes

    page.get_by_label("Ditt namn").fill("Anna Andersson")
    page.get_by_label("Ditt mobilnummer").fill("070-999 00 08")
    page.get_by_role("button", name="Nästa").click()
    shown_step(page, "login")
    expect(page.locator('[data-step="login"] [data-alert]')).to_contain_text(messages("invalid_session", "sv"))
    expect(page.get_by_label("Användarnamn")).to_have_value(account.username)
    check_view(page, "pwreg-1-login-session-ended-sv-desktop")
    page.get_by_label("Nuvarande lösenord").fill(account.password)
    page.get_by_role("button", name="Nästa").click()
    shown_step(page, "phone")


def test_an_expired_code_and_a_refused_resend_are_explained_and_the_wait_is_counted_down(
        site, browsers, messages):
    account = ACCOUNTS["reg_late"]
    page = browsers(DESKTOP).page()
    open_site(page, site.url + "/pwreg/")
    page.get_by_label("Användarnamn").fill(account.username)
    page.get_by_label("Nuvarande lösenord").fill(account.password)
    page.get_by_role("button", name="Nästa").click()
    shown_step(page, "phone")
    seen = site.sms_count("+46709990011")
    page.get_by_label("Ditt namn").fill("Anna Andersson")
    page.get_by_label("Ditt mobilnummer").fill("070-999 00 11")
    page.get_by_role("button", name="Nästa").click()
    code_step = shown_step(page, "code")
    code = site.next_code("+46709990011", seen)

    expired = site.error(messages, "code_expired", "sv")
    page.route("**/api/registration/holders/verify", lambda route: route.fulfill(status=410, json=expired))
    page.get_by_label("Säkerhetskod").fill(code)
    page.get_by_role("button", name="Nästa").click()
    alert = code_step.locator("[data-alert]")
    expect(alert).to_contain_text(messages("code_expired", "sv"))
    expect(alert).not_to_contain_text(SUPPORT_SV)  # a new code gets the user past it
    check_view(page, "pwreg-3-code-expired-sv-desktop")

    refused = site.error(messages, "too_many_requests", "sv", retry_after=40)
    page.route("**/api/registration/holders", lambda route: route.fulfill(
        status=429, json=refused, headers={"Retry-After": "40"}))
    resend = page.get_by_role("button", name="Skicka ny kod")
    expect(resend).to_be_enabled()
    resend.click()
    expect(alert).to_contain_text("Det har gjorts för många försök.")
    expect(alert).to_contain_text("Du kan försöka igen om 40 sekunder.")
    expect(alert).to_contain_text(SUPPORT_SV)
    expect(resend).to_be_disabled()
    wait = code_step.locator("[data-resend-wait]")
    expect(wait).to_contain_text(re.compile(r"om \d+ sekunder"))
    assert 3 < int(re.search(r"om (\d+) sekunder", wait.inner_text()).group(1)) <= 40  # the API's wait
    expect(code_step).to_be_visible()


def test_a_holder_added_on_pwreg_resets_with_their_own_number_and_a_holder_who_left_is_removed(
        site, browsers):
    """SPEC 2 and 11: add oneself (name, number, code), reset the password with that number
    on pwreset, then remove the holder who has left, confirming first."""
    account = ACCOUNTS["reg_holders"]
    mine = "+46709990013"
    page = browsers(PHONE).page()
    open_site(page, site.url + "/pwreg/")
    page.get_by_label("Användarnamn").fill(account.username)
    page.get_by_label("Nuvarande lösenord").fill(account.password)
    page.get_by_role("button", name="Nästa").click()
    phone_step = shown_step(page, "phone")
    expect(phone_step.locator("#reg-holders li")).to_have_count(1)

    seen = site.sms_count(mine)
    page.get_by_label("Ditt namn").fill("Karin Lund")
    page.get_by_label("Ditt mobilnummer").fill("070-999 00 13")
    page.get_by_role("button", name="Nästa").click()
    shown_step(page, "code")
    page.get_by_label("Säkerhetskod").fill(site.next_code(mine, seen))
    page.get_by_role("button", name="Nästa").click()
    done = shown_step(page, "done")
    expect(done).to_contain_text("Karin Lund (070-999 00 13) kan nu få säkerhetskoder för kontot")

    # pwreset with the number just added: username and own number on one screen
    done.get_by_role("link", name="Byt lösenord").click()
    ready(page)
    expect(page.get_by_label("Användarnamn")).to_have_value(account.username)
    check_view(page, "pwreset-1-username-and-number-sv-phone")
    page.get_by_role("button", name="Nästa").click()  # the number forgotten
    expect(page.locator("#reset-phone-error")).to_contain_text("Skriv mobilnumret")
    expect(page.get_by_label("Ditt mobilnummer")).to_be_focused()
    seen = site.sms_count(mine)
    page.get_by_label("Ditt mobilnummer").fill("0709990013")
    page.get_by_role("button", name="Nästa").click()
    shown_step(page, "code")
    page.get_by_label("Säkerhetskod").fill(site.next_code(mine, seen))
    page.get_by_role("button", name="Nästa").click()
    shown_step(page, "password")
    page.get_by_label("Nytt lösenord").fill("Karins-Nya-Tur-64")
    page.get_by_label("Skriv lösenordet igen").fill("Karins-Nya-Tur-64")
    page.get_by_role("button", name="Nästa").click()
    shown_step(page, "done")

    # back on pwreg (a new visit): two holders; the one who left is removed after a confirm
    page = browsers(PHONE).page()
    open_site(page, site.url + "/pwreg/")
    page.get_by_label("Användarnamn").fill(account.username)
    page.get_by_label("Nuvarande lösenord").fill("Karins-Nya-Tur-64")
    page.get_by_role("button", name="Nästa").click()
    phone_step = shown_step(page, "phone")
    items = phone_step.locator("#reg-holders li")
    expect(items).to_have_count(2)
    expect(items.nth(1)).to_contain_text("Karin Lund 070-*** ** 13")
    items.nth(0).get_by_role("button", name="Ta bort personen utan namn, 070-*** ** 13").click()
    confirm = phone_step.locator("#reg-remove")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text("Vill du ta bort personen utan namn (070-*** ** 13)?")
    expect(page.get_by_role("button", name="Avbryt")).to_be_focused()
    check_view(page, "pwreg-2-remove-confirm-sv-phone")
    page.get_by_role("button", name="Avbryt").click()  # changed their mind: nothing removed
    expect(confirm).to_be_hidden()
    expect(items).to_have_count(2)
    items.nth(0).get_by_role("button", name="Ta bort personen utan namn, 070-*** ** 13").click()
    page.get_by_role("button", name="Ja, ta bort").click()
    expect(phone_step.locator("[data-notice]")).to_contain_text("Personen utan namn (070-*** ** 13) har tagits bort.")
    expect(items).to_have_count(1)
    expect(items.nth(0)).to_contain_text("Karin Lund")
    again = site.api("/registration/login", {"username": account.username,
                                              "password": "Karins-Nya-Tur-64"})
    assert [h["name"] for h in again.json()["holders"]] == ["Karin Lund"]


def test_a_holder_adds_an_authenticator_app_typing_the_key_from_the_page_resets_with_it_and_removes_it(
        site, browsers):
    """SPEC 12: after "Lägg till mig" the holder's own entry offers an app; the key read from
    the page (as a person types it into the app) gives the codes; the reset with the app sends
    no SMS; the app is removed after a confirm, which can be cancelled."""
    account = ACCOUNTS["reg_app"]
    mine = "+46709990016"
    browser = browsers(PHONE)
    browser.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    page = browser.page()
    open_site(page, site.url + "/pwreg/")
    page.get_by_label("Användarnamn").fill(account.username)
    page.get_by_label("Nuvarande lösenord").fill(account.password)
    page.get_by_role("button", name="Nästa").click()

    # Not yet known as a holder in this session: no one's entry offers an app; it says how.
    phone_step = shown_step(page, "phone")
    items = phone_step.locator("#reg-holders li")
    expect(items).to_have_count(1)
    expect(items.nth(0)).to_contain_text("Ingen autentiseringsapp")
    expect(phone_step.locator("#reg-app-later")).to_contain_text("Lägg först till dig själv under ”Lägg till mig”.")
    expect(page.get_by_role("button", name="Lägg till autentiseringsapp")).to_have_count(0)

    done = add_me(page, site, "Maja Berg", "070-999 00 16", mine)
    expect(done.locator("#reg-done-app")).to_contain_text("Få koden i en app i stället för på sms")
    done.get_by_role("button", name="Lägg till autentiseringsapp").click()

    # The enrolment: instructions, the QR code as an image with a name, the key in groups of 4.
    app_step = shown_step(page, "app")
    expect(app_step.locator("h1")).to_have_text("Lägg till autentiseringsapp")
    expect(page).to_have_title(re.compile(r"^Lägg till autentiseringsapp – Registrera mobilnummer$"))
    expect(app_step).to_contain_text("Microsoft Authenticator, Google Authenticator eller FreeOTP")
    qr = app_step.locator("svg.qr")
    expect(qr).to_be_visible()
    expect(qr).to_have_attribute("role", "img")
    expect(page.get_by_role("img", name=re.compile(r"^QR-kod för autentiseringsappen\."))).to_be_visible()
    assert qr.evaluate("(svg) => !svg.querySelector('[style], script, a, foreignObject') && !svg.hasAttribute('style')")
    size = qr.bounding_box()
    assert 180 <= size["width"] == size["height"] <= 260, size  # the site's CSS sizes it
    expect(app_step.locator("#reg-app-entry")).to_have_text(
        f"I appen heter kontot Exempelby kommun:{account.username} (Maja Berg).")
    key = app_step.locator("#reg-app-key").inner_text()
    assert re.fullmatch(r"(?:[A-Z2-7]{4} )+[A-Z2-7]{1,4}", key), key
    spoken = app_step.locator("#reg-app-key-spoken").inner_text()
    assert spoken == "Nyckeln, tecken för tecken: " + ", ".join(" ".join(group) for group in key.split(" "))
    expect(app_step.locator("#reg-app-expires")).to_contain_text(re.compile(r"Bekräfta före klockan \d\d[:.]\d\d\."))
    # on the phone that will hold the app, the QR code cannot be scanned: a link opens the app
    expect(page.get_by_role("link", name="Öppna i autentiseringsappen")).to_have_attribute(
        "href", re.compile(r"^otpauth://totp/"))
    code_field = page.get_by_label("Koden från appen")
    expect(code_field).to_have_attribute("autocomplete", "one-time-code")
    expect(code_field).to_have_attribute("inputmode", "numeric")
    check_view(page, "pwreg-5-app-sv-phone")
    docs_screenshot(page, "pwreg-5-app")

    page.get_by_role("button", name="Kopiera nyckeln").click()
    expect(app_step.locator("[data-notice]")).to_contain_text("Nyckeln är kopierad.")
    assert page.evaluate("navigator.clipboard.readText()") == key.replace(" ", "")

    right, _ = app_code(key)
    code_field.fill(other_than(right))
    page.get_by_role("button", name="Bekräfta").click()
    expect(page.locator("#reg-app-code-error")).to_contain_text("Du har 4 försök kvar.")
    expect(code_field).to_have_attribute("aria-invalid", "true")
    expect(code_field).to_be_focused()
    check_view(page, "pwreg-5-app-wrong-sv-phone")
    right, used_step = app_code(key)
    code_field.fill(right)
    page.get_by_role("button", name="Bekräfta").click()

    # Back on the done step, where she asked for it ("Steg 4 av 4" as before): the app is added.
    done = shown_step(page, "done")
    expect(done.locator("h1")).to_have_text("Steg 4 av 4 Registreringen är klar")
    expect(done.locator("[data-notice]")).to_contain_text("Autentiseringsappen är tillagd.")
    expect(done.locator("#reg-done-app-text")).to_have_text("Du har en autentiseringsapp för kontot.")
    expect(done.get_by_role("button", name="Lägg till autentiseringsapp")).to_have_count(0)
    expect(done.get_by_role("button", name="Logga ut")).to_be_visible()
    check_view(page, "pwreg-4-done-app-added-sv-phone")

    # In the list (Back): the app is there, said in words, with the way to remove it.
    page.go_back()
    phone_step = shown_step(page, "phone")
    expect(phone_step.locator("h1")).to_have_text("Steg 2 av 4 Personer som kan byta lösenordet")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_contain_text("Ingen autentiseringsapp")
    expect(items.nth(1)).to_contain_text("Maja Berg (du)")
    expect(items.nth(1)).to_contain_text("Har autentiseringsapp")
    expect(items.nth(1).get_by_role("button", name="Ta bort autentiseringsappen")).to_be_visible()
    check_view(page, "pwreg-2-holders-with-app-sv-phone")

    # pwreset with the app: an SMS goes out for the first choice, none for the app's.
    reset = browsers(PHONE).page()
    open_site(reset, site.url + "/pwreset/")
    seen = site.sms_count(mine)
    reset.get_by_label("Användarnamn").fill(account.username)
    reset.get_by_label("Ditt mobilnummer").fill("070-999 00 16")
    reset.get_by_role("button", name="Nästa").click()
    code_step = shown_step(reset, "code")
    site.next_code(mine, seen)  # the SMS of the first choice has arrived
    reset.get_by_role("button", name="Använd kod från autentiseringsappen i stället").click()
    expect(code_step.locator("#reset-code-lead")).to_have_text("Skriv koden som autentiseringsappen visar.")
    expect(code_step).not_to_contain_text("Det kan ta upp till 3 minuter")
    expect(code_step.locator("#reset-resend")).to_be_hidden()  # no SMS to wait for or ask again
    expect(reset.get_by_role("button", name="Skicka kod på sms i stället")).to_be_visible()
    expect(reset.get_by_label("Säkerhetskod")).to_be_focused()
    check_view(reset, "pwreset-2-code-app-sv-phone")
    docs_screenshot(reset, "pwreset-2-code-app")
    reset_code, reset_step = app_code(key, after_step=used_step)
    reset.get_by_label("Säkerhetskod").fill(reset_code)
    reset.get_by_role("button", name="Nästa").click()
    shown_step(reset, "password")
    reset.get_by_label("Nytt lösenord").fill("Majas-Egen-Vag-19")
    reset.get_by_label("Skriv lösenordet igen").fill("Majas-Egen-Vag-19")
    reset.get_by_role("button", name="Nästa").click()
    shown_step(reset, "done")
    assert site.sms_count(mine) == seen + 1  # the app's code came with no SMS

    # A new visit to pwreg: known as Maja again through her number, she removes her app.
    page = browsers(PHONE).page()
    open_site(page, site.url + "/pwreg/")
    page.get_by_label("Användarnamn").fill(account.username)
    page.get_by_label("Nuvarande lösenord").fill("Majas-Egen-Vag-19")
    page.get_by_role("button", name="Nästa").click()
    phone_step = shown_step(page, "phone")
    items = phone_step.locator("#reg-holders li")
    expect(items.nth(1)).to_contain_text("Har autentiseringsapp")  # others see it, in words
    expect(page.get_by_role("button", name="Ta bort autentiseringsappen")).to_have_count(0)
    done = add_me(page, site, "Maja Berg", "070-999 00 16", mine)
    expect(done.locator("#reg-done-app")).to_contain_text("Du har en autentiseringsapp för kontot.")
    page.go_back()
    phone_step = shown_step(page, "phone")
    own = items.nth(1)
    own.get_by_role("button", name="Ta bort autentiseringsappen").click()
    confirm = phone_step.locator("#reg-remove")
    expect(confirm).to_contain_text("Vill du ta bort autentiseringsappen för Maja Berg?")
    expect(page.get_by_role("button", name="Avbryt")).to_be_focused()
    check_view(page, "pwreg-2-app-remove-confirm-sv-phone")
    page.get_by_role("button", name="Avbryt").click()
    expect(confirm).to_be_hidden()
    expect(own).to_contain_text("Har autentiseringsapp")
    own.get_by_role("button", name="Ta bort autentiseringsappen").click()
    page.get_by_role("button", name="Ja, ta bort appen").click()
    expect(phone_step.locator("[data-notice]")).to_contain_text("Autentiseringsappen har tagits bort.")
    expect(own).to_contain_text("Ingen autentiseringsapp")
    expect(own.get_by_role("button", name="Lägg till autentiseringsapp")).to_be_focused()
    expect(phone_step.locator("h1")).to_have_text("Steg 2 av 4 Personer som kan byta lösenordet")
    again = site.api("/registration/login", {"username": account.username, "password": "Majas-Egen-Vag-19"})
    assert [(h["name"], h["authenticator"]) for h in again.json()["holders"]] == [
        ("", False), ("Maja Berg", False)]

    # Added again from the list: back in the list, where she asked for it.
    own.get_by_role("button", name="Lägg till autentiseringsapp").click()
    app_step = shown_step(page, "app")
    key = app_step.locator("#reg-app-key").inner_text()
    page.get_by_label("Koden från appen").fill(app_code(key, after_step=reset_step)[0])
    page.get_by_role("button", name="Bekräfta").click()
    phone_step = shown_step(page, "phone")
    expect(phone_step.locator("h1")).to_have_text("Steg 2 av 4 Personer som kan byta lösenordet")
    expect(phone_step.locator("[data-notice]")).to_contain_text("Autentiseringsappen är tillagd.")
    expect(own).to_contain_text("Har autentiseringsapp")


def test_an_expired_key_is_started_again_with_a_new_one_and_an_ended_session_asks_to_log_in_again(
        site, browsers, messages):
    """The enrolment's errors in the user's language (here English, on a desktop): a key not
    confirmed in time is replaced by a new one on "Start again" (its QR code, given a hostile
    SVG, shown with only what a QR code is made of); a session that ended sends the user back
    to log in."""
    account = ACCOUNTS["reg_app_en"]
    mine = "+46709990018"
    browser = browsers(DESKTOP)
    page = browser.page()
    open_site(page, site.url + "/pwreg/")
    page.get_by_role("button", name="In English").click()
    page.get_by_label("Username").fill(account.username)
    page.get_by_label("Current password").fill(account.password)
    page.get_by_role("button", name="Next").click()
    phone_step = shown_step(page, "phone")
    expect(phone_step.locator("#reg-app-later")).to_contain_text("First add yourself under “Add me”.")
    seen = site.sms_count(mine)
    page.get_by_label("Your name").fill("Leo Holm")
    page.get_by_label("Your mobile number").fill("070-999 00 18")
    page.get_by_role("button", name="Next").click()
    shown_step(page, "code")
    page.get_by_label("Security code").fill(site.next_code(mine, seen))
    page.get_by_role("button", name="Next").click()
    shown_step(page, "done")
    page.go_back()  # the list, where one's own entry offers the app as well
    phone_step = shown_step(page, "phone")
    own = phone_step.locator("#reg-holders li").nth(0)
    expect(own).to_contain_text("Leo Holm (you)")
    expect(own).to_contain_text("No authenticator app")
    own.get_by_role("button", name="Add an authenticator app").click()

    app_step = shown_step(page, "app")
    expect(page).to_have_title(re.compile(r"^Add an authenticator app – "))
    expect(page.get_by_role("link", name="Open in the authenticator app")).to_be_hidden()  # no touch screen
    expect(page.get_by_role("img", name=re.compile(r"^QR code for the authenticator app\."))).to_be_visible()
    first_key = app_step.locator("#reg-app-key").inner_text()
    expect(app_step.locator("#reg-app-key-spoken")).to_have_text(
        re.compile(r"^The key, one character at a time: [A-Z2-7] [A-Z2-7] [A-Z2-7] [A-Z2-7], "))
    page.get_by_role("button", name="Confirm").click()  # nothing typed
    expect(page.locator("#reg-app-code-error")).to_have_text("Type the code that the app shows.")
    page.get_by_label("The code from the app").fill("12345")
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#reg-app-code-error")).to_have_text(
        "The code from the app has 6 digits. Check that you have all of them.")

    # the key's 10 minutes ran out (as the API answers then)
    expired = site.error(messages, "code_expired", "en")
    page.route("**/authenticator/verify", lambda route: route.fulfill(status=410, json=expired))
    page.get_by_label("The code from the app").fill(app_code(first_key)[0])
    page.get_by_role("button", name="Confirm").click()
    alert = app_step.locator("[data-alert]")
    expect(alert).to_contain_text(messages("code_expired", "en"))
    expect(alert).to_contain_text("Start again: you get a new QR code and key.")
    check_view(page, "pwreg-5-app-expired-en-desktop")
    page.unroute("**/authenticator/verify")
    # The new key's QR code as a hostile answer would have it: the page keeps only what a QR
    # code is made of (never a script, a link, a style, a foreignObject or a handler).
    page.route("**/authenticator", lambda route: route.fulfill(
        response=(real := route.fetch()), json={**real.json(), "qr_svg": hostile_svg(real.json()["qr_svg"])}))
    alert.get_by_role("button", name="Start again").click()
    expect(app_step.locator("#reg-app-key")).not_to_have_text(first_key)  # a new key, a new secret
    expect(alert).to_be_empty()
    shown_step(page, "app")
    page.unroute("**/authenticator")
    qr = app_step.locator("#reg-app-qr svg")
    expect(page.get_by_role("img", name=re.compile(r"^QR code for the authenticator app\."))).to_be_visible()
    assert qr.evaluate("""(svg) => [svg, ...svg.querySelectorAll('*')].flatMap((node) =>
        [node.localName, ...[...node.attributes].map((attribute) => '@' + attribute.name)])
        .filter((name) => /^(script|a|foreignObject|style|div)$|^@(on|style|href|xlink)/.test(name))""") == []
    assert qr.locator("path").count() > 1  # the QR code itself is still drawn
    assert page.evaluate("window.drawnBy") is None
    # Parsing the answer (DOMParser, before it is cleaned) meets the CSP, which refuses its
    # handlers and styles too, and says so in the console: those refusals, and nothing else.
    refused = [problem for problem in browser.problems
               if re.match(r"(console error|CSP): (Executing inline event handler|Applying inline style) ", problem)]
    assert refused and refused == browser.problems, browser.problems
    browser.problems.clear()
    second_key = app_step.locator("#reg-app-key").inner_text()
    assert re.fullmatch(r"(?:[A-Z2-7]{4} )+[A-Z2-7]{1,4}", second_key), second_key

    # the session ends (15 minutes, or logged out elsewhere): log in again
    session = page.evaluate("JSON.parse(sessionStorage.getItem('pwportal.pwreg')).session")
    assert site.api("/registration/logout", {}, session).status_code == 204
    page.get_by_label("The code from the app").fill(app_code(second_key)[0])
    page.get_by_role("button", name="Confirm").click()
    shown_step(page, "login")
    expect(page.locator('[data-step="login"] [data-alert]')).to_contain_text(messages("invalid_session", "en"))
    expect(page.get_by_label("Username")).to_have_value(account.username)
    again = site.api("/registration/login", {"username": account.username, "password": account.password})
    assert [(h["name"], h["authenticator"]) for h in again.json()["holders"]] == [("Leo Holm", False)]
