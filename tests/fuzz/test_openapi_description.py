"""infra/openapi.yaml is a valid OpenAPI 3 description of exactly the app's routes."""
from hypothesis import given, settings
from hypothesis.strategies import data, from_regex
from openapi_spec_validator import validate

from tests.fuzz.description import HTTP_METHODS, LOCAL_ONLY, operations, raw


def test_the_description_is_valid_openapi_3():
    validate(raw())
    assert raw()["openapi"].startswith("3.")


def test_the_description_has_exactly_the_paths_and_methods_of_the_app():
    import app
    routes = {(path, method) for path, methods in app.app.routes.items() for method in methods}
    described = {(path, method.upper()) for path, item in raw()["paths"].items()
                 for method in item if method in HTTP_METHODS}
    assert routes - LOCAL_ONLY == described


def test_every_post_describes_the_errors_every_post_can_give():
    for operation in operations():
        if operation.method == "POST":
            assert {415, 503} <= set(operation.answers), operation.id
            if operation.id not in ("logout", "support_logout"):  # the logouts read no body
                assert {400, 413} <= set(operation.answers), operation.id


def test_every_answer_describes_the_security_headers():
    for operation in operations():
        for status, answer in operation.answers.items():
            assert {"Cache-Control", "X-Content-Type-Options"} <= set(answer.headers), \
                (operation.id, status)
            if status == 429:
                assert "Retry-After" in answer.headers, (operation.id, status)


# -- issue 22 point 12: the schemas say what the API does, with examples ---------------------

def _schemas() -> dict:
    from tests.fuzz.description import _resolve
    return _resolve(raw()["components"]["schemas"], raw())


def test_every_request_body_has_an_example_that_its_schema_takes():
    import jsonschema
    bodies = [operation for operation in operations() if operation.request_schema]
    assert bodies
    for operation in bodies:
        example = operation.request_schema.get("example")
        assert isinstance(example, dict), operation.id
        jsonschema.validate(example, operation.request_schema)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(data())
def test_every_number_the_phone_pattern_takes_is_one_the_api_takes(drawn):
    from chalicelib.domain.phone import parse
    pattern = _schemas()["Phone"]["pattern"]
    typed = drawn.draw(from_regex(pattern, fullmatch=True))
    assert parse(typed, ("SE",)).startswith("+467"), typed


def test_the_phone_pattern_takes_the_forms_people_type_and_refuses_what_the_api_refuses():
    import re
    from chalicelib.domain.errors import InvalidPhone, PhoneNotAllowed
    from chalicelib.domain.phone import parse
    pattern = re.compile(_schemas()["Phone"]["pattern"])
    for typed in ("070-123 45 67", "0701234567", "+46701234567", "+46 70 123 45 67",
                  "0046701234567", "073-987 65 43", "076 123 45 67", "079-123 45 67"):
        assert pattern.fullmatch(typed), typed
        parse(typed, ("SE",))
    for typed in ("08-123 456 78", "+4581234567", "+4912345678901", "1234567", "0751234567"):
        assert not pattern.fullmatch(typed), typed
        try:
            parse(typed, ("SE",))
        except (InvalidPhone, PhoneNotAllowed):
            continue
        raise AssertionError(f"the API takes {typed!r}, which the pattern refuses")


def test_challenge_token_code_and_password_are_described_by_what_decides_the_answer():
    schemas = _schemas()
    # any non-empty text is looked up, so an unknown one is 410, not 400: no pattern
    assert schemas["SecretInput"] == {**schemas["SecretInput"], "minLength": 1}
    assert "pattern" not in schemas["SecretInput"] and "maxLength" not in schemas["SecretInput"]
    # any text is a code (a wrong one is 400 invalid_code only once the challenge is known)
    assert "pattern" not in schemas["Code"] and "minLength" not in schemas["Code"]
    # a password too long breaks a rule (422), it is no malformed request (400)
    password = schemas["CompleteRequest"]["properties"]["password"]
    assert "maxLength" not in password and "minLength" not in password
