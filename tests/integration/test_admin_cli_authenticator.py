"""`authenticator remove USERNAME HOLDER_ID` (SPEC 9, 12) as the support desk runs it for
someone whose phone with the app was lost: a separate process, `--stage local`, against an
embedded AWS (the moto server of test_admin_cli)."""
from __future__ import annotations

import pytest

from tests.integration.test_admin_cli import admin, local_aws  # noqa: F401 (the fixture)
from tests.integration.test_admin_cli_holders import (ACCOUNTS, ids_in, item_of,  # noqa: F401
                                                      queued_texts, queues)

NONCE = "bm9uY2Utb2YtdGhlLXRlc3Q"


def with_app(dynamodb, username: str, index: int) -> None:
    """What a confirmed enrolment leaves on the holder at `index`: the nonce only."""
    dynamodb.update_item(
        TableName=ACCOUNTS, Key={"username": {"S": username}},
        UpdateExpression=f"SET holders[{index}].authenticator = :app",
        ExpressionAttributeValues={":app": {"M": {
            "nonce": {"S": NONCE}, "added_at": {"S": "2026-11-25T08:00:00Z"},
            "added_by": {"S": "self"}}}})


def test_support_removes_a_holders_app_and_the_holder_is_told(local_aws, queues):  # noqa: F811
    env, dynamodb = local_aws
    assert admin(env, "accounts", "create", "appkonto", "--phone", "070-123 45 67",
                 stdin="tuvKAJ58!x\n").returncode == 0
    assert admin(env, "holders", "add", "appkonto", "Bo Ek", "070-765 43 21").returncode == 0
    first, bo = ids_in(admin(env, "holders", "list", "appkonto").stdout)
    with_app(dynamodb, "appkonto", 1)
    queued_texts(env)  # the notices of the adding

    listed = admin(env, "holders", "list", "appkonto")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split("\n")[0].split()[-2:] == ["app", "proven"]
    rows = {row.split()[0]: row for row in listed.stdout.split("\n")[2:] if row.strip()}
    assert "yes, since 2026-11-25 09:00" in rows[bo]
    assert rows[first].split()[-4:] == ["no", "no", "(name", "typed)"]  # no app, not proven

    removed = admin(env, "authenticator", "remove", "AppKonto", bo)
    assert removed.returncode == 0, removed.stderr
    assert f"Removed the authenticator app of Bo Ek ({bo}) from appkonto" in removed.stdout
    assert NONCE not in removed.stdout
    stored = item_of(dynamodb, "appkonto")
    assert [h.get("authenticator") for h in stored["holders"]] == [None, None]
    assert [h["id"] for h in stored["holders"]] == [first, bo]  # Bo stays a holder

    [(to, text)] = queued_texts(env)
    assert to == "+46707654321"
    assert "En autentiseringsapp togs bort från kontot appkonto" in text
    assert 'Namn: "Bo Ek". Av: support.' in text and NONCE not in text

    trail = admin(env, "events", "appkonto")
    assert trail.returncode == 0 and "authenticator.removed" in trail.stdout
    assert NONCE not in trail.stdout


@pytest.mark.parametrize("username, holder, said", [
    ("finns-inte", "A" * 16, "no account named finns-inte"),
    ("appfel", "A" * 16, "appfel has no holder AAAAAAAAAAAAAAAA (see `holders list`)"),
    ("appfel", None, "has no authenticator app (see `holders list`); nothing changed"),
])
def test_a_wrong_user_holder_or_a_holder_without_an_app_is_refused_and_changes_nothing(
        local_aws, username, holder, said):  # noqa: F811
    env, dynamodb = local_aws
    if admin(env, "holders", "list", "appfel").returncode != 0:
        assert admin(env, "accounts", "create", "appfel", "--phone", "0701234567",
                     stdin="tuvKAJ58!x\n").returncode == 0
    holder = holder or ids_in(admin(env, "holders", "list", "appfel").stdout)[0]
    before = item_of(dynamodb, "appfel")
    refused = admin(env, "authenticator", "remove", username, holder)
    assert refused.returncode == 1
    assert said in refused.stderr and refused.stderr.startswith("error: not_found: ")
    assert item_of(dynamodb, "appfel") == before
