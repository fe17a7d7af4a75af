"""Every text pwportal says to a person, Swedish and English side by side.

API error messages, password-rule names and SMS texts. Swedish is the default; a request's
`Accept-Language` picks English. `{support}` is filled in with the configured support line.
"""
from __future__ import annotations

from typing import Any

from chalicelib.domain.console import ByAgent

LANGUAGES = ("sv", "en")

TEXTS: dict[str, dict[str, str]] = {
    # API errors (one per error code)
    "invalid_request": {
        "sv": "Förfrågan saknar uppgifter eller har fel format.",
        "en": "The request is missing information or is malformed.",
    },
    "unsupported_media_type": {
        "sv": "Förfrågan måste skickas som JSON (Content-Type: application/json).",
        "en": "The request must be sent as JSON (Content-Type: application/json).",
    },
    "request_too_large": {
        "sv": "Förfrågan är för stor.",
        "en": "The request is too large.",
    },
    "not_found": {
        "sv": "Sidan eller resursen finns inte.",
        "en": "The page or resource does not exist.",
    },
    "account_exists": {
        "sv": "Det finns redan ett konto med det användarnamnet.",
        "en": "An account with that username already exists.",
    },
    "import_rejected": {
        "sv": "Filen har rader som inte kan importeras. Inget konto skapades.",
        "en": "The file has lines that cannot be imported. No account was created.",
    },
    "forbidden": {
        "sv": "Förfrågan måste gå via portalens egen adress.",
        "en": "The request must go through the portal's own address.",
    },
    "method_not_allowed": {
        "sv": "Metoden är inte tillåten här.",
        "en": "The method is not allowed here.",
    },
    "invalid_credentials": {
        "sv": "Fel användarnamn eller lösenord.",
        "en": "Wrong username or password.",
    },
    "too_many_attempts": {
        "sv": "För många misslyckade inloggningar. Försök igen om {minutes} min.",
        "en": "Too many failed logins. Try again in {minutes} min.",
    },
    "too_many_requests": {
        "sv": "Det har gjorts för många försök. Vänta en stund och försök igen.",
        "en": "There have been too many attempts. Wait a while and try again.",
    },
    "invalid_session": {
        "sv": "Din inloggning har gått ut. Logga in igen.",
        "en": "Your login has expired. Please log in again.",
    },
    # the support console's sign-in (SPEC 14)
    "sign_in_refused": {
        "sv": "Inloggningen kunde inte godkännas. Börja om från supportkonsolens startsida.",
        "en": "The sign-in could not be accepted. Start again from the support console.",
    },
    "not_an_agent": {
        "sv": "Du är inloggad, men du är inte supporthandläggare och kan inte använda "
              "supportkonsolen.",
        "en": "You are signed in, but you are not a support agent and cannot use the "
              "support console.",
    },
    "not_signed_in": {
        "sv": "Du är inte inloggad i supportkonsolen. Logga in igen.",
        "en": "You are not signed in to the support console. Please sign in again.",
    },
    "caller_not_verified": {
        "sv": "Verifiera den som ringer innan du ändrar något på kontot: skicka en kod till "
              "en av kontots personer och låt personen läsa upp den.",
        "en": "Verify the caller before you change anything on the account: send a code to "
              "a holder and have them read it out.",
    },
    "account_disabled": {
        "sv": "Kontot är avstängt. Öppna det igen innan du skickar en länk.",
        "en": "The account is disabled. Enable it before you send a link.",
    },
    "holder_not_found": {
        "sv": "Kontot har ingen sådan person. Läs in kontot igen.",
        "en": "The account has no such holder. Load the account again.",
    },
    "no_authenticator": {
        "sv": "Den personen har ingen autentiseringsapp. Skicka koden med sms i stället.",
        "en": "That holder has no authenticator app. Send the code by SMS instead.",
    },
    "origin_refused": {
        "sv": "Förfrågan måste komma från supportkonsolens egen sida.",
        "en": "The request must come from the support console's own page.",
    },
    "invalid_phone": {
        "sv": "Skriv ett svenskt mobilnummer, till exempel 070-123 45 67.",
        "en": "Enter a Swedish mobile number, for example 070-123 45 67.",
    },
    "phone_not_allowed": {
        "sv": "Numret måste vara ett svenskt mobilnummer.",
        "en": "The number must be a Swedish mobile number.",
    },
    "invalid_name": {
        "sv": "Skriv ditt namn med 1–{max_length} tecken: bokstäver, mellanslag, bindestreck, "
              "apostrof och punkt. Inga siffror, webbadresser eller @, och inte ”support”, "
              "”admin” eller organisationens namn.",
        "en": "Write your name in 1–{max_length} characters: letters, spaces, hyphens, "
              "apostrophes and periods. No digits, web addresses or @, and not “support”, "
              "“admin” or the organisation's name.",
    },
    "identity_required": {
        "sv": "Logga in med din jobbinloggning först. Då hämtas ditt namn därifrån.",
        "en": "Sign in with your work login first. Your name is then taken from it.",
    },
    "too_many_holders": {
        "sv": "Kontot har redan {max_holders} personer. Ta bort någon först.",
        "en": "The account already has {max_holders} holders. Remove one first.",
    },
    "invalid_code": {
        "sv": "Fel säkerhetskod. Du har {attempts_left} försök kvar.",
        "en": "Wrong security code. You have {attempts_left} attempts left.",
    },
    "code_expired": {
        "sv": "Säkerhetskoden gäller inte längre. Begär en ny kod.",
        "en": "The security code is no longer valid. Ask for a new code.",
    },
    "challenge_expired": {
        "sv": "Säkerhetskoden gäller inte längre. Börja om och begär en ny kod.",
        "en": "The security code is no longer valid. Start again to get a new code.",
    },
    "resend_too_soon": {
        "sv": "Vänta {retry_after} sekunder innan du begär en ny kod.",
        "en": "Wait {retry_after} seconds before asking for a new code.",
    },
    "token_expired": {
        "sv": "Tiden för att byta lösenord har gått ut. Börja om från början.",
        "en": "The time to change the password has run out. Please start again.",
    },
    "password_rejected": {
        "sv": "Lösenordet uppfyller inte kraven.",
        "en": "The password does not meet the requirements.",
    },
    "service_unavailable": {
        "sv": "Tjänsten är tillfälligt otillgänglig. Försök igen om en stund.",
        "en": "The service is temporarily unavailable. Please try again shortly.",
    },
    "change_unconfirmed": {  # ldap mode: the directory's answer to the set was lost
        "sv": "Vi vet ännu inte om lösenordet hann bytas. Vi kontrollerar det, och när det är klart får kontots personer ett sms. Testa om några minuter att logga in med det nya lösenordet; går det inte, börja om.",
        "en": "We do not know yet whether the password was changed. We are checking, and the account's people get a text message once it is done. In a few minutes, try logging in with the new password; if that does not work, start again.",
    },
    "no_directory_entry": {
        "sv": "Det finns inget konto med det namnet i katalogen (LDAP/AD).",
        "en": "The directory (LDAP/AD) has no entry with that name.",
    },
    "internal_error": {
        "sv": "Något gick fel hos oss. Försök igen om en stund.",
        "en": "Something went wrong on our side. Please try again shortly.",
    },
    "support": {
        "sv": "Behöver du hjälp? Kontakta support: {support}.",
        "en": "Need help? Contact support: {support}.",
    },
    # Password rules
    "rule.min_length": {
        "sv": "Minst {min_length} tecken.",
        "en": "At least {min_length} characters.",
    },
    "rule.max_length": {
        "sv": "Högst {max_length} tecken.",
        "en": "At most {max_length} characters.",
    },
    "rule.classes": {
        "sv": "Minst {min_classes} av 4: versaler (A–Z, inte Å, Ä, Ö), gemener (a–z, inte å, "
              "ä, ö), siffror, specialtecken.",
        "en": "At least {min_classes} of 4: upper case (A–Z), lower case (a–z), digits, "
              "special characters.",
    },
    "rule.contains_username": {
        "sv": "Får inte innehålla användarnamnet.",
        "en": "Must not contain the username.",
    },
    "rule.reused": {
        "sv": "Får inte vara något av de {history} senaste lösenorden.",
        "en": "Must not be one of the last {history} passwords.",
    },
    "rule.common_word": {
        "sv": "Får inte vara ett vanligt ord med siffror eller tecken före eller efter, "
              "som Sommar2024 och Fotboll123.",
        "en": "Must not be a common word with digits or punctuation before or after it, "
              "such as Summer2024 and Football123.",
    },
    "rule.invalid_characters": {
        "sv": "Får inte innehålla styrtecken (osynliga tecken som radbrytning, tabb eller "
              "tecken som vänder textens riktning) eller tecken som lösenordskatalogen inte "
              "tar emot: tecken för privat bruk, och hebreisk eller arabisk skrift blandad "
              "med latinsk.",
        "en": "Must not contain control characters (invisible characters such as a line "
              "break, a tab or characters that reverse the direction of the text) or "
              "characters a password directory does not take: private-use characters, and "
              "Hebrew or Arabic script mixed with Latin.",
    },
    "rule.common": {
        "sv": "Får inte vara ett vanligt lösenord.",
        "en": "Must not be a common password.",
    },
    "rule.banned_word": {
        "sv": "Får inte innehålla förbjudna ord som ”treserva” eller ”lösenord”.",
        "en": "Must not contain banned words such as “treserva” or “password”.",
    },
    "rule.breached": {
        "sv": "Lösenordet finns i listor över lösenord som har läckt vid dataintrång, och "
              "sådana listor prövar angripare först. Välj ett annat.",
        "en": "This password appears in lists of passwords leaked in data breaches, and "
              "attackers try those lists first. Choose another.",
    },
    "rule.directory": {
        "sv": "Organisationens egna lösenordsregler godtog inte lösenordet. Välj ett annat.",
        "en": "Your organisation's own password rules refused this password. Choose another.",
    },
    # SMS
    "sms.code": {
        "sv": "Din säkerhetskod är {code}. Den gäller i {minutes} minuter. "
              "Dela aldrig koden med någon.\n\n@{host} #{code}",
        "en": "Your security code is {code}. It is valid for {minutes} minutes. "
              "Never share the code with anyone.\n\n@{host} #{code}",
    },
    # SPEC 14: the code a caller (or a new holder) reads out to the support desk on the phone
    "sms.read_out_code": {
        "sv": "Supportens kod för kontot {username} är {code}. Läs upp den för supporten "
              "i telefonen. Den gäller i {minutes} minuter. Ge den aldrig till någon annan.",
        "en": "The support desk's code for the account {username} is {code}. Read it out "
              "to the support desk on the phone. It is valid for {minutes} minutes. Never "
              "give it to anyone else.",
    },
    # SPEC 14: a reset link sent by the support desk, to the verified holder's own number;
    # the link last, so that no full stop sticks to it
    "sms.reset_link": {
        "sv": "Här är länken för att välja ett nytt lösenord för kontot {username}. "
              "Av: {by}. Den gäller i {minutes} minuter och en gång: {link}",
        "en": "Here is the link to choose a new password for the account {username}. "
              "By: {by}. It is valid for {minutes} minutes and once: {link}",
    },
    # SMS notifications (SPEC 7): never a code, a password or someone else's full number.
    # A holder's name is a quoted field after the facts (`Namn: "Anna Berg"`), never a part
    # of the sentence: names are written by people the other holders never met (issue 21).
    # SPEC 16: a phone whose mail app keeps the old password locks the shared account for
    # everyone, so the notice says where the new one must go.
    "sms.password_changed": {
        "sv": "Lösenordet för kontot {username} byttes {time}. Av: {by}. "
              "Var det inte du? Kontakta support: {support}. Skriv in det nya lösenordet i "
              "alla mobiler och appar som använder kontot, t.ex. mejlappen.",
        "en": "The password of the account {username} was changed {time}. By: {by}. "
              "Wasn't this you? Contact support: {support}. Enter the new password on every "
              "phone and app that uses the account, such as the mail app.",
    },
    # SPEC 16: the directory's lock lifted by a holder, the password unchanged
    "sms.account_unlocked": {
        "sv": "Kontot {username} låstes upp {time} utan nytt lösenord. Av: {by}. "
              "En mobil med gammalt lösenord låser det igen. "
              "Var det inte du? Kontakta support: {support}.",
        "en": "The account {username} was unlocked {time}, same password. "
              "By: {by}. A phone with an old password locks it again. "
              "Wasn't this you? Contact support: {support}.",
    },
    "sms.phone_changed": {
        "sv": "Mobilnumret för kontot {username} ändrades {time} till {phone}. "
              "Det här numret får inte längre säkerhetskoder för kontot. "
              "Var det inte du? Kontakta support: {support}.",
        "en": "The mobile number of the account {username} was changed {time} to {phone}. "
              "This number no longer gets security codes for the account. "
              "Wasn't this you? Contact support: {support}.",
    },
    # SMS notifications of holders (SPEC 7): to the other holders and to the one concerned
    "sms.holder_added": {
        "sv": "Numret {phone} lades till {time} och kan nu få säkerhetskoder för kontot "
              "{username}. {named}Av: {by}. Stämmer det inte? "
              "Kontakta support: {support}.",
        "en": "The number {phone} was added {time} and can now get security codes for the "
              "account {username}. {named}By: {by}. Not right? "
              "Contact support: {support}.",
    },
    # the same, when the person added their own number (`{named}` is "sms.name_self")
    "sms.holder_added_self": {
        "sv": "Numret {phone} lades till {time} och kan nu få säkerhetskoder för kontot "
              "{username}. {named}Stämmer det inte? Kontakta support: {support}.",
        "en": "The number {phone} was added {time} and can now get security codes for the "
              "account {username}. {named}Not right? Contact support: {support}.",
    },
    # A holder's name as the SMS above quote it: `{named}` is "sms.name" with the quoted name,
    # or nothing for a holder without a name (a version 1 number, SPEC 9).
    "sms.name": {
        "sv": "Namn: {name}. ",
        "en": "Name: {name}. ",
    },
    "sms.name_self": {
        "sv": "Namn: {name}, som lade till sig själv. ",
        "en": "Name: {name}, who added themselves. ",
    },
    "sms.nameless_self": {
        "sv": "Personen lade till sig själv. ",
        "en": "The person added themselves. ",
    },
    "sms.by_nameless": {  # who did a change: a holder without a name
        "sv": "en person utan namn",
        "en": "a person without a name",
    },
    "sms.by_agent": {  # who did a change: a console agent, for the holder they verified
        "sv": "supporten {agent} för {holder}",
        "en": "the support desk {agent} for {holder}",
    },
    # what the support desk did to the account (SPEC 14), told to every holder
    "sms.support_unlocked": {
        "sv": "Spärrar för kontot {username} togs bort {time}. Av: {by}. Stämmer det inte? "
              "Kontakta support: {support}.",
        "en": "Locks on the account {username} were lifted {time}. By: {by}. Not right? "
              "Contact support: {support}.",
    },
    "sms.support_disabled": {
        "sv": "Kontot {username} stängdes av {time}; lösenordet kan inte bytas förrän det "
              "öppnas igen. Av: {by}. Stämmer det inte? Kontakta support: {support}.",
        "en": "The account {username} was disabled {time}; its password cannot be changed "
              "until it is enabled again. By: {by}. Not right? Contact support: {support}.",
    },
    "sms.support_enabled": {
        "sv": "Kontot {username} öppnades igen {time}. Av: {by}. Stämmer det inte? "
              "Kontakta support: {support}.",
        "en": "The account {username} was enabled again {time}. By: {by}. Not right? "
              "Contact support: {support}.",
    },
    "sms.support_reset_link": {
        "sv": "En länk för att byta lösenord för kontot {username} skickades {time} till "
              "{phone}. Av: {by}. Stämmer det inte? Kontakta support: {support}.",
        "en": "A link to change the password of the account {username} was sent {time} to "
              "{phone}. By: {by}. Not right? Contact support: {support}.",
    },
    "sms.by_login": {  # who removed a holder, when nobody was verified in that session
        "sv": "någon inloggad med kontots lösenord",
        "en": "someone logged in with the account's password",
    },
    "sms.holder_removed": {
        "sv": "Numret {phone} togs bort {time} och får inte längre säkerhetskoder för kontot "
              "{username}. {named}Av: {by}. Stämmer det inte? "
              "Kontakta support: {support}.",
        "en": "The number {phone} was removed {time} and no longer gets security codes for "
              "the account {username}. {named}By: {by}. Not right? "
              "Contact support: {support}.",
    },
    "sms.holder_expired": {
        "sv": "Numret {phone} hade inte använt kontot {username} på {days} dagar och togs "
              "bort {time}; det får inte längre säkerhetskoder för kontot. {named}"
              "Frågor? Kontakta support: {support}.",
        "en": "The number {phone} had not used the account {username} for {days} days and "
              "was removed {time}; it no longer gets security codes for the account. "
              "{named}Questions? Contact support: {support}.",
    },
    # SMS notices of a holder's authenticator app (SPEC 12): to that holder only; never
    # the key, a code or the app's address
    "sms.authenticator_added": {
        "sv": "En autentiseringsapp lades till på kontot {username} {time}. Koder från appen "
              "kan nu användas för att byta lösenord. {named}Av: {by}. "
              "Var det inte du? Kontakta support: {support}.",
        "en": "An authenticator app was added on the account {username} {time}. Codes from "
              "the app can now be used to change the password. {named}By: {by}. "
              "Wasn't this you? Contact support: {support}.",
    },
    "sms.authenticator_removed": {
        "sv": "En autentiseringsapp togs bort från kontot {username} {time}. Koder från den "
              "appen gäller inte längre. {named}Av: {by}. "
              "Stämmer det inte? Kontakta support: {support}.",
        "en": "An authenticator app was removed from the account {username} {time}. Codes "
              "from that app are no longer accepted. {named}By: {by}. "
              "Not right? Contact support: {support}.",
    },
    # the link last, so that no full stop sticks to it when a phone makes it a link
    "sms.reminder": {
        "sv": "Lösenordet för kontot {username} går ut om {days} dagar ({date}). "
              "Frågor? Kontakta support: {support}. Byt det i tid på https://{host}/pwreset/",
        "en": "The password of the account {username} expires in {days} days ({date}). "
              "Questions? Contact support: {support}. Change it in time at "
              "https://{host}/pwreset/",
    },
    # The text alternative of the enrolment's QR code (SPEC 12): what a screen reader says
    "authenticator.qr_title": {
        "sv": "QR-kod för autentiseringsappen: {label}",
        "en": "QR code for the authenticator app: {label}",
    },
    "sms.time": {
        "sv": "{day} {month_sv} {year} kl. {clock}",
        "en": "{day} {month_en} {year} at {clock}",
    },
}


