"""The API as a deployed stage runs it (the `prod` stage of .chalice/config.json, secrets in
SSM, behind CloudFront): requests that go around CloudFront are refused, the client is the
address CloudFront saw, `/dev/sms` is absent, no CORS, and no stack trace ever leaves."""
from __future__ import annotations

import json
import os

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib import bootstrap
from chalicelib.settings import load_settings
from infra import resources, template
from infra.stages import stage_environment
from tests.conftest import REGION, ROOT

ORIGIN_KEY = "k" * 40
VIEWER = "203.0.113.77"


@pytest.fixture
def deployed(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name in [n for n in os.environ if n.startswith("PWPORTAL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        for name, value in stage_environment("prod").items():
            monkeypatch.setenv(name, value)
        settings = load_settings()
        assert settings.stage == "prod" and settings.secrets_parameter
        resources.create_tables(boto3.client("dynamodb", region_name=REGION), settings)
        resources.create_queues(boto3.client("sqs", region_name=REGION), settings)
        ssm = boto3.client("ssm", region_name=REGION)
        bootstrap.reset()
        with Client(__import__("app").app, stage_name="prod", project_dir=str(ROOT)) as client:
            yield client, ssm, settings
        bootstrap.reset()


def store_secrets(ssm, settings, **values):
    secrets = {"pepper": "p" * 32, "code_key": "c" * 32, "limit_key": "l" * 32,
               "authenticator_key": "a" * 32, "origin_key": ORIGIN_KEY, **values}
    ssm.put_parameter(Name=settings.secrets_parameter, Type="SecureString",
                      Value=json.dumps({k: v for k, v in secrets.items() if v is not None}))


def through_cloudfront(**extra) -> dict:
    return {template.ORIGIN_HEADER: ORIGIN_KEY, template.CLIENT_ADDRESS_HEADER: VIEWER + ":51234",
            **extra}


def test_a_request_that_went_around_cloudfront_is_refused_in_the_callers_language(deployed):
    client, ssm, settings = deployed
    store_secrets(ssm, settings)
    for headers in ({}, {template.ORIGIN_HEADER: "not-the-key", "Accept-Language": "en"}):
        response = client.http.get("/api/config", headers=headers)
        assert response.status_code == 403
        error = json.loads(response.body)["error"]
        assert error["code"] == "forbidden"
    assert "portal's own address" in error["message"]
    refused = client.http.post("/api/reset/start", headers={"Content-Type": "application/json"},
                               body=json.dumps({"username": "hemtjanstab", "phone": "0701234567"}).encode())
    assert refused.status_code == 403
    sqs = boto3.client("sqs", region_name=REGION)
    queued = sqs.receive_message(QueueUrl=sqs.get_queue_url(QueueName=settings.sms_queue)[
        "QueueUrl"]).get("Messages")
    assert not queued  # the refused reset start sent nothing


def test_a_request_through_cloudfront_is_answered(deployed):
    client, ssm, settings = deployed
    store_secrets(ssm, settings)
    response = client.http.get("/api/config", headers=through_cloudfront())
    assert response.status_code == 200
    assert "vardochstod@orebro.se" in json.loads(response.body)["support"]["text"]


def test_secrets_without_an_origin_key_refuse_every_request(deployed):
    client, ssm, settings = deployed
    store_secrets(ssm, settings, origin_key=None)
    response = client.http.get("/api/config", headers={template.ORIGIN_HEADER: ""})
    assert response.status_code == 403


def test_unreadable_secrets_give_service_unavailable_not_a_trace(deployed):
    client, _, _ = deployed  # no parameter stored
    response = client.http.get("/api/config", headers=through_cloudfront())
    assert response.status_code == 503
    body = response.body.decode()
    assert json.loads(body)["error"]["code"] == "service_unavailable"
    assert "Traceback" not in body and "ParameterNotFound" not in body


def test_the_client_is_the_address_cloudfront_saw_not_a_forwarded_for_header(deployed):
    client, ssm, settings = deployed
    store_secrets(ssm, settings)
    response = client.http.post("/api/reset/start", headers=through_cloudfront(**{
        "Content-Type": "application/json", "X-Forwarded-For": "10.9.9.9"}),
        body=json.dumps({"username": "nobody", "phone": "0701234567"}).encode())
    assert response.status_code == 202
    trail = bootstrap.portal().audit.events("nobody", limit=10)
    # the trail keeps the client's network, not its address
    assert trail and {event["ip"] for event in trail} == {"203.0.113.0/24"}


def test_dev_sms_is_absent_on_a_deployed_stage(deployed):
    client, ssm, settings = deployed
    store_secrets(ssm, settings)
    response = client.http.get("/dev/sms", headers=through_cloudfront())
    assert response.status_code == 404
    assert json.loads(response.body)["error"]["code"] == "not_found"


def test_no_cors_headers_are_sent_to_another_origin(deployed):
    client, ssm, settings = deployed
    store_secrets(ssm, settings)
    response = client.http.get("/api/config", headers=through_cloudfront(
        Origin="https://evil.example"))
    assert response.status_code == 200
    assert not any(name.lower().startswith("access-control-") for name in response.headers)
    # API Gateway has no OPTIONS method to answer a preflight with (the swagger has none:
    # tests/infra/test_template.py), so a browser on another origin is never let in.


def test_an_unexpected_failure_answers_500_without_a_stack_trace(deployed, monkeypatch):
    client, ssm, settings = deployed
    store_secrets(ssm, settings)

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals /var/task/chalicelib/services/reset.py")

    monkeypatch.setattr(type(bootstrap.portal().reset), "start", broken)
    response = client.http.post("/api/reset/start", headers=through_cloudfront(**{
        "Content-Type": "application/json"}), body=json.dumps({"username": "x", "phone": "0701234567"}).encode())
    assert response.status_code == 500
    body = response.body.decode()
    assert json.loads(body)["error"]["code"] == "internal_error"
    assert "Traceback" not in body and "secret internals" not in body and ".py" not in body


@pytest.mark.parametrize("header, address", [
    ("203.0.113.77:51234", "203.0.113.77"),
    ("2001:db8::7:443", "2001:db8::7"),
    ("[2001:db8::7]:443", "2001:db8::7"),
    ("203.0.113.77", "203.0.113.77"),
])
def test_cloudfronts_viewer_address_loses_its_port(header, address):
    from chalicelib.api.http import address_without_port
    assert address_without_port(header) == address
