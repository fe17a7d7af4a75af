"""Deploys a stage of pwportal to an AWS account, and takes it down again.

    make deploy STAGE=prod HOST=losenord.kommun.se CERTIFICATE_ARN=arn:aws:acm:us-east-1:...
    python -m infra.deploy deploy --stage prod --host H --certificate-arn A \\
        [--region eu-north-1] [--alarm-email E] [--sms-monthly-limit-usd 50] \\
        [--sms-price-usd 0.12] \\
        [--waf-requests-per-5-minutes 300 | --no-waf] [--log-retention-days 90] \\
        [--api-rate-limit 50 --api-burst-limit 100] \\
        [--idp-issuer https://login.microsoftonline.com/<tenant>/v2.0] [--idp-redirect-base U]
    python -m infra.deploy teardown --stage prod [--region eu-north-1] [--yes]

`deploy`, in order (running it again is safe: every step creates or updates):

1. the stage's secrets (pepper, code key, origin key): one SSM SecureString, created once;
   a value that exists is never changed (a new pepper would break every password history);
2. `infra.template.package`: the SAM template and the Lambda package, in build/<stage>/;
3. a private artifacts bucket with the package and the template (CloudFormation takes a
   template this size only from S3), the functions' CodeUri pointing at the package there;
4. the WAF rate rule (unless --no-waf), its own stack in us-east-1 (where CloudFront's web
   ACLs are);
5. API Gateway's role for writing to CloudWatch Logs, an account setting that its access log
   needs: an existing one is kept, else `pwportal-apigateway-logs` is made and set;
6. the stack `pwportal-<stage>`, through a change set;
7. static_site/, built for the stage (infra/site_build.py: each page's Swedish text and the
   stage's organisation and support in its HTML), into the stack's site bucket, and a
   CloudFront invalidation;
8. SNS's SMS settings (Transactional, the sender ID, the monthly spend limit) and an AWS End
   User Messaging SMS protect configuration, the account default, that lets SMS go only to
   the allowed countries;
9. what to do next: the DNS record, the dashboard, the SMS spend limit and sandbox.

`teardown` empties the site bucket, deletes the stack (and the WAF stack) and says what it
kept on purpose: the tables (they hold the accounts and the audit trail), the access logs
(the log bucket and API Gateway's log group, which expire what they hold), the secrets,
the artifacts bucket and API Gateway's logging role.

Every step is a function that takes the boto3 clients it uses; `main` makes them.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets as secrets_module
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from infra import template
from infra.resources import definitions
from infra.site import content_type
from infra.site_build import build_site
from infra.stages import stage_environment, stage_settings

ROOT = template.ROOT
SITE_ROOT = ROOT / "static_site"
WAF_REGION = "us-east-1"  # CloudFront's web ACLs live there
SECRET_KEYS = ("pepper", "code_key", "limit_key", "authenticator_key", "origin_key")
# Keys the operator gives rather than `make deploy` makes: the identity provider's client
# secret (SPEC 15), read from this environment variable at deploy time (never an argument,
# which `ps` and the shell's history would show).
GIVEN_SECRETS = {"idp_client_secret": "PWPORTAL_IDP_CLIENT_SECRET"}
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
NO_CHANGES = ("The submitted information didn't contain changes",
              "No updates are to be performed")
# A site built to call an API somewhere else must not be uploaded: the pages call /api on
# their own origin.
FOREIGN_API_MARKERS = ("execute-api", "http://localhost")
# botocore's model: CountryRuleSetUpdates holds at most 300 countries per call.
COUNTRY_RULES_PER_CALL = 300
S3_DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys
CHANGE_SET_WAIT = {"Delay": 5, "MaxAttempts": 120}      # up to 10 minutes
STACK_WAIT = {"Delay": 15, "MaxAttempts": 240}          # up to an hour (CloudFront is slow)
BUSY = ("_IN_PROGRESS",)  # but REVIEW_IN_PROGRESS: a first change set never executed
DEAD = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED", "CREATE_FAILED")
# The WAF rate rule is deployed unless --no-waf (issue 12): the template's default.
WAF_REQUESTS_PER_5_MINUTES = 300
LOG_RETENTION_DAYS = template.PARAMETERS["LogRetentionDays"]["Default"]
LOG_RETENTION_CHOICES = template.PARAMETERS["LogRetentionDays"]["AllowedValues"]
# What one SMS costs (USD): the dashboard's "SMS cost saved by the app" (infra/monitoring.py).
SMS_PRICE_USD = template.PARAMETERS["SmsPriceUsd"]["Default"]


class DeployError(RuntimeError):
    """A step failed; the message says which, and why."""


def say(message: str) -> None:
    print(message, flush=True)


# -- names -------------------------------------------------------------------------------------

def stack_name(stage: str) -> str:
    return f"{template.APP}-{stage}"


def waf_stack_name(stage: str) -> str:
    return f"{template.APP}-{stage}-waf"


def artifacts_bucket_name(stage: str, account_id: str, region: str) -> str:
    return f"{template.APP}-{stage}-artifacts-{account_id}-{region}"


def build_dir(stage: str) -> Path:
    return ROOT / "build" / stage


def sms_spend_alarm_usd(monthly_limit_usd: float) -> int:
    """The alarm goes at 80 % of the month's SMS limit, and at least at 1 USD."""
    return max(1, int(monthly_limit_usd * 0.8))