# Who did a change without being a holder: said as is in an SMS, where a holder's name is
# quoted (`by` of the notices above).
NOT_A_NAME = frozenset({"support", *TEXTS["sms.by_login"].values()})


def quoted(name: str) -> str:
    """A holder's name as an SMS shows it: in straight double quotes, which keep the SMS in
    the GSM alphabet (one part of 160 characters, not 70) and which no name can hold
    (domain/holders.py), so a name cannot close its quote and go on as the SMS's text."""
    return f'"{name}"'


def said_by(by: str | ByAgent, lang: str = "sv") -> str:
    """Who did a change, as an SMS says it: `support` or a login as they are, a holder's
    name quoted, a holder without a name (SPEC 9's version 1 number) said so, a console
    agent by their name for the holder they verified (SPEC 14)."""
    if isinstance(by, ByAgent):
        return text("sms.by_agent", lang, agent=quoted(by.agent_name),
                    holder=said_by(by.holder_name, lang))
    if not by:
        return text("sms.by_nameless", lang)
    return by if by in NOT_A_NAME else quoted(by)


def named(name: str, lang: str, *, added_themselves: bool = False) -> str:
    """The name field of a holder's SMS (`{named}`): the quoted name, or nothing for a
    holder without a name; when the person added their own number, said so."""
    if added_themselves:
        return (text("sms.name_self", lang, name=quoted(name)) if name
                else text("sms.nameless_self", lang))
    return text("sms.name", lang, name=quoted(name)) if name else ""


def language(accept_language: str | None) -> str:
    """The first supported language in an Accept-Language header; Swedish otherwise."""
    if not accept_language:
        return "sv"
    ranked = []
    for index, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, index, tag.strip().lower().split("-")[0]))
    for _, _, tag in sorted(ranked):
        if tag in LANGUAGES:
            return tag
    return "sv"


def text(key: str, lang: str, **params: Any) -> str:
    entry = TEXTS[key]
    template = entry.get(lang) or entry["sv"]
    return template.format(**params) if params else template
