"""The support console deployed (SPEC 14, 15): an agent signs in through the real provider
(Canaille, tests/idp/conftest.py) and uses every route of the console on a stage configured
as a deployed one (secrets in SSM, requests through CloudFront's origin key), and

- every AWS call the API function (and the SMS worker) makes is allowed by its policy
  (tests/infra/test_least_privilege.py's recorder and evaluator): the console needs no table
  of its own and nothing broader than the one read it adds, the audit table's Query by
  username (the view's last 50 events, the monthly report);
- every answer the console gives is one infra/openapi.yaml describes (status, headers,
  body), as the fuzzer checks the rest of the API with the console off.
"""
from __future__ import annotations

import json
import re
import urllib.parse
from datetime import datetime, timezone

import boto3
import pytest

from infra import identity_provider, template
from tests.api.helpers import NEW_PHONE, PASSWORD, PHONE, USERNAME, app_code, give_app, wrong
from tests.conftest import REGION
from tests.fuzz.description import operations, problems
from tests.idp.conftest import CALLBACK, PORTAL, provider  # noqa: F401 (the real provider)
from tests.idp.provider_login import sign_in
from tests.idp.test_support_sign_in import SAM, cookies, value
from tests.infra.test_least_privilege import (ALLOWED, LOCAL_SECRETS_PARAMETER, ORIGIN_KEY,
                                              SECRETS, STAGE, Functions, decide, deployed,
                                              iam_requests, recorder, stage_names,
                                              table_arn)

__all__ = ["deployed", "recorder", "provider"]

ACCOUNT = f"/api/support/accounts/{USERNAME}"
OTHER_PHONE = "+46705550123"
VIEWER = "198.51.100.7:46532"


class Desk:
    """An agent's browser at the desk: its cookies, each request through CloudFront (the
    origin key, the viewer's address) and run as the API function; every answer kept with
    the operation of the description it belongs to."""

    def __init__(self, client, run: Functions):
        self.client, self.run = client, run
        self.jar: dict[str, str] = {}
        self.answers: list[tuple[str, str, int, dict, bytes]] = []

    def request(self, method: str, path: str, body: dict | None = None,
                operation: str | None = None, same_origin: bool = True):
        headers = {template.ORIGIN_HEADER: ORIGIN_KEY, template.CLIENT_ADDRESS_HEADER: VIEWER,
                   "Accept": "application/json", "Accept-Language": "sv"}
        if method != "GET":
            headers["Content-Type"] = "application/json"
            if same_origin:
                headers.update({"X-Pwportal-Console": "1", "Origin": PORTAL})
        if self.jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        with self.run.running("api_handler"):
            answer = self.client.http.request(
                method, path, headers=headers,
                body=json.dumps(body).encode() if body is not None else b"")
        for name, line in cookies(answer).items():
            if "Max-Age=0" in line:
                self.jar.pop(name, None)
            else:
                self.jar[name] = value(line)
        if operation:
            self.answers.append((operation, path, answer.status_code, dict(answer.headers),
                                 answer.body))
        return answer

    def sign_in(self) -> None:
        started = self.request("GET", "/api/support/login", operation="support_login")
        assert started.status_code == 302, started.body
        answer = sign_in(started.headers["Location"], *SAM, stop_at=CALLBACK)
        signed_in = self.request("GET", "/api/support/callback?"
                                 + urllib.parse.urlsplit(answer).query,
                                 operation="support_callback")
        assert signed_in.status_code == 303, signed_in.body
        assert "pwportal_support" in self.jar


def texts_to(world, run: Functions, number: str) -> list[str]:
    run.deliver()
    return [text for to, text in world.sent() if to == number]


def read_out(world, run: Functions, number: str) -> str:
    """The code the SMS to `number` asked to be read out to the support desk."""
    texts = [t for t in texts_to(world, run, number) if "Supportens kod" in t]
    assert texts, f"no support code was sent to {number}"
    return re.search(r"\b(\d{6})\b", texts[-1]).group(1)


@pytest.fixture
def console_deployed(deployed, environment, provider):  # noqa: F811
    """The deployed-like stage with the console on: the client secret in the secrets
    parameter (as `make deploy` puts it), the issuer and redirect base as the template
    gives them to the API function, the clock at the real time (real tokens)."""
    world = deployed
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=LOCAL_SECRETS_PARAMETER, Type="SecureString", Overwrite=True,
        Value=json.dumps({**SECRETS,
                          "idp_client_secret": identity_provider.LOCAL_CLIENT_SECRET}))
    environment.delenv("PWPORTAL_IDP_CLIENT_SECRET", raising=False)
    environment.setenv("PWPORTAL_IDP_ISSUER", provider.issuer)
    environment.setenv("PWPORTAL_IDP_REDIRECT_BASE", PORTAL)
    environment.setenv("PWPORTAL_IDP_SCOPES", "openid profile groups")
    world.clock.set(datetime.now(timezone.utc))
    from chalicelib import bootstrap
    world.portal = bootstrap.override(clock=world.clock)
    assert world.portal.settings.secrets_parameter == LOCAL_SECRETS_PARAMETER
    return world


