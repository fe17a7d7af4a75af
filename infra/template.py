"""The AWS deployment of pwportal: what `chalice package --merge-template` merges into the
template that chalice generates for the functions and the API.

One CloudFormation (SAM) template per stage holds everything a municipality runs:

- the DynamoDB tables and SQS queues of infra/resources.json (named as the settings name
  them, on demand, TTL, point-in-time recovery, retained when the stack goes);
- chalice's three functions (API, SMS worker, daily reminders) on a supported runtime, each
  with its own role whose policy is `.chalice/policy-<stage>-<function>.json` (generated
  here, see `policies`), log groups with retention (chalice's `log_retention_in_days`);
- the REST API, regional, with stage throttling and gateway answers in the API's envelope;
- a private S3 bucket for static_site/ behind CloudFront (origin access control, TLS 1.2 on
  the portal's own host name, `/api/*` to API Gateway, `/api/support/*` too with what the
  support console needs and no other path gets: its two cookies, the sign-in's and the
  report's query, `Origin` and the console's header; the site's security headers of
  chalicelib/api/contract.py, which the local stack sends too, as a response-headers policy),
  the request that reaches the API carrying a secret origin header, so that nobody can go
  around CloudFront and its client address; API Gateway's and the WAF's own answers in the
  API's envelope and headers;
- the dashboard and alarms of infra/monitoring.py, an optional e-mail for the alarms and the
  WAF web ACL (the rate rule is `waf_template`, deployed in us-east-1 because CloudFront's
  web ACLs live there; infra/deploy.py deploys it unless told not to);
- access logs (API Gateway's stage, CloudFront's, the site bucket's) kept LogRetentionDays.

The secrets (pepper, code key, origin key) are one SSM SecureString that `make deploy`
creates once; the API reads it at run time. The pepper and the code key never pass through
CloudFormation; the origin key does, as a NoEcho parameter, because CloudFront sends it.

    python -m infra.template policies            # write .chalice/policy-*.json
    python -m infra.template package --stage prod --out build/prod
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from chalice.utils import to_cfn_resource_name

from chalicelib.api import contract
from chalicelib.api.contract import API_HEADERS, ORIGIN_HEADER, SITE_HEADERS
from chalicelib.api.idp import BROWSER_COOKIE as IDP_BROWSER_COOKIE
from chalicelib.api.support import BROWSER_COOKIE, SESSION_COOKIE
from infra import monitoring, resources
from infra.stages import stage_settings
from infra.resources import definitions

ROOT = Path(__file__).resolve().parents[1]
CHALICE_DIR = ROOT / ".chalice"
STAGES = ("dev", "prod")
APP = "pwportal"
API_STAGE = "api"
# The Lambda runtime; `package` makes chalice build for it (infra/chalice_runtime.py),
# whatever Python runs chalice.
RUNTIME = "python3.13"
# Powertools for AWS Lambda (Python) (chalicelib/adapters/telemetry.py: the log and the
# metrics) comes from AWS's published layer, in every function, not from the package; the
# same release is pinned in requirements-run.txt for the local stack and the tests.
# `aws lambda get-layer-version-by-arn --arn <the ARN>` names the release in Description.
POWERTOOLS_VERSION = "3.37.0"
POWERTOOLS_LAYER_VERSION = 40
POWERTOOLS_LAYER = {"Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:017000801446:layer:"
                               "AWSLambdaPowertoolsPythonV3-"
                               + RUNTIME.replace(".", "") + "-x86_64:"
                               + str(POWERTOOLS_LAYER_VERSION)}
DEFAULT_REGION = "eu-north-1"
CLIENT_ADDRESS_HEADER = "CloudFront-Viewer-Address"

# chalice's function names → their logical ids in the template
FUNCTIONS = {"api_handler": "APIHandler", "deliver_sms": "DeliverSms",
             "send_reminders": "SendReminders"}

# CloudFront's managed cache policies (the ids are the same in every account)
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"

# What CloudFront passes to the API (nothing is cached there). Every path under /api/ gets
# the language, the body's type and the client's address, and no cookie and no query
# string: the portals use neither, so a cookie or a query of another site on the same
# domain never reaches the API.
API_PATH = "/api/*"
API_HEADERS_FORWARDED = ("Accept-Language", "Content-Type", CLIENT_ADDRESS_HEADER)
# The support console (SPEC 14) has a behaviour of its own, before /api/*: its session and
# sign-in cookies, the provider's answer on the callback (RFC 6749 4.1.2, RFC 9207's `iss`)
# and the monthly report's query, the `Origin` and the console's header that every state
# change needs, and `Accept` (a browser that navigates to the callback gets a page).
SUPPORT_PATH = "/api/support/*"
SUPPORT_COOKIES = (BROWSER_COOKIE, SESSION_COOKIE)
SUPPORT_QUERY = ("code", "state", "iss", "error", "error_description", "month", "format")
SUPPORT_HEADERS_FORWARDED = (*API_HEADERS_FORWARDED, "Accept", "Origin", "X-Pwportal-Console")
# Holders and resets proven by the identity provider (SPEC 15): the begins set the browser-
# binding cookie, the callback reads it back with the provider's answer. Their behaviours
# pass that one cookie and the answer's query, nothing else of the console's.
IDP_PATHS = ("/api/idp/*", "/api/registration/idp/*", "/api/reset/idp/*")
IDP_COOKIES = (IDP_BROWSER_COOKIE,)
IDP_QUERY = ("code", "state", "iss", "error", "error_description")

# What each function may do, and to what: nothing else. No action has a `*`, every
# resource is named. Only the API reads the secrets; only the worker publishes SMS and takes
# messages off the queue (the three actions Lambda's SQS trigger needs); the reminder job
# reads the expiry and holder-use indexes and marks accounts; scans and account deletes are
# the CLI's, with an operator's own credentials. The support console (SPEC 14) is the API's:
# its records and counters are in the challenges and limits tables, and it reads one
# account's audit trail. tests/infra/test_least_privilege.py (and _console.py, _ldap.py)
# run the flows and check that every call each function makes is allowed here.
ACCESS = {
    "api_handler": {
        "tables": {"AccountsTable": ["dynamodb:GetItem", "dynamodb:BatchGetItem",
                                     "dynamodb:PutItem"],
                   "ChallengesTable": ["dynamodb:GetItem", "dynamodb:BatchGetItem",
                                       "dynamodb:PutItem", "dynamodb:UpdateItem",
                                       "dynamodb:DeleteItem"],
                   "LimitsTable": ["dynamodb:BatchGetItem", "dynamodb:PutItem",
                                   "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                   # Query: the support console's account view (the last 50 events) and
                   # monthly report read one username's trail by the table's key; never
                   # the by_day index (the whole service's days), never a scan
                   "AuditTable": ["dynamodb:PutItem", "dynamodb:Query"]},
        "indexes": {},
        "send": ["SmsQueue"], "receive": [], "sms": False, "secrets": True,
    },
    "deliver_sms": {
        "tables": {"AccountsTable": ["dynamodb:GetItem"],
                   "ChallengesTable": ["dynamodb:UpdateItem"],
                   "LimitsTable": ["dynamodb:UpdateItem"],
                   "AuditTable": ["dynamodb:PutItem"]},
        "indexes": {},
        "send": [], "receive": ["SmsQueue"], "sms": True, "secrets": False,
    },
    "send_reminders": {
        # ldap mode (SPEC 13): the job also settles the changes requests left half way,
        # found through by_pending: the marker read and deleted, the token deleted, the
        # account read and written, the login lock lifted (services/directory_changes.py)
        "tables": {"AccountsTable": ["dynamodb:BatchGetItem", "dynamodb:GetItem",
                                     "dynamodb:PutItem"],
                   "ChallengesTable": ["dynamodb:GetItem", "dynamodb:DeleteItem"],
                   "LimitsTable": ["dynamodb:DeleteItem"],
                   "AuditTable": ["dynamodb:PutItem"]},
        "indexes": {"AccountsTable/by_expiry": ["dynamodb:Query"],
                    "AccountsTable/by_holder_use": ["dynamodb:Query"],
                    "ChallengesTable/by_pending": ["dynamodb:Query"]},
        # secrets: in ldap mode (SPEC 13) the job asks the directory as the service account
        "send": ["SmsQueue"], "receive": [], "sms": False, "secrets": True,
    },
}
_RECEIVE = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]



def request_policy(name: str, comment: str, headers: Iterable[str],
                   cookies: Iterable[str] = (), query: Iterable[str] = ()) -> dict[str, Any]:
    """A CloudFront origin request policy forwarding exactly these headers, cookies and query
    strings (none of a kind that is not named)."""
    def listed(kind: str, names: Iterable[str]) -> dict[str, Any]:
        named = list(names)
        return ({f"{kind}Behavior": "whitelist", f"{kind}s": named} if named
                else {f"{kind}Behavior": "none"})
    return {"Type": "AWS::CloudFront::OriginRequestPolicy", "Properties": {
        "OriginRequestPolicyConfig": {
            "Name": name, "Comment": comment,
            "HeadersConfig": {"HeaderBehavior": "whitelist", "Headers": list(headers)},
            "CookiesConfig": listed("Cookie", cookies),
            "QueryStringsConfig": listed("QueryString", query)}}}

def table_name(stage: str, logical: str) -> str:
    return resources.table_names(stage_settings(stage))[logical]


def queue_name(stage: str, logical: str) -> str:
    return resources.queue_name(stage_settings(stage), logical)


def secrets_parameter(stage: str) -> str:
    return stage_settings(stage).secrets_parameter


def function_name(stage: str, function: str) -> str:
    """Named, so that a role's policy can name its log group without naming the function
    (which names the role: a cycle)."""
    return f"{APP}-{stage}-{function}"


def _arn(service: str, resource: str) -> dict:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:"
                       f"${{AWS::AccountId}}:{resource}"}


# -- least privilege ---------------------------------------------------------------------------

def policy(stage: str, function: str) -> dict:
    """The IAM policy of one function on one stage."""
    access = ACCESS[function]
    statements = [{
        "Sid": "OwnLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": _arn("logs", f"log-group:/aws/lambda/{function_name(stage, function)}:*"),
    }]
    for table, actions in access["tables"].items():
        statements.append({"Sid": table, "Effect": "Allow", "Action": sorted(actions),
                           "Resource": _arn("dynamodb", "table/" + table_name(stage, table))})
    for index, actions in access["indexes"].items():
        table, _, name = index.partition("/")
        statements.append({"Sid": table + "".join(p.title() for p in name.split("_")),
                           "Effect": "Allow", "Action": sorted(actions),
                           "Resource": _arn("dynamodb",
                                            f"table/{table_name(stage, table)}/index/{name}")})
    for queue in access["send"]:
        statements.append({"Sid": "Send" + queue, "Effect": "Allow",
                           "Action": ["sqs:SendMessage"],
                           "Resource": _arn("sqs", queue_name(stage, queue))})
    for queue in access["receive"]:
        statements.append({"Sid": "Receive" + queue, "Effect": "Allow", "Action": _RECEIVE,
                           "Resource": _arn("sqs", queue_name(stage, queue))})
    if access["sms"]:
        # A text to a phone number has no resource to name. Publishing to any topic is
        # denied, so this role can send SMS and nothing else through SNS.
        statements.append({"Sid": "SmsOnly", "Effect": "Allow", "Action": ["sns:Publish"],
                           "Resource": "*"})
        statements.append({"Sid": "NoTopics", "Effect": "Deny", "Action": ["sns:Publish"],
                           "Resource": {"Fn::Sub": "arn:${AWS::Partition}:sns:*:*:*"}})
    if access["secrets"]:
        statements.append({"Sid": "Secrets", "Effect": "Allow", "Action": ["ssm:GetParameter"],
                           "Resource": _arn("ssm", "parameter" + secrets_parameter(stage))})
    return {"Version": "2012-10-17", "Statement": statements}


def policy_file(stage: str, function: str) -> str:
    return f"policy-{stage}-{function}.json"


def policies() -> dict[str, dict]:
    """file name under .chalice/ → policy, for every stage and function."""
    return {policy_file(stage, function): policy(stage, function)
            for stage in STAGES for function in FUNCTIONS}


def write_policies() -> list[Path]:
    written = []
    for name, document in policies().items():
        path = CHALICE_DIR / name
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written


# -- the site's answers --------------------------------------------------------------------------

def response_headers(headers: dict[str, str] = SITE_HEADERS) -> dict:
    """CloudFront's ResponseHeadersPolicyConfig for exactly these headers (the site's, which
    the local stack's front server sends too), every one overriding whatever the origin
    sent."""
    security: dict = {}
    custom = []
    for name, value in headers.items():
        key = name.lower()
        if key == "content-security-policy":
            security["ContentSecurityPolicy"] = {"ContentSecurityPolicy": value,
                                                 "Override": True}
        elif key == "referrer-policy":
            security["ReferrerPolicy"] = {"ReferrerPolicy": value, "Override": True}
        elif key == "x-content-type-options":
            if value != "nosniff":
                raise ValueError(f"CloudFront can only send {name}: nosniff")
            security["ContentTypeOptions"] = {"Override": True}
        elif key == "x-frame-options":
            security["FrameOptions"] = {"FrameOption": value.upper(), "Override": True}
        elif key == "strict-transport-security":
            security["StrictTransportSecurity"] = _hsts(value)
        else:
            custom.append({"Header": name, "Value": value, "Override": True})
    config = {"Name": None, "SecurityHeadersConfig": security}
    if custom:
        config["CustomHeadersConfig"] = {"Items": custom}
    return config


def _hsts(value: str) -> dict:
    parts = [part.strip() for part in value.split(";") if part.strip()]
    found = re.fullmatch(r"max-age=(\d+)", parts[0]) if parts else None
    if not found or any(p.lower() not in ("includesubdomains", "preload") for p in parts[1:]):
        raise ValueError(f"cannot express Strict-Transport-Security {value!r} in CloudFront")
    lowered = [p.lower() for p in parts[1:]]
    return {"AccessControlMaxAgeSec": int(found.group(1)),
            "IncludeSubdomains": "includesubdomains" in lowered,
            "Preload": "preload" in lowered, "Override": True}


# A viewer-request function on the site: `/pwreg/` is `/pwreg/index.html` in the bucket, and
# `/pwreg` (a folder without its slash) is sent to `/pwreg/` so the page's links resolve, as
# the local stack's front server does.
SITE_FUNCTION = """\
function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri.endsWith('/')) {
    request.uri = uri + 'index.html';
    return request;
  }
  var last = uri.substring(uri.lastIndexOf('/') + 1);
  if (last.indexOf('.') === -1) {
    return {statusCode: 301, statusDescription: 'Moved Permanently',
            headers: {location: {value: uri + '/'}, 'cache-control': {value: 'max-age=3600'}}};
  }
  return request;
}
"""


def envelope(stage: str, code: str, **fields) -> dict:
    """The API's error envelope in Swedish, for answers that AWS gives without the API
    (API Gateway's own, the WAF's), which cannot read Accept-Language."""
    return contract.envelope(code, "sv", contract.support_line(stage_settings(stage)),
                             **fields)


# -- the answers AWS gives in the API's name (issue 12, finding 9) ------------------------------
# A 429 that API Gateway or the WAF gives keeps the API's contract (SPEC 5, 8): Retry-After,
# the envelope's retry_after, Cache-Control: no-store and nosniff.
#
# Login's contract names its 429 too_many_attempts. The WAF can tell the paths apart, and
# answers login so. API Gateway cannot: a gateway response belongs to the whole API, and its
# template is not run by Velocity (no #if), it only has $variables substituted. So the
# gateway's throttling answers every path, login included, too_many_requests: it means the
# whole stage is over its rate (ApiRateLimit requests a second from everybody together), not
# that this username or network failed too often, and openapi.yaml lists it for login too.

# API Gateway's stage throttling is a token bucket refilled every second: a second later
# the request may pass.
THROTTLE_RETRY_AFTER = 1
# The WAF's rate rule counts the last five minutes (EvaluationWindowSec): an address that
# stops is let through again at the latest five minutes later.
WAF_WINDOW_SECONDS = 300
# The one operation whose contract names its 429 too_many_attempts (SPEC 8), by its path.
LOGIN_PATH = "/api/registration/login"
LIMIT_CODES = {LOGIN_PATH: "too_many_attempts"}
DEFAULT_LIMIT_CODE = "too_many_requests"


def _template_text(text: str) -> str:
    """A JSON text to put in a gateway response template as it is: API Gateway substitutes
    every `$name` in it; none of the envelope's texts has a `$`."""
    if "$" in text:
        raise ValueError(f"cannot put {text!r} into a gateway response template as it is")
    return text


