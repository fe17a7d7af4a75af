"""Hypothesis sends at least 5,000 generated requests to the app (in-process, through
chalice.test.Client, on an in-process moto): none may get a 5xx, and every answer must be
one that infra/openapi.yaml describes, status, headers and body.

The request bodies are built from the description's request schemas: objects with the
described fields (a field dropped now and then, unknown fields added), any object the
schema allows, any JSON at all, and bytes that are no JSON. Field values mix random text
with what reaches the deep code: the real usernames, passwords near and far from the
policy, numbers, and live challenges, codes, tokens and sessions, which a pool renews every
RENEW_EVERY requests (a day later on the fake clock, so that limits, locks and pauses run
out); between renewals the clock moves on a few seconds a request, so codes and sessions
expire too. Client IPs are mostly new ones, so that the per-IP limits do not stop
everything at 429, and some always the same ones, so that they do. Headers vary too:
content type, language, X-Forwarded-For, Authorization.
"""
from __future__ import annotations

import json
import math
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.helpers import NEW_PHONE, PASSWORD, USERNAME, disable
from tests.api_client import post
from tests.fuzz.description import operations, problems

TOTAL = 5000
OPERATIONS = {operation.id: operation for operation in operations()}
# GET /api/config has no input but its headers; the rest share the remaining requests.
EXAMPLES = {"config": 200}
_rest = [name for name in OPERATIONS if name not in EXAMPLES]
EXAMPLES.update({name: math.ceil((TOTAL - 200) / len(_rest)) for name in _rest})
RENEW_EVERY = 150  # requests between renewals of the pool's live secrets

NO_NUMBER, DISABLED, PWREG = "utan.nummer", "avstangd", "pwreg.konto"
PWREG_PHONE = "+46701112233"
SECONDS_PER_REQUEST = 5  # the fake clock moves on, so codes, sessions and windows run out
HOT_IPS = ["198.51.100.1", "198.51.100.2"]

GOOD_PASSWORDS = ["Nytt-Hus-2026!x", "Bla-Hus-2026-x", "Sommar-Tid-77!", "Abc def 12"]
FIELD_VALUES = {
    "username": [USERNAME, " HemtjanstAB ", NO_NUMBER, DISABLED, PWREG, "finns.inte", "a" * 64,
                 "a" * 65, "", " ", "hem tjanst", "hemtjänstab", "x/y", "ÅSA", "\u0130"],
    "password": ["<password>", *GOOD_PASSWORDS, "Åsa12345", "Abcdefg", "xHEMTJANSTABx1!",
                 "Password1!", "Tr3s3rva-2026", "", " ", "a" * 129, "Aa1!" * 40, "Aa1!" * 1000,
                 "\x00Aa1!aaaa", "😀😀Aa1!aaaa"],
    "phone": ["0701234567", "070-765 43 21", NEW_PHONE, "+46 8 123 456 78", "+4915112345678",
              "123", "", "+4670" + "1" * 20, "abc", "+", "0046701234567"],
    "name": ["Anna Andersson", " Åsa Öberg ", "", " ", "x" * 60, "x" * 61, "Anna\u202eBerg",
             "Anna\nBerg", "\u200b"],
    "code": ["<code>", "<phone_code>", "000000", "123456", " 123456 ", "12345", "1234567",
             "١٢٣٤٥٦", "abcdef", "", "0" * 1000],
    "challenge": ["<challenge>", "<used_challenge>", "<token>", "A" * 43, "", "a" * 5000],
    "reset_token": ["<token>", "<used_token>", "<challenge>", "B" * 43, ""],
    "channel": ["sms", "app", "app", "App", "SMS", "email", "", None],
}
RAW_BODIES = [b"", b"{", b"}", b"null", b"[]", b'"text"', b"\xff\xfe\xfd",
              b'{"username": "\\ud800"}', b'{"password": "\\udfff", "username": "a"}',
              b"[" * 5000 + b"]" * 5000, b'{"a":' * 3000 + b"1" + b"}" * 3000,
              b'{"username": "' + b"a" * 17000 + b'"}', b"x" * 16385,
              b'{"username": "hemtjanstab", "username": 1}']

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.text(max_size=8), children, max_size=3),
    max_leaves=6)
ascii_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=60)


def weighted(*choices):
    """One of the strategies, with the given weights. Hypothesis' own choice between the
    branches of one_of leans hard on the first and the last; a seeded Random does not."""
    total = sum(weight for weight, _ in choices)

    def pick(rnd):
        point = rnd.random() * total
        for weight, strategy in choices:
            point -= weight
            if point < 0:
                return strategy
        return choices[-1][1]

    return st.randoms(use_true_random=False).flatmap(pick)


