"""The words of the API's errors and of the pages (SPEC 2 v3, issue 22): short, in plain Swedish,
one word for one thing; and the pages' copy of the API's errors (texts/*.js "api.<code>",
which a page redraws when the user switches language) says what the API says."""
from __future__ import annotations

import re

import pytest

from chalicelib.messages import TEXTS, text
from infra.site_build import load_texts

LANGS = ("sv", "en")
# The page says when to try again as a time of day ("klockan 03:31") after these, instead of
# the API's "vänta en stund" or "om 15 min".
PAGE_SAYS_THE_TIME = {"too_many_attempts", "too_many_requests"}


@pytest.mark.parametrize("lang", LANGS)
def test_the_pages_copy_of_each_api_error_says_what_the_api_says(lang):
    page = load_texts(lang)
    copied = {key.removeprefix("api."): said for key, said in page.items() if key.startswith("api.")}
    assert {"invalid_code", "invalid_phone", "too_many_requests", "too_many_holders"} <= set(copied)
    for code, said in copied.items():
        if code in PAGE_SAYS_THE_TIME:
            assert TEXTS[code][lang].startswith(said), code
        else:
            assert said == TEXTS[code][lang], code
    # what the page strips from an API message it shows as it is: the API's own support sentence
    assert page["site.supportText"] == TEXTS["support"][lang]


def test_a_phone_number_the_api_refuses_is_told_how_to_write_one():
    assert text("invalid_phone", "sv") == "Skriv ett svenskt mobilnummer, till exempel 070-123 45 67."
    assert text("invalid_phone", "en") == "Enter a Swedish mobile number, for example 070-123 45 67."


def test_too_many_requests_says_what_happened_in_one_plain_sentence_and_to_wait():
    assert text("too_many_requests", "sv") == "Det har gjorts för många försök. Vänta en stund och försök igen."
    assert "paus" not in text("too_many_requests", "sv")


def test_the_api_and_the_pages_use_one_word_each_personer_and_inte():
    for lang in LANGS:
        api = " ".join(entry[lang] for key, entry in TEXTS.items() if not key.startswith("sms."))
        page = " ".join(load_texts(lang).values())
        for said in (api, page):
            assert not re.search(r"\binnehavare\b|\bej\b", said)
    assert text("too_many_holders", "sv", max_holders=5) == "Kontot har redan 5 personer. Ta bort någon först."
    assert "inte Å, Ä, Ö" in text("rule.classes", "sv", min_classes=3)


def test_the_pages_say_the_rules_and_the_removals_in_plain_swedish():
    sv = load_texts("sv")
    assert sv["password.rule.classes"] == "innehålla minst {minClasses} av de här 4 sorterna:"
    assert sv["pwreg.holders.removed"] == "{name} har tagits bort."
    assert sv["pwreg.holders.nameHint"].startswith("Ditt för- och efternamn, som kollegorna känner dig")
    assert sv["error.appCodeWrong"] == "Fel kod från appen. Kontrollera att mobilens klocka går rätt."
    assert sv["pwreset.username.phoneInvalid"] == text("invalid_phone", "sv")


def test_no_page_text_speaks_of_the_accounts_one_number():
    """SPEC 2 v3: pwreg speaks of the people who can change the password and of one's own
    number, never of "the account's number"."""
    for lang, phrases in (("sv", ("kontots registrerade mobilnummer", "har kontot redan ett mobilnummer")),
                          ("en", ("the account's registered mobile number", "the account already has a mobile"))):
        said = " ".join(load_texts(lang).values()).lower()
        for phrase in phrases:
            assert phrase not in said, (lang, phrase)
