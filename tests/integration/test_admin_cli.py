"""The admin CLI, run as the support desk runs it: a separate process, `--stage local`,
against an embedded AWS (a moto server on loopback) like the one `make run` starts."""
from __future__ import annotations

import os
import subprocess
import sys

import boto3
import pytest
from moto.server import ThreadedMotoServer

from chalicelib.admin import USERNAME_RULE
from chalicelib.settings import load_settings
from infra import resources
from tests.conftest import ROOT, stage_environment


@pytest.fixture(scope="module")
def local_aws():
    # Port 0: the OS gives the server a port that is free when it binds, and it says which.
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    env = {**os.environ, **stage_environment(), "PWPORTAL_MOTO_PORT": str(port),
           "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
           "AWS_DEFAULT_REGION": "eu-north-1"}
    env.pop("AWS_ENDPOINT_URL", None)
    endpoint = f"http://127.0.0.1:{port}"
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="eu-north-1",
                            aws_access_key_id="local", aws_secret_access_key="local")
    old = {k: os.environ.get(k) for k in stage_environment()}
    os.environ.update(stage_environment())
    try:
        resources.create_tables(dynamodb, load_settings())
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    yield env, dynamodb
    server.stop()


def admin(env, *args, stdin=""):
    return subprocess.run([sys.executable, "-m", "chalicelib.admin", "--stage", "local", *args],
                          input=stdin, capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=60)


def test_create_reads_the_password_from_stdin_and_show_displays_the_account(local_aws):
    env, dynamodb = local_aws
    created = admin(env, "accounts", "create", "Hemvardsgruppen", "--phone", "070-123 45 67",
                    stdin="tuvKAJ58!x\n")
    assert created.returncode == 0, created.stderr
    assert "Created hemvardsgruppen." in created.stdout
    assert "tuvKAJ58!x" not in created.stdout + created.stderr
    shown = admin(env, "accounts", "show", "HEMVARDSGRUPPEN")
    assert shown.returncode == 0, shown.stderr
    assert "hemvardsgruppen" in shown.stdout and "070-*** ** 67" in shown.stdout
    assert "in 90 days" in shown.stdout
    assert "0701234567" not in shown.stdout and "+46701234567" not in shown.stdout
    item = dynamodb.get_item(TableName="pwportal-local-accounts",
                             Key={"username": {"S": "hemvardsgruppen"}})["Item"]
    assert item["password_hash"]["S"].startswith("$argon2id$")
    assert "tuvKAJ58" not in str(item)


def test_create_enforces_the_password_policy_and_changes_nothing(local_aws):
    env, dynamodb = local_aws
    refused = admin(env, "accounts", "create", "svagt", stdin="Åsa12345\n")
    assert refused.returncode == 1
    assert "password_rejected" in refused.stderr and "classes" in refused.stderr
    assert "Item" not in dynamodb.get_item(TableName="pwportal-local-accounts",
                                           Key={"username": {"S": "svagt"}})


def test_generate_prints_a_policy_compliant_password_once(local_aws):
    env, _ = local_aws
    created = admin(env, "accounts", "create", "hemtjanstnord", "--generate")
    assert created.returncode == 0, created.stderr
    lines = [line for line in created.stdout.splitlines() if line.startswith("Password")]
    assert len(lines) == 1
    password = lines[0].split(": ", 1)[1]
    from chalicelib.domain.policy import violations
    assert violations(password, "hemtjanstnord", load_settings().policy) == []


def test_creating_an_existing_account_is_refused(local_aws):
    env, _ = local_aws
    assert admin(env, "accounts", "create", "dubblett", stdin="tuvKAJ58!x\n").returncode == 0
    again = admin(env, "accounts", "create", "Dubblett", stdin="tuvKAJ58!y\n")
    assert again.returncode == 1 and "account_exists" in again.stderr


