"""Least privilege, checked against what the code really does: every AWS call that each
Lambda function makes in the portal's real flows must be allowed by that function's IAM
policy (infra/template.py `policy("prod", function)`).

How:

- every AWS client the code gets from `chalicelib.adapters.aws.client` is wrapped so that
  each call is recorded (service, operation, parameters) with the function that was
  "running" at the time: `api_handler` around a request through chalice's test client,
  `deliver_sms` around the worker draining the queue (the SQS receive and delete that the
  Lambda event source mapping makes with the worker's role are recorded too), and
  `send_reminders` around the scheduled job. Test setup (creating accounts, reading what
  was sent) runs with no function and is not attributed;
- the stage looks like a deployed one where that changes which calls are made: the queue
  URL is in the environment (the template sets it, so no sqs:GetQueueUrl), the secrets are
  an SSM SecureString (so ssm:GetParameter), and every invocation starts from a new portal,
  as a cold Lambda container does (so no function borrows another's cached secrets);
- each recorded call becomes the IAM (action, resource) pairs that AWS authorizes for it,
  the local stage's table and queue names mapped to the prod stage's, and a small policy
  evaluator decides each pair against the function's policy document.
"""
from __future__ import annotations

import copy
import json
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse

import boto3
import pytest

from chalicelib import bootstrap
from chalicelib.adapters import aws
from infra import template
from infra.resources import definitions
from infra.resources import queue_name as local_queue_name
from tests.conftest import REGION

ACCOUNT = "123456789012"  # moto's default account, and the one the policies are read for
PARTITION = "aws"
STAGE = "prod"
PSEUDO_PARAMETERS = {"AWS::Partition": PARTITION, "AWS::Region": REGION,
                     "AWS::AccountId": ACCOUNT}

LOCAL_SECRETS_PARAMETER = "/pwportal/local/secrets"
ORIGIN_KEY = "origin-key-for-the-least-privilege-test"
SECRETS = {"pepper": "least-privilege-test-pepper", "code_key": "least-privilege-code-key",
           "limit_key": "least-privilege-limit-key",
           "authenticator_key": "least-privilege-authenticator-key", "origin_key": ORIGIN_KEY}

PASSWORD = "tuvKAJ58!x"
NEW_PASSWORD = "Bla-Hus-2026-x"
RESET_USER, RESET_PHONE = "hemtjanstab", "+46701234567"
REGISTER_USER, OLD_PHONE, NEW_PHONE = "korttidsboende", "+46701112233", "+46707654321"
REMINDED_USER, REMINDED_PHONE = "dagverksamhet", "+46709998877"
REMINDER_START = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)  # expires 2026-04-05
REMINDER_DAY = REMINDER_START.replace(hour=6) + timedelta(days=76)  # 14 days before


# -- recording --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    function: str
    service: str  # the IAM service prefix
    operation: str
    params: dict = field(compare=False, hash=False)
    by: str = "code"  # or "event source mapping": Lambda's SQS poller, with the role


class Recorder:
    """Registers a hook on each client (once per client object) that records every call
    made while `function` is set."""

    def __init__(self):
        self.function: str | None = None
        self.calls: list[Call] = []
        self._hooked: dict[int, object] = {}  # id → client, kept alive so ids stay unique

    def hook(self, client, by: str = "code"):
        if id(client) not in self._hooked:
            self._hooked[id(client)] = client
            # before-parameter-build carries the caller's own parameters (before-call only
            # has the serialized request); registering the bare name matches every
            # `before-parameter-build.<service>.<operation>` of this client.
            client.meta.events.register(
                "before-parameter-build",
                lambda params, model, **_: self._record(params, model, by))
        return client

    def _record(self, params, model, by):
        if self.function is not None:
            self.calls.append(Call(self.function, model.service_model.endpoint_prefix,
                                   model.name, copy.deepcopy(params), by))


@pytest.fixture
def recorder(monkeypatch):
    recorder = Recorder()
    original = aws.client
    monkeypatch.setattr(aws, "client", lambda service: recorder.hook(original(service)))
    aws.reset()  # no client built before the patch survives
    return recorder


