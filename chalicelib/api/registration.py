"""pwreg's API: /api/registration/login, /holders, /holders/verify, /holders/{id},
/logout (SPEC 8 v2)."""
from chalice import Blueprint

from chalicelib.api.http import bearer, endpoint, json_body
from chalicelib.bootstrap import portal

registration = Blueprint(__name__)


@registration.route("/login", methods=["POST"])
@endpoint(registration)
def login(request, caller):
    body = json_body(request)
    return portal().registration.login(body.get("username"), body.get("password"), caller)


@registration.route("/holders", methods=["POST"])
@endpoint(registration, status=202)
def add_holder(request, caller):
    body = json_body(request)
    return portal().registration.request_holder(bearer(request), body.get("name"),
                                                body.get("phone"), caller)


@registration.route("/holders/verify", methods=["POST"])
@endpoint(registration)
def verify_holder(request, caller):
    body = json_body(request)
    return portal().registration.verify_holder(bearer(request), body.get("code"), caller)


@registration.route("/holders/{holder_id}", methods=["DELETE"],
                    content_types=["application/json", "text/plain"])
@endpoint(registration, status=204)
def remove_holder(request, caller, holder_id):
    portal().registration.remove_holder(bearer(request), holder_id, caller)
    return None


@registration.route("/logout", methods=["POST"], content_types=["application/json",
                                                                 "text/plain"])
@endpoint(registration, status=204)
def logout(request, caller):
    portal().registration.logout(bearer(request))
    return None
