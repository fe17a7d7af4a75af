"""Schemathesis walks the flows of infra/openapi.yaml by its links (stateful testing): a
login's session goes to the holder calls, a start's challenge to resend and verify, a
verify's reset token to complete. Every answer must be one the description allows (status,
headers, body: tests/fuzz/description.py), and the walk must reach the deep code: codes are
really sent (the SMS queue gets messages and the worker sends them), a challenge from a
start is verified (an answer other than 410 unknown), a session from a login is used.

Schemathesis generates the requests from the description (valid ones and, now and then,
invalid ones); the requests go in-process through chalice.test.Client (a small WSGI
adapter) to the app on an in-process moto, with a fake clock. Realistic data is put in
where random data cannot get in: a known account's username and password on some logins
and starts, the holder's number on some starts, a name and an allowed mobile number on some holder requests, and the last code the worker
sent on some verifies (the walk then goes on to complete, with the token that verify gave
and a password the policy takes), and the scenario's last session
on some holder calls that have none and the last start's challenge on some verifies (as
the browser keeps them). Each call comes from a new
client network, so that the per-network limits stop only what they should. Every scenario
starts from the same tables and the same decisions at each step, so that Hypothesis can
replay one.

The walk prints how often it reached each deep state (DEEP: a reset's code accepted, the
password changed, a holder's code accepted) and fails unless it reached each at least once.

Bounded: MAX_EXAMPLES scenarios of at most STEPS calls each (about half a minute here)."""
from __future__ import annotations

import random
import zlib

import hypothesis
import schemathesis
from hypothesis import HealthCheck

from chalicelib.domain.records import ResetChallenge
from tests.api.helpers import PASSWORD, USERNAME
from tests.api_client import post
from tests.fuzz.description import DESCRIPTION, operations, problems

MAX_EXAMPLES = 100
STEPS = 12
SECONDS_PER_CALL = 20  # the fake clock moves on: resend delays pass, codes expire
PWREG, PWREG_PHONE = "pwreg.konto", "+46701112233"
KNOWN = {USERNAME: "+46701234567", PWREG: PWREG_PHONE}
OPERATIONS = {(o.method, o.path): o for o in operations()}
# The deep states the walk must reach, each at least once, counted in its output: a code
# accepted (pwreset's and pwreg's), and a password changed with the token it gave.
DEEP = (("reset_verify", 200), ("reset_complete", 200), ("verify_holder", 200))


