"""The support console deployed (SPEC 14, 15; issue 23 point 6): CloudFront gives
`/api/support/*` a behaviour of its own that passes the console's cookies, the provider's
answer and the report's query, `Origin` and the console's header, and no other path gets a
cookie or a query string; the identity provider's issuer and redirect base are deploy
parameters that reach the API function only. The merge template is read as it is (no
`chalice package`: tests/infra/test_template.py checks the packaged one)."""
from __future__ import annotations

import types
from fnmatch import fnmatchcase

import pytest
import yaml

from chalicelib.api import support
from infra import deploy, template
from tests.conftest import ROOT

CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
HOST = "losenord.kommun.se"
ISSUER = "https://login.microsoftonline.com/8d2c1a7e-0000-4000-8000-000000000000/v2.0"


@pytest.fixture(params=template.STAGES)
def merged(request) -> dict:
    return template.merge_template(request.param)


def distribution(found: dict) -> dict:
    return found["Resources"]["Distribution"]["Properties"]["DistributionConfig"]


def forwarded(found: dict, path: str) -> dict:
    """What CloudFront passes to the origin for a request to `path`: the first behaviour
    whose pattern matches (CloudFront's order), else the default one. Its origin, whether
    it caches, and the headers, cookies and query strings its origin request policy names
    ("all" where the policy passes all; none without a policy)."""
    config = distribution(found)
    behaviour = next((b for b in config["CacheBehaviors"]
                      if fnmatchcase(path, b["PathPattern"])), config["DefaultCacheBehavior"])
    seen = {"origin": behaviour["TargetOriginId"], "cache": behaviour["CachePolicyId"],
            "headers": set(), "cookies": set(), "query": set()}
    if "OriginRequestPolicyId" not in behaviour:
        return seen
    policy = found["Resources"][behaviour["OriginRequestPolicyId"]["Ref"]]["Properties"][
        "OriginRequestPolicyConfig"]
    for key, config_key, behaviour_key, names in (
            ("headers", "HeadersConfig", "HeaderBehavior", "Headers"),
            ("cookies", "CookiesConfig", "CookieBehavior", "Cookies"),
            ("query", "QueryStringsConfig", "QueryStringBehavior", "QueryStrings")):
        part = policy[config_key]
        kind = part[behaviour_key]
        assert kind in ("none", "whitelist"), f"{key}: {kind} passes more than it names"
        seen[key] = {n.lower() for n in part.get(names, [])} if kind == "whitelist" else set()
    return seen


CONSOLE_PATHS = ("/api/support/login", "/api/support/callback", "/api/support/me",
                 "/api/support/logout", "/api/support/accounts/hemtjanstab",
                 "/api/support/accounts/hemtjanstab/verify/start",
                 "/api/support/accounts/hemtjanstab/holders/rTp9CLhoTq7LYnZY/authenticator",
                 "/api/support/accounts/hemtjanstab/report")
PORTAL_PATHS = ("/api/config", "/api/registration/login", "/api/registration/holders",
                "/api/reset/start", "/api/reset/complete", "/api/support",
                "/api/supportx/login")
PAGES = ("/", "/support/", "/support/index.html", "/pwreset/", "/assets/site.js")


def test_the_consoles_cookies_reach_the_api_under_api_support_and_nowhere_else(merged):
    for path in CONSOLE_PATHS:
        seen = forwarded(merged, path)
        assert seen["origin"] == "api", path
        assert seen["cookies"] == {"pwportal_sign_in", "pwportal_support"}, path
    for path in PORTAL_PATHS + PAGES:
        assert forwarded(merged, path)["cookies"] == set(), path
    # the names are the ones the API sets and reads
    assert {support.SESSION_COOKIE, support.BROWSER_COOKIE} == \
        forwarded(merged, "/api/support/me")["cookies"]
    # a cookie never lands in CloudFront's access logs either
    assert distribution(merged)["Logging"]["IncludeCookies"] is False


def test_the_console_gets_the_providers_answer_and_the_reports_query_and_nothing_else(merged):
    console = forwarded(merged, "/api/support/callback")
    assert console["query"] == {"code", "state", "iss", "error", "error_description",
                                "month", "format"}
    for path in PORTAL_PATHS:
        assert forwarded(merged, path)["query"] == set(), path


