"""What AWS answers in the API's name on a deployed stage (issue 12, finding 9): API Gateway's
own answers (throttled, quota, unknown path) and the WAF's block keep the API's contract,
checked against infra/openapi.yaml as the fuzzer checks the API's own answers.

The answers are rendered from the template the way the services build them: API Gateway's
response template is Velocity over $context (a small renderer below takes exactly the
directives the template uses and refuses any other), the WAF's rules are evaluated in
priority order for an address that is over the rate limit."""
from __future__ import annotations

import json
import re

import pytest

from infra import template
from tests.fuzz.description import operations, problems, raw

STAGE = "prod"
OPERATIONS = operations()


# -- API Gateway -------------------------------------------------------------------------------

_DIRECTIVE = re.compile(r'^#(if|elseif)\(\$context\.resourcePath == "([^"$#]*)"\)$')


def render(velocity: str, resource_path: str) -> str:
    """API Gateway's rendering of a response template for a request to `resource_path`:
    plain text, or #if/#elseif on $context.resourcePath, #else, #end. Anything else that
    Velocity would read ($ or # in the text) fails the test."""
    out, taking, taken, depth = [], True, False, 0
    for line in velocity.split("\n"):
        found = _DIRECTIVE.match(line)
        if found:
            kind, path = found.groups()
            if kind == "if":
                depth += 1
                taken = False
            elif depth != 1:
                raise AssertionError(f"#elseif outside #if: {velocity!r}")
            taking = not taken and resource_path == path
            taken = taken or taking
        elif line == "#else":
            taking, taken = not taken, True
        elif line == "#end":
            depth -= 1
            taking = True
        else:
            assert "$" not in line and "#" not in line, f"Velocity would read {line!r}"
            if taking:
                out.append(line)
    assert depth == 0, velocity
    return "\n".join(out)


def gateway_answer(kind: str, resource_path: str) -> tuple[int, dict, bytes]:
    response = template.gateway_responses(STAGE)[kind]
    headers = {name: value.strip("'") for name, value in
               response["ResponseParameters"]["Headers"].items()}
    headers["Content-Type"] = "application/json"
    body = render(response["ResponseTemplates"]["application/json"], resource_path)
    return int(response["StatusCode"]), headers, body.encode("utf-8")


@pytest.mark.parametrize("kind", ["THROTTLED", "QUOTA_EXCEEDED"])
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda o: o.id)
def test_the_gateways_429_on_every_operation_is_one_the_description_allows(kind, operation):
    status, headers, body = gateway_answer(kind, operation.path)
    assert status == 429
    assert problems(operation, status, headers, body) == []
    assert headers["Retry-After"] == str(json.loads(body)["error"]["retry_after"]) == "1"


def test_the_gateway_throttling_login_says_too_many_attempts_like_the_api():
    login = {o.id: o for o in OPERATIONS}["login"]
    _, _, body = gateway_answer("THROTTLED", login.path)
    assert json.loads(body)["error"]["code"] == "too_many_attempts"
    for other in OPERATIONS:
        if other.id != "login":
            _, _, body = gateway_answer("THROTTLED", other.path)
            assert json.loads(body)["error"]["code"] == "too_many_requests", other.id


@pytest.mark.parametrize("kind", ["MISSING_AUTHENTICATION_TOKEN", "RESOURCE_NOT_FOUND"])
@pytest.mark.parametrize("path", ["/api/nothing-here", "/api/reset/start/x", "/api/", "/"])
def test_an_unknown_path_is_the_gateways_404_not_found_in_the_envelope(kind, path):
    status, headers, body = gateway_answer(kind, path)
    assert status == 404
    assert headers["Cache-Control"] == "no-store" and headers["X-Content-Type-Options"] \
        == "nosniff"
    document = json.loads(body)
    schema = raw()["components"]["schemas"]["NotFound"]
    from openapi_schema_validator import OAS30Validator
    resolved = {**raw(), **schema}
    errors = [e.message for e in OAS30Validator(resolved).iter_errors(document)]
    assert errors == [] and document["error"]["code"] == "not_found"


def test_every_gateway_answer_sends_the_apis_headers_and_no_text_velocity_would_read():
    for kind, response in template.gateway_responses(STAGE).items():
        headers = response["ResponseParameters"]["Headers"]
        assert headers["Cache-Control"] == "'no-store'", kind
        assert headers["X-Content-Type-Options"] == "'nosniff'", kind
        json.loads(render(response["ResponseTemplates"]["application/json"], "/api/config"))


def test_text_velocity_would_read_is_refused_not_put_into_a_template():
    with pytest.raises(ValueError):
        template._vtl_text('{"message": "costs $5"}')


# -- the WAF -----------------------------------------------------------------------------------

def matches(statement: dict, path: str, labels: set[str], over_rate: bool) -> bool:
    """AWS WAF's evaluation of the statements the template uses, for an address that is
    (or is not) over the rate limit."""
    kind, body = next(iter(statement.items()))
    if kind == "AndStatement":
        return all(matches(s, path, labels, over_rate) for s in body["Statements"])
    if kind == "LabelMatchStatement":
        assert body["Scope"] == "LABEL"
        return body["Key"] in labels
    if kind == "ByteMatchStatement":
        assert body["FieldToMatch"] == {"UriPath": {}}
        constraint, search = body["PositionalConstraint"], body["SearchString"]
        return {"EXACTLY": path == search,
                "STARTS_WITH": path.startswith(search)}[constraint]
    if kind == "RateBasedStatement":
        return over_rate and matches(body["ScopeDownStatement"], path, labels, over_rate)
    raise AssertionError(f"a statement the test cannot evaluate: {kind}")


def waf_answer(path: str, over_rate: bool) -> tuple[int, dict, bytes] | None:
    """The WAF's custom response to a request to `path`, or None: let through."""
    acl = template.waf_template(STAGE)["Resources"]["WebAcl"]["Properties"]
    labels: set[str] = set()
    for rule in sorted(acl["Rules"], key=lambda r: r["Priority"]):
        if not matches(rule["Statement"], path, labels, over_rate):
            continue
        labels |= {label["Name"] for label in rule.get("RuleLabels", [])}
        action = rule["Action"]
        if "Count" in action:
            continue
        answer = action["Block"]["CustomResponse"]
        body = acl["CustomResponseBodies"][answer["CustomResponseBodyKey"]]
        assert body["ContentType"] == "APPLICATION_JSON"
        headers = {h["Name"]: h["Value"] for h in answer["ResponseHeaders"]}
        headers["Content-Type"] = "application/json"
        return answer["ResponseCode"], headers, body["Content"].encode("utf-8")
    return None


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda o: o.id)
def test_the_wafs_block_of_every_operation_is_an_answer_the_description_allows(operation):
    assert waf_answer(operation.path, over_rate=False) is None
    status, headers, body = waf_answer(operation.path, over_rate=True)
    assert status == 429
    assert problems(operation, status, headers, body) == []
    document = json.loads(body)["error"]
    assert headers["Retry-After"] == str(document["retry_after"]) == str(
        template.WAF_WINDOW_SECONDS)
    assert document["code"] == ("too_many_attempts" if operation.id == "login"
                                else "too_many_requests")


def test_the_waf_counts_only_api_requests_and_lets_the_pages_through():
    assert waf_answer("/pwreset/", over_rate=True) is None
    assert waf_answer("/index.html", over_rate=True) is None
    assert waf_answer("/api/registration/login/x", over_rate=True)[0] == 429
