"""SPEC 9: the audit trail and its log lines: the fields, the truncated IP, the retention,
and never a secret (password, code, token, session, challenge or full number)."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import boto3

from tests.api_client import post
from tests.conftest import REGION

OLD = "tuvKAJ58!x"
REJECTED = "hemtjanstab-Aa1!"
NEW = "Bla-Hus-2026-x"
NUMBERS = ("+46701234567", "+46707654321")


def number_forms(e164: str) -> set[str]:
    national = "0" + e164[3:]
    return {e164, e164[1:], national, f"{national[:3]}-{national[3:6]} {national[6:8]} "
            f"{national[8:]}"}


def log_lines(capsys) -> list[dict]:
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


def audit_items(world) -> list[dict]:
    from chalicelib.adapters.dynamo import from_dynamo
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    items = dynamodb.scan(TableName=world.settings.audit_table)["Items"]
    return [from_dynamo(item) for item in items]


def run_both_flows(world, client) -> set[str]:
    """Both portals from start to end, with a wrong code, a rejected password and a new
    number on the way; returns every secret that passed through."""
    secrets = {OLD, REJECTED, NEW}
    world.create_account()
    started = post(client, "/api/reset/start", {"username": "hemtjanstab", "phone": "+46701234567"})
    challenge = started.json_body["challenge"]
    code = world.last_code("+46701234567")
    wrong = f"{(int(code) + 500001) % 1000000:06d}"
    assert post(client, "/api/reset/verify", {"challenge": challenge,
                                              "code": wrong}).status_code == 400
    verified = post(client, "/api/reset/verify", {"challenge": challenge, "code": code})
    token = verified.json_body["reset_token"]
    assert post(client, "/api/reset/complete", {"reset_token": token,
                                                "password": REJECTED}).status_code == 422
    assert post(client, "/api/reset/complete", {"reset_token": token,
                                                "password": NEW}).status_code == 200
    secrets |= {challenge, code, wrong, token}
    world.clock.advance(seconds=61)  # the code SMS limit per username spans both portals

    login = post(client, "/api/registration/login", {"username": "hemtjanstab",
                                                     "password": NEW})
    session = login.json_body["session"]
    assert post(client, "/api/registration/holders", {"name": "Anna Andersson", "phone": "070-765 43 21"},
                session=session).status_code == 202
    phone_code = world.last_code("+46707654321")
    assert post(client, "/api/registration/holders/verify", {"code": phone_code},
                session=session).status_code == 200
    assert post(client, "/api/registration/login", {"username": "hemtjanstab",
                                                    "password": OLD}).status_code == 401
    world.deliver()
    secrets |= {session, phone_code}
    for number in NUMBERS:
        secrets |= number_forms(number)
    return secrets


def test_both_flows_leave_no_secret_in_any_log_line_or_audit_record(world, client, capsys):
    secrets = run_both_flows(world, client)
    logged = capsys.readouterr().out
    stored = json.dumps(audit_items(world), ensure_ascii=False, default=str)
    assert "reset.code_verified" in logged and "holder.added" in stored
    for secret in secrets:
        # a code is six digits: look for it as a number of its own, not inside a timestamp
        pattern = re.compile(rf"(?<!\d){re.escape(secret)}(?!\d)")
        assert not pattern.search(logged), f"a secret is in the log: {secret[:3]}…"
        assert not pattern.search(stored), f"a secret is in the audit table: {secret[:3]}…"


def test_every_log_line_is_one_json_record_with_the_fields_of_spec_9(world, client, capsys):
    capsys.readouterr()
    run_both_flows(world, client)
    lines = log_lines(capsys)
    assert len(lines) >= 10
    for line in lines:
        assert {"time", "request_id", "username", "event", "outcome", "ip"} <= set(line)
        assert line["time"].endswith("Z")
        assert line["ip"] in ("198.51.100.0/24", "-")
    api_lines = [line for line in lines if line["event"] == "reset.code_verified"]
    assert api_lines and api_lines[0]["request_id"] not in ("", "-")
    # Powertools Logger's correlation id: the request's, on every line that request wrote
    assert api_lines[0]["correlation_id"] == api_lines[0]["request_id"]
    added = [line for line in lines if line["event"] == "holder.added"
             and line["outcome"] == "success" and line.get("holder_id")]
    assert added[0]["phone"] == "+4670*****21"
    assert added[0]["holder_name"] == added[0]["subject_name"] == "Anna Andersson"


def test_audit_records_expire_after_the_retention_period(world, client):
    run_both_flows(world, client)
    items = audit_items(world)
    assert items
    for item in items:
        written = datetime.strptime(item["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=timezone.utc)
        assert int(item["ttl"]) == int((written + timedelta(days=365)).timestamp())


def test_a_refused_code_is_put_in_the_accounts_trail_with_the_reason(world, client):
    world.create_account()
    started = post(client, "/api/reset/start", {"username": "hemtjanstab", "phone": "+46701234567"})
    world.clock.advance(minutes=11)
    answer = post(client, "/api/reset/verify", {"challenge": started.json_body["challenge"],
                                                "code": "123456"})
    assert answer.status_code == 410
    failed = [r for r in world.audit("hemtjanstab") if r["event"] == "reset.code_failed"]
    assert [r["outcome"] for r in failed] == ["expired"]


def test_a_username_with_a_newline_cannot_forge_a_log_line(world, client, capsys):
    world.create_account()
    capsys.readouterr()
    forged = 'x"}\n{"event": "login.succeeded", "username": "hemtjanstab", "outcome": "success'
    for path, body in (("/api/registration/login", {"username": forged, "password": OLD}),
                       ("/api/reset/start", {"username": forged, "phone": "+46701234567"}),
                       ("/api/registration/login", {"username": "hemtjanstab\n",
                                                    "password": "wrong"})):
        assert post(client, path, body).status_code in (400, 401)
    lines = log_lines(capsys)  # every line parses as one JSON object
    assert lines and not [line for line in lines if line["event"] == "login.succeeded"]
    assert all("\n" not in line["username"] for line in lines)