def test_the_console_gets_origin_its_header_and_accept_besides_what_every_api_path_gets(
        merged):
    console = forwarded(merged, "/api/support/accounts/hemtjanstab/unlock")
    portal = forwarded(merged, "/api/reset/start")
    assert portal["headers"] == {"accept-language", "content-type",
                                 template.CLIENT_ADDRESS_HEADER.lower()}
    assert console["headers"] == portal["headers"] | {"origin", "x-pwportal-console",
                                                      "accept"}
    assert support.CONSOLE_HEADER in console["headers"]


def test_nothing_under_api_is_cached_and_the_console_comes_before_the_rest_of_the_api(merged):
    behaviours = distribution(merged)["CacheBehaviors"]
    patterns = [b["PathPattern"] for b in behaviours]
    assert patterns.index("/api/support/*") < patterns.index("/api/*")
    for path in CONSOLE_PATHS + PORTAL_PATHS:
        assert forwarded(merged, path)["cache"] == template.CACHING_DISABLED, path
    for behaviour in behaviours:
        assert behaviour["ViewerProtocolPolicy"] == "https-only"
        assert behaviour["ResponseHeadersPolicyId"] == {"Ref": "SiteHeaders"}
    # the console's page is the site's, from the bucket, cached like every page
    assert forwarded(merged, "/support/")["origin"] == "site"


def _description() -> dict:
    return yaml.safe_load((ROOT / "infra" / "openapi.yaml").read_text(encoding="utf-8"))


def _described_inputs():
    """(path, query names, header names, cookie names) of every described operation."""
    spec = _description()
    cookies = {name: scheme["name"] for name, scheme in spec["components"][
        "securitySchemes"].items() if scheme.get("in") == "cookie"}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            parameters = []
            for parameter in operation.get("parameters", []):
                if "$ref" in parameter:
                    parameter = spec["components"]["parameters"][
                        parameter["$ref"].rsplit("/", 1)[-1]]
                parameters.append(parameter)
            used = {cookies[name] for requirement in operation.get("security", [])
                    for name in requirement if name in cookies}
            yield (path, {p["name"] for p in parameters if p["in"] == "query"},
                   {p["name"].lower() for p in parameters if p["in"] == "header"},
                   used | {p["name"] for p in parameters if p["in"] == "cookie"})


def test_every_query_header_and_cookie_the_description_names_reaches_the_api(merged):
    checked = 0
    for path, query, headers, cookies in _described_inputs():
        seen = forwarded(merged, path.replace("{username}", "hemtjanstab")
                         .replace("{holder_id}", "rTp9CLhoTq7LYnZY"))
        assert query <= seen["query"], (path, query - seen["query"])
        assert headers <= seen["headers"], (path, headers - seen["headers"])
        assert cookies <= seen["cookies"], (path, cookies - seen["cookies"])
        checked += bool(query or headers or cookies)
    assert checked >= 10  # the console's operations, at least


# -- the identity provider's settings --------------------------------------------------------

def test_the_issuer_and_redirect_base_are_parameters_that_only_the_api_function_gets(merged):
    parameters = merged["Parameters"]
    for name in ("IdpIssuer", "IdpRedirectBase"):
        assert parameters[name]["Type"] == "String" and parameters[name]["Default"] == ""
    functions = {logical: merged["Resources"][logical]["Properties"]["Environment"][
        "Variables"] for logical in template.FUNCTIONS.values()}
    assert functions["APIHandler"]["PWPORTAL_IDP_ISSUER"] == {"Ref": "IdpIssuer"}
    assert functions["APIHandler"]["PWPORTAL_IDP_REDIRECT_BASE"] == {"Ref": "IdpRedirectBase"}
    for logical in ("DeliverSms", "SendReminders"):
        assert not [v for v in functions[logical] if v.startswith("PWPORTAL_IDP_")], logical


def deploy_args(*extra: str):
    return deploy.parser().parse_args(["deploy", "--stage", "prod", "--host", HOST,
                                       "--certificate-arn", CERTIFICATE, *extra])


def test_the_deploy_passes_the_issuer_and_redirect_base_as_given():
    args = deploy_args("--idp-issuer", ISSUER, "--idp-redirect-base", "https://pw.kommun.se/")
    assert deploy.identity_provider(args) == {"IdpIssuer": ISSUER,
                                              "IdpRedirectBase": "https://pw.kommun.se"}
    # an empty issuer is the console off, even where the stage's settings name one
    assert deploy.identity_provider(deploy_args("--idp-issuer", ""))["IdpIssuer"] == ""