def gateway_responses(stage: str) -> dict:
    """API Gateway's own answers (unknown path, throttled, too large, its errors) in the
    API's error envelope, with the API's headers; the 429s with Retry-After too."""
    def answer(status: int | None, code: str, headers: dict[str, str] | None = None,
               **fields) -> dict:
        body = _template_text(json.dumps(envelope(stage, code, **fields), ensure_ascii=False))
        # no status: the gateway's own (DEFAULT_4XX covers 400, 403 and more)
        return {**({"StatusCode": str(status)} if status else {}),
                "ResponseParameters": {"Headers": {
                    name: f"'{value}'" for name, value in {**API_HEADERS,
                                                           **(headers or {})}.items()}},
                "ResponseTemplates": {"application/json": body}}

    def limited() -> dict:
        return answer(429, DEFAULT_LIMIT_CODE, {"Retry-After": str(THROTTLE_RETRY_AFTER)},
                      retry_after=THROTTLE_RETRY_AFTER)
    return {
        "MISSING_AUTHENTICATION_TOKEN": answer(404, "not_found"),
        "RESOURCE_NOT_FOUND": answer(404, "not_found"),
        "THROTTLED": limited(),
        "QUOTA_EXCEEDED": limited(),
        "REQUEST_TOO_LARGE": answer(413, "request_too_large"),
        "UNSUPPORTED_MEDIA_TYPE": answer(415, "unsupported_media_type"),
        "DEFAULT_4XX": answer(None, "invalid_request"),
        "DEFAULT_5XX": answer(503, "service_unavailable"),
    }


