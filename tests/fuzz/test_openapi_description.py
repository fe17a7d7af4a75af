"""infra/openapi.yaml is a valid OpenAPI 3 description of exactly the app's routes."""
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
