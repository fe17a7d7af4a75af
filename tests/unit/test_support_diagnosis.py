"""SPEC 9, 11, 12: support's answer to "why didn't it get a code?" is per holder and channel
(services/support/diagnosis.py): each holder's SMS and authenticator app, and what stands in
the way of each."""
from __future__ import annotations

from chalicelib.domain.records import APP, SMS
from tests.unit.conftest import NEW_PHONE, PHONE, USERNAME


def give_app(rig, phone):
    account = rig.account()
    rig.store.write(rig.portal.accounts.save(account.with_holders([
        holder.with_app("n" * 32, rig.clock.now(), holder.id) if holder.phone == phone
        else holder for holder in account.holders]), account.version))


def routes(rig):
    found = rig.portal.diagnoses.events(USERNAME)
    return [(route.holder.phone, route.channel, route.reasons) for route in found.routes]


def test_each_holder_has_an_sms_and_an_app_route(rig):
    rig.create_account()
    rig.portal.holder_changes.add(USERNAME, "Bo Ek", NEW_PHONE)
    give_app(rig, NEW_PHONE)
    assert routes(rig) == [(PHONE, SMS, ()), (PHONE, APP, ("no_app",)),
                           (NEW_PHONE, SMS, ()), (NEW_PHONE, APP, ())]
    found = rig.portal.diagnoses.events(USERNAME)
    assert [h.phone for h in found.open(SMS)] == [PHONE, NEW_PHONE]
    assert [h.phone for h in found.open(APP)] == [NEW_PHONE]


def test_a_disabled_account_closes_every_route_and_the_sms_limit_only_the_sms(rig):
    rig.create_account()
    give_app(rig, PHONE)
    for _ in range(3):  # the per-username SMS limit: 3 per 15 min
        rig.challenge()
        rig.clock.advance(seconds=61)
    assert routes(rig) == [(PHONE, SMS, ("sms_limit",)), (PHONE, APP, ())]
    rig.portal.account_changes.disable(USERNAME)
    assert routes(rig) == [(PHONE, SMS, ("disabled", "sms_limit")),
                           (PHONE, APP, ("disabled",))]


def test_no_holder_no_route_and_no_account_no_routes(rig):
    rig.create_account(phone=None)
    found = rig.portal.diagnoses.events(USERNAME)
    assert found.routes == () and found.state.why_no_code() == ["no_number"]
    nobody = rig.portal.diagnoses.events("finns-inte")
    assert nobody.routes == () and nobody.state.why_no_code() == ["no_account"]