# -- the template ------------------------------------------------------------------------------

PARAMETERS = {
    "PortalHost": {"Type": "String", "AllowedPattern": r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$",
                   "Description": "The portal's host name, e.g. losenord.kommun.se (pwreg and "
                                  "pwreset are /pwreg/ and /pwreset/ on it)."},
    "CertificateArn": {"Type": "String",
                       "AllowedPattern": r"^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate/.+$",
                       "Description": "ACM certificate for PortalHost, in us-east-1 "
                                      "(CloudFront's region)."},
    "OriginKey": {"Type": "String", "NoEcho": True, "MinLength": 32,
                  "Description": "The origin key of the stage's secrets parameter: CloudFront "
                                 "sends it to the API, which refuses requests without it."},
    "ApiRateLimit": {"Type": "Number", "Default": 50, "MinValue": 1,
                     "Description": "API Gateway stage throttling: steady requests per second."},
    "ApiBurstLimit": {"Type": "Number", "Default": 100, "MinValue": 1,
                      "Description": "API Gateway stage throttling: burst."},
    "AlarmEmail": {"Type": "String", "Default": "",
                   "Description": "Optional e-mail address that gets the alarms."},
    "SmsSpendAlarmUsd": {"Type": "Number", "Default": 40, "MinValue": 1,
                         "Description": "Alarm when this month's SMS spend reaches this (USD)."},
    monitoring.SMS_PRICE: {"Type": "Number", "Default": 0.12, "MinValue": 0,
                           "Description": "What one SMS costs (USD): the dashboard's SMS cost "
                                          "saved by the authenticator app is app resets "
                                          "times this."},
    "LogRetentionDays": {"Type": "Number", "Default": 90,
                         "AllowedValues": [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365],
                         "Description": "Days the access logs are kept (API Gateway's log "
                                        "group, CloudFront's and the site bucket's logs)."},
    "WebAclArn": {"Type": "String", "Default": "",
                  "Description": "Optional: a CloudFront web ACL (from waf_template, in "
                                 "us-east-1) with the rate rule."},
    # The organisation's identity provider (SPEC 14, 15); the client secret is the secrets
    # parameter's idp_client_secret, the other claims and the client id the stage's
    # settings in .chalice/config.json.
    "IdpIssuer": {"Type": "String", "Default": "",
                  "AllowedPattern": r"^(https://[^\s/?#]+(/[^\s?#]*)?)?$",
                  "Description": "Optional: the OpenID Connect provider's issuer URL, as its "
                                 "discovery document names it; empty: the support console "
                                 "is off."},
    "IdpRedirectBase": {"Type": "String", "Default": "",
                        "AllowedPattern": r"^(https://[a-z0-9]([a-z0-9.-]*[a-z0-9])?"
                                          r"(:[0-9]{1,5})?)?$",
                        "Description": "Optional: the portal's origin as the browser sees it "
                                      "(https://host); the provider sends it back to "
                                      "<this>/api/support/callback, and a console change "
                                      "must come from this Origin. Empty: "
                                      "https://PortalHost."},
}
# The settings the API function gets from the template's parameters (the others come from
# .chalice/config.json through chalice).
API_PARAMETER_SETTINGS = {"PWPORTAL_IDP_ISSUER": "IdpIssuer",
                          "PWPORTAL_IDP_REDIRECT_BASE": "IdpRedirectBase"}


