"""The admin CLI's holder commands (SPEC 9, 11) as the support desk runs them: a separate
process, `--stage local`, against an embedded AWS (the moto server of test_admin_cli)."""
from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from tests.conftest import ROOT
from tests.integration.test_admin_cli import admin, local_aws  # noqa: F401 (the fixture)

ACCOUNTS = "pwportal-local-accounts"


def item_of(dynamodb, username: str) -> dict:
    from chalicelib.adapters.dynamo import from_dynamo
    return from_dynamo(dynamodb.get_item(TableName=ACCOUNTS,
                                         Key={"username": {"S": username}})["Item"])


def ids_in(output: str) -> list[str]:
    """The holder ids of a `holders list` table (its first column)."""
    rows = output.split("\n")[2:]
    return [row.split()[0] for row in rows if len(row.split()) > 1 and len(row.split()[0]) == 16]


def queued_texts(env) -> list[dict]:
    """(number, text) of every SMS on the local stage's queue, taken off it."""
    import json

    import boto3
    from chalicelib.settings import load_settings
    from infra import resources
    sqs = boto3.client("sqs", endpoint_url=f"http://127.0.0.1:{env['PWPORTAL_MOTO_PORT']}",
                       region_name="eu-north-1", aws_access_key_id="local",
                       aws_secret_access_key="local")
    url = sqs.get_queue_url(QueueName=resources.queue_name(load_settings(env),
                                                           "SmsQueue"))["QueueUrl"]
    found = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return found
        for message in batch:
            body = json.loads(message["Body"])
            found.append((body["to"], body["text"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture(scope="module")
def queues(local_aws):  # noqa: F811
    """The local stage's SMS queue on the embedded AWS, as `make run` creates it."""
    import boto3
    from chalicelib.settings import load_settings
    from infra import resources
    env, _ = local_aws
    sqs = boto3.client("sqs", endpoint_url=f"http://127.0.0.1:{env['PWPORTAL_MOTO_PORT']}",
                       region_name="eu-north-1", aws_access_key_id="local",
                       aws_secret_access_key="local")
    return resources.create_queues(sqs, load_settings(env))


def test_support_adds_lists_and_removes_holders(local_aws, queues):  # noqa: F811
    env, dynamodb = local_aws
    assert admin(env, "accounts", "create", "delad", "--phone", "070-123 45 67",
                 stdin="tuvKAJ58!x\n").returncode == 0
    added = admin(env, "holders", "add", "Delad", "Bo Ek", "070-765 43 21")
    assert added.returncode == 0, added.stderr
    assert "Added Bo Ek" in added.stdout and "told by SMS" in added.stdout
    listed = admin(env, "holders", "list", "delad")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split()[:6] == ["id", "name", "number", "added", "added", "by"]
    assert "(namn saknas)" in listed.stdout and "070-*** ** 21" in listed.stdout
    assert "0707654321" not in listed.stdout and "+46707654321" not in listed.stdout
    assert "2 of at most 5 holders" in listed.stdout
    first, bo = ids_in(listed.stdout)
    assert [h["id"] for h in item_of(dynamodb, "delad")["holders"]] == [first, bo]
    told = queued_texts(env)
    assert sorted(to for to, _ in told) == ["+46701234567", "+46707654321"]
    assert all("Numret 070-*** ** 21 lades till" in text
               and 'Namn: "Bo Ek". Av: support.' in text for _, text in told)

    removed = admin(env, "holders", "remove", "delad", first)
    assert removed.returncode == 0, removed.stderr
    assert f"Removed (namn saknas) ({first})" in removed.stdout
    stored = item_of(dynamodb, "delad")
    assert [h["name"] for h in stored["holders"]] == ["Bo Ek"]
    assert stored["phone"] == "+46707654321"  # the version 1 flows' number follows

    told = queued_texts(env)
    assert sorted(to for to, _ in told) == ["+46701234567", "+46707654321"]
    assert all("togs bort" in text and "Av: support." in text for _, text in told)

    unknown = admin(env, "holders", "remove", "delad", first)
    assert unknown.returncode == 1
    assert f"delad has no holder {first}" in unknown.stderr


def test_bad_holders_are_refused_with_a_clear_error_and_change_nothing(local_aws):
    env, dynamodb = local_aws
    assert admin(env, "accounts", "create", "fullt", "--phone", "0701234567",
                 stdin="tuvKAJ58!x\n").returncode == 0
    for i in range(4):
        assert admin(env, "holders", "add", "fullt", f"Person {chr(65 + i)}",
                     f"070-111 22 3{i}").returncode == 0
    before = item_of(dynamodb, "fullt")
    sixth = admin(env, "holders", "add", "fullt", "Sexan", "0761112233")
    assert sixth.returncode == 1
    assert "too_many_holders" in sixth.stderr and "5 holders" in sixth.stderr
    named = admin(env, "holders", "add", "fullt", "x" * 61, "0761112233")
    assert named.returncode == 1 and "invalid_name" in named.stderr
    assert "1–60 characters" in named.stderr
    nobody = admin(env, "holders", "list", "finns-inte")
    assert nobody.returncode == 1 and "no account named finns-inte" in nobody.stderr
    assert item_of(dynamodb, "fullt") == before


def test_the_migration_turns_version_1_numbers_into_holders_once(local_aws):
    env, dynamodb = local_aws
    assert admin(env, "accounts", "create", "version1", stdin="tuvKAJ58!x\n").returncode == 0
    dynamodb.update_item(TableName=ACCOUNTS, Key={"username": {"S": "version1"}},
                         UpdateExpression="SET phone = :p REMOVE holders",
                         ExpressionAttributeValues={":p": {"S": "+46701239876"}})
    waiting = admin(env, "holders", "list", "version1")
    assert waiting.returncode == 0
    assert "its version 1 number 070-*** ** 76 becomes one with `migrate holders`" in \
        waiting.stdout
    dry = admin(env, "migrate", "holders", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would become" in dry.stdout and "version1" in dry.stdout
    assert "Dry run: nothing was written." in dry.stdout
    assert "holders" not in item_of(dynamodb, "version1")
    done = admin(env, "migrate", "holders")
    assert done.returncode == 0, done.stderr
    assert "became a holder without a name (namn saknas)" in done.stdout
    [holder] = item_of(dynamodb, "version1")["holders"]
    assert (holder["name"], holder["phone"], holder["added_by"]) == (
        "", "+46701239876", "support")
    again = admin(env, "migrate", "holders")
    assert again.returncode == 0 and again.stdout.startswith("0 version 1 numbers")
    assert item_of(dynamodb, "version1")["holders"] == [holder]


def test_the_monthly_report_is_a_table_and_a_csv_for_excel(local_aws, queues):  # noqa: F811
    env, _ = local_aws
    assert admin(env, "accounts", "create", "manadslogg", "--phone", "0701234567",
                 "--name", "Anna Berg", stdin="tuvKAJ58!x\n").returncode == 0
    assert admin(env, "holders", "add", "manadslogg", "Bo Ek", "0707654321").returncode == 0
    month = datetime.now(timezone.utc).strftime("%Y-%m")
    shown = admin(env, "report", "--account", "manadslogg", "--month", month)
    assert shown.returncode == 0, shown.stderr
    assert "Tid (svensk tid)" in shown.stdout and "Innehavare lades till" in shown.stdout
    assert "Anna Berg" in shown.stdout and "Bo Ek" in shown.stdout

    raw = subprocess.run([sys.executable, "-m", "chalicelib.admin", "--stage", "local",
                          "report", "--account", "manadslogg", "--month", month, "--csv"],
                         capture_output=True, cwd=ROOT, env=env, timeout=60)
    assert raw.returncode == 0, raw.stderr
    assert raw.stdout.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.stdout.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:5] == ["Tid (svensk tid)", "Händelse", "Beskrivning", "Utfall", "Vem"]
    assert sorted(row[1] for row in rows[1:]) == ["account.created", "holder.added",
                                                  "holder.added"]
    assert {row[4] for row in rows[1:]} == {"support"}

    wrong = admin(env, "report", "--account", "manadslogg", "--month", "2026-13")
    assert wrong.returncode == 1 and "--month is a month such as 2026-11" in wrong.stderr
    alone = admin(env, "report", "--csv")
    assert alone.returncode == 1 and "--account USERNAME --month YYYY-MM" in alone.stderr
    nobody = admin(env, "report", "--account", "finns-inte", "--month", month)
    assert nobody.returncode == 1 and "no account named finns-inte" in nobody.stderr


def test_support_sends_a_holder_a_reset_link_from_the_same_use_case_as_the_console(
        local_aws, queues):  # noqa: F811
    env, dynamodb = local_aws
    assert admin(env, "accounts", "create", "lankad", "--phone", "070-123 45 67",
                 stdin="tuvKAJ58!x\n").returncode == 0
    assert admin(env, "holders", "add", "lankad", "Bo Ek", "070-765 43 21").returncode == 0
    first, bo = ids_in(admin(env, "holders", "list", "lankad").stdout)
    queued_texts(env)  # the notices of the adding
    sent = admin(env, "holders", "reset-link", "lankad", bo)
    assert sent.returncode == 0, sent.stderr
    assert "works once, for 10 minutes" in sent.stdout and "+46707654321" not in sent.stdout
    told = queued_texts(env)
    # the link goes to Bo's number by his holder id (the worker looks it up), the notice to
    # the other holder as it is
    link = [text for _, text in told if "/pwreset/#reset=" in text]
    assert len(link) == 1 and "lankad" in link[0]
    assert [to for to, text in told if "skickades" in text] == ["+46701234567"]
    unknown = admin(env, "holders", "reset-link", "lankad", "no-such-holder-0")
    assert unknown.returncode == 1 and "holder_not_found" in unknown.stderr
