"""Unknown paths (SPEC 8 v2): 404 `not_found` in the envelope with the API's headers, in the
caller's language, from chalice's emulated gateway as from every stage; never API Gateway's
403 `Missing Authentication Token`, which also says that nothing is routed there."""
import json

import pytest
from chalice.local import LocalGateway

from chalicelib.messages import text
from tests.api.helpers import API_HEADERS, error
from tests.api_client import get, post

UNKNOWN = ["/api/nothing", "/api/registration/nothing", "/api/reset", "/api/config/x",
           "/dev/nothing", "/dev", "/", "/api/registration/phone/verify/x"]


@pytest.mark.parametrize("path", UNKNOWN)
@pytest.mark.parametrize("lang", ["sv", "en"])
def test_an_unknown_path_is_404_not_found_in_the_envelope(world, client, path, lang):
    for response in (get(client, path, lang=lang),
                     post(client, path, {"x": 1}, lang=lang, session="some-token")):
        assert response.status_code == 404, (path, response.body[:200])
        assert response.headers["Content-Type"].startswith("application/json")
        assert {name: response.headers.get(name) for name in API_HEADERS} == API_HEADERS
        assert error(response)["code"] == "not_found"
        assert error(response)["message"].startswith(text("not_found", lang))
        assert b"Authentication" not in response.body


def test_an_unknown_path_and_a_missing_resource_look_alike(world, client, configure):
    """/dev/sms on a deployed stage is a route that answers not_found itself: an unknown
    path gets the very same answer, so the two cannot be told apart."""
    configure(STAGE="dev")
    routed, unknown = get(client, "/dev/sms"), get(client, "/dev/smss")
    assert (routed.status_code, json.loads(routed.body)) == \
        (unknown.status_code, json.loads(unknown.body))


def test_a_known_path_with_another_method_is_still_405(world, client):
    response = get(client, "/api/reset/start")
    assert response.status_code == 405
    assert error(response)["code"] == "method_not_allowed"


def test_the_envelope_is_installed_once_however_often_it_is_asked_for(world, client):
    from infra.chalice_runtime import answer_unknown_routes_with_the_envelope
    installed = LocalGateway.handle_request
    answer_unknown_routes_with_the_envelope()
    assert LocalGateway.handle_request is installed
