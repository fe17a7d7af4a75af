"""Operator settings: SPEC's defaults, read from PWPORTAL_* variables when asked for."""
from dataclasses import fields
from datetime import date

import pytest

from chalicelib import settings as settings_module
from chalicelib.domain.limits import Rule
from chalicelib.domain.organisation import SupportChannel
from chalicelib.settings import (SETTINGS, CodeSettings, DirectorySettings, LimitSettings,
                                 PolicySettings, Settings, load_settings)


def test_an_empty_environment_gives_specs_defaults():
    assert load_settings({}) == Settings(
        stage="local", accounts_table="pwportal-local-accounts",
        challenges_table="pwportal-local-challenges", limits_table="pwportal-local-limits",
        audit_table="pwportal-local-audit", sms_queue="pwportal-local-sms", sms_queue_url="",
        sms_sender_id="pwportal", portal_host="localhost",
        organisation_name="Örebro kommun", organisation_logo="",
        support_channels=(
            SupportChannel("email", "vardochstod@orebro.se"),
            SupportChannel("phone", "2000", {"sv": "internt nummer, knappval 3 och 1",
                                             "en": "internal number, then options 3 and 1"}),
            SupportChannel("text", "", {"sv": "ett meddelande i Treserva (sök på ”Treserva”)",
                                        "en": "a message in Treserva (search for “Treserva”)"})),
        support_external_phone="",
        statement_checked_on=date(2026, 11, 25),
        secrets_parameter="", pepper="", code_key="", limit_key="", authenticator_key="",
        dev_sms=False, metrics=False,
        allowed_countries=("SE",), session_seconds=900, reset_token_seconds=600,
        audit_retention_days=365, max_body_bytes=16384, sms_max_receives=5,
        trusted_proxy_hops=0, client_address_header="",
        policy=PolicySettings(min_length=8, max_length=128, min_classes=3,
                              forbid_username=True, history=24, max_age_days=90,
                              reminder_days=(14, 3),
                              banned_words=("treserva", "orebro", "losenord", "lösenord",
                                            "password")),
        code=CodeSettings(lifetime_seconds=600, resend_after_seconds=60, max_attempts=5),
        limits=LimitSettings(
            sms_per_number=(Rule(3, 900), Rule(5, 86400)), sms_per_flow=(Rule(1, 60),),
            sms_per_account=(Rule(20, 86400),),
            wrong_codes_per_username=(Rule(10, 86400),), reset_pause_seconds=86400,
            login_failures_per_username=(Rule(50, 86400),),
            login_failures_per_network=(Rule(5, 900),), login_lock_seconds=900,
            reset_starts_per_ip=(Rule(30, 3600),), logins_per_ip=(Rule(30, 3600),),
            verifies_per_network=(Rule(60, 3600),), resends_per_network=(Rule(60, 3600),),
            trusted_networks=(),
            numbers_per_account=(Rule(5, 86400),), sms_per_service=(Rule(1000, 3600),)),
    )


def test_settings_built_without_arguments_are_those_of_an_empty_environment():
    assert Settings() == load_settings({})
    empty = load_settings({})
    assert (CodeSettings(), LimitSettings()) == (empty.code, empty.limits)
    assert Settings(stage="prod", metrics=True).metrics is True


def test_table_and_queue_names_follow_the_stage_unless_named():
    read = load_settings({"PWPORTAL_STAGE": " prod ", "PWPORTAL_AUDIT_TABLE": " kept-audit "})
    assert read.stage == "prod"
    assert (read.accounts_table, read.challenges_table, read.limits_table, read.sms_queue) == (
        "pwportal-prod-accounts", "pwportal-prod-challenges", "pwportal-prod-limits",
        "pwportal-prod-sms")
    assert read.audit_table == "kept-audit"


def test_values_are_stripped_and_a_blank_one_takes_the_default():
    read = load_settings({"PWPORTAL_PASSWORD_MIN_LENGTH": " 12 ",
                          "PWPORTAL_SESSION_SECONDS": "  ", "PWPORTAL_SUPPORT_CHANNELS": "",
                          "PWPORTAL_PEPPER": " p "})
    assert (read.policy.min_length, read.session_seconds, read.support_email, read.pepper) == (
        12, 900, "vardochstod@orebro.se", "p")


def test_lists_switches_and_case():
    read = load_settings({
        "PWPORTAL_PASSWORD_REMINDER_DAYS": "21, 7,",
        "PWPORTAL_PASSWORD_BANNED_WORDS": " a , b ,,",
        "PWPORTAL_PHONE_ALLOWED_COUNTRIES": "se, no",
        "PWPORTAL_CLIENT_ADDRESS_HEADER": "X-Client-IP",
        "PWPORTAL_DEV_SMS": "True", "PWPORTAL_METRICS": "yes",
        "PWPORTAL_PASSWORD_FORBID_USERNAME": "no",
        "PWPORTAL_LIMIT_LOGINS_PER_IP": "2/60, 9/3600"})
    assert read.policy.reminder_days == (21, 7)
    assert read.policy.banned_words == ("a", "b")
    assert read.allowed_countries == ("SE", "NO")
    assert read.client_address_header == "x-client-ip"
    assert (read.dev_sms, read.metrics) == (True, False)  # on only when "true"
    assert read.policy.forbid_username is True  # off only when "false"
    switched_off = load_settings({"PWPORTAL_PASSWORD_FORBID_USERNAME": "False"})
    assert switched_off.policy.forbid_username is False
    assert read.limits.logins_per_ip == (Rule(2, 60), Rule(9, 3600))