def _tables(stage: str) -> dict:
    found = {}
    for logical, spec in definitions()["Tables"].items():
        properties = {"TableName": table_name(stage, logical), **copy.deepcopy(
            spec["Properties"]), "SSESpecification": {"SSEEnabled": True}}
        found[logical] = {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain",
                          "UpdateReplacePolicy": "Retain", "Properties": properties}
    return found


def _queues(stage: str) -> dict:
    found = {}
    for logical, spec in definitions()["Queues"].items():
        properties = {"QueueName": queue_name(stage, logical),
                      **copy.deepcopy(spec["Properties"])}
        if "RedrivePolicy" in properties:
            properties["RedrivePolicy"]["deadLetterTargetArn"] = {
                "Fn::GetAtt": [spec["dead_letter"], "Arn"]}
        found[logical] = {"Type": "AWS::SQS::Queue", "Properties": properties}
    return found


def _functions(stage: str) -> dict:
    """What the template changes in chalice's functions: the settings that only
    CloudFormation knows, the Powertools layer, and the queue the worker reads."""
    variables = {"PWPORTAL_SMS_QUEUE_URL": {"Ref": "SmsQueue"},
                 "PWPORTAL_PORTAL_HOST": {"Ref": "PortalHost"}}
    found = {logical: {"Properties": {"FunctionName": function_name(stage, function),
                                      "Environment": {"Variables": dict(variables)},
                                      "Layers": [copy.deepcopy(POWERTOOLS_LAYER)]}}
             for function, logical in FUNCTIONS.items()}
    # Only the API signs agents in (the worker and the job never ask the provider).
    found["APIHandler"]["Properties"]["Environment"]["Variables"].update(
        {variable: {"Ref": parameter}
         for variable, parameter in API_PARAMETER_SETTINGS.items()})
    # app.py's decorator names a queue without the stage; the worker reads this stage's.
    # (A dict here is merged into chalice's Fn::Sub, so it is a Fn::Sub too. The function
    # refers to SmsQueue, so the queue exists before the event source mapping.)
    found["DeliverSms"]["Properties"]["Events"] = {"DeliverSmsSqsEventSource": {
        "Properties": {"Queue": {"Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:"
                                            "${AWS::AccountId}:" + queue_name(stage, "SmsQueue")},
                       "ScalingConfig": {"MaximumConcurrency": 5}}}}
    # chalice names the API's log group after `ApiHandler`, which its template calls
    # `APIHandler`; the functions have fixed names, so every log group is named outright.
    for function, logical in FUNCTIONS.items():
        group = to_cfn_resource_name(function) + "LogGroup"
        found[group] = {"Properties": {"LogGroupName": "/aws/lambda/" + function_name(stage,
                                                                                    function)}}
    return found