@pytest.fixture
def deployed(world, recorder, environment):
    """The test's world, configured as a deployed stage is where that matters for IAM."""
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=LOCAL_SECRETS_PARAMETER, Type="SecureString", Value=json.dumps(SECRETS))
    environment.setenv("PWPORTAL_SMS_QUEUE_URL", world.queue_url)
    environment.setenv("PWPORTAL_SECRETS_PARAMETER", LOCAL_SECRETS_PARAMETER)
    environment.setenv("PWPORTAL_CLIENT_ADDRESS_HEADER", "cloudfront-viewer-address")
    environment.setenv("PWPORTAL_METRICS", "true")
    environment.delenv("PWPORTAL_PEPPER")
    environment.delenv("PWPORTAL_CODE_KEY")
    environment.delenv("PWPORTAL_LIMIT_KEY")
    environment.delenv("PWPORTAL_AUTHENTICATOR_KEY")
    bootstrap.reset()
    world.portal = bootstrap.override(clock=world.clock)  # the test's own (unattributed)
    assert world.portal.settings.sms_queue_url == world.queue_url
    assert world.portal.settings.secrets_parameter == LOCAL_SECRETS_PARAMETER
    recorder.hook(world.sqs, by="event source mapping")
    return world


class Functions:
    """Runs things as one of the Lambda functions, each invocation in a fresh container."""

    def __init__(self, world, client, recorder):
        self.world, self.client, self.recorder = world, client, recorder

    @contextmanager
    def running(self, function: str):
        assert function in template.FUNCTIONS
        bootstrap.override(clock=self.world.clock)  # a cold start: nothing cached
        self.recorder.function = function
        try:
            yield
        finally:
            self.recorder.function = None

    def post(self, path: str, body: dict, session: str | None = None):
        headers = {"Content-Type": "application/json",
                   "X-Pwportal-Origin": ORIGIN_KEY,  # as CloudFront sends it
                   "CloudFront-Viewer-Address": "198.51.100.7:46532"}
        if session:
            headers["Authorization"] = f"Bearer {session}"
        with self.running("api_handler"):
            return self.client.http.post(path, headers=headers,
                                         body=json.dumps(body).encode())

    def delete(self, path: str, session: str):
        headers = {"X-Pwportal-Origin": ORIGIN_KEY,
                   "CloudFront-Viewer-Address": "198.51.100.7:46532",
                   "Authorization": f"Bearer {session}"}
        with self.running("api_handler"):
            return self.client.http.delete(path, headers=headers)

    def deliver(self):
        with self.running("deliver_sms"):
            return self.world.deliver()

    def send_reminders(self):
        event = self.client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[])
        with self.running("send_reminders"):
            self.client.lambda_.invoke("send_reminders", event)

    def last_code(self, number: str) -> str:
        self.deliver()
        codes = self.world.codes_sent_to(number)
        assert codes, f"no code was sent to {number}"
        return codes[-1]


# -- from a call to what IAM authorizes ------------------------------------------------------

def stage_names(settings) -> dict[str, str]:
    """The local stage's resource names → the same resources' names on the prod stage."""
    names = {}
    for logical, spec in definitions()["Tables"].items():
        names[getattr(settings, spec["setting"])] = template.table_name(STAGE, logical)
    for logical in definitions()["Queues"]:
        names[local_queue_name(settings, logical)] = template.queue_name(STAGE, logical)
    names[LOCAL_SECRETS_PARAMETER] = template.secrets_parameter(STAGE)
    return names


def table_arn(table: str, index: str | None = None) -> str:
    arn = f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{table}"
    return arn + f"/index/{index}" if index else arn


def queue_arn(url: str) -> str:
    return f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{urlparse(url).path.rsplit('/', 1)[-1]}"


