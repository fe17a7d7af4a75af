"""GET /api/config: what the pages read before the user types (SPEC 8, policy of SPEC 3)."""
from tests.api.helpers import API_HEADERS
from tests.api_client import get


def test_config_describes_policy_code_phone_support_and_languages(world, client):
    response = get(client, "/api/config")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json_body
    assert set(body) == {"policy", "code", "phone", "support", "organisation", "statement",
                         "languages", "holder_identity"}
    assert body["holder_identity"] == "off"  # no identity provider configured
    assert body["policy"] == {
        "min_length": 8, "max_length": 128, "min_classes": 3,
        "special_characters": "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
        "forbid_username": True, "history": 24, "max_age_days": 90, "reminder_days": [14, 3],
    }
    assert body["code"] == {"length": 6, "lifetime_seconds": 600, "resend_after_seconds": 60,
                            "max_attempts": 5}
    assert body["phone"] == {"allowed_countries": ["SE"]}
    assert body["languages"] == ["sv", "en"]
    assert "2000 (internt nummer, knappval 3 och 1)" in body["support"]["text"]
    assert "vardochstod@orebro.se" in body["support"]["text"]


def test_config_follows_the_operators_settings(world, client, configure):
    configure(PASSWORD_MIN_LENGTH=12, PASSWORD_MAX_LENGTH=64, PASSWORD_MIN_CLASSES=4,
              PASSWORD_HISTORY=5, PASSWORD_MAX_AGE_DAYS=60, CODE_LIFETIME_SECONDS=300,
              CODE_RESEND_AFTER_SECONDS=30, CODE_MAX_ATTEMPTS=3,
              PASSWORD_REMINDER_DAYS="21,7",
              SUPPORT_CHANNELS='[{"phone": "019-21 10 00", "sv": "växeln", "en": "switchboard"}]')
    body = get(client, "/api/config").json_body
    assert {k: body["policy"][k] for k in ("min_length", "max_length", "min_classes",
                                           "history", "max_age_days", "reminder_days")} == {
        "min_length": 12, "max_length": 64, "min_classes": 4, "history": 5,
        "max_age_days": 60, "reminder_days": [21, 7]}
    assert body["code"] == {"length": 6, "lifetime_seconds": 300, "resend_after_seconds": 30,
                            "max_attempts": 3}
    assert "019-21 10 00" in body["support"]["text"]


def test_config_answer_is_never_cached_or_sniffed(world, client):
    headers = get(client, "/api/config", lang="en").headers
    assert {k: headers[k] for k in API_HEADERS} == API_HEADERS


def test_config_names_the_organisation_its_logo_and_the_day_of_the_last_accessibility_check(
        world, client, configure):
    assert get(client, "/api/config").json_body["organisation"] == {"name": "Örebro kommun",
                                                                    "logo": ""}
    configure(ORGANISATION_NAME="Exempelby kommun", ORGANISATION_LOGO="branding/exempelby.SVG",
              STATEMENT_CHECKED_ON="2027-01-31")
    body = get(client, "/api/config").json_body
    assert body["organisation"] == {"name": "Exempelby kommun", "logo": "/assets/logo.svg"}
    assert body["statement"] == {"checked_on": "2027-01-31"}


def test_config_lists_the_support_channels_in_both_languages_and_says_them_in_the_callers(
        world, client, configure):
    configure(SUPPORT_CHANNELS='[{"phone": "2000", "sv": "internt, knappval 3 och 1", '
                               '"en": "internal, options 3 and 1"}, {"phone": "019-21 10 00"}, '
                               '{"email": "hjalp@exempelby.se"}, '
                               '{"sv": "ett meddelande i Treserva", "en": "a message in Treserva"}]')
    swedish = get(client, "/api/config").json_body["support"]
    english = get(client, "/api/config", lang="en").json_body["support"]
    assert swedish["channels"] == english["channels"] == [
        {"kind": "phone", "value": "2000",
         "text": {"sv": "internt, knappval 3 och 1", "en": "internal, options 3 and 1"}},
        {"kind": "phone", "value": "019-21 10 00"},
        {"kind": "email", "value": "hjalp@exempelby.se"},
        {"kind": "text", "text": {"sv": "ett meddelande i Treserva", "en": "a message in Treserva"}}]
    assert swedish["text"] == ("2000 (internt, knappval 3 och 1), 019-21 10 00, hjalp@exempelby.se "
                               "eller ett meddelande i Treserva")
    assert english["text"] == ("2000 (internal, options 3 and 1), 019-21 10 00, hjalp@exempelby.se "
                               "or a message in Treserva")
    assert (swedish["phone"], swedish["email"]) == ("2000", "hjalp@exempelby.se")


def test_an_english_error_names_support_in_english_without_the_swedish_menu_choices(world, client):
    from tests.api_client import post
    english = post(client, "/api/reset/verify", {"challenge": "x" * 43, "code": "12"}, lang="en")
    swedish = post(client, "/api/reset/verify", {"challenge": "x" * 43, "code": "12"})
    assert english.status_code == swedish.status_code >= 400
    assert "knappval" not in english.json_body["error"]["message"]
    assert "options 3 and 1" in english.json_body["error"]["message"]
    assert "knappval 3 och 1" in swedish.json_body["error"]["message"]