def _api(stage: str) -> dict:
    return {"RestAPI": {"Properties": {
        "MethodSettings": [{"ResourcePath": "/*", "HttpMethod": "*",
                            "ThrottlingRateLimit": {"Ref": "ApiRateLimit"},
                            "ThrottlingBurstLimit": {"Ref": "ApiBurstLimit"},
                            "MetricsEnabled": True, "DataTraceEnabled": False}],
        "GatewayResponses": gateway_responses(stage),
        "AccessLogSetting": {
            "DestinationArn": {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:"
                                          "${AWS::AccountId}:log-group:${ApiAccessLogs}"},
            "Format": access_log_format()},
    }}}


def _api_behaviour(path: str, requests: str) -> dict:
    """A path to API Gateway, never cached, passing what the policy `requests` names."""
    return {"PathPattern": path, "TargetOriginId": "api",
            "ViewerProtocolPolicy": "https-only",
            "AllowedMethods": ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"],
            "CachedMethods": ["GET", "HEAD"], "Compress": True,
            "CachePolicyId": CACHING_DISABLED,
            "OriginRequestPolicyId": {"Ref": requests},
            "ResponseHeadersPolicyId": {"Ref": "SiteHeaders"}}


def _site(stage: str) -> dict:
    policy_config = response_headers()
    policy_config["Name"] = f"{APP}-{stage}-headers"
    api_domain = {"Fn::Sub": "${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}"}
    return {
        "SiteBucket": {"Type": "AWS::S3::Bucket", "Properties": {
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True, "BlockPublicPolicy": True,
                "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "VersioningConfiguration": {"Status": "Enabled"},
            "LoggingConfiguration": {"DestinationBucketName": {"Ref": "LogBucket"},
                                     "LogFilePrefix": SITE_LOG_PREFIX},
            "LifecycleConfiguration": {"Rules": [{
                "Id": "OldVersions", "Status": "Enabled",
                "NoncurrentVersionExpiration": {"NoncurrentDays": 30}}]},
        }},
        "SiteBucketPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": {"Ref": "SiteBucket"},
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Sid": "CloudFrontReads", "Effect": "Allow",
                 "Principal": {"Service": "cloudfront.amazonaws.com"},
                 "Action": "s3:GetObject",
                 "Resource": {"Fn::Sub": "${SiteBucket.Arn}/*"},
                 "Condition": {"StringEquals": {"AWS:SourceArn": {"Fn::Sub": (
                     "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:"
                     "distribution/${Distribution}")}}}},
            ]},
        }},
        "SiteOriginAccess": {"Type": "AWS::CloudFront::OriginAccessControl", "Properties": {
            "OriginAccessControlConfig": {
                "Name": {"Fn::Sub": f"{APP}-{stage}-site-${{AWS::Region}}"},
                "OriginAccessControlOriginType": "s3",
                "SigningBehavior": "always", "SigningProtocol": "sigv4"}}},
        "SiteHeaders": {"Type": "AWS::CloudFront::ResponseHeadersPolicy", "Properties": {
            "ResponseHeadersPolicyConfig": policy_config}},
        "ApiRequests": request_policy(
            f"{APP}-{stage}-api", "What the API reads: language, body type and the client "
            "address. Authorization goes with every POST.", API_HEADERS_FORWARDED),
        "SupportRequests": request_policy(
            f"{APP}-{stage}-support", "The support console: its two cookies, the provider's "
            "answer and the report's query, Origin and the console's header.",
            SUPPORT_HEADERS_FORWARDED, SUPPORT_COOKIES, SUPPORT_QUERY),
        "IdpRequests": request_policy(
            f"{APP}-{stage}-idp", "pwreg's and pwreset's sign-in: its browser-binding cookie "
            "and the provider's answer.", API_HEADERS_FORWARDED, IDP_COOKIES, IDP_QUERY),
        "SiteIndex": {"Type": "AWS::CloudFront::Function", "Properties": {
            "Name": f"{APP}-{stage}-site-index", "AutoPublish": True,
            "FunctionConfig": {"Comment": "folder URLs to their index.html",
                               "Runtime": "cloudfront-js-2.0"},
            "FunctionCode": SITE_FUNCTION}},
        "Distribution": {"Type": "AWS::CloudFront::Distribution", "Properties": {
            "DistributionConfig": {
                "Comment": f"{APP} {stage}",
                "Enabled": True,
                "Aliases": [{"Ref": "PortalHost"}],
                "ViewerCertificate": {"AcmCertificateArn": {"Ref": "CertificateArn"},
                                      "SslSupportMethod": "sni-only",
                                      "MinimumProtocolVersion": "TLSv1.2_2021"},
                "HttpVersion": "http2and3",
                "IPV6Enabled": True,
                "PriceClass": "PriceClass_100",
                "DefaultRootObject": "index.html",
                "Logging": {"Bucket": {"Fn::GetAtt": ["LogBucket", "DomainName"]},
                            "Prefix": CLOUDFRONT_LOG_PREFIX, "IncludeCookies": False},
                "WebACLId": {"Fn::If": ["HasWebAcl", {"Ref": "WebAclArn"},
                                        {"Ref": "AWS::NoValue"}]},
                "Origins": [
                    {"Id": "site", "DomainName": {"Fn::GetAtt": ["SiteBucket",
                                                                  "RegionalDomainName"]},
                     "S3OriginConfig": {"OriginAccessIdentity": ""},
                     "OriginAccessControlId": {"Fn::GetAtt": ["SiteOriginAccess", "Id"]}},
                    {"Id": "api", "DomainName": api_domain, "OriginPath": "/" + API_STAGE,
                     "CustomOriginConfig": {"OriginProtocolPolicy": "https-only",
                                            "OriginSSLProtocols": ["TLSv1.2"]},
                     "OriginCustomHeaders": [{"HeaderName": ORIGIN_HEADER,
                                              "HeaderValue": {"Ref": "OriginKey"}}]},
                ],
                "DefaultCacheBehavior": {
                    "TargetOriginId": "site", "ViewerProtocolPolicy": "redirect-to-https",
                    "AllowedMethods": ["GET", "HEAD"], "CachedMethods": ["GET", "HEAD"],
                    "Compress": True, "CachePolicyId": CACHING_OPTIMIZED,
                    "ResponseHeadersPolicyId": {"Ref": "SiteHeaders"},
                    "FunctionAssociations": [{
                        "EventType": "viewer-request",
                        "FunctionARN": {"Fn::GetAtt": ["SiteIndex", "FunctionARN"]}}]},
                # in order: the first pattern that matches decides
                "CacheBehaviors": [_api_behaviour(SUPPORT_PATH, "SupportRequests"),
                                   *[_api_behaviour(path, "IdpRequests")
                                     for path in IDP_PATHS],
                                   _api_behaviour(API_PATH, "ApiRequests")],
                # S3 answers 403 for a file that is not there (CloudFront may not list
                # the bucket). Nothing else here answers 403 through CloudFront: the API
                # gives 404 for an unknown path, in its envelope, and the WAF 429.
                "CustomErrorResponses": [{"ErrorCode": 403, "ResponseCode": 404,
                                          "ResponsePagePath": "/404.html",
                                          "ErrorCachingMinTTL": 60}],
            }}},
    }