# IAM semantics assumed here (DynamoDB developer guide, "Using IAM with DynamoDB
# transactions"): TransactWriteItems is not an IAM action of its own; each item is
# authorized as the single-item action it performs, on its own table: Put as
# dynamodb:PutItem, Update as dynamodb:UpdateItem, Delete as dynamodb:DeleteItem and
# ConditionCheck as dynamodb:ConditionCheckItem (TransactGetItems: each Get as GetItem).
# BatchGetItem and BatchWriteItem *are* IAM actions, authorized once per table named in
# RequestItems. A Query or Scan with IndexName is authorized on the index's ARN
# (`table/<t>/index/<i>`), not the table's. ReturnValues / ReturnValuesOnConditionCheck-
# Failure need no further action.
TRANSACT_WRITE_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                          "ConditionCheck": "ConditionCheckItem"}


def iam_requests(service: str, operation: str, params: dict,
                 names: dict[str, str]) -> list[tuple[str, str]]:
    """The (action, resource ARN) pairs that AWS authorizes for one API call."""
    def name(local: str) -> str:
        return names.get(local, local)  # an unknown name stays as it is, and is refused

    if service == "dynamodb":
        if operation == "TransactWriteItems":
            pairs = []
            for item in params["TransactItems"]:
                (kind, body), = item.items()
                pairs.append((f"dynamodb:{TRANSACT_WRITE_ACTIONS[kind]}",
                              table_arn(name(body["TableName"]))))
            return pairs
        if operation == "TransactGetItems":
            return [("dynamodb:GetItem", table_arn(name(item["Get"]["TableName"])))
                    for item in params["TransactItems"]]
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return [(f"dynamodb:{operation}", table_arn(name(table)))
                    for table in params["RequestItems"]]
        return [(f"dynamodb:{operation}",
                 table_arn(name(params["TableName"]), params.get("IndexName")))]
    if service == "sqs":
        if operation == "GetQueueUrl":
            return [("sqs:GetQueueUrl", f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:"
                                        f"{name(params['QueueName'])}")]
        url = params["QueueUrl"]
        local = urlparse(url).path.rsplit("/", 1)[-1]
        # SQS's batch calls are no IAM actions of their own: SendMessageBatch is authorized
        # as sqs:SendMessage (as DeleteMessageBatch and ChangeMessageVisibilityBatch are as
        # their single actions; SQS API reference, "Batch actions").
        if operation in ("SendMessageBatch", "DeleteMessageBatch",
                         "ChangeMessageVisibilityBatch"):
            operation = operation.removesuffix("Batch")
        return [(f"sqs:{operation}", queue_arn(url.replace(local, name(local))))]
    if service == "sns" and operation == "Publish":
        if params.get("PhoneNumber"):
            return [("sns:Publish", "*")]  # a text to a number has no resource to name
        return [("sns:Publish", params.get("TopicArn") or params["TargetArn"])]
    if service == "ssm" and operation in ("GetParameter", "GetParameters"):
        wanted = [params["Name"]] if operation == "GetParameter" else params["Names"]
        # a name that starts with "/" gives `parameter/a/b`, one without `parameter/a`
        return [(f"ssm:{operation}", f"arn:{PARTITION}:ssm:{REGION}:{ACCOUNT}:parameter"
                 + ("" if name(n).startswith("/") else "/") + name(n)) for n in wanted]
    raise AssertionError(f"no IAM translation for {service}:{operation}; add one to this test")


# -- a small IAM policy evaluator ------------------------------------------------------------

ALLOWED, DENIED, NOT_ALLOWED = "allowed", "explicitly denied", "not allowed"