def allowed_countries(stage: str) -> set[str]:
    return set(stage_settings(stage).allowed_countries)


# -- 1. secrets --------------------------------------------------------------------------------

def _new_secret() -> str:
    return secrets_module.token_urlsafe(32)


def given_secrets(environ=None) -> dict[str, str]:
    """The operator's secrets (GIVEN_SECRETS) this deploy was given in its environment."""
    environ = os.environ if environ is None else environ
    return {key: environ[variable].strip() for key, variable in GIVEN_SECRETS.items()
            if (environ.get(variable) or "").strip()}


def ensure_secrets(ssm, name: str, given: dict[str, str] | None = None) -> str:
    """The SecureString `name` holds JSON with a pepper, a code key and an origin key. Creates
    it if it is missing, adds only the keys that are missing, never changes a value that is
    there; `given` (the operator's, GIVEN_SECRETS) are set as given, the others untouched.
    Returns the origin key (for the template's OriginKey parameter)."""
    try:
        raw = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "ParameterNotFound":
            raise
        _create_secrets(ssm, name)
        return ensure_secrets(ssm, name, given)
    values = _complete_secrets(ssm, name, _stored_secrets(name, raw), given or {})
    return values["origin_key"]


def _create_secrets(ssm, name: str) -> str:
    """Creates the parameter with every key; returns its origin key."""
    values = {key: _new_secret() for key in SECRET_KEYS}
    try:
        ssm.put_parameter(Name=name, Type="SecureString", Value=json.dumps(values),
                          Overwrite=False,
                          Description="pwportal secrets: pepper, code_key, limit_key, "
                                      "authenticator_key, origin_key. "
                                      "Never change an existing value.")
    except ClientError as race:
        if race.response["Error"]["Code"] != "ParameterAlreadyExists":
            raise
        return ensure_secrets(ssm, name)  # someone else made it meanwhile: keep theirs
    say(f"secrets: created {name}")
    return values["origin_key"]


def _stored_secrets(name: str, raw: str) -> dict:
    try:
        values = json.loads(raw)
    except ValueError:
        values = None
    if not isinstance(values, dict):
        raise DeployError(f"the parameter {name} is not a JSON object; fix it by hand (it "
                          "must keep the pepper it has), then deploy again")
    return values


def _complete_secrets(ssm, name: str, values: dict, given: dict[str, str]) -> dict:
    """Adds the keys `values` lacks (and only those) to the parameter, and sets the operator's
    `given` ones that differ; the values after."""
    missing = [key for key in SECRET_KEYS if not values.get(key)]
    changed = [key for key, value in given.items() if values.get(key) != value]
    if not missing and not changed:
        say(f"secrets: {name} is complete, unchanged")
        return values
    merged = {**values, **{key: _new_secret() for key in missing},
              **{key: given[key] for key in changed}}
    ssm.put_parameter(Name=name, Type="SecureString", Value=json.dumps(merged),
                      Overwrite=True)
    if missing:
        say(f"secrets: added {', '.join(missing)} to {name}")
    for key in changed:
        say(f"secrets: {'set' if values.get(key) else 'added'} {key} in {name} (as given)")
    return merged


# -- 3. artifacts ------------------------------------------------------------------------------

def ensure_artifacts_bucket(s3, name: str, region: str) -> str:
    """A private, encrypted bucket for the Lambda package and the template."""
    try:
        s3.head_bucket(Bucket=name)
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
            raise
        arguments = {"Bucket": name}
        if region != "us-east-1":
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**arguments)
        say(f"artifacts: created bucket {name}")
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True,
        "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    return name


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _exists(s3, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def _bucket_region(s3) -> str:
    return s3.meta.region_name


def upload_artifacts(s3, bucket: str, build: Path, stage: str | None = None) -> str:
    """Uploads build/<stage>/deployment.zip (its key is its SHA-256, so a package that did
    not change is not uploaded again and an old stack's code stays where it was), points
    every AWS::Serverless::Function's CodeUri at it, uploads that template and returns its
    URL (CloudFormation takes a template over 51,200 bytes only from S3). The keys are under
    `<stage>/`; the stage is the build folder's name (build/<stage>) unless given."""
    build = Path(build)
    stage = stage or _stage_of(build)
    package = build / "deployment.zip"
    if not package.is_file():
        raise DeployError(f"no Lambda package at {package}; run the packaging step first")
    code_key = f"{stage}/{_file_sha256(package)}.zip"
    if _exists(s3, bucket, code_key):
        say(f"artifacts: s3://{bucket}/{code_key} is there already")
    else:
        with package.open("rb") as body:
            s3.put_object(Bucket=bucket, Key=code_key, Body=body,
                          ContentType="application/zip")
        say(f"artifacts: uploaded s3://{bucket}/{code_key}")
    document = json.loads((build / "sam.json").read_text(encoding="utf-8"))
    functions = [resource for resource in document.get("Resources", {}).values()
                 if resource.get("Type") == "AWS::Serverless::Function"]
    if not functions:
        raise DeployError(f"{build / 'sam.json'} has no AWS::Serverless::Function")
    for function in functions:
        function.setdefault("Properties", {})["CodeUri"] = f"s3://{bucket}/{code_key}"
    body = json.dumps(document, indent=1).encode("utf-8")
    template_key = f"{stage}/template-{_sha256(body)}.json"
    s3.put_object(Bucket=bucket, Key=template_key, Body=body,
                  ContentType="application/json")
    region = _bucket_region(s3)
    return f"https://{bucket}.s3.{region}.amazonaws.com/{template_key}"


def _stage_of(build: Path) -> str:
    """build/<stage>: the folder's name is the stage."""
    return build.resolve().name


# -- 5. API Gateway's logging role -------------------------------------------------------------

API_GATEWAY_LOG_ROLE = f"{template.APP}-apigateway-logs"
ROLE_PROPAGATION_TRIES, ROLE_PROPAGATION_WAIT = 10, 3  # seconds
API_GATEWAY_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}


