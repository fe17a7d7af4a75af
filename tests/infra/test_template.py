"""`make infra-check`: the deploy template of each stage, built as a deployment builds it
(`chalice package --merge-template`, no AWS account needed), passes cfn-lint and keeps the
promises an AWS reviewer checks first."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from fnmatch import fnmatch
from pathlib import Path

import pytest

from chalicelib.api.contract import SITE_HEADERS
from chalicelib.domain.events import EVENTS, METRIC_NAMESPACE
from infra import monitoring, template
from infra.resources import definitions
from infra.stages import chalice_config
from tests.infra.test_edge_answers import render
from tests.infra.test_monitoring import AWS_METRICS

@pytest.fixture(scope="module", params=template.STAGES)
def built(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"build-{request.param}")
    sam = template.package(request.param, out)
    return request.param, out, json.loads(sam.read_text(encoding="utf-8"))


def of_type(found: dict, kind: str) -> dict:
    return {name: r for name, r in found["Resources"].items() if r["Type"] == kind}


def walk(value):
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def statements(found: dict):
    """Every IAM statement in the template: role policies, bucket and queue policies."""
    for node in walk(found["Resources"]):
        if isinstance(node, dict) and "Statement" in node and "Version" in node:
            yield from node["Statement"]


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def test_cfn_lint_finds_no_error_in_either_template(built):
    _, out, _ = built
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(cfn_lint), str(out / "sam.json"), str(out / "waf.json")],
                            capture_output=True, text=True)
    # cfn-lint's exit code is a bit mask: 2 errors, 4 warnings, 8 notes. We allow none.
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_table_is_on_demand_with_ttl_point_in_time_recovery_and_kept_on_delete(built):
    stage, _, found = built
    tables = of_type(found, "AWS::DynamoDB::Table")
    assert set(tables) == set(definitions()["Tables"])
    for logical, table in tables.items():
        props = table["Properties"]
        assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain"
        assert props["BillingMode"] == "PAY_PER_REQUEST", logical
        assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert props["TableName"] == f"pwportal-{stage}-" + logical.removesuffix(
            "Table").lower()
    indexes = {i["IndexName"] for i in tables["AccountsTable"]["Properties"][
        "GlobalSecondaryIndexes"]}
    assert "by_expiry" in indexes


def test_the_sms_queue_redrives_into_its_dead_letter_queue_and_feeds_the_worker(built):
    stage, _, found = built
    queues = of_type(found, "AWS::SQS::Queue")
    sms = queues["SmsQueue"]["Properties"]
    assert sms["QueueName"] == f"pwportal-{stage}-sms"
    assert sms["RedrivePolicy"] == {"maxReceiveCount": 5, "deadLetterTargetArn": {
        "Fn::GetAtt": ["SmsDeadLetterQueue", "Arn"]}}
    worker = found["Resources"]["DeliverSms"]["Properties"]
    event = worker["Events"]["DeliverSmsSqsEventSource"]
    assert event["Type"] == "SQS"
    assert event["Properties"]["Queue"]["Fn::Sub"].endswith(":" + sms["QueueName"])
    # Lambda refuses an SQS source whose visibility timeout is shorter than the function's
    assert worker["Timeout"] <= sms["VisibilityTimeout"]


def test_the_reminders_run_daily_and_every_function_on_the_pinned_runtime(built):
    _, _, found = built
    schedule = found["Resources"]["SendReminders"]["Properties"]["Events"]
    assert [e["Properties"]["Schedule"] for e in schedule.values()] == ["cron(0 6 * * ? *)"]
    functions = of_type(found, "AWS::Serverless::Function")
    assert set(functions) == set(template.FUNCTIONS.values())
    assert {f["Properties"]["Runtime"] for f in functions.values()} == {template.RUNTIME}


def test_the_package_holds_only_wheels_the_lambda_runtime_can_load(built):
    _, out, _ = built
    abi = "cpython-" + template.RUNTIME.removeprefix("python").replace(".", "")
    with zipfile.ZipFile(out / "deployment.zip") as package:
        compiled = [n for n in package.namelist() if n.endswith(".so")]
    assert compiled, "argon2 and cffi are compiled: the package has no .so at all?"
    for name in compiled:
        assert ".abi3." in name or f".{abi}-x86_64-linux-gnu." in name, name


def test_the_package_carries_the_password_rules_data_but_not_their_sources(built):
    _, out, _ = built
    with zipfile.ZipFile(out / "deployment.zip") as package:
        names = set(package.namelist())
    assert {"chalicelib/domain/common_words.txt.gz", "chalicelib/domain/look_alikes.py"} <= names
    assert not [n for n in names if n.startswith(("wordfreq/", "confusable_homoglyphs/"))]


def test_no_policy_has_a_wildcard_action_and_only_sms_publishing_has_no_resource(built):
    _, _, found = built
    seen = list(statements(found))
    assert len(seen) > 10
    for statement in seen:
        for action in as_list(statement.get("Action", [])):
            assert "*" not in action, statement
        assert "NotAction" not in statement and "NotResource" not in statement
        if statement["Effect"] == "Allow" and "*" in as_list(statement.get("Resource")):
            assert as_list(statement["Action"]) == ["sns:Publish"], statement


def test_each_role_names_its_tables_queue_and_secrets_and_only_the_worker_sends_sms(built):
    stage, _, found = built
    roles = of_type(found, "AWS::IAM::Role")
    assert set(roles) == {"ApiHandlerRole", "DeliverSmsRole", "SendRemindersRole"}
    for name, role in roles.items():
        document = role["Properties"]["Policies"][0]["PolicyDocument"]
        text = json.dumps(document)
        function = {"ApiHandlerRole": "api_handler", "DeliverSmsRole": "deliver_sms",
                    "SendRemindersRole": "send_reminders"}[name]
        assert document == template.policy(stage, function)
        for table in template.ACCESS[function]["tables"]:
            assert f":table/{template.table_name(stage, table)}" in text
        reads_secrets = f"parameter{template.secrets_parameter(stage)}" in text
        # send_reminders: the directory's service account in ldap mode (SPEC 13)
        assert reads_secrets == (function in ("api_handler", "send_reminders"))
        assert f"log-group:/aws/lambda/{template.function_name(stage, function)}:*" in text
        assert ("sns:Publish" in text) == (function == "deliver_sms")
        other = "prod" if stage == "dev" else "dev"
        assert f"pwportal-{other}-" not in text and f"/pwportal/{other}/" not in text


def test_the_committed_policy_files_are_the_generated_ones():
    for name, document in template.policies().items():
        committed = json.loads((template.CHALICE_DIR / name).read_text(encoding="utf-8"))
        assert committed == document, f"run `python -m infra.template policies` ({name})"
    config = chalice_config()
    for stage in template.STAGES:
        functions = config["stages"][stage]["lambda_functions"]
        assert {f: c["iam_policy_file"] for f, c in functions.items()} == {
            f: template.policy_file(stage, f) for f in template.FUNCTIONS}
    assert config["autogen_policy"] is False


def test_the_worker_may_publish_sms_but_not_to_any_topic(built):
    stage, _, _ = built
    document = template.policy(stage, "deliver_sms")
    allowed = [s for s in document["Statement"] if "sns:Publish" in s["Action"]]
    assert [s["Effect"] for s in allowed] == ["Allow", "Deny"]
    assert allowed[0]["Resource"] == "*"
    assert fnmatch("arn:aws:sns:eu-north-1:123456789012:pwportal-prod-alarms",
                   allowed[1]["Resource"]["Fn::Sub"].replace("${AWS::Partition}", "aws"))


def test_every_alarm_and_widget_names_a_metric_that_exists(built):
    _, _, found = built
    named = monitoring.metrics_named(found["Resources"])
    alarms = of_type(found, "AWS::CloudWatch::Alarm")
    assert len(alarms) == len(monitoring.ALARMS)
    assert {(METRIC_NAMESPACE, e) for e in EVENTS} & named
    assert named <= {(METRIC_NAMESPACE, e) for e in EVENTS} | AWS_METRICS
    resources = set(found["Resources"])
    for alarm in alarms.values():
        for node in walk(alarm["Properties"]):
            if isinstance(node, dict) and "Ref" in node:
                assert node["Ref"] in resources | set(found["Parameters"]), node
    body = found["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    for ref in re.findall(r"\$\{([^}.]+)", body):
        assert ref in resources | set(found["Parameters"]) or ref.startswith("AWS::"), ref


def test_the_site_bucket_is_private_and_only_cloudfront_reads_it(built):
    _, _, found = built
    bucket = found["Resources"]["SiteBucket"]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True}
    assert "WebsiteConfiguration" not in bucket and "AccessControl" not in bucket
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    policy = found["Resources"]["SiteBucketPolicy"]["Properties"]["PolicyDocument"]
    for statement in policy["Statement"]:
        assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
        source = statement["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
        assert source.endswith(":distribution/${Distribution}")
        assert as_list(statement["Action"]) == ["s3:GetObject"]
    site = next(o for o in distribution(found)["Origins"] if o["Id"] == "site")
    assert site["OriginAccessControlId"] == {"Fn::GetAtt": ["SiteOriginAccess", "Id"]}
    assert found["Resources"]["SiteOriginAccess"]["Properties"][
        "OriginAccessControlConfig"]["SigningBehavior"] == "always"


def headers_sent(config: dict) -> dict[str, str]:
    """The headers a ResponseHeadersPolicyConfig makes CloudFront send (the reverse of
    template.response_headers), to check that CloudFront's list is the local stack's."""
    security = config.get("SecurityHeadersConfig", {})
    sent = {}
    if "ContentSecurityPolicy" in security:
        sent["Content-Security-Policy"] = security["ContentSecurityPolicy"][
            "ContentSecurityPolicy"]
    if "ReferrerPolicy" in security:
        sent["Referrer-Policy"] = security["ReferrerPolicy"]["ReferrerPolicy"]
    if "ContentTypeOptions" in security:
        sent["X-Content-Type-Options"] = "nosniff"
    if "FrameOptions" in security:
        sent["X-Frame-Options"] = security["FrameOptions"]["FrameOption"]
    if "StrictTransportSecurity" in security:
        hsts = security["StrictTransportSecurity"]
        value = f"max-age={hsts['AccessControlMaxAgeSec']}"
        if hsts.get("IncludeSubdomains"):
            value += "; includeSubDomains"
        if hsts.get("Preload"):
            value += "; preload"
        sent["Strict-Transport-Security"] = value
    for item in config.get("CustomHeadersConfig", {}).get("Items", []):
        sent[item["Header"]] = item["Value"]
    return sent


def distribution(found: dict) -> dict:
    return found["Resources"]["Distribution"]["Properties"]["DistributionConfig"]


def test_cloudfront_sends_the_local_stacks_security_headers_on_pages_and_api(built):
    _, _, found = built
    config = found["Resources"]["SiteHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]
    assert headers_sent(config) == SITE_HEADERS
    hsts = config["SecurityHeadersConfig"]["StrictTransportSecurity"]
    assert hsts["AccessControlMaxAgeSec"] >= 31536000 and hsts["IncludeSubdomains"] is True
    assert all(h.get("Override", True) for h in config["SecurityHeadersConfig"].values())
    behaviours = [distribution(found)["DefaultCacheBehavior"],
                  *distribution(found)["CacheBehaviors"]]
    for behaviour in behaviours:
        assert behaviour["ResponseHeadersPolicyId"] == {"Ref": "SiteHeaders"}
        assert behaviour["ViewerProtocolPolicy"] in ("redirect-to-https", "https-only")


def test_cloudfront_serves_tls_1_2_at_least_and_routes_api_to_the_gateway_with_its_key(built):
    _, _, found = built
    config = distribution(found)
    assert config["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert config["ViewerCertificate"]["SslSupportMethod"] == "sni-only"
    api = next(o for o in config["Origins"] if o["Id"] == "api")
    assert api["CustomOriginConfig"] == {"OriginProtocolPolicy": "https-only",
                                         "OriginSSLProtocols": ["TLSv1.2"]}
    assert api["OriginPath"] == "/" + template.API_STAGE
    assert api["OriginCustomHeaders"] == [{"HeaderName": template.ORIGIN_HEADER,
                                           "HeaderValue": {"Ref": "OriginKey"}}]
    assert found["Parameters"]["OriginKey"]["NoEcho"] is True
    # /api/* and, before it, the console's /api/support/* (tests/infra/test_console_deploy.py)
    # and the paths of SPEC 15's sign-in for pwreg and pwreset, with their cookie and query
    assert [b["PathPattern"] for b in config["CacheBehaviors"]] == [
        "/api/support/*", "/api/idp/*", "/api/registration/idp/*", "/api/reset/idp/*",
        "/api/*"]
    idp = found["Resources"]["IdpRequests"]["Properties"]["OriginRequestPolicyConfig"]
    assert idp["CookiesConfig"] == {"CookieBehavior": "whitelist", "Cookies": ["pwportal_idp"]}
    assert {"code", "state", "iss"} <= set(idp["QueryStringsConfig"]["QueryStrings"])
    for behaviour in config["CacheBehaviors"]:
        assert behaviour["TargetOriginId"] == "api"
        assert behaviour["CachePolicyId"] == template.CACHING_DISABLED
    behaviour = config["CacheBehaviors"][-1]
    assert behaviour["OriginRequestPolicyId"] == {"Ref": "ApiRequests"}
    forwarded = found["Resources"]["ApiRequests"]["Properties"]["OriginRequestPolicyConfig"]
    assert template.CLIENT_ADDRESS_HEADER in forwarded["HeadersConfig"]["Headers"]
    # a missing file is S3's 403 (it may not list the bucket), shown as the site's 404
    # page; the API's and the WAF's answers never are 403, so they keep their own bodies
    assert config["CustomErrorResponses"] == [{"ErrorCode": 403, "ResponseCode": 404,
                                               "ResponsePagePath": "/404.html",
                                               "ErrorCachingMinTTL": 60}]
    assert (Path(template.ROOT) / "static_site" / "404.html").is_file()
    statuses = {r.get("StatusCode") for r in found["Resources"]["RestAPI"]["Properties"][
        "GatewayResponses"].values()}
    assert "403" not in statuses


def test_the_api_is_regional_throttled_and_answers_its_own_errors_in_the_envelope(built):
    _, _, found = built
    api = found["Resources"]["RestAPI"]["Properties"]
    assert api["EndpointConfiguration"] == "REGIONAL"
    [setting] = api["MethodSettings"]
    assert setting["ThrottlingRateLimit"] == {"Ref": "ApiRateLimit"}
    assert setting["ThrottlingBurstLimit"] == {"Ref": "ApiBurstLimit"}
    assert setting["DataTraceEnabled"] is False  # request bodies hold passwords
    responses = api["GatewayResponses"]
    for kind in ("MISSING_AUTHENTICATION_TOKEN", "THROTTLED", "DEFAULT_4XX", "DEFAULT_5XX"):
        body = json.loads(render(responses[kind]["ResponseTemplates"]["application/json"]))
        assert body["error"]["code"] and body["error"]["message"] and body["error"]["support"]
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"
    assert responses["THROTTLED"]["StatusCode"] == "429"
    assert "StatusCode" not in responses["DEFAULT_4XX"]  # keeps the gateway's own status


def test_no_cors_is_opened_and_no_deployed_function_has_dev_settings(built):
    _, _, found = built
    swagger = json.dumps(found["Resources"]["RestAPI"]["Properties"]["DefinitionBody"])
    assert "Access-Control-Allow-Origin" not in swagger
    assert '"options"' not in swagger  # no CORS preflight route
    for function in of_type(found, "AWS::Serverless::Function").values():
        variables = function["Properties"]["Environment"]["Variables"]
        for unsafe in ("PWPORTAL_DEV_SMS", "PWPORTAL_PEPPER", "PWPORTAL_CODE_KEY",
                       "PWPORTAL_LIMIT_KEY", "PWPORTAL_AUTHENTICATOR_KEY"):
            assert unsafe not in variables
        assert variables["PWPORTAL_SECRETS_PARAMETER"].startswith("/pwportal/")
        assert variables["PWPORTAL_CLIENT_ADDRESS_HEADER"] == "cloudfront-viewer-address"
        assert variables["PWPORTAL_SMS_QUEUE_URL"] == {"Ref": "SmsQueue"}


def test_every_function_logs_to_a_group_with_retention(built):
    stage, _, found = built
    groups = of_type(found, "AWS::Logs::LogGroup")
    named = {g["Properties"]["LogGroupName"]: g["Properties"]["RetentionInDays"]
             for g in groups.values()}
    assert set(named) == {f"/aws/lambda/{template.function_name(stage, f)}"
                          for f in template.FUNCTIONS} | {template.api_access_log_group(stage)}
    for name, days in named.items():
        # the access log's retention is the deploy's LogRetentionDays
        assert days == {"Ref": "LogRetentionDays"} if "apigateway" in name else days > 0
    for function, logical in template.FUNCTIONS.items():
        assert found["Resources"][logical]["Properties"]["FunctionName"] == \
            template.function_name(stage, function)


def test_every_function_has_aws_powertools_layer_and_the_package_has_no_powertools(built):
    stage, out, found = built
    root = Path(template.__file__).resolve().parents[1]
    arn = ("arn:${AWS::Partition}:lambda:${AWS::Region}:017000801446:layer:"
           "AWSLambdaPowertoolsPythonV3-python313-x86_64:")
    for logical in template.FUNCTIONS.values():
        [layer] = found["Resources"][logical]["Properties"]["Layers"]
        assert layer["Fn::Sub"] == arn + str(template.POWERTOOLS_LAYER_VERSION)
    with zipfile.ZipFile(out / "deployment.zip") as package:
        assert not [n for n in package.namelist() if n.startswith("aws_lambda_powertools")]
    # the tests and the local stack run the release the layer brings, and Lambda gets it
    # from the layer alone
    pins = (root / "requirements-run.txt").read_text(encoding="utf-8")  # dev includes it
    assert f"aws-lambda-powertools=={template.POWERTOOLS_VERSION}\n" in pins
    assert "powertools" not in (root / "requirements.txt").read_text(encoding="utf-8")


def test_the_waf_template_is_a_cloudfront_rate_rule_and_the_distribution_can_use_it(built):
    _, out, found = built
    waf = json.loads((out / "waf.json").read_text(encoding="utf-8"))
    acl = waf["Resources"]["WebAcl"]["Properties"]
    assert acl["Scope"] == "CLOUDFRONT"
    # one counter (tests/infra/test_edge_answers.py evaluates the rules)
    [rate] = [r for r in acl["Rules"] if "RateBasedStatement" in r["Statement"]]
    assert rate["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"
    for rule in acl["Rules"]:
        if "Block" in rule["Action"]:
            answer = rule["Action"]["Block"]["CustomResponse"]
            assert answer["ResponseCode"] == 429
            body = json.loads(acl["CustomResponseBodies"][answer["CustomResponseBodyKey"]][
                "Content"])
            assert body["error"]["code"] in ("too_many_requests", "too_many_attempts")
            assert body["error"]["support"] and body["error"]["retry_after"] > 0
    assert distribution(found)["WebACLId"]["Fn::If"][0] == "HasWebAcl"


def test_deployed_stages_run_without_debug():
    config = chalice_config()
    for stage in template.STAGES:
        assert config["stages"][stage].get("debug") is False
        assert config.get("debug", False) is False


@pytest.mark.parametrize("uri, expected", [
    ("/", {"uri": "/index.html"}),
    ("/pwreset/", {"uri": "/pwreset/index.html"}),
    ("/pwreset", {"statusCode": 301, "location": "/pwreset/"}),
    ("/assets/site.css", {"uri": "/assets/site.css"}),
    ("/tillganglighet/", {"uri": "/tillganglighet/index.html"}),
])
def test_the_site_function_maps_folders_to_their_pages_as_the_local_stack_does(uri, expected):
    script = template.SITE_FUNCTION + (
        "const out = handler({request: {uri: %s, headers: {}}});\n"
        "console.log(JSON.stringify(out.statusCode ? {statusCode: out.statusCode,"
        " location: out.headers.location.value} : {uri: out.uri}));\n" % json.dumps(uri))
    result = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == expected