# -- access logs (issue 12, finding 10) --------------------------------------------------------
# Who asked for what, for an SMS-pumping or credential-stuffing investigation
# (docs/operations.md says how to read them), each kept LogRetentionDays:
# - API Gateway's stage access log, one JSON line per request, in a CloudWatch log group. It
#   holds no client address: every request comes through CloudFront, so
#   $context.identity.sourceIp is a CloudFront edge's address (kept: an address that is not
#   CloudFront's means someone went around it), and API Gateway cannot log the
#   CloudFront-Viewer-Address header. Its requestId is the correlation_id of the API's own
#   log lines, which hold the client's network truncated to /24 or /48.
# - CloudFront's standard logs in the log bucket (cloudfront/): they hold the full client
#   address (c-ip); CloudFront cannot truncate it, and a rate-rule or IP-set block needs it.
# - the site bucket's S3 server access logs in the log bucket (s3/site/): who changed the
#   site (the uploads of `make deploy`), CloudFront's reads.
# The log bucket is private, encrypted, expires its objects and is kept when the stack goes
# (logs are evidence). CloudFront's standard logs are written with an ACL, so the bucket
# allows ACLs for its owner (BucketOwnerPreferred).
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "time": "$context.requestTimeEpoch",
    "method": "$context.httpMethod",
    "path": "$context.path",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "responseType": "$context.error.responseType",
    "responseLength": "$context.responseLength",
    "latency": "$context.responseLatency",
    "integrationStatus": "$context.integration.status",
    "integrationLatency": "$context.integrationLatency",
    "sourceIp": "$context.identity.sourceIp",
}
# What an access log line must never hold: the request's secrets travel in the body and the
# Authorization header, which the fields above do not reach; these would (the body, the
# request's headers, what an authorizer made of them).
ACCESS_LOG_FORBIDDEN = ("$input", "$method.request", "$context.authorizer",
                        "$request.header")
CLOUDFRONT_LOG_PREFIX = "cloudfront/"
SITE_LOG_PREFIX = "s3/site/"


def access_log_format() -> str:
    """API Gateway's access log format: one JSON object a line (every value a string)."""
    return json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":"))


def api_access_log_group(stage: str) -> str:
    return f"/aws/apigateway/{APP}-{stage}-access"


def _access_logs(stage: str) -> dict:
    """The log group, the log bucket and its policy; _site and _api point at them."""
    return {
        "ApiAccessLogs": {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain",
                          "UpdateReplacePolicy": "Retain", "Properties": {
                              "LogGroupName": api_access_log_group(stage),
                              "RetentionInDays": {"Ref": "LogRetentionDays"}}},
        "LogBucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain",
                      "UpdateReplacePolicy": "Retain", "Properties": {
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True, "BlockPublicPolicy": True,
                "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]},
            "LifecycleConfiguration": {"Rules": [{
                "Id": "ExpireLogs", "Status": "Enabled",
                "ExpirationInDays": {"Ref": "LogRetentionDays"},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}]},
        }},
        "LogBucketPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": {"Ref": "LogBucket"},
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Sid": "SiteBucketAccessLogs", "Effect": "Allow",
                 "Principal": {"Service": "logging.s3.amazonaws.com"},
                 "Action": "s3:PutObject",
                 "Resource": {"Fn::Sub": "${LogBucket.Arn}/" + SITE_LOG_PREFIX + "*"},
                 "Condition": {"ArnLike": {"aws:SourceArn": {"Fn::GetAtt": ["SiteBucket",
                                                                             "Arn"]}},
                               "StringEquals": {"aws:SourceAccount": {
                                   "Ref": "AWS::AccountId"}}}},
            ]},
        }},
    }


def merge_template(stage: str) -> dict:
    """The template that `chalice package --merge-template` merges into its own."""
    if stage not in STAGES:
        raise ValueError(f"no deployed stage {stage!r}; the stages are {', '.join(STAGES)}")
    resources = {**_tables(stage), **_queues(stage), **_functions(stage), **_api(stage),
                 **_site(stage), **_access_logs(stage),
                 **monitoring.resources(stage, {"Ref": "SmsSpendAlarmUsd"})}
    resources["AlarmEmailSubscription"] = {
        "Type": "AWS::SNS::Subscription", "Condition": "HasAlarmEmail",
        "Properties": {"TopicArn": {"Ref": "AlarmTopic"}, "Protocol": "email",
                       "Endpoint": {"Ref": "AlarmEmail"}}}
    return with_directory_network({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"pwportal ({stage}): self-service passwords for shared accounts",
        "Parameters": copy.deepcopy(PARAMETERS),
        "Conditions": {
            "HasWebAcl": {"Fn::Not": [{"Fn::Equals": [{"Ref": "WebAclArn"}, ""]}]},
            "HasAlarmEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]},
        },
        "Resources": resources,
        "Outputs": {
            "PortalUrl": {"Value": {"Fn::Sub": "https://${PortalHost}/"}},
            "DistributionDomainName": {"Value": {"Fn::GetAtt": ["Distribution",
                                                                "DomainName"]},
                                       "Description": "Point PortalHost here (CNAME/alias)."},
            "DistributionId": {"Value": {"Ref": "Distribution"}},
            "SiteBucketName": {"Value": {"Ref": "SiteBucket"}},
            "LogBucketName": {"Value": {"Ref": "LogBucket"}},
            "ApiAccessLogGroup": {"Value": {"Ref": "ApiAccessLogs"}},
            "SmsQueueUrl": {"Value": {"Ref": "SmsQueue"}},
            "AlarmTopicArn": {"Value": {"Ref": "AlarmTopic"}},
            "DashboardName": {"Value": {"Ref": "OperationsDashboard"}},
        },
    })