def api_gateway_log_policy(account: str) -> dict:
    """What API Gateway may do with the role: write the access logs of pwportal's stages
    (their log groups are made by the stacks, so it creates none), in any region of this
    account, and nothing else."""
    groups = f"arn:aws:logs:*:{account}:log-group:/aws/apigateway/{template.APP}-*"
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "AccessLogs", "Effect": "Allow",
         "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
         "Resource": [groups, groups + ":log-stream:*"]},
        {"Sid": "FindGroups", "Effect": "Allow", "Action": ["logs:DescribeLogGroups"],
         "Resource": f"arn:aws:logs:*:{account}:log-group:*"}]}


def ensure_api_gateway_log_role(iam, apigateway, account: str, sleep=time.sleep) -> str:
    """API Gateway writes a stage's access log with the role of the account's (and
    region's) API Gateway settings. A role already set there is kept (another application
    of the account may rely on it); else pwportal's is made (or found) and set. Returns the
    role's ARN."""
    current = apigateway.get_account().get("cloudwatchRoleArn")
    if current:
        say(f"apigateway: keeping the account's CloudWatch role {current}")
        return current
    try:
        arn = iam.get_role(RoleName=API_GATEWAY_LOG_ROLE)["Role"]["Arn"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchEntity":
            raise
        arn = iam.create_role(
            RoleName=API_GATEWAY_LOG_ROLE,
            AssumeRolePolicyDocument=json.dumps(API_GATEWAY_TRUST),
            Description="API Gateway writes pwportal's access logs")["Role"]["Arn"]
        say(f"apigateway: created the role {API_GATEWAY_LOG_ROLE}")
    iam.put_role_policy(RoleName=API_GATEWAY_LOG_ROLE, PolicyName="access-logs",
                        PolicyDocument=json.dumps(api_gateway_log_policy(account)))
    # A new role takes some seconds to be usable everywhere; until then API Gateway refuses
    # it (BadRequestException) and is asked again.
    for attempt in range(ROLE_PROPAGATION_TRIES):
        try:
            apigateway.update_account(patchOperations=[
                {"op": "replace", "path": "/cloudwatchRoleArn", "value": arn}])
            break
        except ClientError as error:
            if (error.response["Error"]["Code"] != "BadRequestException"
                    or attempt == ROLE_PROPAGATION_TRIES - 1):
                raise
            sleep(ROLE_PROPAGATION_WAIT)
    say(f"apigateway: the account's CloudWatch role is now {arn}")
    return arn


# -- 6. stacks ---------------------------------------------------------------------------------

def _describe(cfn, name: str) -> dict | None:
    try:
        return cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as error:
        if "does not exist" in error.response["Error"].get("Message", ""):
            return None
        raise


def _outputs(stack: dict | None) -> dict[str, str]:
    return {output["OutputKey"]: output["OutputValue"]
            for output in (stack or {}).get("Outputs", []) or []}


def stack_outputs(cfn, name: str) -> dict[str, str] | None:
    """The stack's outputs, or None if there is no such stack."""
    stack = _describe(cfn, name)
    return None if stack is None else _outputs(stack)


def _failure_reasons(cfn, name: str, since: datetime) -> str:
    """The stack's status and reason, and the first resources that failed since `since`."""
    stack = _describe(cfn, name) or {}
    parts = [stack.get("StackStatus", "GONE")]
    if stack.get("StackStatusReason"):
        parts.append(stack["StackStatusReason"])
    try:
        events = cfn.describe_stack_events(StackName=name).get("StackEvents", [])
    except ClientError:
        events = []
    failed = [event for event in reversed(events)  # oldest first: the cause comes first
              if event.get("ResourceStatus", "").endswith("_FAILED")
              and event.get("ResourceStatusReason")
              and event.get("Timestamp", since) >= since]
    for event in failed[:3]:
        parts.append(f"{event.get('LogicalResourceId')} ({event.get('ResourceType')}): "
                     f"{event['ResourceStatusReason']}")
    return "; ".join(parts)


def _refuse_unfit(name: str, stack: dict | None) -> None:
    """Raises DeployError if the stack cannot take a change set now: it is busy (but a
    REVIEW_IN_PROGRESS stack, whose first change set was never executed, can), or it is in a
    state CloudFormation cannot update."""
    status = (stack or {}).get("StackStatus", "")
    if status.endswith(BUSY) and status != "REVIEW_IN_PROGRESS":
        raise DeployError(f"stack {name} is busy ({status}); wait until it is done, then "
                          "deploy again")
    if status in DEAD:
        raise DeployError(f"stack {name} is {status} and cannot be updated "
                          f"({stack.get('StackStatusReason', 'see its events')}); delete it "
                          f"(python -m infra.deploy teardown, or aws cloudformation "
                          f"delete-stack --stack-name {name}), then deploy again")


def _change_set_name() -> str:
    return "pwportal-" + datetime.now(UTC).strftime("%Y%m%d%H%M%S") + \
        "-" + uuid.uuid4().hex[:8]


def _template_source(template_url_or_body: str) -> dict[str, str]:
    """create_change_set's argument for the template: an https:// URL of a template in S3,
    or the template itself."""
    if template_url_or_body.startswith("https://"):
        return {"TemplateURL": template_url_or_body}
    return {"TemplateBody": template_url_or_body}


def _says_no_changes(message: str) -> bool:
    return any(marker in message for marker in NO_CHANGES)


def _create_change_set(cfn, name: str, change_set: str, creating: bool,
                       template_url_or_body: str, parameters: dict[str, object]) -> bool:
    """Asks for the change set; False if CloudFormation refuses it at once because it would
    change nothing (moto does; AWS accepts it and fails it later, see _change_set_ready)."""
    try:
        cfn.create_change_set(
            StackName=name, ChangeSetName=change_set,
            ChangeSetType="CREATE" if creating else "UPDATE",
            Parameters=[{"ParameterKey": key, "ParameterValue": str(value)}
                        for key, value in parameters.items()],
            Capabilities=CAPABILITIES, **_template_source(template_url_or_body))
    except ClientError as error:
        if _says_no_changes(error.response["Error"].get("Message", "")):
            return False
        raise DeployError(f"stack {name}: the change set was refused: "
                          f"{error.response['Error'].get('Message', error)}") from error
    return True


def _change_set_ready(cfn, name: str, change_set: str) -> bool:
    """Waits until the change set can be executed; False if it failed because it would
    change nothing (it is deleted then, so no change set is left pending)."""
    try:
        cfn.get_waiter("change_set_create_complete").wait(
            StackName=name, ChangeSetName=change_set, WaiterConfig=CHANGE_SET_WAIT)
    except WaiterError as error:
        described = error.last_response or {}
        reason = described.get("StatusReason", "") or str(error)
        if _says_no_changes(reason):
            cfn.delete_change_set(StackName=name, ChangeSetName=change_set)
            return False
        raise DeployError(f"stack {name}: the change set {change_set} failed: "
                          f"{reason}") from error
    return True


def _execute_change_set(cfn, name: str, change_set: str, creating: bool) -> None:
    """Executes the change set and waits for the stack; a failure names the resources that
    failed."""
    started = datetime.now(UTC) - timedelta(seconds=60)  # clock skew
    cfn.execute_change_set(StackName=name, ChangeSetName=change_set)
    say(f"stack {name}: waiting (a new CloudFront distribution takes 5 to 15 minutes)")
    waiter = "stack_create_complete" if creating else "stack_update_complete"
    try:
        cfn.get_waiter(waiter).wait(StackName=name, WaiterConfig=STACK_WAIT)
    except WaiterError as error:
        raise DeployError(f"stack {name} failed: "
                          f"{_failure_reasons(cfn, name, started)}") from error


def deploy_stack(cfn, name: str, template_url_or_body: str,
                 parameters: dict[str, object]) -> dict[str, str]:
    """Creates or updates the stack `name` through a change set and returns its outputs.
    `template_url_or_body` is an https:// URL of a template in S3, or the template itself.
    A deploy that changes nothing returns the current outputs."""
    stack = _describe(cfn, name)
    _refuse_unfit(name, stack)
    creating = stack is None or stack.get("StackStatus", "") == "REVIEW_IN_PROGRESS"
    change_set = _change_set_name()
    say(f"stack {name}: {'creating' if creating else 'updating'} (change set {change_set})")
    changes = (_create_change_set(cfn, name, change_set, creating, template_url_or_body,
                                  parameters)
               and _change_set_ready(cfn, name, change_set))
    if not changes:
        say(f"stack {name}: no changes")
        return stack_outputs(cfn, name) or {}
    _execute_change_set(cfn, name, change_set, creating)
    say(f"stack {name}: {'created' if creating else 'updated'}")
    return stack_outputs(cfn, name) or {}


def delete_stack(cfn, name: str) -> bool:
    """Deletes the stack and waits; False if there was none."""
    if _describe(cfn, name) is None:
        return False
    started = datetime.now(UTC) - timedelta(seconds=60)
    cfn.delete_stack(StackName=name)
    say(f"stack {name}: deleting")
    try:
        cfn.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=STACK_WAIT)
    except WaiterError as error:
        raise DeployError(f"stack {name} could not be deleted: "
                          f"{_failure_reasons(cfn, name, started)}") from error
    say(f"stack {name}: deleted")
    return True