def test_set_phone_validates_and_saves_the_number(local_aws):
    env, dynamodb = local_aws
    assert admin(env, "accounts", "create", "telefonbyte", stdin="tuvKAJ58!x\n").returncode == 0
    landline = admin(env, "accounts", "set-phone", "telefonbyte", "08-123 456 78")
    assert landline.returncode == 1 and "phone_not_allowed" in landline.stderr
    done = admin(env, "accounts", "set-phone", "telefonbyte", "0707654321")
    assert done.returncode == 0, done.stderr
    item = dynamodb.get_item(TableName="pwportal-local-accounts",
                             Key={"username": {"S": "telefonbyte"}})["Item"]
    assert item["phone"]["S"] == "+46707654321"
    trail = dynamodb.query(TableName="pwportal-local-audit",
                           KeyConditionExpression="username = :u",
                           ExpressionAttributeValues={":u": {"S": "telefonbyte"}})["Items"]
    assert "phone.set_by_support" in {entry["event"]["S"] for entry in trail}


def test_show_of_an_unknown_account_says_so(local_aws):
    env, _ = local_aws
    missing = admin(env, "accounts", "show", "finnsinte")
    assert missing.returncode == 1 and "not_found" in missing.stderr


# -- the rest of SPEC 9's commands -------------------------------------------------------------

