"""Codes by channel end to end (issue 15, SPEC 9 and 12): a reset with the authenticator app
and one by SMS, through the API with metrics on as on a deployed stage, are each counted by
(stage) and by (stage, channel) in the embedded-metric lines the dashboard reads
(infra/monitoring.py: codes by channel, the app's share, the SMS cost saved)."""
from __future__ import annotations

import json

from tests.api.helpers import (PHONE, app_challenge, app_code, give_app, start, verify,
                               wrong)
from tests.integration.test_every_event import metered  # noqa: F401 (the fixture)

CHANNELLED = ("reset.requested", "reset.code_failed", "reset.code_verified")


def counted(out: str) -> list[tuple[str, str | None, list]]:
    """(event, channel, dimension sets) of every embedded-metric line written."""
    found = []
    for text in out.splitlines():
        line = json.loads(text) if text.startswith("{") else {}
        if "_aws" in line:
            [directive] = line["_aws"]["CloudWatchMetrics"]
            [metric] = directive["Metrics"]
            found.append((metric["Name"], line.get("channel"), directive["Dimensions"]))
    return found


def test_a_reset_with_the_app_and_one_by_sms_are_counted_by_their_channels(
        metered, client, capsys):  # noqa: F811
    world = metered
    world.create_account()
    secret = give_app(world.portal, world.clock.now())
    capsys.readouterr()

    challenge = app_challenge(client)
    assert verify(client, challenge, wrong(app_code(secret, world.clock.now()))).status_code \
        == 400
    assert verify(client, challenge, app_code(secret, world.clock.now())).status_code == 200
    world.clock.advance(seconds=61)  # the SMS limit of one a minute
    by_sms = start(client).json_body["challenge"]
    assert verify(client, by_sms, world.last_code(PHONE)).status_code == 200

    lines = [(event, channel, sets) for event, channel, sets in counted(
        capsys.readouterr().out) if event in CHANNELLED]
    assert sorted((event, channel) for event, channel, _ in lines) == [
        ("reset.code_failed", "app"),
        ("reset.code_verified", "app"), ("reset.code_verified", "sms"),
        ("reset.requested", "app"), ("reset.requested", "sms")]
    # each counted by stage, as every widget and alarm before the app reads it, and by
    # stage and channel, as the app's widgets and the SmsPumping alarm read it
    assert all(sets == [["stage"], ["stage", "channel"]] for _, _, sets in lines)
