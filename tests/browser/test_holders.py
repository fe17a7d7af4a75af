"""pwreg's holders in the browser (issue 22 points 1 and 5, SPEC v3 §5): a person already in
the list says "Det här är jag" on their own row and, with the code sent to their own number,
acts as themselves (to add their app) without adding themselves again; and five people add
themselves to one account one after the other, each with their own code, the fifth then
resetting the password with their number."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.harness import ACCOUNTS, PHONE, check_view, open_site, ready, shown_step
from tests.browser.test_pwreg import add_me


def log_in(page, site, account, password: str | None = None):
    """pwreg's login in Swedish: answers the holders step."""
    open_site(page, site.url + "/pwreg/")
    page.get_by_label("Användarnamn").fill(account.username)
    page.get_by_label("Nuvarande lösenord").fill(password or account.password)
    page.get_by_role("button", name="Nästa").click()
    return shown_step(page, "phone")


def test_a_listed_holder_says_this_is_me_gets_the_code_on_their_own_number_and_may_add_their_app(
        site, browsers):
    account = ACCOUNTS["reg_its_me"]
    karin = "+46709990071"
    first = browsers(PHONE).page()
    log_in(first, site, account)
    add_me(first, site, "Karin Lund", "070-999 00 71", karin)

    # Another day, another visit: Karin is listed, and this session is nobody's yet.
    page = browsers(PHONE).page()
    phone_step = log_in(page, site, account)
    items = phone_step.locator("#reg-holders li")
    expect(items).to_have_count(2)
    expect(phone_step.locator("#reg-keep")).not_to_contain_text("behöver du inte göra något mer")
    expect(phone_step.locator("#reg-keep")).to_contain_text("Välj ”Det här är jag” på din rad")
    expect(items.nth(0).get_by_role("button", name="Det här är jag")).to_have_count(0)  # no name
    expect(page.get_by_role("button", name="Lägg till autentiseringsapp")).to_have_count(0)
    check_view(page, "pwreg-2-its-me-sv-phone")

    seen, others = site.sms_count(karin), site.sms_count(account.phone)
    items.nth(1).get_by_role("button", name="Det här är jag, Karin Lund").click()
    code_step = shown_step(page, "code")
    expect(code_step.locator("#reg-code-sent")).to_contain_text(
        "Vi har skickat en säkerhetskod till 070-*** ** 71.")
    check_view(page, "pwreg-3-its-me-code-sv-phone")
    page.get_by_label("Säkerhetskod").fill(site.next_code(karin, seen))
    page.get_by_role("button", name="Nästa").click()
    done = shown_step(page, "done")
    expect(done.locator("#reg-done-text")).to_contain_text(
        "Du är inloggad som Karin Lund (070-*** ** 71)")
    expect(done.get_by_role("button", name="Lägg till autentiseringsapp")).to_be_visible()
    check_view(page, "pwreg-4-its-me-done-sv-phone")
    assert site.sms_count(account.phone) == others  # the code went to Karin's number only

    # The session is Karin's: her app may be added; still two people on the account.
    done.get_by_role("button", name="Lägg till autentiseringsapp").click()
    shown_step(page, "app")
    again = site.api("/registration/login", {"username": account.username,
                                              "password": account.password})
    assert [h["name"] for h in again.json()["holders"]] == ["", "Karin Lund"]


def test_five_people_add_themselves_one_after_the_other_and_the_fifth_resets_the_password(
        site, browsers):
    account = ACCOUNTS["reg_five"]
    people = [("Anna Andersson", "+46709990081"), ("Bo Ek", "+46709990082"),
              ("Cecilia Dahl", "+46709990083"), ("David Holm", "+46709990084"),
              ("Eva Lind", "+46709990085")]
    for count, (name, number) in enumerate(people, start=1):
        # each on their own phone: their own login, their own code
        page = browsers(PHONE).page()
        items = log_in(page, site, account).locator("#reg-holders li")
        expect(items).to_have_count(count - 1)
        national = "0" + number[3:]
        done = add_me(page, site, name, national, number)
        expect(done.locator("#reg-done-text")).to_contain_text(f"{name} (")
    listed = site.api("/registration/login", {"username": account.username,
                                               "password": account.password}).json()["holders"]
    assert [h["name"] for h in listed] == [name for name, _ in people]

    # Eva resets the password with her own number and the code sent to it
    name, number = people[-1]
    page = browsers(PHONE).page()
    open_site(page, f"{site.url}/pwreset/?username={account.username}")
    seen = site.sms_count(number)
    page.get_by_label("Ditt mobilnummer").fill("0" + number[3:])
    page.get_by_role("button", name="Nästa").click()
    shown_step(page, "code")
    page.get_by_label("Säkerhetskod").fill(site.next_code(number, seen))
    page.get_by_role("button", name="Nästa").click()
    shown_step(page, "password")
    page.get_by_label("Nytt lösenord").fill("Evas-Nya-Morgon-71")
    page.get_by_label("Skriv lösenordet igen").fill("Evas-Nya-Morgon-71")
    page.get_by_role("button", name="Nästa").click()
    shown_step(page, "done")
    ready(page)
    assert site.api("/registration/login", {"username": account.username,
                                             "password": "Evas-Nya-Morgon-71"}).status_code == 200