# -- the network to a password directory (SPEC 13, `ldap` mode) -------------------------------
#
# The functions that talk to the directory (the API: login and reset; the reminder job:
# pwdLastSet/pwdChangedTime) run in the operator's subnets with a security group that may
# reach the domain controllers (636, or 389 with StartTLS). Without a NAT they reach AWS
# through VPC endpoints, made here unless DirectoryVpcEndpoints says the VPC has them.
# Lambda needs the ENI actions to place a function in a VPC; AWS's narrowest managed policy
# for exactly those (no logs, no data) is added to those two roles only, and only then.
# With DirectoryVpcId empty (`portal` mode) nothing of this exists.

DIRECTORY_FUNCTIONS = ("APIHandler", "SendReminders")
DIRECTORY_ROLES = ("ApiHandlerRole", "SendRemindersRole")
ENI_POLICY = {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/"
                         "AWSLambdaENIManagementAccess"}
INTERFACE_ENDPOINTS = {"SqsVpcEndpoint": "sqs", "SsmVpcEndpoint": "ssm",
                       "SnsVpcEndpoint": "sns", "LogsVpcEndpoint": "logs"}
DIRECTORY_PARAMETERS = {
    "DirectoryVpcId": {"Type": "String", "Default": "",
                       "Description": "ldap mode: the VPC of the subnets below (empty: the "
                                      "functions run outside any VPC, portal mode)."},
    "DirectorySubnetIds": {"Type": "CommaDelimitedList", "Default": "",
                           "Description": "ldap mode: private subnets (two or more AZs) "
                                          "from which the domain controllers are reachable."},
    "DirectorySecurityGroupId": {"Type": "String", "Default": "",
                                 "Description": "ldap mode: the functions' security group; "
                                                "egress 636 (or 389 with StartTLS) to the "
                                                "domain controllers and 443 to the VPC "
                                                "endpoints."},
    "DirectoryRouteTableIds": {"Type": "CommaDelimitedList", "Default": "",
                               "Description": "ldap mode: the subnets' route tables (the "
                                              "DynamoDB gateway endpoint)."},
    "DirectoryVpcEndpoints": {"Type": "String", "Default": "create",
                              "AllowedValues": ["create", "existing"],
                              "Description": "ldap mode: make the VPC endpoints for "
                                             "DynamoDB, SQS, SSM, SNS and CloudWatch Logs, "
                                             "or use those the VPC already has."},
}
# cfn-lint checks DirectorySecurityGroupId's empty default against the sg-… pattern, though
# every use is under InDirectoryVpc, where it is never empty: that one check, on the resources
# that use it, is off.
LINT_EMPTY_DEFAULT = {"cfn-lint": {"config": {"ignore_checks": ["W1030"]}}}
DIRECTORY_CONDITIONS = {
    "InDirectoryVpc": {"Fn::Not": [{"Fn::Equals": [{"Ref": "DirectoryVpcId"}, ""]}]},
    "MakesVpcEndpoints": {"Fn::And": [{"Condition": "InDirectoryVpc"}, {
        "Fn::Equals": [{"Ref": "DirectoryVpcEndpoints"}, "create"]}]},
}


def directory_network_resources() -> dict:
    """The endpoints and their security group (condition MakesVpcEndpoints)."""
    def service(name: str) -> dict:
        return {"Fn::Sub": "com.amazonaws.${AWS::Region}." + name}
    found = {
        "VpcEndpointSecurityGroup": {
            "Type": "AWS::EC2::SecurityGroup", "Condition": "MakesVpcEndpoints",
            "Metadata": copy.deepcopy(LINT_EMPTY_DEFAULT),
            "Properties": {"GroupDescription": "pwportal: HTTPS from its functions to the "
                                               "VPC endpoints",
                           "VpcId": {"Ref": "DirectoryVpcId"},
                           "SecurityGroupIngress": [{
                               "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                               "SourceSecurityGroupId": {"Ref": "DirectorySecurityGroupId"},
                               "Description": "the portal's functions"}]}},
        "DynamoDbVpcEndpoint": {
            "Type": "AWS::EC2::VPCEndpoint", "Condition": "MakesVpcEndpoints",
            "Properties": {"VpcEndpointType": "Gateway", "ServiceName": service("dynamodb"),
                           "VpcId": {"Ref": "DirectoryVpcId"},
                           "RouteTableIds": {"Ref": "DirectoryRouteTableIds"}}},
    }
    for logical, name in INTERFACE_ENDPOINTS.items():
        found[logical] = {
            "Type": "AWS::EC2::VPCEndpoint", "Condition": "MakesVpcEndpoints",
            "Properties": {"VpcEndpointType": "Interface", "ServiceName": service(name),
                           "VpcId": {"Ref": "DirectoryVpcId"}, "PrivateDnsEnabled": True,
                           "SubnetIds": {"Ref": "DirectorySubnetIds"},
                           "SecurityGroupIds": [{"Ref": "VpcEndpointSecurityGroup"}]}}
    return found


