"""The deploy path (infra/deploy.py), step by step, on moto's AWS or on stubbed clients where
moto has no such service (End User Messaging SMS) or behaves unlike AWS. No network, no
real AWS, no `chalice package`."""
from __future__ import annotations

import datetime
import hashlib
import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from infra import deploy, template
from infra.stages import stage_settings

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-north-1"
STAGE = "prod"
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


@pytest.fixture
def credentials(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    return monkeypatch


@pytest.fixture
def aws(credentials):
    with mock_aws():
        yield


def client(service: str, region: str = REGION):
    return boto3.client(service, region_name=region)


def site_bucket(s3, name: str = "pwportal-prod-site") -> str:
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


def site_copy(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    shutil.copytree(ROOT / "static_site", site,
                    ignore=shutil.ignore_patterns(".*"))
    return site


# -- secrets -----------------------------------------------------------------------------------

def read_secrets(ssm, name: str) -> tuple[dict, dict]:
    parameter = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    return json.loads(parameter["Value"]), parameter


def test_secrets_are_created_once_with_strong_distinct_values_and_a_second_run_changes_nothing(
        aws, capsys):
    ssm = client("ssm")
    name = template.secrets_parameter(STAGE)
    assert name == "/pwportal/prod/secrets"

    origin_key = deploy.ensure_secrets(ssm, name)

    values, parameter = read_secrets(ssm, name)
    assert parameter["Type"] == "SecureString"
    assert set(values) == {"pepper", "code_key", "limit_key", "authenticator_key",
                           "origin_key"}
    assert len(set(values.values())) == 5
    assert all(len(value) >= 43 for value in values.values())  # 32 random bytes, base64url
    assert origin_key == values["origin_key"]

    again = deploy.ensure_secrets(ssm, name)

    values_after, parameter_after = read_secrets(ssm, name)
    assert again == origin_key
    assert values_after == values
    assert parameter_after["Version"] == parameter["Version"]  # not even rewritten
    printed = capsys.readouterr().out
    assert not any(value in printed for value in values.values())


def test_an_existing_pepper_and_code_key_are_kept_and_only_the_missing_keys_are_added(aws):
    ssm = client("ssm")
    name = template.secrets_parameter(STAGE)
    existing = {"pepper": "p" * 40, "code_key": "c" * 40}
    ssm.put_parameter(Name=name, Type="SecureString", Value=json.dumps(existing))

    origin_key = deploy.ensure_secrets(ssm, name)

    values, parameter = read_secrets(ssm, name)
    assert values["pepper"] == existing["pepper"]
    assert values["code_key"] == existing["code_key"]
    assert values["origin_key"] == origin_key and len(origin_key) >= 43
    assert len(values["limit_key"]) >= 43  # added to a stage deployed before it existed
    assert len(values["authenticator_key"]) >= 43  # likewise (issue 15)
    assert origin_key not in existing.values()
    assert parameter["Type"] == "SecureString"


def test_a_stage_deployed_before_the_authenticator_app_gets_only_an_authenticator_key(
        aws, capsys):
    ssm = client("ssm")
    name = template.secrets_parameter(STAGE)
    existing = {"pepper": "p" * 43, "code_key": "c" * 43, "limit_key": "l" * 43,
                "origin_key": "o" * 43}
    ssm.put_parameter(Name=name, Type="SecureString", Value=json.dumps(existing))

    assert deploy.ensure_secrets(ssm, name) == existing["origin_key"]

    values, parameter = read_secrets(ssm, name)
    added = values.pop("authenticator_key")
    assert values == existing  # every other value as it was
    assert len(added) >= 43 and added not in existing.values()
    assert parameter["Type"] == "SecureString"
    printed = capsys.readouterr().out
    assert "added authenticator_key" in printed and added not in printed


def test_a_secrets_parameter_that_is_not_json_is_refused_not_overwritten(aws):
    ssm = client("ssm")
    name = template.secrets_parameter(STAGE)
    ssm.put_parameter(Name=name, Type="SecureString", Value="not json")

    with pytest.raises(deploy.DeployError, match=name):
        deploy.ensure_secrets(ssm, name)

    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == "not json"


# -- the site ----------------------------------------------------------------------------------

def test_the_site_is_uploaded_with_its_content_types_and_cache_headers(aws):
    s3 = client("s3")
    bucket = site_bucket(s3)

    summary = deploy.upload_site(s3, bucket)

    files = sorted(path.relative_to(ROOT / "static_site").as_posix()
                   for path in (ROOT / "static_site").rglob("*")
                   if path.is_file() and not any(part.startswith(".") for part in
                                                 path.relative_to(ROOT).parts))
    assert summary["uploaded"] == files
    assert summary["deleted"] == []
    script = s3.head_object(Bucket=bucket, Key="assets/api.js")
    assert script["ContentType"].startswith("text/javascript")
    assert script["CacheControl"] == "max-age=300"
    page = s3.head_object(Bucket=bucket, Key="index.html")
    assert page["ContentType"].startswith("text/html")
    assert page["CacheControl"] == "no-cache"
    nested = s3.head_object(Bucket=bucket, Key="pwreg/index.html")
    assert nested["ContentType"].startswith("text/html") and nested["CacheControl"] == "no-cache"
    style = s3.head_object(Bucket=bucket, Key="assets/site.css")
    assert style["ContentType"].startswith("text/css") and style["CacheControl"] == "max-age=300"
    body = s3.get_object(Bucket=bucket, Key="index.html")["Body"].read()
    assert body == (ROOT / "static_site" / "index.html").read_bytes()


def test_site_upload_skips_hidden_files_and_removes_stale_objects(aws, tmp_path):
    s3 = client("s3")
    bucket = site_bucket(s3)
    site = site_copy(tmp_path)
    (site / ".DS_Store").write_bytes(b"\0finder")
    (site / "assets" / ".secret.js").write_text("x")
    (site / ".git").mkdir()
    (site / ".git" / "config").write_text("[core]")
    s3.put_object(Bucket=bucket, Key="old/page.html", Body=b"gone")
    s3.put_object(Bucket=bucket, Key="index.html", Body=b"an older index")

    summary = deploy.upload_site(s3, bucket, site)

    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert ".DS_Store" not in keys and "assets/.secret.js" not in keys
    assert not any(key.startswith(".git") for key in keys)
    assert "old/page.html" not in keys
    assert summary["deleted"] == ["old/page.html"]
    assert keys == set(summary["uploaded"])
    assert s3.get_object(Bucket=bucket, Key="index.html")["Body"].read() == \
        (site / "index.html").read_bytes()


@pytest.mark.parametrize("address", [
    "https://abc123.execute-api.eu-north-1.amazonaws.com/api",
    "http://localhost:8000/api",
])
def test_upload_refuses_a_site_whose_scripts_name_another_api(aws, tmp_path, address):
    s3 = client("s3")
    bucket = site_bucket(s3)
    site = site_copy(tmp_path)
    api = site / "assets" / "api.js"
    api.write_text(f'const BASE = "{address}";\n' + api.read_text(encoding="utf-8"),
                   encoding="utf-8")

    with pytest.raises(deploy.DeployError, match="assets/api.js"):
        deploy.upload_site(s3, bucket, site)

    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0  # nothing uploaded


def test_the_real_site_names_no_other_api():
    deploy.check_site(ROOT / "static_site")


# -- artifacts ---------------------------------------------------------------------------------

def fake_build(tmp_path: Path) -> Path:
    """What `template.package` leaves in build/<stage>/, in small."""
    build = tmp_path / "build" / STAGE
    build.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(build / "deployment.zip", "w") as archive:
        archive.writestr("app.py", "print('pwportal')\n")
    sam = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "APIHandler": {"Type": "AWS::Serverless::Function", "Properties": {
                "CodeUri": "./deployment.zip", "Handler": "app.app", "Runtime": "python3.12"}},
            "DeliverSms": {"Type": "AWS::Serverless::Function", "Properties": {
                "CodeUri": "./deployment.zip", "Handler": "app.deliver_sms",
                "Runtime": "python3.12"}},
            "SmsQueue": {"Type": "AWS::SQS::Queue", "Properties": {
                "QueueName": "pwportal-prod-sms"}},
        },
    }
    (build / "sam.json").write_text(json.dumps(sam), encoding="utf-8")
    return build


