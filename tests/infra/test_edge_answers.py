"""What AWS answers in the API's name on a deployed stage (issue 12, finding 9): API Gateway's
own answers (throttled, quota, unknown path) and the WAF's block keep the API's contract,
checked against infra/openapi.yaml as the fuzzer checks the API's own answers.

The answers are rendered from the template the way the services build them: API Gateway's
response template as it is (API Gateway runs no Velocity in a gateway response, it only
substitutes `$variables`, and the templates have none), the WAF's rules evaluated in
priority order for an address that is over the rate limit."""
from __future__ import annotations

import json

import pytest

from infra import template
from tests.fuzz.description import operations, problems, raw

STAGE = "prod"
OPERATIONS = operations()


# -- API Gateway -------------------------------------------------------------------------------

def render(template_text: str) -> str:
    """API Gateway's rendering of a gateway response template: `$name` is substituted (none
    may be there: the body is the envelope as it is); nothing else happens to the text."""
    assert "$" not in template_text, f"API Gateway would substitute in {template_text!r}"
    return template_text


def gateway_answer(kind: str) -> tuple[int, dict, bytes]:
    response = template.gateway_responses(STAGE)[kind]
    headers = {name: value.strip("'") for name, value in
               response["ResponseParameters"]["Headers"].items()}
    headers["Content-Type"] = "application/json"
    body = render(response["ResponseTemplates"]["application/json"])
    return int(response["StatusCode"]), headers, body.encode("utf-8")


@pytest.mark.parametrize("kind", ["THROTTLED", "QUOTA_EXCEEDED"])
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda o: o.id)
def test_the_gateways_429_on_every_operation_is_one_the_description_allows(kind, operation):
    status, headers, body = gateway_answer(kind)
    assert status == 429
    assert problems(operation, status, headers, body) == []
    assert headers["Retry-After"] == str(json.loads(body)["error"]["retry_after"]) == "1"


def test_the_gateway_cannot_tell_login_apart_so_the_description_allows_its_answer_there():
    """A gateway response belongs to the whole API (infra/template.py says why): its 429 is
    too_many_requests on login too, and login's description lists it beside the API's own
    too_many_attempts; the WAF, which can tell paths apart, answers login as the API does."""
    login = {o.id: o for o in OPERATIONS}["login"]
    status, headers, body = gateway_answer("THROTTLED")
    assert json.loads(body)["error"]["code"] == "too_many_requests"
    assert problems(login, status, headers, body) == []
    _, _, waf_body = waf_answer(login.path, over_rate=True)
    assert json.loads(waf_body)["error"]["code"] == "too_many_attempts"


@pytest.mark.parametrize("kind", ["MISSING_AUTHENTICATION_TOKEN", "RESOURCE_NOT_FOUND"])
def test_an_unknown_path_is_the_gateways_404_not_found_in_the_envelope(kind):
    status, headers, body = gateway_answer(kind)
    assert status == 404
    assert headers["Cache-Control"] == "no-store" and headers["X-Content-Type-Options"] \
        == "nosniff"
    document = json.loads(body)
    schema = raw()["components"]["schemas"]["NotFound"]
    from openapi_schema_validator import OAS30Validator
    resolved = {**raw(), **schema}
    errors = [e.message for e in OAS30Validator(resolved).iter_errors(document)]
    assert errors == [] and document["error"]["code"] == "not_found"


def test_every_gateway_answer_sends_the_apis_headers_and_no_text_the_gateway_would_change():
    for kind, response in template.gateway_responses(STAGE).items():
        headers = response["ResponseParameters"]["Headers"]
        assert headers["Cache-Control"] == "'no-store'", kind
        assert headers["X-Content-Type-Options"] == "'nosniff'", kind
        json.loads(render(response["ResponseTemplates"]["application/json"]))


def test_text_the_gateway_would_substitute_in_is_refused_not_put_into_a_template():
    with pytest.raises(ValueError):
        template._template_text('{"message": "costs $context.x"}')


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