def drive_the_console(world, client, recorder) -> Desk:
    """Every route of the console, as an agent uses them, each right at least once."""
    run = Functions(world, client, recorder)
    world.create_account(USERNAME, PASSWORD, PHONE)
    world.portal.holder_changes.add(USERNAME, "Bo Berg", OTHER_PHONE)
    secret = give_app(world.portal, world.clock.now(), phone=OTHER_PHONE)
    desk = Desk(client, run)
    desk.sign_in()
    assert desk.request("GET", "/api/support/me", operation="support_me").status_code == 200
    view = desk.request("GET", ACCOUNT, operation="support_account")
    assert view.status_code == 200, view.body
    holders = {h["phone"][-2:]: h["id"] for h in view.json_body["holders"]}
    anna, bo = holders[PHONE[-2:]], holders[OTHER_PHONE[-2:]]

    # an action before the caller is verified is refused
    refused = desk.request("POST", ACCOUNT + "/unlock", {}, operation="support_unlock")
    assert refused.status_code == 403, refused.body
    # the caller, by the SMS code: a wrong one, then the right one
    started = desk.request("POST", ACCOUNT + "/verify/start",
                           {"holder_id": anna, "channel": "sms"},
                           operation="support_verify_start")
    assert started.status_code == 200, started.body
    code = read_out(world, run, PHONE)
    failed = desk.request("POST", ACCOUNT + "/verify", {"code": wrong(code)},
                          operation="support_verify")
    assert failed.status_code == 400, failed.body
    verified = desk.request("POST", ACCOUNT + "/verify", {"code": code},
                            operation="support_verify")
    assert verified.status_code == 200, verified.body
    # ... and by the other holder's app (its time step accepted once)
    by_app = desk.request("POST", ACCOUNT + "/verify/start", {"holder_id": bo, "channel": "app"},
                          operation="support_verify_start")
    assert by_app.status_code == 200, by_app.body
    verified = desk.request("POST", ACCOUNT + "/verify",
                            {"code": app_code(secret, world.clock.now())},
                            operation="support_verify")
    assert verified.status_code == 200, verified.body

    # the actions, for Bo
    for path in ("/unlock", "/disable", "/enable"):
        done = desk.request("POST", ACCOUNT + path, {}, operation="support" + path.replace(
            "/", "_"))
        assert done.status_code == 200, (path, done.body)
    asked = desk.request("POST", ACCOUNT + "/holders", {"name": "Cecilia Ek", "phone": NEW_PHONE},
                         operation="support_add_holder")
    assert asked.status_code == 200, asked.body
    added = desk.request("POST", ACCOUNT + "/holders/verify",
                         {"code": read_out(world, run, NEW_PHONE)},
                         operation="support_verify_holder")
    assert added.status_code == 200, added.body
    cecilia = added.json_body["holder"]["id"]
    removed = desk.request("DELETE", f"{ACCOUNT}/holders/{bo}/authenticator",
                           operation="support_remove_app")
    assert removed.status_code == 200, removed.body
    removed = desk.request("DELETE", f"{ACCOUNT}/holders/{cecilia}",
                           operation="support_remove_holder")
    assert removed.status_code == 200, removed.body

    # the reset link to Bo, and Bo sets a password with it
    sent = desk.request("POST", ACCOUNT + "/reset-link", {"holder_id": bo},
                        operation="support_reset_link")
    assert sent.status_code == 200, sent.body
    [link] = [t for t in texts_to(world, run, OTHER_PHONE) if "#reset=" in t]
    token = re.search(r"#reset=([A-Za-z0-9_-]+)", link).group(1)
    done = run.post("/api/reset/complete", {"reset_token": token, "password": "Bla-Hus-2026-x"})
    assert done.status_code == 200, done.body

    # the month's report, shown and as CSV
    month = world.clock.now().strftime("%Y-%m")
    for query in (f"?month={month}", f"?month={month}&format=csv"):
        report = desk.request("GET", ACCOUNT + "/report" + query, operation="support_report")
        assert report.status_code == 200, report.body

    # what the console refuses, each in its envelope
    for method, path, body, operation, status in (
            ("GET", "/api/support/accounts/ingetsadantkonto", None, "support_account", 404),
            ("GET", ACCOUNT + "/report", None, "support_report", 400),
            ("POST", ACCOUNT + "/verify", {"code": "123456"}, "support_verify", 410),
            ("POST", ACCOUNT + "/verify/start", {"holder_id": anna, "channel": "app"},
             "support_verify_start", 409),
            ("POST", ACCOUNT + "/verify/start", {"holder_id": "A" * 16, "channel": "sms"},
             "support_verify_start", 404),
            ("POST", ACCOUNT + "/verify/start", {"holder_id": anna, "channel": "email"},
             "support_verify_start", 400),
            ("DELETE", f"{ACCOUNT}/holders/{'A' * 16}", None, "support_remove_holder", 404),
            ("DELETE", f"{ACCOUNT}/holders/{anna}/authenticator", None, "support_remove_app",
             404),
            ("POST", ACCOUNT + "/reset-link", {"holder_id": anna}, "support_reset_link", 403),
            ("POST", ACCOUNT + "/disable", {}, "support_disable", 200),
            ("POST", ACCOUNT + "/reset-link", {"holder_id": bo}, "support_reset_link", 409),
            ("POST", ACCOUNT + "/enable", {}, "support_enable", 200)):
        answer = desk.request(method, path, body, operation=operation)
        assert answer.status_code == status, (path, answer.status_code, answer.body)
    unguarded = desk.request("POST", ACCOUNT + "/unlock", {}, operation="support_unlock",
                             same_origin=False)
    assert unguarded.status_code == 403, unguarded.body

    # "Logga ut": the cookie is refused after
    run.deliver()
    out = desk.request("POST", "/api/support/logout", {}, operation="support_logout")
    assert out.status_code == 204, out.body
    after = desk.request("GET", "/api/support/me", operation="support_me")
    assert after.status_code == 401, after.body
    return desk