def test_the_artifacts_bucket_is_private_and_encrypted_and_ensuring_it_again_is_harmless(aws):
    s3 = client("s3")
    account = client("sts").get_caller_identity()["Account"]
    name = deploy.artifacts_bucket_name(STAGE, account, REGION)
    assert name == f"pwportal-prod-artifacts-{account}-{REGION}"

    deploy.ensure_artifacts_bucket(s3, name, REGION)
    deploy.ensure_artifacts_bucket(s3, name, REGION)

    block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
    assert block == {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                     "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    rules = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == REGION


def test_artifacts_upload_points_every_function_at_the_uploaded_package_and_uploads_that_template(
        aws, tmp_path):
    s3 = client("s3")
    bucket = deploy.ensure_artifacts_bucket(s3, "pwportal-prod-artifacts-123456789012-"
                                                f"{REGION}", REGION)
    build = fake_build(tmp_path)
    package = (build / "deployment.zip").read_bytes()
    code_key = f"prod/{hashlib.sha256(package).hexdigest()}.zip"

    url = deploy.upload_artifacts(s3, bucket, build)

    prefix = f"https://{bucket}.s3.{REGION}.amazonaws.com/"
    assert url.startswith(prefix + "prod/template-") and url.endswith(".json")
    template_key = url[len(prefix):]
    uploaded = s3.get_object(Bucket=bucket, Key=template_key)["Body"].read()
    assert template_key == f"prod/template-{hashlib.sha256(uploaded).hexdigest()}.json"
    document = json.loads(uploaded)
    functions = {name: resource for name, resource in document["Resources"].items()
                 if resource["Type"] == "AWS::Serverless::Function"}
    assert set(functions) == {"APIHandler", "DeliverSms"}
    for resource in functions.values():
        assert resource["Properties"]["CodeUri"] == f"s3://{bucket}/{code_key}"
    assert document["Transform"] == "AWS::Serverless-2016-10-31"
    assert document["Resources"]["SmsQueue"] == json.loads(
        (build / "sam.json").read_text())["Resources"]["SmsQueue"]
    assert s3.get_object(Bucket=bucket, Key=code_key)["Body"].read() == package
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        assert archive.namelist() == ["app.py"]

    # the same build again: the same keys, nothing new
    assert deploy.upload_artifacts(s3, bucket, build) == url
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 2


# -- SMS ---------------------------------------------------------------------------------------

def test_configure_sms_sets_transactional_the_sender_id_and_the_limit(aws):
    sns = client("sns")
    sender = stage_settings(STAGE).sms_sender_id

    deploy.configure_sms(sns, sender, 50)

    attributes = sns.get_sms_attributes()["attributes"]
    assert attributes["DefaultSMSType"] == "Transactional"
    assert attributes["DefaultSenderID"] == sender == "pwportal"
    assert attributes["MonthlySpendLimit"] == "50"


def test_configure_sms_keeps_the_account_limit_when_sns_refuses_it(credentials, capsys):
    sns = client("sns")
    with Stubber(sns) as stub:
        stub.add_client_error("set_sms_attributes", "InvalidParameter",
                              "Invalid parameter: MonthlySpendLimit", 400, expected_params={
                                  "attributes": {"DefaultSMSType": "Transactional",
                                                 "DefaultSenderID": "pwportal",
                                                 "MonthlySpendLimit": "50"}})
        stub.add_response("set_sms_attributes", {}, {"attributes": {
            "DefaultSMSType": "Transactional", "DefaultSenderID": "pwportal"}})

        applied = deploy.configure_sms(sns, "pwportal", 50)

        stub.assert_no_pending_responses()
    assert "MonthlySpendLimit" not in applied
    assert "AWS Support" in capsys.readouterr().out


def test_the_sms_spend_alarm_is_80_percent_of_the_monthly_limit_and_at_least_1_usd():
    assert deploy.sms_spend_alarm_usd(50) == 40
    assert deploy.sms_spend_alarm_usd(1) == 1
    assert deploy.sms_spend_alarm_usd(10) == 8


def protect_arn(identifier: str) -> str:
    return f"arn:aws:sms-voice:{REGION}:123456789012:protect-configuration/{identifier}"


def rule_set(identifier: str, countries) -> dict:
    return {"ProtectConfigurationArn": protect_arn(identifier),
            "ProtectConfigurationId": identifier, "NumberCapability": "SMS",
            "CountryRuleSet": {country: {"ProtectStatus": "ALLOW"} for country in countries}}


KNOWN = ["SE", "NO", "DK", "FI", "US", "GB", "NG", "CU", "KP", "AF"]


def test_protect_countries_allows_only_the_allowed_countries_and_makes_it_the_account_default(
        credentials):
    sms_voice = client("pinpoint-sms-voice-v2")
    identifier = "protect-1234567890abcdef"
    with Stubber(sms_voice) as stub:
        stub.add_response("describe_protect_configurations", {"ProtectConfigurations": [{
            "ProtectConfigurationArn": protect_arn("protect-other"),
            "ProtectConfigurationId": "protect-other", "CreatedTimestamp": NOW,
            "AccountDefault": False, "DeletionProtectionEnabled": False}]}, {})
        stub.add_response("list_tags_for_resource", {
            "ResourceArn": protect_arn("protect-other"),
            "Tags": [{"Key": "pwportal", "Value": "dev"}]},
            {"ResourceArn": protect_arn("protect-other")})
        stub.add_response("create_protect_configuration", {
            "ProtectConfigurationArn": protect_arn(identifier),
            "ProtectConfigurationId": identifier, "CreatedTimestamp": NOW,
            "AccountDefault": False, "DeletionProtectionEnabled": False},
            {"Tags": [{"Key": "Name", "Value": "pwportal-prod"},
                      {"Key": "pwportal", "Value": "prod"}]})
        stub.add_response("get_protect_configuration_country_rule_set",
                          rule_set(identifier, KNOWN),
                          {"ProtectConfigurationId": identifier, "NumberCapability": "SMS"})
        expected_rules = {country: {"ProtectStatus": "BLOCK"} for country in KNOWN}
        expected_rules["SE"] = {"ProtectStatus": "ALLOW"}
        stub.add_response("update_protect_configuration_country_rule_set",
                          rule_set(identifier, KNOWN),
                          {"ProtectConfigurationId": identifier, "NumberCapability": "SMS",
                           "CountryRuleSetUpdates": expected_rules})
        stub.add_response("set_account_default_protect_configuration", {
            "DefaultProtectConfigurationArn": protect_arn(identifier),
            "DefaultProtectConfigurationId": identifier},
            {"ProtectConfigurationId": identifier})

        found = deploy.protect_countries(sms_voice, deploy.allowed_countries(STAGE), STAGE)

        stub.assert_no_pending_responses()
    assert found == identifier
    assert deploy.allowed_countries(STAGE) == {"SE"}


def test_protect_countries_reuses_the_stages_configuration_and_sends_rules_in_chunks_of_300(
        credentials):
    sms_voice = client("pinpoint-sms-voice-v2")
    identifier = "protect-ours"
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    others = sorted({a + b for a in letters for b in letters} - {"SE", "NO"})[:348]
    known = sorted(others + ["SE", "NO"])
    assert len(known) == 350
    with Stubber(sms_voice) as stub:
        stub.add_response("describe_protect_configurations", {"ProtectConfigurations": [{
            "ProtectConfigurationArn": protect_arn(identifier),
            "ProtectConfigurationId": identifier, "CreatedTimestamp": NOW,
            "AccountDefault": True, "DeletionProtectionEnabled": False}]}, {})
        stub.add_response("list_tags_for_resource", {
            "ResourceArn": protect_arn(identifier),
            "Tags": [{"Key": "Name", "Value": "pwportal-prod"},
                     {"Key": "pwportal", "Value": "prod"}]},
            {"ResourceArn": protect_arn(identifier)})
        stub.add_response("get_protect_configuration_country_rule_set",
                          rule_set(identifier, known),
                          {"ProtectConfigurationId": identifier, "NumberCapability": "SMS"})
        rules = {country: {"ProtectStatus": "ALLOW" if country in ("SE", "NO") else "BLOCK"}
                 for country in known}
        for chunk in (known[:300], known[300:]):
            stub.add_response("update_protect_configuration_country_rule_set",
                              rule_set(identifier, ["SE"]),
                              {"ProtectConfigurationId": identifier, "NumberCapability": "SMS",
                               "CountryRuleSetUpdates": {c: rules[c] for c in chunk}})
        stub.add_response("set_account_default_protect_configuration", {
            "DefaultProtectConfigurationArn": protect_arn(identifier),
            "DefaultProtectConfigurationId": identifier},
            {"ProtectConfigurationId": identifier})

        assert deploy.protect_countries(sms_voice, {"se", "NO"}, STAGE) == identifier

        stub.assert_no_pending_responses()


def test_protect_countries_refuses_a_country_aws_does_not_know(credentials):
    sms_voice = client("pinpoint-sms-voice-v2")
    with Stubber(sms_voice) as stub:
        stub.add_response("describe_protect_configurations", {"ProtectConfigurations": [{
            "ProtectConfigurationArn": protect_arn("protect-x"),
            "ProtectConfigurationId": "protect-x", "CreatedTimestamp": NOW,
            "AccountDefault": False, "DeletionProtectionEnabled": False}]}, {})
        stub.add_response("list_tags_for_resource", {
            "ResourceArn": protect_arn("protect-x"),
            "Tags": [{"Key": "pwportal", "Value": "prod"}]},
            {"ResourceArn": protect_arn("protect-x")})
        stub.add_response("get_protect_configuration_country_rule_set",
                          rule_set("protect-x", KNOWN), {"ProtectConfigurationId": "protect-x",
                                                         "NumberCapability": "SMS"})
        with pytest.raises(deploy.DeployError, match="ZZ"):
            deploy.protect_countries(sms_voice, {"SE", "ZZ"}, STAGE)


# -- CloudFront --------------------------------------------------------------------------------

def test_invalidate_asks_for_everything_with_a_fresh_caller_reference_each_time(credentials):
    cloudfront = client("cloudfront", "us-east-1")
    references = []

    def capture(params, **_):
        references.append(params["InvalidationBatch"]["CallerReference"])

    cloudfront.meta.events.register("provide-client-params.cloudfront.CreateInvalidation",
                                    capture)
    answer = {"Location": "https://cloudfront.amazonaws.com/x", "Invalidation": {
        "Id": "I1", "Status": "InProgress", "CreateTime": NOW, "InvalidationBatch": {
            "Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": "r"}}}
    with Stubber(cloudfront) as stub:
        for _ in range(2):
            stub.add_response("create_invalidation", answer, {
                "DistributionId": "E123", "InvalidationBatch": {
                    "Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": ANY}})
        assert deploy.invalidate(cloudfront, "E123") == "I1"
        deploy.invalidate(cloudfront, "E123")
        stub.assert_no_pending_responses()
    assert len(set(references)) == 2


# -- stacks ------------------------------------------------------------------------------------

@pytest.fixture
def change_sets_keep_outputs(monkeypatch):
    """moto 5 executes a change set without re-reading the stack's template, so a stack made
    or changed through one has no Outputs (AWS has them). This makes moto do what AWS does."""
    from moto.cloudformation import models

    original = models.ChangeSet.apply

    def apply(change_set):
        original(change_set)
        stack = change_set.stack
        stack.template = change_set.template
        stack._parse_template()
        stack.output_map = stack._create_output_map()

    monkeypatch.setattr(models.ChangeSet, "apply", apply)


def queue_template(version: str) -> str:
    return json.dumps({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {"Name": {"Type": "String"}},
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue",
                                "Properties": {"QueueName": {"Ref": "Name"}}}},
        "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}},
                    "Version": {"Value": version}},
    })


