"""Access logs on a deployed stage (issue 12, finding 10): API Gateway's stage, CloudFront
and the site bucket each keep one, for LogRetentionDays, in places only the account reads;
no line holds a secret, and API Gateway's holds no client address (docs/operations.md)."""
from __future__ import annotations

import json
import re

import pytest

from infra import template

STAGE_NAMES = template.STAGES


@pytest.fixture(scope="module", params=STAGE_NAMES)
def found(request, tmp_path_factory):
    """The stage's template as a deployment builds it (chalice's resources merged in)."""
    out = tmp_path_factory.mktemp(f"logs-{request.param}")
    sam = template.package(request.param, out)
    return request.param, json.loads(sam.read_text(encoding="utf-8"))


def buckets(document: dict) -> dict:
    return {name: r for name, r in document["Resources"].items()
            if r["Type"] == "AWS::S3::Bucket"}


def test_the_api_stage_writes_an_access_log_line_per_request_to_its_own_log_group(found):
    stage, document = found
    setting = document["Resources"]["RestAPI"]["Properties"]["AccessLogSetting"]
    assert setting["DestinationArn"]["Fn::Sub"].endswith(":log-group:${ApiAccessLogs}")
    group = document["Resources"]["ApiAccessLogs"]
    assert group["Properties"] == {"LogGroupName": template.api_access_log_group(stage),
                                   "RetentionInDays": {"Ref": "LogRetentionDays"}}
    fields = json.loads(setting["Format"])  # one JSON object a line
    # the request id joins a line to the API's own log lines (their correlation_id)
    assert fields["requestId"] == "$context.requestId"
    for name in ("status", "resourcePath", "responseType", "time", "method"):
        assert fields[name].startswith("$context."), name
    assert all(re.fullmatch(r"\$context\.[A-Za-z.]+", value) for value in fields.values())


def test_no_access_log_variable_reaches_a_header_a_body_or_the_callers_identity(found):
    _, document = found
    text = document["Resources"]["RestAPI"]["Properties"]["AccessLogSetting"]["Format"]
    for forbidden in template.ACCESS_LOG_FORBIDDEN:
        assert forbidden not in text
    # CloudFront's edge address only: no header (the viewer's address) can be logged
    assert [v for v in json.loads(text).values() if "identity" in v] == [
        "$context.identity.sourceIp"]


def test_cloudfront_and_the_site_bucket_log_into_the_log_bucket_without_cookies(found):
    _, document = found
    config = document["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
    assert config["Logging"] == {"Bucket": {"Fn::GetAtt": ["LogBucket", "DomainName"]},
                                 "Prefix": template.CLOUDFRONT_LOG_PREFIX,
                                 "IncludeCookies": False}
    site = document["Resources"]["SiteBucket"]["Properties"]
    assert site["LoggingConfiguration"] == {"DestinationBucketName": {"Ref": "LogBucket"},
                                            "LogFilePrefix": template.SITE_LOG_PREFIX}


def test_the_log_bucket_is_private_encrypted_kept_and_expires_its_logs(found):
    _, document = found
    bucket = document["Resources"]["LogBucket"]
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"
    props = bucket["Properties"]
    [rule] = props["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == {"Ref": "LogRetentionDays"}
    # CloudFront's standard logs need ACLs; the owner still owns every object
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerPreferred"}]


def test_every_bucket_blocks_public_access_and_is_encrypted(found):
    _, document = found
    found_buckets = buckets(document)
    assert set(found_buckets) == {"SiteBucket", "LogBucket"}
    for name, bucket in found_buckets.items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True}, name
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256", name
        assert "AccessControl" not in props and "WebsiteConfiguration" not in props, name


def test_only_s3s_logging_service_writes_to_the_log_bucket_and_only_for_the_site_bucket(found):
    _, document = found
    policy = document["Resources"]["LogBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "LogBucket"}
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert statement["Action"] == "s3:PutObject"
    assert statement["Resource"]["Fn::Sub"] == "${LogBucket.Arn}/" + \
        template.SITE_LOG_PREFIX + "*"
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"] == {
        "Fn::GetAtt": ["SiteBucket", "Arn"]}
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == {
        "Ref": "AWS::AccountId"}


def test_every_log_group_of_the_template_has_a_retention(found):
    _, document = found
    for name, resource in document["Resources"].items():
        if resource["Type"] == "AWS::Logs::LogGroup":
            assert resource["Properties"].get("RetentionInDays"), name


def test_the_retention_is_a_parameter_cloudwatch_and_s3_both_take():
    parameter = template.PARAMETERS["LogRetentionDays"]
    assert parameter["Default"] in parameter["AllowedValues"]
    # CloudWatch Logs takes only these retentions; S3 takes any positive number of days
    cloudwatch = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                  2192, 2557, 2922, 3288, 3653}
    assert set(parameter["AllowedValues"]) <= cloudwatch