# -- 7. the site -------------------------------------------------------------------------------

def _site_files(site_root: Path) -> dict[str, Path]:
    """key → file, for every file under site_root that is not hidden (nor in a hidden
    folder)."""
    found = {}
    for path in sorted(site_root.rglob("*")):
        relative = path.relative_to(site_root)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        found[relative.as_posix()] = path
    return found


def check_site(site_root: Path) -> None:
    """Refuses a site whose scripts name an API somewhere else (an execute-api address or
    localhost): the pages call /api on their own origin."""
    for key, path in _site_files(Path(site_root)).items():
        if path.suffix.lower() not in (".js", ".mjs"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for marker in FOREIGN_API_MARKERS:
            if marker in text:
                raise DeployError(f"static_site/{key} contains {marker!r}: the site must call "
                                  "/api on its own origin (CloudFront sends /api/* to the "
                                  "API); not uploading it")


def _cache_control(path: Path) -> str:
    return "no-cache" if path.suffix.lower() == ".html" else "max-age=300"


def upload_site(s3, bucket: str, site_root: Path = SITE_ROOT) -> dict:
    """Uploads every file of static_site/ (hidden ones skipped) with its content type and
    cache header (`no-cache` for pages, five minutes for the rest) and deletes what the
    bucket holds that the site no longer has.

    The pages call `/api/...` on their own origin, and CloudFront sends `/api/*` to API
    Gateway, so no API address is written into the site; `check_site` makes sure none is
    there (a site built for another API is refused before anything is uploaded)."""
    site_root = Path(site_root)
    check_site(site_root)
    files = _site_files(site_root)
    if "index.html" not in files:
        raise DeployError(f"{site_root} has no index.html; is it the site?")
    for key, path in files.items():
        with path.open("rb") as body:
            s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type(path),
                          CacheControl=_cache_control(path))
    stale = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        stale.extend(item["Key"] for item in page.get("Contents", [])
                     if item["Key"] not in files)
    for start in range(0, len(stale), S3_DELETE_BATCH):
        batch = stale[start:start + S3_DELETE_BATCH]
        answer = s3.delete_objects(Bucket=bucket, Delete={
            "Objects": [{"Key": key} for key in batch], "Quiet": True})
        if answer.get("Errors"):
            raise DeployError(f"could not delete {answer['Errors'][0].get('Key')} from "
                              f"{bucket}: {answer['Errors'][0].get('Message')}")
    say(f"site: uploaded {len(files)} files to {bucket}, deleted {len(stale)} stale")
    return {"uploaded": sorted(files), "deleted": sorted(stale)}