def test_deploy_stack_creates_then_updates_and_a_run_without_changes_returns_the_outputs(
        aws, change_sets_keep_outputs):
    cfn = client("cloudformation")
    parameters = {"Name": "pwportal-test-queue"}

    created = deploy.deploy_stack(cfn, "pwportal-test", queue_template("1"), parameters)

    assert created["Version"] == "1"
    assert created["QueueUrl"].endswith("/pwportal-test-queue")
    assert client("sqs").get_queue_url(QueueName="pwportal-test-queue")["QueueUrl"]
    assert cfn.describe_stacks(StackName="pwportal-test")["Stacks"][0]["StackStatus"] == \
        "CREATE_COMPLETE"

    updated = deploy.deploy_stack(cfn, "pwportal-test", queue_template("2"), parameters)

    assert updated["Version"] == "2"
    assert cfn.describe_stacks(StackName="pwportal-test")["Stacks"][0]["StackStatus"] == \
        "UPDATE_COMPLETE"

    unchanged = deploy.deploy_stack(cfn, "pwportal-test", queue_template("2"), parameters)

    assert unchanged == updated
    pending = [summary for summary in cfn.list_change_sets(StackName="pwportal-test")["Summaries"]
               if summary.get("ExecutionStatus") != "EXECUTE_COMPLETE"]
    assert pending == []