def wsgi(client):
    """A WSGI application in front of chalice's test client: what schemathesis calls."""
    def application(environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items()
                   if key.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        response = client.http.request(environ["REQUEST_METHOD"], environ["PATH_INFO"],
                                       headers=headers, body=body)
        start_response(f"{response.status_code} -", list(response.headers.items()))
        return [response.body]
    return application


class Walk:
    """What the run did, for the assertions after it."""

    def __init__(self):
        self.answers: list[tuple[str, int]] = []
        self.sms_queued = 0

    def count(self, operation: str, *statuses: int) -> int:
        return sum(1 for name, status in self.answers if name == operation
                   and (not statuses or status in statuses))


def fresh_start(world):
    """Every scenario starts from the same state, so that Hypothesis can replay one: the
    tables emptied (moto's own, directly), the two accounts made again, the queue drained."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from tests.conftest import REGION
    world.deliver()
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]
    settings = world.settings
    for table in (settings.accounts_table, settings.challenges_table, settings.limits_table,
                  settings.audit_table):
        backend.tables[table].items.clear()
    for username, phone in KNOWN.items():
        world.create_account(username, phone=phone)


def flows(world, client, walk: Walk):
    schema = schemathesis.openapi.from_path(str(DESCRIPTION))
    schema.app = wsgi(client)
    queue = world.queue_url

    def queued() -> int:
        attributes = world.sqs.get_queue_attributes(
            QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    def sent_code(challenge) -> str | None:
        """The code the worker last sent for this challenge (to its account's number), or,
        with no challenge, to pwreg's newest number: what the user would type."""
        world.deliver()
        if challenge is None:
            numbers = [number for number, text in world.sent()
                       if number not in KNOWN.values() and "#" in text]  # codes, not notices
        else:
            if not isinstance(challenge, str) or not challenge:
                return None
            item = world.dynamodb.get_item(
                TableName=world.settings.challenges_table,
                Key={"id": {"S": ResetChallenge.id_of(challenge)}}).get("Item", {})
            numbers = [KNOWN.get(item.get("username", {}).get("S"))]
        # a number may have had only notices (a holder added or removed): no code to type
        codes = world.codes_sent_to(numbers[-1]) if numbers and numbers[-1] else []
        return codes[-1] if codes else None

    class Flows(schema.as_state_machine()):
        def setup(self):
            fresh_start(world)
            self.steps = 0
            self.session = None  # the scenario's last session, as the browser keeps it
            self.pending = None  # (Authorization, number) of the last holder asked for
            self.token = None  # the reset token of the last verify that gave one
            self.challenge = None  # the challenge of the last start, as the page keeps it

        def before_call(self, case):
            # decisions that depend only on the step's place in its scenario, so that a
            # replayed scenario makes the same ones
            self.steps += 1
            rnd = self.rnd = random.Random(zlib.crc32(f"{self.steps}".encode()))
            world.clock.advance(seconds=SECONDS_PER_CALL)
            body = case.body if isinstance(case.body, dict) else None
            name = case.operation.definition.raw.get("operationId")
            if body is not None and name == "login" and rnd.random() < 0.8:
                body.update(username=PWREG, password=PASSWORD)
            elif body is not None and name == "reset_start" and rnd.random() < 0.8:
                body["username"] = rnd.choice(sorted(KNOWN))
                if rnd.random() < 0.8:  # the holder's own number, as the page sends it
                    body["phone"] = KNOWN[body["username"]]
            elif body is not None and name == "add_holder" and rnd.random() < 0.8:
                body["name"] = rnd.choice(["Anna Andersson", "Bo Ek", "Åsa Öberg"])
                body["phone"] = "+4670" + "".join(rnd.choices("0123456789", k=7))
            if name in ("add_holder", "verify_holder", "remove_holder") and rnd.random() < 0.7:
                if not self.session:  # as the page has it: someone logged in first
                    self.session = post(client, "/api/registration/login",
                                        {"username": PWREG, "password": PASSWORD},
                                        ip="192.0.2.250").json_body.get("session")
                case.headers = {**(case.headers or {}),
                                "Authorization": f"Bearer {self.session}"}
            if name == "verify_holder" and self.pending and rnd.random() < 0.7:
                authorization, number = self.pending
                case.headers = {**(case.headers or {}), "Authorization": authorization}
                world.deliver()
                if body is not None and number in {to for to, _ in world.sent()}:
                    body["code"] = world.last_code(number)
            elif (body is not None and name in ("reset_verify", "verify_holder")
                    and rnd.random() < 0.7):
                if name == "reset_verify" and self.challenge and rnd.random() < 0.8:
                    body["challenge"] = self.challenge
                code = sent_code(body.get("challenge") if name == "reset_verify" else None)
                if code:
                    body["code"] = code
            if body is not None and name == "reset_complete":
                if self.token and rnd.random() < 0.8:  # the token the last verify gave
                    body["reset_token"] = self.token
                if rnd.random() < 0.8:  # a password the policy takes, as a person types it
                    body["password"] = f"Nytt-Hus-{rnd.randrange(1000, 9999)}!x"
            self.queued_before = queued()

        def get_call_kwargs(self, case):
            rnd = self.rnd
            network = f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
            return {"headers": {"X-Forwarded-For": network}}

        def after_call(self, response, case):
            name = case.operation.definition.raw["operationId"]
            walk.answers.append((name, response.status_code))
            if name == "add_holder" and response.status_code == 202:
                # the session that asked and the number the code went to: what the page
                # keeps for the next step
                self.pending = ((case.headers or {}).get("Authorization"),
                                response.json()["phone"])
            if name == "login" and response.status_code == 200:
                self.session = response.json()["session"]
            if name == "reset_start" and response.status_code == 202:
                self.challenge = response.json()["challenge"]
            if name == "reset_verify" and response.status_code == 200:
                self.token = response.json()["reset_token"]
                self.complete_as_the_page_does()
            walk.sms_queued += max(0, queued() - self.queued_before)
            world.deliver()  # the worker, as Lambda's SQS trigger would

        def complete_as_the_page_does(self):
            """pwreset's next step after a right code, taken at once as the page takes it:
            the token just given and a password the policy takes. (Whether the walk would
            also draw `reset_complete` after a verify within its few steps is chance; this
            makes the deep state reached whenever a verify is, and its answer is checked
            against the description like every other.)"""
            body = {"reset_token": self.token,
                    "password": f"Nytt-Hus-{self.rnd.randrange(1000, 9999)}!x"}
            answer = post(client, "/api/reset/complete", body, ip="192.0.2.251")
            walk.answers.append(("reset_complete", answer.status_code))
            operation = OPERATIONS[("POST", "/api/reset/complete")]
            found = problems(operation, answer.status_code, dict(answer.headers), answer.body)
            assert not found, "\n".join(found)

        def validate_response(self, response, case, **kwargs):
            operation = OPERATIONS[(case.method.upper(), case.path)]
            headers = {name: ", ".join(values) for name, values in response.headers.items()}
            found = problems(operation, response.status_code, headers, response.content)
            assert not found, (f"{case.method} {case.path} {case.body!r} -> "
                               f"{response.status_code} {response.content[:300]!r}\n"
                               + "\n".join(found))

    return Flows


def test_the_stateful_walk_reaches_the_sms_path_and_every_answer_is_described(
        world, client, cheap_argon2, monkeypatch):
    sent_before = len(world.sent())
    walk = Walk()

    flows(world, client, walk).run(settings=hypothesis.settings(
        max_examples=MAX_EXAMPLES, stateful_step_count=STEPS, deadline=None, database=None,
        derandomize=True, suppress_health_check=list(HealthCheck), print_blob=True))

    world.deliver()
    sent = world.sent()[sent_before:]
    # the SMS path: codes were queued and the worker sent them, to both flows' numbers
    assert walk.sms_queued > 0 and sent, walk.answers
    assert {number for number, _ in sent} & set(KNOWN.values()), sent
    assert any(number not in KNOWN.values() for number, _ in sent), sent  # pwreg's new one
    # the links were followed: a start's challenge verified (not unknown), a login's
    # session used for a number, a code sent by the worker accepted
    assert walk.count("reset_verify", 200, 400) > 0, walk.answers
    assert walk.count("add_holder", 202) > 0, walk.answers
    reached = {f"{name} {status}": walk.count(name, status) for name, status in DEEP}
    print("stateful walk reached:", ", ".join(f"{key}: {n}" for key, n in reached.items()),
          f"({len(walk.answers)} calls)")
    assert all(reached.values()), (reached, walk.answers)
