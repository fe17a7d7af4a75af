"""GET /api/config: what the pages read before the user types (SPEC 8, policy of SPEC 3)."""
from tests.api.helpers import API_HEADERS
from tests.api_client import get


def test_config_describes_policy_code_phone_support_and_languages(world, client):
    response = get(client, "/api/config")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json_body
    assert set(body) == {"policy", "code", "phone", "support", "languages"}
    assert body["policy"] == {
        "min_length": 8, "max_length": 128, "min_classes": 3,
        "special_characters": "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
        "forbid_username": True, "history": 24, "max_age_days": 90, "reminder_days": [14, 3],
    }
    assert body["code"] == {"length": 6, "lifetime_seconds": 600, "resend_after_seconds": 60,
                            "max_attempts": 5}
    assert body["phone"] == {"allowed_countries": ["SE"]}
    assert body["languages"] == ["sv", "en"]
    assert "2000, knappval 3 och 1" in body["support"]["text"]
    assert "vardochstod@orebro.se" in body["support"]["text"]


def test_config_follows_the_operators_settings(world, client, configure):
    configure(PASSWORD_MIN_LENGTH=12, PASSWORD_MAX_LENGTH=64, PASSWORD_MIN_CLASSES=4,
              PASSWORD_HISTORY=5, PASSWORD_MAX_AGE_DAYS=60, CODE_LIFETIME_SECONDS=300,
              CODE_RESEND_AFTER_SECONDS=30, CODE_MAX_ATTEMPTS=3,
              PASSWORD_REMINDER_DAYS="21,7", SUPPORT_PHONE="019-21 10 00")
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