def stack(status: str, outputs: dict | None = None, reason: str | None = None) -> dict:
    found = {"StackName": "pwportal-prod", "CreationTime": NOW, "StackStatus": status,
             "Outputs": [{"OutputKey": key, "OutputValue": value}
                         for key, value in (outputs or {}).items()]}
    if reason:
        found["StackStatusReason"] = reason
    return {"Stacks": [found]}


CHANGE_SET = {"Id": f"arn:aws:cloudformation:{REGION}:123456789012:changeSet/c/1",
              "StackId": f"arn:aws:cloudformation:{REGION}:123456789012:stack/pwportal-prod/1"}
URL = "https://artifacts.s3.eu-north-1.amazonaws.com/prod/template-abc.json"


def expected_change_set(kind: str) -> dict:
    return {"StackName": "pwportal-prod", "ChangeSetName": ANY, "ChangeSetType": kind,
            "TemplateURL": URL, "Parameters": [{"ParameterKey": "PortalHost",
                                                "ParameterValue": "losenord.kommun.se"}],
            "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM",
                             "CAPABILITY_AUTO_EXPAND"]}


def test_a_change_set_without_changes_is_deleted_and_the_current_outputs_returned(credentials):
    """What AWS does (moto refuses the change set instead): the change set fails with
    "didn't contain changes"."""
    cfn = client("cloudformation")
    outputs = {"DistributionId": "E123", "SiteBucketName": "site"}
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack("UPDATE_COMPLETE", outputs),
                          {"StackName": "pwportal-prod"})
        stub.add_response("create_change_set", CHANGE_SET, expected_change_set("UPDATE"))
        stub.add_response("describe_change_set", {
            "Status": "FAILED", "ExecutionStatus": "UNAVAILABLE",
            "StatusReason": "The submitted information didn't contain changes. Submit "
                            "different information to create a change set."},
            {"StackName": "pwportal-prod", "ChangeSetName": ANY})
        stub.add_response("delete_change_set", {},
                          {"StackName": "pwportal-prod", "ChangeSetName": ANY})
        stub.add_response("describe_stacks", stack("UPDATE_COMPLETE", outputs),
                          {"StackName": "pwportal-prod"})

        found = deploy.deploy_stack(cfn, "pwportal-prod", URL,
                                    {"PortalHost": "losenord.kommun.se"})

        stub.assert_no_pending_responses()
    assert found == outputs