# -- 7. CloudFront -----------------------------------------------------------------------------

def invalidate(cloudfront, distribution_id: str) -> str:
    """Asks CloudFront to drop everything it cached; returns the invalidation's id."""
    answer = cloudfront.create_invalidation(DistributionId=distribution_id,
                                            InvalidationBatch={
                                                "Paths": {"Quantity": 1, "Items": ["/*"]},
                                                "CallerReference": f"pwportal-{uuid.uuid4()}"})
    identifier = answer["Invalidation"]["Id"]
    say(f"cloudfront: invalidation {identifier} of {distribution_id}")
    return identifier


# -- 8. SMS ------------------------------------------------------------------------------------

def configure_sms(sns, sender_id: str, monthly_limit_usd: float) -> dict[str, str]:
    """SNS's account SMS settings: Transactional (delivery before price), the sender ID, and
    the monthly spend limit. An account whose own limit is lower (new accounts: 1 USD)
    refuses the spend limit; then the rest is set, the account's limit stays, and a warning
    says what to ask AWS for. Returns what was set."""
    attributes = {"DefaultSMSType": "Transactional", "DefaultSenderID": sender_id,
                  "MonthlySpendLimit": str(int(monthly_limit_usd))}
    try:
        sns.set_sms_attributes(attributes=attributes)
    except ClientError as error:
        message = error.response["Error"].get("Message", "")
        if "MonthlySpendLimit" not in message and "spend" not in message.lower():
            raise
        attributes.pop("MonthlySpendLimit")
        sns.set_sms_attributes(attributes=attributes)
        say(f"WARNING: SNS refused a monthly SMS spend limit of {int(monthly_limit_usd)} USD "
            f"({message}); the account's current limit stays. Ask AWS Support for an SMS "
            "spend limit increase, then deploy again.")
    say("sms: " + ", ".join(f"{key}={value}" for key, value in attributes.items()))
    return attributes


def _find_protect_configuration(sms_voice, stage: str) -> str | None:
    paginator = sms_voice.get_paginator("describe_protect_configurations")
    for page in paginator.paginate():
        for configuration in page.get("ProtectConfigurations", []):
            tags = sms_voice.list_tags_for_resource(
                ResourceArn=configuration["ProtectConfigurationArn"]).get("Tags", [])
            if {"Key": template.APP, "Value": stage} in [
                    {"Key": tag.get("Key"), "Value": tag.get("Value")} for tag in tags]:
                return configuration["ProtectConfigurationId"]
    return None


