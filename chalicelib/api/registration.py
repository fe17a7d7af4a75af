"""pwreg's API: /api/registration/login, /phone, /phone/verify, /logout (SPEC 8)."""
from chalice import Blueprint

from chalicelib.api.http import bearer, endpoint, json_body
from chalicelib.bootstrap import portal

registration = Blueprint(__name__)


@registration.route("/login", methods=["POST"])
@endpoint(registration)
def login(request, caller):
    body = json_body(request)
    return portal().registration.login(body.get("username"), body.get("password"), caller)


@registration.route("/phone", methods=["POST"])
@endpoint(registration, status=202)
def phone(request, caller):
    body = json_body(request)
    return portal().registration.request_phone(bearer(request), body.get("phone"), caller)


@registration.route("/phone/verify", methods=["POST"])
@endpoint(registration)
def verify_phone(request, caller):
    body = json_body(request)
    return portal().registration.verify_phone(bearer(request), body.get("code"), caller)


@registration.route("/logout", methods=["POST"], content_types=["application/json",
                                                                 "text/plain"])
@endpoint(registration, status=204)
def logout(request, caller):
    portal().registration.logout(bearer(request))
    return None