def expect_change_set_run(stub, kind: str) -> None:
    """A change set made, ready and executed."""
    stub.add_response("create_change_set", CHANGE_SET, expected_change_set(kind))
    stub.add_response("describe_change_set", {"Status": "CREATE_COMPLETE",
                                              "ExecutionStatus": "AVAILABLE"},
                      {"StackName": "pwportal-prod", "ChangeSetName": ANY})
    stub.add_response("execute_change_set", {},
                      {"StackName": "pwportal-prod", "ChangeSetName": ANY})


def test_a_failed_update_raises_an_error_naming_the_stack_and_the_reason(credentials):
    cfn = client("cloudformation")
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack("UPDATE_COMPLETE"),
                          {"StackName": "pwportal-prod"})
        expect_change_set_run(stub, "UPDATE")
        rolled_back = stack("UPDATE_ROLLBACK_COMPLETE")
        stub.add_response("describe_stacks", rolled_back, {"StackName": "pwportal-prod"})
        stub.add_response("describe_stacks", rolled_back, {"StackName": "pwportal-prod"})
        later = datetime.datetime.now(datetime.UTC)
        stub.add_response("describe_stack_events", {"StackEvents": [
            {"StackId": "s", "EventId": "2", "StackName": "pwportal-prod", "Timestamp": later,
             "LogicalResourceId": "pwportal-prod", "ResourceType": "AWS::CloudFormation::Stack",
             "ResourceStatus": "UPDATE_ROLLBACK_COMPLETE"},
            {"StackId": "s", "EventId": "1", "StackName": "pwportal-prod", "Timestamp": later,
             "LogicalResourceId": "Distribution",
             "ResourceType": "AWS::CloudFront::Distribution",
             "ResourceStatus": "UPDATE_FAILED",
             "ResourceStatusReason": "The certificate is not valid for losenord.kommun.se"},
        ]}, {"StackName": "pwportal-prod"})

        with pytest.raises(deploy.DeployError) as failure:
            deploy.deploy_stack(cfn, "pwportal-prod", URL, {"PortalHost": "losenord.kommun.se"})

        stub.assert_no_pending_responses()
    message = str(failure.value)
    assert "pwportal-prod" in message and "UPDATE_ROLLBACK_COMPLETE" in message
    assert "Distribution" in message and "certificate is not valid" in message