def protect_countries(sms_voice, allowed: set[str], stage: str) -> str:
    """Lets the account's SMS go only to the allowed countries: a protect configuration of
    AWS End User Messaging SMS (found by its tag pwportal=<stage>, or created), every country
    AWS knows blocked but the allowed ones, made the account's default so that SNS's SMS go
    through it. Returns the configuration's id."""
    allowed = {country.strip().upper() for country in allowed if country.strip()}
    if not allowed:
        raise DeployError("no country is allowed to get SMS")
    identifier = _find_protect_configuration(sms_voice, stage)
    if identifier is None:
        identifier = sms_voice.create_protect_configuration(Tags=[
            {"Key": "Name", "Value": f"{template.APP}-{stage}"},
            {"Key": template.APP, "Value": stage}])["ProtectConfigurationId"]
        say(f"sms: created protect configuration {identifier}")
    known = set(sms_voice.get_protect_configuration_country_rule_set(
        ProtectConfigurationId=identifier, NumberCapability="SMS")["CountryRuleSet"])
    unknown = allowed - known
    if unknown:
        raise DeployError(f"AWS End User Messaging SMS does not know the country "
                          f"{', '.join(sorted(unknown))} (PWPORTAL_PHONE_ALLOWED_COUNTRIES)")
    rules = {country: {"ProtectStatus": "ALLOW" if country in allowed else "BLOCK"}
             for country in sorted(known)}
    countries = list(rules)
    for start in range(0, len(countries), COUNTRY_RULES_PER_CALL):
        chunk = countries[start:start + COUNTRY_RULES_PER_CALL]
        sms_voice.update_protect_configuration_country_rule_set(
            ProtectConfigurationId=identifier, NumberCapability="SMS",
            CountryRuleSetUpdates={country: rules[country] for country in chunk})
    sms_voice.set_account_default_protect_configuration(ProtectConfigurationId=identifier)
    say(f"sms: only {', '.join(sorted(allowed))} allowed, {len(known) - len(allowed)} "
        f"countries blocked ({identifier}, the account default)")
    return identifier


# -- teardown ----------------------------------------------------------------------------------

def empty_bucket(s3, bucket: str) -> int:
    """Deletes every version and delete marker of every object (the site bucket is
    versioned, and CloudFormation deletes only an empty bucket). Returns how many."""
    deleted = 0
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        entries = [{"Key": item["Key"], "VersionId": item["VersionId"]}
                   for item in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        for start in range(0, len(entries), S3_DELETE_BATCH):
            batch = entries[start:start + S3_DELETE_BATCH]
            answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch,
                                                              "Quiet": True})
            if answer.get("Errors"):
                raise DeployError(f"could not empty {bucket}: "
                                  f"{answer['Errors'][0].get('Message')}")
            deleted += len(batch)
    return deleted


# -- the commands ------------------------------------------------------------------------------

def _check_arguments(args) -> None:
    for key, value in (("PortalHost", args.host), ("CertificateArn", args.certificate_arn)):
        pattern = template.PARAMETERS[key]["AllowedPattern"]
        if not re.fullmatch(pattern, value):
            raise DeployError(f"{value!r} is not a valid {key}: "
                              f"{template.PARAMETERS[key]['Description']}")
    identity_provider(args)