def test_every_call_the_console_makes_is_allowed_and_it_adds_only_the_audit_query(
        console_deployed, client, recorder):
    world = console_deployed
    drive_the_console(world, client, recorder)

    names = stage_names(world.portal.settings)
    refused, made = [], set()
    for call in recorder.calls:
        for action, resource in iam_requests(call.service, call.operation, call.params, names):
            made.add((call.function, action, resource))
            if decide(template.policy(STAGE, call.function), action, resource) != ALLOWED:
                refused.append((call.function, action, resource))
    assert not refused, "calls the policies do not allow (function, action, resource):\n" + \
        "\n".join("  " + "  ".join(r) for r in sorted(set(refused)))
    audit = table_arn(template.table_name(STAGE, "AuditTable"))
    assert ("api_handler", "dynamodb:Query", audit) in made  # the view's events, the report
    assert ("api_handler", "ssm:GetParameter") in {m[:2] for m in made}  # the client secret
    # the console's records and counters are in the tables the portal has
    tables = {resource.rsplit("/", 1)[-1] for function, action, resource in made
              if action.startswith("dynamodb:") and function == "api_handler"}
    assert tables <= {template.table_name(STAGE, t) for t in
                      ("AccountsTable", "ChallengesTable", "LimitsTable", "AuditTable")}
    # the audit table is read by its key alone: no index, no scan
    queried = [call for call in recorder.calls if call.function == "api_handler"
               and call.operation in ("Query", "Scan")]
    assert queried and all(c.operation == "Query" and "IndexName" not in c.params
                           for c in queried)


def test_every_answer_of_the_console_is_one_the_description_allows(console_deployed, client,
                                                                    recorder):
    desk = drive_the_console(console_deployed, client, recorder)
    described = {operation.id: operation for operation in operations()}
    found = []
    for operation_id, path, status, headers, body in desk.answers:
        operation = described[operation_id]
        if headers.get("Content-Type", "").startswith("text/csv"):
            # the CSV download: the description names text/csv beside the JSON
            assert status == 200 and body.startswith(b"\xef\xbb\xbf"), body[:40]  # the BOM
            assert headers.get("Cache-Control") == "no-store"
            assert headers.get("Content-Disposition", "").startswith("attachment;")
            continue
        if status in (302, 303):  # the sign-in's redirects: Location and the cookie
            answer = operation.answers[status]
            assert {"Location", "Set-Cookie"} <= set(answer.headers), operation_id
            continue
        raw = body if isinstance(body, bytes) else (body or "").encode()
        found += [f"{operation_id} {path} {status}: {problem}"
                  for problem in problems(operation, status, headers, raw)]
    assert not found, "\n".join(found)
    seen = {operation_id for operation_id, *_ in desk.answers}
    console = {o.id for o in operations() if o.path.startswith("/api/support/")}
    assert console <= seen, f"not driven: {sorted(console - seen)}"