def test_a_stack_whose_first_change_set_was_never_executed_is_created_again(credentials):
    cfn = client("cloudformation")
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack("REVIEW_IN_PROGRESS"),
                          {"StackName": "pwportal-prod"})
        expect_change_set_run(stub, "CREATE")
        done = stack("CREATE_COMPLETE", {"DistributionId": "E1"})
        stub.add_response("describe_stacks", done, {"StackName": "pwportal-prod"})
        stub.add_response("describe_stacks", done, {"StackName": "pwportal-prod"})

        assert deploy.deploy_stack(cfn, "pwportal-prod", URL,
                                   {"PortalHost": "losenord.kommun.se"}) == {
            "DistributionId": "E1"}

        stub.assert_no_pending_responses()


def test_a_stack_that_is_busy_is_not_touched_but_explained(credentials):
    cfn = client("cloudformation")
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack("UPDATE_IN_PROGRESS"),
                          {"StackName": "pwportal-prod"})
        with pytest.raises(deploy.DeployError, match="pwportal-prod is busy"):
            deploy.deploy_stack(cfn, "pwportal-prod", URL, {"PortalHost": "x"})


def test_a_stack_that_failed_to_be_created_is_not_updated_but_explained(credentials):
    cfn = client("cloudformation")
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack("ROLLBACK_COMPLETE", reason="boom"),
                          {"StackName": "pwportal-prod"})
        with pytest.raises(deploy.DeployError, match="pwportal-prod is ROLLBACK_COMPLETE"):
            deploy.deploy_stack(cfn, "pwportal-prod", URL, {"PortalHost": "x"})


# -- teardown ----------------------------------------------------------------------------------