def deploy(args) -> dict[str, str]:
    import boto3

    _check_arguments(args)
    stage, region = args.stage, args.region
    check_site(SITE_ROOT)  # before anything is made
    session = boto3.session.Session(region_name=region)
    account = session.client("sts").get_caller_identity()["Account"]
    say(f"deploying pwportal {stage} to account {account} in {region}")

    origin_key = ensure_secrets(session.client("ssm"), template.secrets_parameter(stage),
                                given_secrets())

    build = build_dir(stage)
    say(f"package: chalice package into {build}")
    template.package(stage, build, region)

    s3 = session.client("s3")
    bucket = ensure_artifacts_bucket(s3, artifacts_bucket_name(stage, account, region), region)
    template_url = upload_artifacts(s3, bucket, build)

    web_acl = ""
    waf_cfn = session.client("cloudformation", region_name=WAF_REGION)
    if not args.no_waf:
        waf = deploy_stack(waf_cfn, waf_stack_name(stage),
                           (build / "waf.json").read_text(encoding="utf-8"),
                           {"RequestsPerFiveMinutes": args.waf_requests_per_5_minutes})
        web_acl = waf["WebAclArn"]
    else:
        existing = stack_outputs(waf_cfn, waf_stack_name(stage))
        if existing and existing.get("WebAclArn"):
            web_acl = existing["WebAclArn"]
            say(f"waf: --no-waf, but the web ACL of {waf_stack_name(stage)} ({WAF_REGION}) "
                "stays; delete that stack to go without it")
        else:
            say("WARNING: no WAF rate rule (--no-waf): only API Gateway's stage throttling "
                "and the API's own limits stand before the API")

    ensure_api_gateway_log_role(session.client("iam"), session.client("apigateway"), account)

    outputs = deploy_stack(session.client("cloudformation"), stack_name(stage), template_url, {
        "PortalHost": args.host,
        "CertificateArn": args.certificate_arn,
        "OriginKey": origin_key,
        "AlarmEmail": args.alarm_email or "",
        "SmsSpendAlarmUsd": sms_spend_alarm_usd(args.sms_monthly_limit_usd),
        "SmsPriceUsd": args.sms_price_usd,
        "ApiRateLimit": args.api_rate_limit,
        "ApiBurstLimit": args.api_burst_limit,
        "WebAclArn": web_acl,
        "LogRetentionDays": args.log_retention_days,
        **directory_network(args),
        **identity_provider(args),
    })

    # The pages with their Swedish text and this stage's organisation and support written in.
    upload_site(s3, outputs["SiteBucketName"], build_site(stage_settings(stage), build / "site"))
    invalidate(session.client("cloudfront"), outputs["DistributionId"])
    configure_sms(session.client("sns"),
                  stage_settings(stage).sms_sender_id,
                  args.sms_monthly_limit_usd)
    protect_countries(session.client("pinpoint-sms-voice-v2"), allowed_countries(stage), stage)

    say("")
    say(f"pwportal {stage} is deployed: https://{args.host}/")
    say(f"  point {args.host} at {outputs.get('DistributionDomainName')} (CNAME/alias)")
    say(f"  dashboard: {outputs.get('DashboardName')} (CloudWatch, {region})")
    say(f"  access logs ({args.log_retention_days} days): log group "
        f"{outputs.get('ApiAccessLogGroup')}, bucket {outputs.get('LogBucketName')} "
        f"(cloudfront/, s3/site/); docs/operations.md says how to read them")
    if args.alarm_email:
        say(f"  confirm the subscription e-mail sent to {args.alarm_email} to get the alarms")
    provider = identity_provider(args)
    if provider["IdpIssuer"]:
        base = provider["IdpRedirectBase"] or f"https://{args.host}"
        say(f"  support console: /support/, signing in at {provider['IdpIssuer']}; the "
            f"provider must have the redirect URI {base}/api/support/callback")
    say(f"  SMS: a MonthlySpendLimit over 1 USD (asked for: {int(args.sms_monthly_limit_usd)}) "
        "needs an AWS support request, and a new account starts in the SMS sandbox (only "
        "verified numbers get SMS) until AWS moves it to production: ask for both in the "
        "AWS console (End User Messaging SMS)")
    return outputs


def _confirm(stage: str) -> bool:
    try:
        answer = input(f"This deletes the stack {stack_name(stage)} (the site, the API, the "
                       f"functions). Type the stage name ({stage}) to go on: ")
    except EOFError:
        return False
    return answer.strip() == stage


def teardown(args) -> None:
    import boto3

    stage, region = args.stage, args.region
    if not args.yes and not _confirm(stage):
        raise DeployError("teardown not confirmed; nothing was changed")
    session = boto3.session.Session(region_name=region)
    account = session.client("sts").get_caller_identity()["Account"]
    cfn = session.client("cloudformation")
    outputs = stack_outputs(cfn, stack_name(stage))
    if outputs is None:
        say(f"stack {stack_name(stage)}: there is none")
    else:
        site_bucket = outputs.get("SiteBucketName")
        if site_bucket:
            count = empty_bucket(session.client("s3"), site_bucket)
            say(f"site: deleted {count} object versions from {site_bucket}")
        delete_stack(cfn, stack_name(stage))
    if not delete_stack(session.client("cloudformation", region_name=WAF_REGION),
                        waf_stack_name(stage)):
        say(f"stack {waf_stack_name(stage)} ({WAF_REGION}): there is none")

    tables = [template.table_name(stage, logical) for logical in definitions()["Tables"]]
    parameter = template.secrets_parameter(stage)
    artifacts = artifacts_bucket_name(stage, account, region)
    say("")
    say("Kept on purpose (delete them yourself only when the data may go):")
    say("  the tables (accounts, audit trail; DeletionPolicy Retain):")
    for table in tables:
        say(f"    aws dynamodb delete-table --region {region} --table-name {table}")
    say("  the secrets (a new pepper would make every stored password history useless):")
    say(f"    aws ssm delete-parameter --region {region} --name {parameter}")
    say(f"  the access logs (they expire by themselves): the bucket {stack_name(stage)}-"
        f"logbucket-* and the log group {template.api_access_log_group(stage)}")
    say("  the artifacts bucket (the Lambda packages and templates):")
    say(f"    aws s3 rb --region {region} s3://{artifacts} --force")
    say(f"  API Gateway's logging role {API_GATEWAY_LOG_ROLE} (an account setting)")
    say("  the account's SMS settings and the protect configuration tagged "
        f"pwportal={stage} (the account default in {region})")


def _at_least(minimum: int):
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}")
        return value
    return parse