def with_directory_network(found: dict) -> dict:
    """The merge template with the directory's network added (see above)."""
    found["Parameters"].update(copy.deepcopy(DIRECTORY_PARAMETERS))
    found["Conditions"].update(copy.deepcopy(DIRECTORY_CONDITIONS))
    found["Resources"].update(directory_network_resources())
    resources_ = found["Resources"]
    for logical in DIRECTORY_FUNCTIONS:
        resources_.setdefault(logical, {})["Metadata"] = copy.deepcopy(LINT_EMPTY_DEFAULT)
        resources_[logical].setdefault("Properties", {})["VpcConfig"] = {
            "Fn::If": ["InDirectoryVpc", {
                "SubnetIds": {"Ref": "DirectorySubnetIds"},
                "SecurityGroupIds": [{"Ref": "DirectorySecurityGroupId"}]},
                {"Ref": "AWS::NoValue"}]}
    for logical in DIRECTORY_ROLES:
        resources_.setdefault(logical, {}).setdefault("Properties", {})[
            "ManagedPolicyArns"] = {"Fn::If": ["InDirectoryVpc", [copy.deepcopy(ENI_POLICY)],
                                               {"Ref": "AWS::NoValue"}]}
    return found


WAF_LABEL = "pwportal:over-rate"


def waf_template(stage: str, requests_per_5_minutes: int = 300) -> dict:
    """The rate rule: a CloudFront web ACL, deployed in us-east-1, that blocks an address
    sending more than this many requests to /api/ in five minutes.

    One counter, two answers: the rate rule only counts and labels the requests of an
    address over the limit; the next rule blocks such a request to login with login's
    envelope (too_many_attempts), the last one every other with too_many_requests. Both
    answers carry Retry-After, the envelope's retry_after, no-store and nosniff (issue 12,
    finding 9)."""
    name = f"{APP}-{stage}"
    over_rate = {"LabelMatchStatement": {"Scope": "LABEL", "Key": WAF_LABEL}}
    headers = [{"Name": header, "Value": value} for header, value in {
        **API_HEADERS, "Retry-After": str(WAF_WINDOW_SECONDS)}.items()]

    def visibility(metric: str) -> dict:
        return {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True,
                "MetricName": metric}

    def block(code: str) -> dict:
        return {"Block": {"CustomResponse": {"ResponseCode": 429,
                                             "CustomResponseBodyKey": code,
                                             "ResponseHeaders": copy.deepcopy(headers)}}}
    bodies = {code: {"ContentType": "APPLICATION_JSON",
                     "Content": json.dumps(envelope(stage, code, retry_after=WAF_WINDOW_SECONDS),
                                           ensure_ascii=False)}
              for code in (*LIMIT_CODES.values(), DEFAULT_LIMIT_CODE)}
    rules = [{
        "Name": "api-rate", "Priority": 0, "Action": {"Count": {}},
        "RuleLabels": [{"Name": WAF_LABEL}],
        "VisibilityConfig": visibility(f"{name}-api-rate"),
        "Statement": {"RateBasedStatement": {
            "Limit": {"Ref": "RequestsPerFiveMinutes"}, "AggregateKeyType": "IP",
            "EvaluationWindowSec": WAF_WINDOW_SECONDS,
            "ScopeDownStatement": {"ByteMatchStatement": {
                "FieldToMatch": {"UriPath": {}}, "PositionalConstraint": "STARTS_WITH",
                "SearchString": "/api/",
                "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}}},
    }]
    for path, code in LIMIT_CODES.items():
        rules.append({
            "Name": f"api-rate-{code.replace('_', '-')}", "Priority": len(rules),
            "Action": block(code),
            "VisibilityConfig": visibility(f"{name}-api-rate-{code.replace('_', '-')}"),
            "Statement": {"AndStatement": {"Statements": [over_rate, {"ByteMatchStatement": {
                "FieldToMatch": {"UriPath": {}}, "PositionalConstraint": "EXACTLY",
                "SearchString": path,
                "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}]}}})
    rules.append({"Name": "api-rate-block", "Priority": len(rules),
                  "Action": block(DEFAULT_LIMIT_CODE),
                  "VisibilityConfig": visibility(f"{name}-api-rate-block"),
                  "Statement": over_rate})
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"pwportal ({stage}): rate rule for the portal's CloudFront (us-east-1)",
        "Parameters": {"RequestsPerFiveMinutes": {
            "Type": "Number", "Default": requests_per_5_minutes, "MinValue": 10,
            "Description": "Requests to /api/ one address may make in 5 minutes."}},
        "Resources": {"WebAcl": {"Type": "AWS::WAFv2::WebACL", "Properties": {
            "Name": name, "Scope": "CLOUDFRONT", "DefaultAction": {"Allow": {}},
            "CustomResponseBodies": bodies,
            "VisibilityConfig": visibility(name),
            "Rules": rules,
        }}},
        "Outputs": {"WebAclArn": {"Value": {"Fn::GetAtt": ["WebAcl", "Arn"]}}},
    }


# -- packaging ---------------------------------------------------------------------------------

def package(stage: str, out: Path, region: str | None = None) -> Path:
    """`chalice package --merge-template` for a stage: writes `out/sam.json` (the one
    template), `out/deployment.zip` and `out/waf.json`. Needs no AWS account; pip fetches
    the Lambda wheels from PyPI (cached after the first time)."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    merge = out / "merge.json"
    merge.write_text(json.dumps(merge_template(stage), indent=1), encoding="utf-8")
    (out / "waf.json").write_text(json.dumps(waf_template(stage), indent=1), encoding="utf-8")
    env = {**os.environ, "AWS_DEFAULT_REGION": region or os.environ.get(
        "AWS_DEFAULT_REGION", DEFAULT_REGION)}
    command = [sys.executable, "-m", "infra.chalice_runtime", RUNTIME, "package", "--stage",
               stage, "--merge-template", str(merge), str(out)]
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    return out / "sam.json"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("policies", help="write .chalice/policy-<stage>-<function>.json")
    pack = commands.add_parser("package", help="chalice package with the merge template")
    pack.add_argument("--stage", choices=STAGES, default="prod")
    pack.add_argument("--out", type=Path, required=True)
    pack.add_argument("--region")
    args = parser.parse_args(argv)
    if args.command == "policies":
        for path in write_policies():
            print(path.relative_to(ROOT))
    else:
        print(package(args.stage, args.out, args.region))


if __name__ == "__main__":
    main()