def test_the_deploy_takes_the_stages_settings_when_no_option_is_given(monkeypatch):
    monkeypatch.setattr(deploy, "stage_environment", lambda stage: {
        "PWPORTAL_IDP_ISSUER": "https://adfs.kommun.se/adfs",
        "PWPORTAL_IDP_REDIRECT_BASE": ""})
    assert deploy.identity_provider(deploy_args()) == {
        "IdpIssuer": "https://adfs.kommun.se/adfs", "IdpRedirectBase": ""}
    monkeypatch.setattr(deploy, "stage_environment", lambda stage: {})
    assert deploy.identity_provider(deploy_args()) == {"IdpIssuer": "", "IdpRedirectBase": ""}


@pytest.mark.parametrize("option, value, parameter", [
    ("--idp-issuer", "http://login.kommun.se", "IdpIssuer"),  # the token's issuer is HTTPS
    ("--idp-issuer", "login.kommun.se", "IdpIssuer"),
    ("--idp-redirect-base", "https://losenord.kommun.se/api", "IdpRedirectBase"),  # origin
    ("--idp-redirect-base", "http://losenord.kommun.se", "IdpRedirectBase"),
])
def test_a_provider_setting_the_template_would_refuse_is_refused_before_anything_is_deployed(
        option, value, parameter, capsys, monkeypatch):
    made = []
    monkeypatch.setattr(deploy, "check_site", lambda root: made.append("site checked"))
    code = deploy.main(["deploy", "--stage", "prod", "--host", HOST,
                        "--certificate-arn", CERTIFICATE, option, value])
    assert code == 1 and not made
    assert parameter in capsys.readouterr().err


class _Clients:
    """A session whose clients answer whatever is asked (the steps that use them are
    replaced), but STS's account id."""

    def __init__(self, region_name=None):
        self.region_name = region_name

    def client(self, service, region_name=None):
        answers = types.SimpleNamespace(
            get_caller_identity=lambda: {"Account": "123456789012"})
        return answers if service == "sts" else types.SimpleNamespace(service=service)


def test_make_deploy_gives_the_stack_every_parameter_of_the_template_the_provider_included(
        monkeypatch, tmp_path, capsys):
    import boto3
    stacks = {}

    def deploy_stack(cfn, name, body, parameters):
        stacks[name] = parameters
        return {"WebAclArn": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/x",
                "SiteBucketName": "site", "DistributionId": "D"}
    monkeypatch.setattr(boto3.session, "Session", _Clients)
    for step, answer in {"check_site": None, "ensure_secrets": "o" * 40,
                         "ensure_artifacts_bucket": "artifacts", "upload_artifacts": "https://t",
                         "ensure_api_gateway_log_role": "role", "build_site": tmp_path,
                         "upload_site": None, "invalidate": None, "configure_sms": None,
                         "protect_countries": "p"}.items():
        monkeypatch.setattr(deploy, step, lambda *a, _answer=answer, **k: _answer)
    monkeypatch.setattr(deploy, "deploy_stack", deploy_stack)
    monkeypatch.setattr(template, "package", lambda *a, **k: tmp_path / "sam.json")
    monkeypatch.setattr(deploy, "build_dir", lambda stage: tmp_path)
    (tmp_path / "waf.json").write_text("{}", encoding="utf-8")

    deploy.deploy(deploy_args("--idp-issuer", ISSUER))

    given = stacks[deploy.stack_name("prod")]
    assert set(given) == set(template.merge_template("prod")["Parameters"])
    assert (given["IdpIssuer"], given["IdpRedirectBase"]) == (ISSUER, "")
    printed = capsys.readouterr().out
    assert f"https://{HOST}/api/support/callback" in printed


def test_make_deploy_passes_the_provider_options_and_the_docs_name_them():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    documented = (ROOT / "docs" / "deploying.md").read_text(encoding="utf-8")
    for variable, option in (("IDP_ISSUER", "--idp-issuer"),
                             ("IDP_REDIRECT_BASE", "--idp-redirect-base")):
        assert f"$(if $({variable}),{option} $({variable}))" in makefile, variable
        assert f"`{variable}`" in documented, variable
    for name in ("/api/support/*", "pwportal_support", "pwportal_sign_in", "X-Pwportal-Console",
                 "/api/support/callback"):
        assert name in documented, name