def from_schema(schema: dict):
    """Any value that `schema` allows: enough of JSON Schema for the request schemas of
    infra/openapi.yaml (objects of typed properties)."""
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {name: from_schema(sub) for name, sub in properties.items() if name in required},
            optional={name: from_schema(sub) for name, sub in properties.items()
                      if name not in required})
    if kind == "string":
        return st.text(min_size=schema.get("minLength", 0),
                       max_size=schema.get("maxLength", 200))
    if kind == "integer":
        return st.integers()
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {})), max_size=5)
    return json_values


def field_value(name: str):
    known = st.sampled_from(FIELD_VALUES.get(name, [""]))
    return weighted((75, known), (15, st.text(max_size=80)), (10, json_values))


def json_object(schema: dict):
    names = sorted(schema.get("properties", {}))
    fields = st.fixed_dictionaries({name: field_value(name) for name in names})
    dropped = st.just(frozenset())
    if names:
        dropped = weighted((90, dropped), (10, st.frozensets(st.sampled_from(names))))
    extra = weighted((85, st.just({})),
                     (15, st.dictionaries(st.text(max_size=10), json_values, max_size=2)))
    return st.tuples(fields, dropped, extra).map(
        lambda parts: {k: v for k, v in {**parts[2], **parts[0]}.items() if k not in parts[1]})


def encoded(value, ascii_only: bool) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: only its escape is valid JSON text
        return json.dumps(value).encode("utf-8")


def bodies(operation):
    if operation.request_schema is None:
        return weighted((80, st.just(None)), (20, st.sampled_from(RAW_BODIES)))
    documents = weighted((80, json_object(operation.request_schema)),
                         (10, from_schema(operation.request_schema)), (10, json_values))
    return weighted((88, st.builds(encoded, documents, st.booleans())),
                    (6, st.sampled_from(RAW_BODIES)), (6, st.binary(max_size=64)))