def test_teardown_empties_a_versioned_bucket_of_every_version_and_delete_marker(aws):
    s3 = client("s3")
    bucket = site_bucket(s3)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for round_ in range(3):
        s3.put_object(Bucket=bucket, Key="index.html", Body=f"v{round_}".encode())
    s3.put_object(Bucket=bucket, Key="old.html", Body=b"old")
    s3.delete_object(Bucket=bucket, Key="old.html")  # a delete marker over one version

    assert deploy.empty_bucket(s3, bucket) == 5  # 3 + 1 versions, 1 delete marker

    left = s3.list_object_versions(Bucket=bucket)
    assert not left.get("Versions") and not left.get("DeleteMarkers")
    s3.delete_bucket(Bucket=bucket)  # CloudFormation can delete it now


# -- the command line --------------------------------------------------------------------------

def test_the_command_line_takes_what_make_deploy_passes_with_the_template_defaults():
    args = deploy.parser().parse_args([
        "deploy", "--stage", "prod", "--host", "losenord.kommun.se",
        "--certificate-arn", "arn:aws:acm:us-east-1:123456789012:certificate/abc"])
    assert (args.region, args.sms_monthly_limit_usd, args.api_rate_limit,
            args.api_burst_limit, args.alarm_email) == \
        (template.DEFAULT_REGION, 50, 50, 100, "")
    # the WAF is deployed by default (issue 12), the logs kept the template's default
    assert (args.waf_requests_per_5_minutes, args.no_waf) == (300, False)
    assert args.log_retention_days == template.PARAMETERS["LogRetentionDays"]["Default"]
    assert template.waf_template(STAGE)["Parameters"]["RequestsPerFiveMinutes"]["Default"] \
        == args.waf_requests_per_5_minutes
    assert deploy.sms_spend_alarm_usd(args.sms_monthly_limit_usd) == \
        template.PARAMETERS["SmsSpendAlarmUsd"]["Default"]
    assert args.sms_price_usd == template.PARAMETERS["SmsPriceUsd"]["Default"] == 0.12
    down = deploy.parser().parse_args(["teardown", "--stage", "dev", "--region", "eu-west-1"])
    assert (down.command, down.stage, down.region, down.yes) == \
        ("teardown", "dev", "eu-west-1", False)


@pytest.mark.parametrize("price", ["0.16", "0", "1.5"])
def test_the_price_of_an_sms_is_taken_as_given(price):
    args = deploy.parser().parse_args([
        "deploy", "--stage", "prod", "--host", "losenord.kommun.se",
        "--certificate-arn", "arn:aws:acm:us-east-1:123456789012:certificate/abc",
        "--sms-price-usd", price])
    assert args.sms_price_usd == float(price)


@pytest.mark.parametrize("price", ["-0.1", "abc", "nan", "inf", "120"])
def test_a_price_of_an_sms_that_is_no_price_is_refused_before_anything_is_deployed(
        price, capsys):
    with pytest.raises(SystemExit):
        deploy.parser().parse_args([
            "deploy", "--stage", "prod", "--host", "losenord.kommun.se",
            "--certificate-arn", "arn:aws:acm:us-east-1:123456789012:certificate/abc",
            "--sms-price-usd", price])
    assert "--sms-price-usd" in capsys.readouterr().err


def test_a_certificate_outside_us_east_1_is_refused_before_anything_is_deployed(capsys):
    code = deploy.main(["deploy", "--stage", "prod", "--host", "losenord.kommun.se",
                        "--certificate-arn",
                        "arn:aws:acm:eu-north-1:123456789012:certificate/abc"])
    assert code == 1
    assert "CertificateArn" in capsys.readouterr().err


# -- API Gateway's logging role (issue 12, finding 10) -----------------------------------------

ACCOUNT = "123456789012"


