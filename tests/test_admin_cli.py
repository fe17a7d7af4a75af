"""The admin CLI, run as the support desk runs it: a separate process, `--stage local`,
against an embedded AWS (a moto server on loopback) like the one `make run` starts."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import boto3
import pytest
from moto.server import ThreadedMotoServer

from chalicelib.settings import load_settings
from infra import resources
from tests.conftest import ROOT, stage_environment


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def local_aws():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
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
    assert "hemvardsgruppen" in shown.stdout and "+4670*****67" in shown.stdout
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