def headers(operation):
    content_type = weighted((88, st.just("application/json")), (12, st.sampled_from(
        ["application/json; charset=utf-8", "Application/JSON", "text/plain",
         "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "*/*", None])))
    if operation.method == "GET":
        content_type = st.sampled_from([None, None, "application/json", "text/plain"])
    language = weighted((90, st.sampled_from([None, "sv", "en", "en-GB,en;q=0.9", "de",
                                              "sv-SE,sv;q=0.8", "*", "x" * 300, ";;;"])),
                        (10, ascii_text))
    forwarded = weighted(
        (70, st.ip_addresses(v=4).map(str)), (5, st.ip_addresses(v=6).map(str)),
        (15, st.sampled_from(HOT_IPS)),
        (10, st.one_of(st.sampled_from([None, "", "garbage", "203.0.113.9, 203.0.113.10",
                                        "::1", "999.1.1.1"]), ascii_text)))
    authorization = weighted((60, st.just("Bearer <session>")), (40, st.sampled_from(
        [None, "bearer <session>", "Bearer <old_session>", "Bearer", "Bearer  ", "Basic YTpi",
         "Bearer " + "C" * 43, "Bearer <token>"])))
    if not operation.bearer:
        authorization = st.sampled_from([None, None, None, "Bearer <session>"])
    return st.fixed_dictionaries({"Content-Type": content_type, "Accept-Language": language,
                                  "X-Forwarded-For": forwarded,
                                  "Authorization": authorization})


class Pool:
    """Live secrets for the fuzzer to use, renewed a (fake) day later every RENEW_EVERY
    requests: a session, a phone code, a reset challenge and its code, a reset token."""

    def __init__(self, world, client):
        self.world, self.client = world, client
        self.password = PASSWORD
        self.values = {"<password>": PASSWORD}
        self.sent = 0

    def renew(self):
        world, client = self.world, self.client
        world.clock.advance(days=1, hours=1)
        world.deliver()
        self._forget_yesterday()
        old = {f"<used_{k[1:]}": v for k, v in self.values.items()
               if k in ("<challenge>", "<token>")}
        old["<old_session>"] = self.values.get("<session>", "")
        ip = {"ip": "192.0.2.200"}
        login = post(client, "/api/registration/login",
                     {"username": PWREG, "password": PASSWORD}, **ip)
        assert login.status_code == 200, login.body
        session = login.json_body["session"]
        phone = world.portal.accounts.get(USERNAME).holders[0].phone
        asked = post(client, "/api/registration/holders", {"name": "Fuzz Holder", "phone": NEW_PHONE},
                     session=session, **ip)
        assert asked.status_code == 202, asked.body
        phone_code = world.last_code(NEW_PHONE)
        world.clock.advance(seconds=61)
        first = post(client, "/api/reset/start", {"username": USERNAME, "phone": phone},
                     **ip).json_body
        verified = post(client, "/api/reset/verify", {"challenge": first["challenge"],
                                                      "code": world.last_code(phone)}, **ip)
        assert verified.status_code == 200, verified.body
        world.clock.advance(seconds=61)
        second = post(client, "/api/reset/start", {"username": USERNAME, "phone": phone},
                      **ip).json_body
        holders = world.portal.accounts.get(PWREG).holders
        self.values = {**old, "<password>": self.password, "<session>": session,
                       "<phone_code>": phone_code, "<token>": verified.json_body["reset_token"],
                       "<challenge>": second["challenge"], "<code>": world.last_code(phone),
                       "<holder_id>": holders[-1].id if holders else "A" * 16}

    def _forget_yesterday(self):
        """Empty the challenges and limits tables of the fake: a day later nothing in them
        matters to the fuzzer any more."""
        settings = self.world.settings
        self.forget(settings.audit_table, settings.challenges_table, settings.limits_table)

    def forget(self, *tables):
        """moto copies every table that a transaction touches (to roll it back), so its
        cost grows with what the tables hold; the fuzzer never reads the audit trail."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        from tests.conftest import REGION
        backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]
        for name in tables or (self.world.settings.audit_table,):
            backend.tables[name].items.clear()

    def fill(self, text: str) -> str:
        for marker, value in self.values.items():
            text = text.replace(marker, value)
        return text

    def fill_body(self, body: bytes | None) -> bytes | None:
        if body is None or b"<" not in body:
            return body
        for marker, value in self.values.items():
            body = body.replace(marker.encode(), value.encode())
        return body


@pytest.fixture
def pool(cheap_argon2, world, client):
    world.create_account()
    world.create_account(NO_NUMBER, phone=None)
    world.create_account(DISABLED)
    disable(world, DISABLED)
    world.create_account(PWREG, phone=PWREG_PHONE)
    fresh = Pool(world, client)
    fresh.renew()
    return fresh


HOLDER_IDS = ["<holder_id>", "<holder_id>", "A" * 16, "nope", "x" * 300, "%00", "..%2F.."]


def send(client, operation, headers: dict, body: bytes | None, holder_id: str = "A" * 16):
    sent = {name: value for name, value in headers.items() if value is not None}
    path = operation.path.replace("{holder_id}", holder_id)
    if operation.method == "GET":
        return client.http.get(path, headers=sent)
    if operation.method == "DELETE":
        return client.http.delete(path, headers=sent)
    return client.http.post(path, headers=sent, body=body or b"")


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_generated_requests_get_no_5xx_and_no_answer_outside_the_description(
        world, client, pool, name):
    operation = OPERATIONS[name]
    sent = []

    @settings(max_examples=EXAMPLES[name], deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck), print_blob=True)
    @given(request_headers=headers(operation), body=bodies(operation),
           holder_id=weighted((80, st.sampled_from(HOLDER_IDS)), (20, ascii_text)))
    def one_request(request_headers, body, holder_id):
        if pool.sent and pool.sent % RENEW_EVERY == 0:
            pool.renew()
        elif pool.sent % 25 == 0:
            pool.forget()
        pool.sent += 1
        world.clock.advance(seconds=SECONDS_PER_REQUEST)
        filled = {k: pool.fill(v) if isinstance(v, str) else v
                  for k, v in request_headers.items()}
        payload = pool.fill_body(body)
        # the id as a path segment: '/', '?' and '#' escaped (a '?' would end the path at
        # /holders, another route); '%' kept for the encoded ids of HOLDER_IDS
        response = send(client, operation, filled, payload,
                        holder_id=quote(pool.fill(holder_id), safe="%") or "x")
        sent.append(response.status_code)
        found = problems(operation, response.status_code, response.headers, response.body)
        assert not found, (f"{operation.method} {operation.path} headers={filled} "
                           f"body={payload[:300] if payload else payload!r}\n -> "
                           f"{response.status_code} {response.headers} "
                           f"{response.body[:500]!r}\n" + "\n".join(found))
        if operation.id == "reset_complete" and response.status_code == 200:
            pool.password = json.loads(payload)["password"]
            pool.values["<password>"] = pool.password

    one_request()
    assert len(sent) >= EXAMPLES[name]


def test_the_fuzzers_share_at_least_5000_requests():
    assert sum(EXAMPLES[name] for name in OPERATIONS) >= TOTAL