def test_the_api_gateway_log_role_is_made_and_set_once_and_a_second_run_changes_nothing(aws):
    iam, apigateway = client("iam"), client("apigateway")
    assert not apigateway.get_account().get("cloudwatchRoleArn")

    arn = deploy.ensure_api_gateway_log_role(iam, apigateway, ACCOUNT)

    assert apigateway.get_account()["cloudwatchRoleArn"] == arn
    role = iam.get_role(RoleName=deploy.API_GATEWAY_LOG_ROLE)["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "apigateway.amazonaws.com"}
    document = iam.get_role_policy(RoleName=deploy.API_GATEWAY_LOG_ROLE,
                                   PolicyName="access-logs")["PolicyDocument"]
    assert document == deploy.api_gateway_log_policy(ACCOUNT)
    assert deploy.ensure_api_gateway_log_role(iam, apigateway, ACCOUNT) == arn
    assert len([r for r in iam.list_roles()["Roles"]
                if r["RoleName"] == deploy.API_GATEWAY_LOG_ROLE]) == 1


def test_an_account_that_has_an_api_gateway_log_role_keeps_it(aws):
    iam, apigateway = client("iam"), client("apigateway")
    theirs = iam.create_role(RoleName="someone-elses", AssumeRolePolicyDocument=json.dumps(
        deploy.API_GATEWAY_TRUST))["Role"]["Arn"]
    apigateway.update_account(patchOperations=[
        {"op": "replace", "path": "/cloudwatchRoleArn", "value": theirs}])

    assert deploy.ensure_api_gateway_log_role(iam, apigateway, ACCOUNT) == theirs

    assert apigateway.get_account()["cloudwatchRoleArn"] == theirs
    assert deploy.API_GATEWAY_LOG_ROLE not in [r["RoleName"]
                                               for r in iam.list_roles()["Roles"]]


def test_the_api_gateway_log_role_may_write_only_pwportals_access_logs():
    document = deploy.api_gateway_log_policy(ACCOUNT)
    for statement in document["Statement"]:
        for action in statement["Action"]:
            assert action.startswith("logs:") and "*" not in action
        resources = statement["Resource"] if isinstance(statement["Resource"], list) \
            else [statement["Resource"]]
        for resource in resources:
            assert f":{ACCOUNT}:log-group:" in resource
    writes = [s for s in document["Statement"] if "logs:PutLogEvents" in s["Action"]]
    [write] = writes
    assert all("/aws/apigateway/pwportal-" in r for r in write["Resource"])
    for stage in template.STAGES:  # the stacks' log groups are within it
        assert template.api_access_log_group(stage).startswith("/aws/apigateway/pwportal-")


def test_no_waf_and_a_waf_limit_cannot_both_be_asked_for(capsys):
    with pytest.raises(SystemExit):
        deploy.parser().parse_args([
            "deploy", "--stage", "prod", "--host", "losenord.kommun.se",
            "--certificate-arn", "arn:aws:acm:us-east-1:123456789012:certificate/abc",
            "--no-waf", "--waf-requests-per-5-minutes", "100"])
    assert "not allowed with" in capsys.readouterr().err


def test_make_deploy_passes_every_option_of_the_deploy_command():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    options = {action.option_strings[0] for action in
               deploy.parser()._subparsers._group_actions[0].choices["deploy"]._actions
               if action.option_strings and action.option_strings[0].startswith("--")}
    passed = set(re.findall(r"(--[a-z0-9-]+)", makefile.split("package:")[0]))
    # the required ones and the region come from the deploy target itself
    assert options - {"--help"} <= passed | set(re.findall(r"(--[a-z0-9-]+)", makefile))
    for option in ("--no-waf", "--log-retention-days", "--waf-requests-per-5-minutes",
                   "--sms-price-usd"):
        assert option in passed, option
    documented = (ROOT / "docs" / "deploying.md").read_text(encoding="utf-8")
    for variable in ("NO_WAF", "LOG_RETENTION_DAYS", "WAF_REQUESTS_PER_5_MINUTES",
                     "SMS_PRICE_USD"):
        assert variable in makefile and variable in documented, variable


def test_a_new_api_gateway_role_that_api_gateway_refuses_at_first_is_set_once_it_takes_it(
        credentials):
    """IAM's eventual consistency: API Gateway refuses a role made a moment ago."""
    iam, apigateway = client("iam"), client("apigateway")
    iam_stub, gateway_stub = Stubber(iam), Stubber(apigateway)
    arn = f"arn:aws:iam::{ACCOUNT}:role/{deploy.API_GATEWAY_LOG_ROLE}"
    gateway_stub.add_response("get_account", {})
    iam_stub.add_client_error("get_role", "NoSuchEntity")
    iam_stub.add_response("create_role", {"Role": {
        "Path": "/", "RoleName": deploy.API_GATEWAY_LOG_ROLE, "RoleId": "AROAEXAMPLE123456",
        "Arn": arn, "CreateDate": NOW}})
    iam_stub.add_response("put_role_policy", {})
    for _ in range(2):
        gateway_stub.add_client_error("update_account", "BadRequestException",
                                      "The role ARN does not have required permissions")
    gateway_stub.add_response("update_account", {"cloudwatchRoleArn": arn},
                              {"patchOperations": [{"op": "replace",
                                                    "path": "/cloudwatchRoleArn",
                                                    "value": arn}]})
    waits = []
    with iam_stub, gateway_stub:
        assert deploy.ensure_api_gateway_log_role(iam, apigateway, ACCOUNT,
                                                  sleep=waits.append) == arn
    assert waits == [deploy.ROLE_PROPAGATION_WAIT] * 2
    gateway_stub.assert_no_pending_responses()
