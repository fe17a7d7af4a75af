"""Issue 22 point 10: the support CLI as support staff read it. Its help holds no developer
notes and names every option; a holder was added by a name, not an id; a number is masked
one way; times are Swedish time with the zone named once; the monthly CSV speaks Swedish."""
from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from datetime import datetime, timezone

from tests.conftest import ROOT
from tests.integration.test_admin_cli import admin, local_aws  # noqa: F401 (the fixture)
from tests.integration.test_admin_cli_holders import ids_in, queued_texts, queues  # noqa: F401

DEVELOPER_NOTES = ("SPEC", "This module", "boto3", "chalicelib/services", "docstring")
HELPS = [(), ("accounts",), ("accounts", "create"), ("accounts", "show"),
         ("accounts", "list"), ("accounts", "set-phone"), ("accounts", "import"), ("events",),
         ("report",), ("holders",), ("holders", "list"), ("holders", "add"),
         ("holders", "remove"), ("authenticator",), ("authenticator", "remove"),
         ("migrate",), ("migrate", "holders")]


def helped(*command: str) -> str:
    done = subprocess.run([sys.executable, "-m", "chalicelib.admin", *command, "--help"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_no_help_holds_a_developer_note_and_the_overview_names_name():
    for command in HELPS:
        shown = helped(*command)
        assert not [note for note in DEVELOPER_NOTES if note in shown], command
        assert "Registrerat nummer" not in shown, command
    overview = helped()
    assert "accounts create USERNAME [--phone NUMBER] [--name NAME]" in overview
    assert "accounts set-phone USERNAME NUMBER [--name NAME]" in overview
    assert "--name" in helped("accounts", "create") and "--name" in helped("accounts", "set-phone")


def test_holders_list_says_who_added_each_holder_by_name_and_masks_numbers_nationally(
        local_aws, queues):  # noqa: F811
    env, _ = local_aws
    assert admin(env, "accounts", "create", "vemlade", "--phone", "070-123 45 67",
                 "--name", "Anna Berg", stdin="tuvKAJ58!x\n").returncode == 0
    assert admin(env, "holders", "add", "vemlade", "Bo Ek", "070-765 43 21").returncode == 0
    queued_texts(env)  # the notices of the adding: the embedded AWS is shared by the modules
    anna, bo = ids_in(admin(env, "holders", "list", "vemlade").stdout)
    # Bo as Anna would have added him on pwreg, and Anna as she would have added herself
    _, dynamodb = local_aws
    dynamodb.update_item(TableName="pwportal-local-accounts", Key={"username": {"S": "vemlade"}},
                         UpdateExpression="SET holders[1].added_by = :a, holders[0].added_by = :a",
                         ExpressionAttributeValues={":a": {"S": anna}})
    listed = admin(env, "holders", "list", "vemlade")
    assert listed.returncode == 0, listed.stderr
    rows = {row.split()[0]: row for row in listed.stdout.split("\n")[2:] if row.strip()}
    assert "Anna Berg" in rows[bo].split("070-", 1)[1] and anna not in rows[bo][16:]
    assert "themselves" in rows[anna]
    shown = admin(env, "accounts", "show", "vemlade").stdout
    for output in (listed.stdout, shown):
        assert "070-*** ** 67" in output and not re.search(r"\+46\d*\*", output)


def test_times_are_swedish_time_and_the_zone_is_named_once(local_aws):  # noqa: F811
    env, _ = local_aws
    assert admin(env, "accounts", "create", "klockan", "--phone", "0701234567",
                 stdin="tuvKAJ58!x\n").returncode == 0
    for command in (("accounts", "show", "klockan"), ("holders", "list", "klockan"),
                    ("events", "klockan"), ("accounts", "list")):
        output = admin(env, *command).stdout
        assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", output), command
        assert "UTC" not in output, command
        assert output.count("Europe/Stockholm") == 1, command
    now = datetime.now(timezone.utc)
    from chalicelib.domain.clock import swedish_time
    shown = admin(env, "accounts", "show", "klockan").stdout
    created = [line for line in shown.split("\n") if line.startswith("created")][0]
    local = swedish_time(now).strftime("%Y-%m-%d %H:")
    assert local in created or swedish_time(now).strftime("%Y-%m-%d") in created


def test_a_holder_without_a_name_is_shown_as_name_missing(local_aws):  # noqa: F811
    env, _ = local_aws
    assert admin(env, "accounts", "create", "utannamn", "--phone", "0701234567",
                 stdin="tuvKAJ58!x\n").returncode == 0
    listed = admin(env, "holders", "list", "utannamn").stdout
    assert "(namn saknas)" in listed and "Registrerat nummer" not in listed
    assert "(namn saknas)" in admin(env, "accounts", "show", "utannamn").stdout


def test_the_monthly_csv_speaks_swedish_and_a_wrong_code_is_no_changed_number():
    from chalicelib.services.support.monthly import MonthlyLog
    records = [
        {"username": "hemtjanstab", "at": "2026-11-02T08:00:00.000000Z#a", "event":
         "phone.changed", "outcome": "wrong_code", "phone": "+4670*****67"},
        {"username": "hemtjanstab", "at": "2026-11-02T08:01:00.000000Z#b", "event":
         "phone.changed", "outcome": "success", "phone": "+4670*****67"},
        {"username": "hemtjanstab", "at": "2026-11-02T08:02:00.000000Z#c", "event":
         "account.disabled", "outcome": "success"}]
    log = MonthlyLog(username="hemtjanstab", year=2026, month=11,
                     start=datetime(2026, 10, 31, 23, tzinfo=timezone.utc),
                     end=datetime(2026, 11, 30, 23, tzinfo=timezone.utc), records=records)
    rows = list(csv.reader(io.StringIO(log.csv().decode("utf-8-sig")), delimiter=";"))[1:]
    wrong, changed, disabled = rows
    assert wrong[1:4] == ["phone.changed", "Fel kod vid byte av mobilnummer", "fel kod"]
    assert changed[1:4] == ["phone.changed", "Mobilnumret byttes", "lyckades"]
    assert wrong[7] == "070-*** ** 67"
    assert disabled[5:] == ["", "", "", "", ""] and "'" not in "".join(disabled)
