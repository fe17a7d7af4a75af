"""End to end in `ldap` mode (SPEC 13): `make run DIRECTORY=ldap` as a separate process, with
its real slapd; a reset through the portal over HTTP, then a real LDAP client (OpenLDAP's
`ldapwhoami`, not the portal's ldap3) binds with the new password and not the old one, and
pwreg's login asks the directory."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from infra.ldap_server import account_dn, slapd_available
from infra.local_stack import DEMO_PASSWORD, DEMO_PHONE, DEMO_USERNAME
from tests.e2e.test_local_stack import codes_sent_to, next_code, post
from tests.local_stack_process import RunningStack

NEW_PASSWORD = "Nytt-Hus-2026!x"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if not slapd_available() or not shutil.which("ldapwhoami"):
        pytest.skip("needs Debian's slapd and ldap-utils (make test installs them)")
    folder = tmp_path_factory.mktemp("ldap")
    running = RunningStack({"PWPORTAL_DIRECTORY": "ldap",
                            "PWPORTAL_LDAP_FOLDER": str(folder),
                            "PWPORTAL_LIMIT_SMS_PER_NUMBER": "5/60,5/900,5/86400",
                            # two resets of the demo account within the minute
                            "PWPORTAL_LIMIT_SMS_PER_FLOW": "5/60"})
    running.ca = folder / "ca.pem"
    try:
        running.wait_until_ready()
        yield running
    finally:
        running.kill()



def ldap_binds(stack, password: str) -> bool:
    """OpenLDAP's own client, with the CA the stack wrote; the password from a file."""
    secret = stack.ca.with_name("password.txt")
    secret.write_text(password)
    found = subprocess.run(
        ["ldapwhoami", "-x", "-H", f"ldaps://127.0.0.1:{stack.ldap_port}",
         "-D", account_dn(DEMO_USERNAME), "-y", str(secret)],
        env={**os.environ, "LDAPTLS_CACERT": str(stack.ca), "LDAPTLS_REQCERT": "demand"},
        capture_output=True, text=True, timeout=15)
    secret.unlink()
    if found.returncode not in (0, 49):
        pytest.fail(f"ldapwhoami: {found.returncode} {found.stderr}")
    return found.returncode == 0


def test_the_summary_names_the_directory(stack):
    assert f"ldaps://127.0.0.1:{stack.ldap_port}" in stack.output
    assert str(stack.ca) in stack.output


def reset_token(stack, http) -> str:
    seen = len(codes_sent_to(http, stack, DEMO_PHONE))
    started = post(http, stack, "/api/reset/start",
                   {"username": DEMO_USERNAME, "phone": DEMO_PHONE})
    assert started.status_code == 202, started.text
    code = next_code(http, stack, DEMO_PHONE, seen)
    verified = post(http, stack, "/api/reset/verify",
                    {"challenge": started.json()["challenge"], "code": code})
    assert verified.status_code == 200, verified.text
    return verified.json()["reset_token"]


def test_a_reset_through_the_portal_changes_the_password_in_the_directory(stack, http):
    assert ldap_binds(stack, DEMO_PASSWORD) and not ldap_binds(stack, NEW_PASSWORD)
    login = post(http, stack, "/api/registration/login",
                 {"username": DEMO_USERNAME, "password": DEMO_PASSWORD})
    assert login.status_code == 200, login.text  # pwreg asks the directory

    token = reset_token(stack, http)
    completed = post(http, stack, "/api/reset/complete",
                     {"reset_token": token, "password": NEW_PASSWORD})
    assert completed.status_code == 200, completed.text

    assert ldap_binds(stack, NEW_PASSWORD) and not ldap_binds(stack, DEMO_PASSWORD)
    assert post(http, stack, "/api/registration/login",
                {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}).status_code == 401
    assert post(http, stack, "/api/registration/login",
                {"username": DEMO_USERNAME, "password": NEW_PASSWORD}).status_code == 200
    assert NEW_PASSWORD not in stack.output and DEMO_PASSWORD not in stack.output.replace(
        f"demo password    {DEMO_PASSWORD}", "")


def test_the_directorys_refusal_reaches_the_user_in_their_language(stack, http):
    """After the reset above: the demo password is in the directory's history (ppolicy),
    which the portal's own rules cannot know (the account was linked, not created here)."""
    token = reset_token(stack, http)
    refused = http.post(stack.url + "/api/reset/complete", timeout=15,
                        json={"reset_token": token, "password": DEMO_PASSWORD},
                        headers={"Accept-Language": "en"})
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["error"]["code"] == "password_rejected"
    assert [v["rule"] for v in body["error"]["violations"]] == ["directory"]
    assert "organisation" in body["error"]["violations"][0]["message"]
    again = post(http, stack, "/api/reset/complete",
                 {"reset_token": token, "password": "Tredje-Vag-55x"})  # the token survived
    assert again.status_code == 200, again.text
    assert ldap_binds(stack, "Tredje-Vag-55x")