def _price(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < 100:  # (nan too) a price per SMS, in USD, not per month
        raise argparse.ArgumentTypeError("must be a price in USD from 0, e.g. 0.12")
    return value


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy",
                                     description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("deploy", help="deploy (or update) a stage")
    up.add_argument("--stage", choices=template.STAGES, required=True)
    up.add_argument("--host", required=True, help="the portal's host name")
    up.add_argument("--certificate-arn", required=True,
                    help="ACM certificate for the host, in us-east-1")
    up.add_argument("--region", default=template.DEFAULT_REGION)
    up.add_argument("--alarm-email", default="")
    up.add_argument("--sms-monthly-limit-usd", type=_at_least(1), default=50)
    up.add_argument("--sms-price-usd", type=_price, default=SMS_PRICE_USD,
                    help="what one SMS costs (USD), for the dashboard's SMS cost saved by the "
                         "authenticator app (default %(default)s)")
    waf = up.add_mutually_exclusive_group()
    waf.add_argument("--waf-requests-per-5-minutes", type=_at_least(10),
                     default=WAF_REQUESTS_PER_5_MINUTES,
                     help="the WAF rate rule's limit per address (us-east-1; default "
                          f"{WAF_REQUESTS_PER_5_MINUTES})")
    waf.add_argument("--no-waf", action="store_true",
                     help="deploy no WAF rate rule (not recommended)")
    up.add_argument("--log-retention-days", type=int, default=LOG_RETENTION_DAYS,
                    choices=LOG_RETENTION_CHOICES,
                    help="days the access logs are kept (default %(default)s)")
    up.add_argument("--api-rate-limit", type=_at_least(1), default=50)
    up.add_argument("--api-burst-limit", type=_at_least(1), default=100)
    # ldap mode (SPEC 13): the subnets and security group of the functions that ask the
    # directory; empty: no VPC (docs/deploying.md, "A password directory").
    up.add_argument("--directory-vpc-id", default="")
    up.add_argument("--directory-subnet-ids", default="", help="comma-separated")
    up.add_argument("--directory-security-group-id", default="")
    up.add_argument("--directory-route-table-ids", default="", help="comma-separated")
    up.add_argument("--directory-vpc-endpoints", choices=("create", "existing"),
                    default="create")
    # The organisation's identity provider (SPEC 14, 15; docs/deploying.md). Not given: the
    # stage's PWPORTAL_IDP_ISSUER / PWPORTAL_IDP_REDIRECT_BASE in .chalice/config.json, if
    # any; "" turns the console off.
    up.add_argument("--idp-issuer", default=None,
                    help="the OpenID Connect provider's issuer URL (https://…); empty: the "
                         "support console is off")
    up.add_argument("--idp-redirect-base", default=None,
                    help="the portal's origin as the browser sees it, if not https://HOST")
    down = commands.add_parser("teardown", help="delete a stage's stacks (not its data)")
    down.add_argument("--stage", choices=template.STAGES, required=True)
    down.add_argument("--region", default=template.DEFAULT_REGION)
    down.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    return parser


def directory_network(args) -> dict[str, str]:
    """The template's Directory* parameters from the deploy's options (SPEC 13)."""
    vpc = getattr(args, "directory_vpc_id", "") or ""
    if vpc and not (args.directory_subnet_ids and args.directory_security_group_id):
        raise DeployError("--directory-vpc-id needs --directory-subnet-ids and "
                          "--directory-security-group-id")
    if vpc and args.directory_vpc_endpoints == "create" and not args.directory_route_table_ids:
        raise DeployError("the DynamoDB endpoint needs --directory-route-table-ids (or say "
                          "--directory-vpc-endpoints existing)")
    return {"DirectoryVpcId": vpc,
            "DirectorySubnetIds": getattr(args, "directory_subnet_ids", "") or "",
            "DirectorySecurityGroupId": getattr(args, "directory_security_group_id", "") or "",
            "DirectoryRouteTableIds": getattr(args, "directory_route_table_ids", "") or "",
            "DirectoryVpcEndpoints": getattr(args, "directory_vpc_endpoints", "create")}


IDP_SETTINGS = {"IdpIssuer": ("idp_issuer", "PWPORTAL_IDP_ISSUER"),
                "IdpRedirectBase": ("idp_redirect_base", "PWPORTAL_IDP_REDIRECT_BASE")}


def identity_provider(args) -> dict[str, str]:
    """The template's Idp* parameters (SPEC 14, 15): as given, else as the stage's
    .chalice/config.json sets them (the template's value reaches the API function over
    chalice's), checked against the template's patterns before anything is made."""
    environment = stage_environment(args.stage)
    found = {}
    for parameter, (option, variable) in IDP_SETTINGS.items():
        given = getattr(args, option, None)
        value = (environment.get(variable, "") if given is None else given).strip()
        if parameter == "IdpRedirectBase":
            value = value.rstrip("/")  # an origin; the settings drop the slash too
        pattern = template.PARAMETERS[parameter]["AllowedPattern"]
        if not re.fullmatch(pattern, value):
            flag = "--" + option.replace("_", "-")
            raise DeployError(f"{value!r} is not a valid {parameter} ({flag} or {variable}): "
                              f"{template.PARAMETERS[parameter]['Description']}")
        found[parameter] = value
    return found


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "deploy":
            deploy(args)
        else:
            teardown(args)
    except DeployError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as error:
        print(f"error: AWS refused or could not be reached: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
