"""SPEC 15: the identity provider's client secret is one more key of the secrets parameter,
given by the operator (PWPORTAL_IDP_CLIENT_SECRET at deploy time) and added by `make deploy`
without changing any other key; never printed."""
from __future__ import annotations

import json

from infra import deploy, template
from tests.infra.test_deploy import STAGE, aws, client, credentials, read_secrets  # noqa: F401

GIVEN = "the-providers-client-secret-0123456789"


def existing(ssm) -> dict:
    values = {"pepper": "p" * 43, "code_key": "c" * 43, "limit_key": "l" * 43,
              "authenticator_key": "a" * 43, "origin_key": "o" * 43}
    ssm.put_parameter(Name=template.secrets_parameter(STAGE), Type="SecureString",
                      Value=json.dumps(values))
    return values


def test_a_deployed_stage_gets_the_given_client_secret_and_nothing_else_changes(aws, capsys):
    ssm = client("ssm")
    before = existing(ssm)
    name = template.secrets_parameter(STAGE)

    origin = deploy.ensure_secrets(ssm, name, deploy.given_secrets(
        {"PWPORTAL_IDP_CLIENT_SECRET": f" {GIVEN} "}))

    values, parameter = read_secrets(ssm, name)
    assert origin == before["origin_key"]
    assert values.pop("idp_client_secret") == GIVEN
    assert values == before and parameter["Type"] == "SecureString"
    printed = capsys.readouterr().out
    assert "added idp_client_secret" in printed and GIVEN not in printed


def test_without_a_given_secret_a_deploy_leaves_the_one_there_alone(aws):
    ssm = client("ssm")
    name = template.secrets_parameter(STAGE)
    before = {**existing(ssm)}
    deploy.ensure_secrets(ssm, name, {"idp_client_secret": GIVEN})
    version = read_secrets(ssm, name)[1]["Version"]

    deploy.ensure_secrets(ssm, name, deploy.given_secrets({}))

    values, parameter = read_secrets(ssm, name)
    assert values == {**before, "idp_client_secret": GIVEN}
    assert parameter["Version"] == version  # not even rewritten


def test_a_new_stage_given_a_client_secret_has_every_key(aws):
    ssm = client("ssm")
    name = template.secrets_parameter(STAGE)
    deploy.ensure_secrets(ssm, name, {"idp_client_secret": GIVEN})
    values, _ = read_secrets(ssm, name)
    assert set(values) == {*deploy.SECRET_KEYS, "idp_client_secret"}
    assert values["idp_client_secret"] == GIVEN
