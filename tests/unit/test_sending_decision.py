"""What a reset's start or resend sends, counts and records, decided from what was read
(domain/sending.py): the rules of SPEC 4, 5 v3, 8, 11 and 12 as one pure function."""
from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.domain.limits import Decision
from chalicelib.domain.sending import (SMS_PER_ACCOUNT, SMS_PER_FLOW, SMS_PER_NUMBER, Seen,
                                      decide)

ROOM, FULL = Decision(True), Decision(False, 60)
HOLDER_BY_SMS = Seen(first=True, holder=True, has_app=False, by_sms=True, paused=False,
                     per_flow=ROOM, per_number=ROOM, per_account=ROOM)
HOLDER_BY_APP = replace(HOLDER_BY_SMS, by_sms=False, has_app=True)


def test_a_holders_start_by_sms_sends_the_code_and_counts_it():
    sending = decide(HOLDER_BY_SMS)
    assert (sending.send, sending.queue, sending.void, sending.resend, sending.outcome,
            sending.refused_limit) == (True, True, False, False, "code_queued", None)


def test_a_start_without_a_holder_counts_nothing_but_queues_alike():
    """SPEC 5 v3: a number that is no holder's never gets an SMS and counts no SMS limit;
    a message is queued all the same (the worker drops it): the same work (issue 21)."""
    sending = decide(replace(HOLDER_BY_SMS, holder=False))
    assert (sending.send, sending.queue, sending.outcome) == (False, True, "no_holder")


@pytest.mark.parametrize("per_flow, per_number, per_account, refused", [
    (FULL, ROOM, ROOM, SMS_PER_FLOW), (ROOM, FULL, ROOM, SMS_PER_NUMBER),
    (ROOM, ROOM, FULL, SMS_PER_ACCOUNT), (FULL, FULL, FULL, SMS_PER_FLOW)])
def test_a_full_sms_limit_sends_nothing_and_is_noted_for_a_holder(per_flow, per_number,
                                                                   per_account, refused):
    sending = decide(replace(HOLDER_BY_SMS, per_flow=per_flow, per_number=per_number,
                             per_account=per_account))
    assert (sending.send, sending.queue, sending.outcome,
            sending.refused_limit) == (False, True, "no_sms", refused)


def test_a_strangers_number_is_noted_for_no_limit():
    sending = decide(replace(HOLDER_BY_SMS, holder=False, per_account=FULL))
    assert (sending.send, sending.outcome, sending.refused_limit) == (False, "no_holder", None)


def test_a_strangers_resend_is_renewed_as_a_holders_would_be():
    """Else a stranger's code would expire where a holder's was renewed: an oracle."""
    holders = decide(replace(HOLDER_BY_SMS, first=False))
    strangers = decide(replace(HOLDER_BY_SMS, first=False, holder=False))
    limited = decide(replace(HOLDER_BY_SMS, first=False, holder=False, per_account=FULL))
    assert holders.renew and strangers.renew and not strangers.send
    assert limited.renew == decide(replace(HOLDER_BY_SMS, first=False,
                                           per_account=FULL)).renew is False


def test_a_pause_sends_nothing_voids_the_challenge_and_notes_no_limit():
    sending = decide(replace(HOLDER_BY_SMS, paused=True, per_number=FULL))
    assert (sending.send, sending.void, sending.renew, sending.outcome,
            sending.refused_limit) == (False, True, False, "no_sms", None)


def test_the_last_try_sends_nothing_so_that_it_cannot_lose_to_the_sms_limits():
    sending = decide(replace(HOLDER_BY_SMS, last_try=True))
    assert (sending.send, sending.outcome) == (False, "no_sms")


def test_a_resend_is_counted_on_its_network_and_renews_only_a_sent_code():
    sent = decide(replace(HOLDER_BY_SMS, first=False))
    kept = decide(replace(HOLDER_BY_SMS, first=False, per_flow=FULL))
    assert (sent.resend, sent.renew) == (True, True)
    assert (kept.resend, kept.renew, kept.send) == (True, False, False)


def test_the_app_channel_sends_nothing_counts_no_sms_and_ignores_the_sms_limits():
    sending = decide(replace(HOLDER_BY_APP, per_flow=FULL, per_number=FULL,
                             per_account=FULL))
    assert (sending.send, sending.queue, sending.renew, sending.outcome,
            sending.refused_limit) == (False, False, True, "app", None)


def test_the_app_channel_says_whether_the_holder_has_an_app():
    assert decide(replace(HOLDER_BY_APP, has_app=False)).outcome == "no_app"
    assert decide(replace(HOLDER_BY_APP, holder=False, has_app=False)).outcome == "no_holder"


def test_an_app_resend_during_a_pause_keeps_the_code_and_voids_the_challenge():
    sending = decide(replace(HOLDER_BY_APP, first=False, paused=True))
    assert (sending.renew, sending.void, sending.resend) == (False, True, True)