def lines_of(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


def test_the_cli_module_imports_without_boto3():
    probe = subprocess.run(
        [sys.executable, "-c", ("import sys, chalicelib.admin; "
                                "print(sorted(m for m in sys.modules if m.startswith('boto')))")],
        capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "[]"


def test_no_command_takes_a_password_as_an_argument(local_aws):
    env, _ = local_aws
    refused = admin(env, "accounts", "create", "argument", "--password", "tuvKAJ58!x")
    assert refused.returncode == 2 and "unrecognized arguments" in refused.stderr


def test_events_answers_why_an_account_gets_no_code_in_one_command(local_aws):
    env, _ = local_aws
    assert admin(env, "accounts", "create", "utannummer", stdin="tuvKAJ58!x\n").returncode == 0
    shown = admin(env, "events", "UtanNummer")
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "no number registered — codes cannot be sent" in out
    assert "a reset now would NOT send a code: no number registered" in out
    diagnosis, trail = out.split("Audit trail", 1)
    assert diagnosis.index("number") < diagnosis.index("verdict")  # the state comes first
    header = next(line for line in lines_of(trail) if line.startswith("time"))
    assert header.split() == ["time", "relative", "event", "outcome", "who", "ip", "details"]
    row = next(line for line in lines_of(trail) if "account.created" in line)
    assert row.index("account.created") == header.index("event")  # aligned
    assert "just now" in row and row[header.index("who"):].startswith("support ")


def test_events_of_a_name_that_is_no_account_says_so(local_aws):
    env, _ = local_aws
    shown = admin(env, "events", "finns-inte-heller")
    assert shown.returncode == 0
    assert "no account named finns-inte-heller" in shown.stdout


def test_disable_enable_and_unlock_say_what_they_did(local_aws):
    env, dynamodb = local_aws
    assert admin(env, "accounts", "create", "sparras", stdin="tuvKAJ58!x\n").returncode == 0
    disabled = admin(env, "accounts", "disable", "SPARRAS")
    assert disabled.returncode == 0 and "Disabled sparras" in disabled.stdout
    again = admin(env, "accounts", "disable", "sparras")
    assert again.returncode == 0 and "already disabled; nothing changed" in again.stdout
    assert "DISABLED" in admin(env, "events", "sparras").stdout
    enabled = admin(env, "accounts", "enable", "sparras")
    assert enabled.returncode == 0 and "Enabled sparras." in enabled.stdout

    until = int(__import__("time").time()) + 900
    # The username's login counter (repositories/limits.py): 50 failures in its slice, locked.
    key = {"key": {"S": "loginfail#sparras#86400"}}
    slice_ = str((until - 900) // 1440)
    dynamodb.put_item(TableName="pwportal-local-limits", Item={
        **key, "t": {"N": "50"}, f"s{slice_}": {"N": "50"}, f"l{slice_}": {"N": str(until - 900)},
        "until": {"N": str(until)}, "ttl": {"N": str(until + 60)}})
    locked = admin(env, "accounts", "show", "sparras")
    assert "login until" in locked.stdout and "(in 14 min)" in locked.stdout
    unlocked = admin(env, "accounts", "unlock", "sparras")
    assert unlocked.returncode == 0
    assert unlocked.stdout.strip() == "Unlocked sparras: cleared the pwreg login lock."
    assert "Item" not in dynamodb.get_item(TableName="pwportal-local-limits", Key=key)


@pytest.mark.parametrize("command", ["disable", "enable", "unlock", "show"])
def test_a_command_on_an_unknown_account_is_one_line_on_stderr_and_exit_1(local_aws, command):
    env, _ = local_aws
    refused = admin(env, "accounts", command, "saknas")
    assert refused.returncode == 1 and refused.stdout == ""
    assert lines_of(refused.stderr) == ["error: not_found: no account named saknas"]


def test_whose_passwords_expire_this_month_is_one_command(local_aws):
    env, _ = local_aws
    assert admin(env, "accounts", "create", "snartute", "--phone", "0701234567",
                 stdin="tuvKAJ58!x\n").returncode == 0
    month = admin(env, "accounts", "list", "--expiring-within", "30")
    assert month.returncode == 0, month.stderr
    assert "snartute" not in month.stdout  # a new password lasts 90 days
    quarter = admin(env, "accounts", "list", "--expiring-within", "91")
    row = next(line for line in quarter.stdout.splitlines() if line.startswith("snartute "))
    assert "070-*** ** 67" in row and "(in 90 days)" in row and row.split()[1] == "enabled"
    assert "0701234567" not in quarter.stdout
    everyone = admin(env, "accounts", "list")
    assert everyone.returncode == 0 and "snartute " in everyone.stdout
    assert admin(env, "accounts", "list", "--expiring-within", "lots").returncode == 2


def test_list_marks_an_account_that_version_1_created_under_a_look_alike_name(local_aws):
    env, dynamodb = local_aws
    assert admin(env, "accounts", "create", "forlaga-v1", stdin="tuvKAJ58!x\n").returncode == 0
    item = dynamodb.get_item(TableName="pwportal-local-accounts",
                             Key={"username": {"S": "forlaga-v1"}})["Item"]
    twin = "hemtj\u0430nstab-v1"  # what version 1's import accepted: a Cyrillic а
    dynamodb.put_item(TableName="pwportal-local-accounts",
                      Item={**item, "username": {"S": twin}})
    listed = admin(env, "accounts", "list")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if "nstab-v1" in line)
    assert row.startswith(r"'hemtj\u0430nstab-v1' (!)")
    assert "1 marked (!) has a name that is no valid username since version 2" in listed.stdout
    assert not any(line.startswith("forlaga-v1 (!)") for line in listed.stdout.splitlines())


def test_import_lists_every_bad_line_and_creates_nothing(local_aws, tmp_path):
    env, dynamodb = local_aws
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("username,phone\nimport-ok,0701234567\nfel namn,\n"
                        "import-fast,08-123 456 78\n", encoding="utf-8")
    refused = admin(env, "accounts", "import", str(accounts))
    assert refused.returncode == 1 and refused.stdout == ""
    assert lines_of(refused.stderr)[1:] == [
        f"  line 3: username 'fel namn' is not valid ({USERNAME_RULE})",
        "  line 4: the number of import-fast is not a Swedish mobile number"]
    assert "Item" not in dynamodb.get_item(TableName="pwportal-local-accounts",
                                           Key={"username": {"S": "import-ok"}})


def test_import_refuses_look_alike_usernames_line_by_line_and_creates_nothing(
        local_aws, tmp_path):
    env, dynamodb = local_aws
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("username,phone\n"
                        "tvilling-ok,\n"
                        "hemtj\u0430nstab,\n"          # Cyrillic а
                        "ｈｅｍｔｊａｎｓｔａｂ,\n"           # fullwidth twin
                        "hemtjanstab\u3164,\n"         # an invisible Hangul filler
                        "-h,\n"                         # an option, on the command line
                        "hemtjänstab,\n", encoding="utf-8")
    refused = admin(env, "accounts", "import", str(accounts))
    assert refused.returncode == 1 and refused.stdout == ""
    assert lines_of(refused.stderr)[1:] == [
        f"  line {line}: username {shown} is not valid ({USERNAME_RULE})"
        for line, shown in ((3, r"'hemtj\u0430nstab'"),
                            (4, "'" + r"\uff48\uff45\uff4d\uff54\uff4a\uff41\uff4e"
                                + r"\uff53\uff54\uff41\uff42" + "'"),
                            (5, r"'hemtjanstab\u3164'"), (6, "'-h'"),
                            (7, r"'hemtj\xe4nstab'"))]
    assert "Item" not in dynamodb.get_item(TableName="pwportal-local-accounts",
                                           Key={"username": {"S": "tvilling-ok"}})


@pytest.mark.parametrize("command", [["accounts", "show"], ["accounts", "create", "--generate"],
                                     ["accounts", "disable"], ["events"]])
def test_a_name_after_double_dash_that_looks_like_an_option_is_refused_not_helped(
        local_aws, command):
    env, _ = local_aws
    refused = admin(env, *command, "--", "-h")
    assert refused.returncode == 1 and refused.stdout == ""
    assert lines_of(refused.stderr) == [
        f"error: invalid_request: '-h' is not a valid username ({USERNAME_RULE})"]


def test_help_for_a_command_names_the_username_rule_and_the_double_dash(local_aws):
    env, _ = local_aws
    helped = admin(env, "accounts", "show", "-h")
    assert helped.returncode == 0
    text = " ".join(helped.stdout.split())
    assert "ASCII letters" in text and "write '--' before the names" in text


@pytest.mark.parametrize("username", ["hemtj\u0430nstab", "ｈｅｍｔｊａｎｓｔａｂ",
                                      "hemtjanstab\u3164", "sp\u00e4rras"])
def test_create_refuses_a_look_alike_username_and_shows_it_escaped(local_aws, username):
    env, dynamodb = local_aws
    refused = admin(env, "accounts", "create", username, stdin="tuvKAJ58!x\n")
    assert refused.returncode == 1 and refused.stdout == ""
    assert lines_of(refused.stderr) == [
        f"error: invalid_request: {ascii(username)} is not a valid username ({USERNAME_RULE})"]
    assert "Item" not in dynamodb.get_item(TableName="pwportal-local-accounts",
                                           Key={"username": {"S": username.lower()}})


def test_import_creates_the_accounts_and_shows_a_password_only_where_one_is_handed_out(
        local_aws, tmp_path):
    env, _ = local_aws
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("username,phone\nimport-med,0701234567\nimport-utan,\n",
                        encoding="utf-8")
    done = admin(env, "accounts", "import", str(accounts))
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines()
            if line.startswith("import-")}
    assert "070-*** ** 67" in rows["import-med"] and "pwreset" in rows["import-med"]
    password = rows["import-utan"].split()[-1]
    from chalicelib.domain.policy import violations
    assert violations(password, "import-utan", load_settings().policy) == []
    assert done.stdout.count(password) == 1
    again = admin(env, "accounts", "import", str(accounts))
    assert again.returncode == 1 and "already exists" in again.stderr


def test_report_summarises_a_period_and_refuses_a_period_it_cannot_read(local_aws):
    env, _ = local_aws
    assert admin(env, "accounts", "create", "rapport", stdin="tuvKAJ58!x\n").returncode == 0
    week = admin(env, "report", "--since", "7d")
    assert week.returncode == 0, week.stderr
    counts = dict(line.rsplit(None, 1) for line in week.stdout.splitlines()
                  if line.rstrip()[-1:].isdigit() and "  " in line)
    assert int(counts["accounts created"]) >= 1
    assert "resets started" in counts and "SMS failures" in counts
    assert "Enabled accounts without a number" in week.stdout and "rapport" in week.stdout
    nonsense = admin(env, "report", "--since", "yesterday")
    assert nonsense.returncode == 2 and "24h, 7d or 30d" in nonsense.stderr