@pytest.mark.parametrize("variable", ["SESSION_SECONDS", "PASSWORD_HISTORY",
                                      "LIMIT_RESET_PAUSE_SECONDS", "CODE_MAX_ATTEMPTS"])
def test_a_number_that_does_not_parse_stops_the_service_naming_its_variable(variable):
    with pytest.raises(RuntimeError, match=f"setting PWPORTAL_{variable} must be a whole "
                                           f"number, not '1.5'"):
        load_settings({f"PWPORTAL_{variable}": "1.5"})


def test_a_limit_that_does_not_parse_stops_the_service():
    with pytest.raises(RuntimeError, match="COUNT/SECONDS"):
        load_settings({"PWPORTAL_LIMIT_SMS_PER_SERVICE": "many"})


def test_the_code_length_is_not_a_setting():
    assert load_settings({"PWPORTAL_CODE_LENGTH": "8"}) == load_settings({})


def test_settings_are_read_when_asked_for_not_at_import(monkeypatch):
    assert not any(isinstance(value, Settings) for value in vars(settings_module).values())
    monkeypatch.setenv("PWPORTAL_STAGE", "later")
    assert load_settings().stage == "later"


def test_the_table_states_every_field_once_and_each_variable_once():
    nested = {"policy": PolicySettings, "code": CodeSettings, "limits": LimitSettings,
              "directory": DirectorySettings}
    expected = [f.name for f in fields(Settings) if f.name not in nested] + [
        f"{group}.{f.name}" for group, kind in nested.items() for f in fields(kind)]
    assert sorted(s.attribute for s in SETTINGS) == sorted(expected)
    variables = [s.env for s in SETTINGS]
    assert len(set(variables)) == len(variables)


@pytest.mark.parametrize("raw, why", [
    ("not json", "not JSON"),
    ("[]", "one or more"),
    ('[{"phone": "2000", "sv": "knappval 3 och 1"}]', "in both sv and en"),
    ('[{"phone": "två tusen"}]', "not a phone number"),
    ('[{"email": "support"}]', "not an e-mail address"),
    ('[{"phone": "2000", "email": "a@b.se"}]', "not both"),
    ('[{"fax": "2000"}]', "unknown keys"),
    ('[{"sv": "", "en": ""}]', "needs a phone"),
])
def test_a_support_channel_list_that_cannot_be_read_is_refused_with_the_reason(raw, why):
    with pytest.raises(RuntimeError, match="PWPORTAL_SUPPORT_CHANNELS") as refused:
        load_settings({"PWPORTAL_SUPPORT_CHANNELS": raw})
    assert why in str(refused.value)


def test_the_logo_must_be_an_image_and_the_check_day_a_date():
    with pytest.raises(RuntimeError, match="PWPORTAL_ORGANISATION_LOGO"):
        load_settings({"PWPORTAL_ORGANISATION_LOGO": "logo.exe"})
    with pytest.raises(RuntimeError, match="PWPORTAL_STATEMENT_CHECKED_ON"):
        load_settings({"PWPORTAL_STATEMENT_CHECKED_ON": "25 november"})


def test_the_default_support_says_the_e_mail_first_and_marks_the_short_number_internal():
    """SPEC 2 v3: the guide sends people to a private phone or an iPad, from which 2000 cannot
    be dialled."""
    channels = load_settings({}).support_channels
    assert channels[0].kind == "email"
    assert channels[1].plain("sv") == "2000 (internt nummer, knappval 3 och 1)"
    assert channels[1].plain("en") == "2000 (internal number, then options 3 and 1)"


def test_an_external_support_number_is_one_setting_and_comes_after_the_e_mail():
    read = load_settings({"PWPORTAL_SUPPORT_EXTERNAL_PHONE": "019-21 10 00"})
    assert [c.value for c in read.support_channels] == [
        "vardochstod@orebro.se", "019-21 10 00", "2000", ""]
    assert read.support_channels[1].plain("sv") == "019-21 10 00 (från en privat telefon eller iPad)"
    assert read.support_phone == "019-21 10 00"  # the number named where one is named (SMS)
    listed = load_settings({"PWPORTAL_SUPPORT_EXTERNAL_PHONE": "2000"}).support_channels
    assert [c.value for c in listed].count("2000") == 1  # listed already: not twice
    with pytest.raises(RuntimeError, match="SUPPORT_EXTERNAL_PHONE"):
        load_settings({"PWPORTAL_SUPPORT_EXTERNAL_PHONE": "ring oss"})