def _resolve(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and list(value) == ["Fn::Sub"] and isinstance(value["Fn::Sub"],
                                                                              str):
        text = value["Fn::Sub"]
        for parameter, replacement in PSEUDO_PARAMETERS.items():
            text = text.replace("${" + parameter + "}", replacement)
        assert "${" not in text, f"unresolved substitution in {value!r}"
        return text
    raise AssertionError(f"the evaluator cannot resolve {value!r}")


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def _matches(pattern: str, value: str) -> bool:
    """IAM's resource matching: `*` any run of characters, `?` any one, case-sensitive
    (fnmatch would also give `[...]` a meaning, which IAM does not)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def statements(document: dict) -> list[dict]:
    assert document.get("Version") == "2012-10-17"
    found = []
    for statement in document["Statement"]:
        unsupported = {"NotAction", "NotResource", "Condition", "Principal"} & set(statement)
        assert not unsupported, f"the evaluator does not handle {unsupported} ({statement})"
        actions = _listed(statement["Action"])
        assert not any("*" in a or "?" in a for a in actions), \
            f"wildcard action in {statement.get('Sid')}: the evaluator matches actions exactly"
        found.append({"Sid": statement.get("Sid"), "Effect": statement["Effect"],
                      "Action": actions,
                      "Resource": [_resolve(r) for r in _listed(statement["Resource"])]})
    return found


def decide(document: dict, action: str, resource: str) -> str:
    """An explicit Deny wins; otherwise an Allow that names the action and matches the
    resource; otherwise nothing allows it."""
    allowed = False
    for statement in statements(document):
        if action.lower() in {a.lower() for a in statement["Action"]} and any(  # no case
                _matches(pattern, resource) for pattern in statement["Resource"]):
            if statement["Effect"] == "Deny":
                return DENIED
            assert statement["Effect"] == "Allow"
            allowed = True
    return ALLOWED if allowed else NOT_ALLOWED


def grants(document: dict) -> list[tuple[str, str, str]]:
    """(Sid, action, resource) of every Allow."""
    return [(s["Sid"], action, resource) for s in statements(document)
            if s["Effect"] == "Allow" for action in s["Action"] for resource in s["Resource"]]


# -- the flows --------------------------------------------------------------------------------

def drive_every_flow(world, run: Functions) -> None:
    clock = world.clock

    # an account whose password expires in 14 days on the day of the flows
    clock.set(REMINDER_START)
    world.create_account(REMINDED_USER, PASSWORD, REMINDED_PHONE)
    clock.set(REMINDER_DAY)
    world.create_account(RESET_USER, PASSWORD, RESET_PHONE)
    world.create_account(REGISTER_USER, PASSWORD, OLD_PHONE)

    # the daily job: one 14-day reminder, queued, then delivered
    run.send_reminders()
    run.deliver()
    reminders = [text for to, text in world.sent() if to == REMINDED_PHONE]
    assert len(reminders) == 1 and "går ut om 14 dagar" in reminders[0], reminders

    # a reset: start, a wrong code, a resend, the right code, a new password, the notice
    started = run.post("/api/reset/start", {"username": RESET_USER, "phone": RESET_PHONE})
    assert started.status_code == 202, started.body
    challenge = started.json_body["challenge"]
    first = run.last_code(RESET_PHONE)
    wrong = "000000" if first != "000000" else "111111"
    refused = run.post("/api/reset/verify", {"challenge": challenge, "code": wrong})
    assert refused.status_code == 400, refused.body
    clock.advance(seconds=61)
    resent = run.post("/api/reset/resend", {"challenge": challenge})
    assert resent.status_code == 202, resent.body
    code = run.last_code(RESET_PHONE)
    assert len(world.codes_sent_to(RESET_PHONE)) == 2
    verified = run.post("/api/reset/verify", {"challenge": challenge, "code": code})
    assert verified.status_code == 200, verified.body
    done = run.post("/api/reset/complete", {"reset_token": verified.json_body["reset_token"],
                                            "password": NEW_PASSWORD})
    assert done.status_code == 200, done.body
    run.deliver()
    notices = [text for to, text in world.sent() if to == RESET_PHONE and "#" not in text]
    assert len(notices) == 1 and RESET_USER in notices[0], notices

    # a failed login, then a registration of a new number, with the notice to the old one
    failed = run.post("/api/registration/login", {"username": REGISTER_USER,
                                                  "password": "not-the-password-1A"})
    assert failed.status_code == 401, failed.body
    login = run.post("/api/registration/login", {"username": REGISTER_USER,
                                                 "password": PASSWORD})
    assert login.status_code == 200, login.body
    session = login.json_body["session"]
    asked = run.post("/api/registration/holders",
                     {"name": "Anna Andersson", "phone": "070-765 43 21"}, session=session)
    assert asked.status_code == 202, asked.body
    code = run.last_code(NEW_PHONE)
    registered = run.post("/api/registration/holders/verify", {"code": code}, session=session)
    assert registered.status_code == 200, registered.body
    run.deliver()
    old = [text for to, text in world.sent() if to == OLD_PHONE]
    assert len(old) == 1 and "Numret 070-*** ** 21 lades till" in old[0] \
        and 'Namn: "Anna Andersson"' in old[0], old
    assert [h.phone for h in world.portal.accounts.get(REGISTER_USER).holders] == [
        OLD_PHONE, NEW_PHONE]
    # the holder just added adds an authenticator app (SPEC 12), confirms it with the
    # app's first code (pyotp, as the app), removes it; each told to them by SMS
    import pyotp
    anna = registered.json_body["holder"]["id"]
    app = f"/api/registration/holders/{anna}/authenticator"
    shown = run.post(app, {}, session=session)
    assert shown.status_code == 200, shown.body
    first = pyotp.TOTP(shown.json_body["secret"]).at(clock.now().timestamp())
    confirmed = run.post(app + "/verify", {"code": first}, session=session)
    assert confirmed.status_code == 200, confirmed.body
    removed = run.delete(app, session=session)
    assert removed.status_code == 204, removed.body
    run.deliver()
    logout = run.post("/api/registration/logout", {}, session=session)
    assert logout.status_code == 204, logout.body


# Grants that no flow here uses, each with the reason it is granted all the same. Any other
# grant that goes unused fails the test: a policy is only as wide as the code needs.
UNUSED_NOTES = {
    ("api_handler", "logs:CreateLogStream"): "the Lambda runtime writes stdout to the logs",
    ("api_handler", "logs:PutLogEvents"): "the Lambda runtime writes stdout to the logs",
    ("deliver_sms", "logs:CreateLogStream"): "the Lambda runtime writes stdout to the logs",
    ("deliver_sms", "logs:PutLogEvents"): "the Lambda runtime writes stdout to the logs",
    ("send_reminders", "logs:CreateLogStream"): "the Lambda runtime writes stdout to the logs",
    ("send_reminders", "logs:PutLogEvents"): "the Lambda runtime writes stdout to the logs",
    ("deliver_sms", "sqs:GetQueueAttributes"): "Lambda's SQS trigger needs it; the local "
                                               "poller does not call it",
    ("api_handler", "dynamodb:Query"): "on the audit table, by username: the support "
                                       "console's account view and monthly report "
                                       "(tests/infra/test_least_privilege_console.py)",
    ("send_reminders", "dynamodb:PutItem"): "on the audit table: sms.failed when a reminder "
                                            "cannot be queued",
    ("send_reminders", "ssm:GetParameter"): "ldap mode: the job asks the directory as the "
                                            "service account, whose password is a secret "
                                            "(tests/infra/test_least_privilege_ldap.py)",
    # ldap mode's daily settling of a change whose answer was lost (SPEC 13, issue 21): the
    # by_pending query, then the account and the marker read, the marker and the login lock
    # deleted (tests/directory/test_lost_answer.py drives it on slapd)
    ("send_reminders", "dynamodb:Query"): "ldap mode: the by_pending index of left markers",
    ("send_reminders", "dynamodb:GetItem"): "ldap mode: a left marker's account and token",
    ("send_reminders", "dynamodb:DeleteItem"): "ldap mode: a settled marker and the login "
                                               "lock it lifts",
}


# -- the tests --------------------------------------------------------------------------------

def test_each_function_policy_allows_every_call_the_function_makes(deployed, client,
                                                                    recorder):
    world = deployed
    drive_every_flow(world, Functions(world, client, recorder))

    names = stage_names(world.portal.settings)
    documents = {function: template.policy(STAGE, function) for function in template.FUNCTIONS}
    requested: dict[str, set[tuple[str, str]]] = {f: set() for f in template.FUNCTIONS}
    refused = set()
    for call in recorder.calls:
        for action, resource in iam_requests(call.service, call.operation, call.params,
                                             names):
            requested[call.function].add((action, resource))
            verdict = decide(documents[call.function], action, resource)
            if verdict != ALLOWED:
                refused.add((call.function, action, resource, verdict, call.by))

    unused = set()
    for function, document in documents.items():
        for _, action, resource in grants(document):
            if not any(a.lower() == action.lower() and _matches(resource, r)
                       for a, r in requested[function]):
                unused.add((function, action, resource))
    unexplained = {u for u in unused if u[:2] not in UNUSED_NOTES}
    assert not unexplained, "granted, but no flow uses it (narrow the policy or say why " \
        "in UNUSED_NOTES):\n" + "\n".join("  " + "  ".join(u) for u in sorted(unexplained))

    for function in template.FUNCTIONS:
        assert requested[function], f"{function} made no AWS call: the check proved nothing"
    sns = {call.function for call in recorder.calls if call.service == "sns"}
    assert sns == {"deliver_sms"}, f"SMS published by {sns or 'nobody'}"
    assert not refused, "calls the policies do not allow (function, action, resource, " \
        "verdict, made by):\n" + "\n".join("  " + "  ".join(r) for r in sorted(refused))


def test_the_policy_check_refuses_what_a_policy_does_not_grant():
    def verdict(function, action, resource):
        return decide(template.policy(STAGE, function), action, resource)

    names: dict[str, str] = {}
    accounts = table_arn(template.table_name(STAGE, "AccountsTable"))
    queue = (f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:"
             f"{template.queue_name(STAGE, 'SmsQueue')}")
    topic = f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:alarms"

    # what the functions are meant to do is allowed ...
    assert verdict("api_handler", "dynamodb:GetItem", accounts) == ALLOWED
    assert verdict("api_handler", "sqs:SendMessage", queue) == ALLOWED
    assert verdict("deliver_sms", "sns:Publish", "*") == ALLOWED
    assert verdict("send_reminders", "dynamodb:Query", accounts + "/index/by_expiry") == ALLOWED
    # ... and what they are not, is not
    assert verdict("api_handler", "sns:Publish", "*") == NOT_ALLOWED
    assert verdict("deliver_sms", "sns:Publish", topic) == DENIED
    assert verdict("api_handler", "dynamodb:Scan", accounts) == NOT_ALLOWED
    assert verdict("send_reminders", "dynamodb:Query", accounts) == NOT_ALLOWED  # not the index
    assert verdict("deliver_sms", "sqs:SendMessage", queue) == NOT_ALLOWED
    assert verdict("api_handler", "dynamodb:GetItem",
                   table_arn("pwportal-local-accounts")) == NOT_ALLOWED
    assert verdict("api_handler", "dynamodb:GetItem",
                   table_arn(template.table_name("dev", "AccountsTable"))) == NOT_ALLOWED

    # a transaction is authorized item by item, on each item's own table
    pairs = iam_requests("dynamodb", "TransactWriteItems", {"TransactItems": [
        {"Update": {"TableName": "c", "Key": {}}}, {"Put": {"TableName": "a", "Item": {}}},
        {"ConditionCheck": {"TableName": "l", "Key": {}}},
        {"Delete": {"TableName": "l", "Key": {}}}]}, names)
    assert pairs == [("dynamodb:UpdateItem", table_arn("c")), ("dynamodb:PutItem", table_arn("a")),
                     ("dynamodb:ConditionCheckItem", table_arn("l")),
                     ("dynamodb:DeleteItem", table_arn("l"))]
    # an audit write inside a transaction is refused where only the table's Put is missing
    assert verdict("send_reminders", "dynamodb:PutItem",
                   table_arn(template.table_name(STAGE, "ChallengesTable"))) == NOT_ALLOWED
    # a call this test cannot translate fails the test rather than pass unchecked
    with pytest.raises(AssertionError, match="no IAM translation"):
        iam_requests("s3", "GetObject", {}, names)
