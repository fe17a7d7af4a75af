"""Creates the tables and queues of infra/resources.json on an AWS endpoint (moto locally).

The same JSON is merged into the CloudFormation template, so the local stack, the tests and
a deployed stage run on identical keys, indexes, TTL attributes and redrive settings.
"""
from __future__ import annotations

import json
from pathlib import Path

DEFINITIONS = Path(__file__).with_name("resources.json")


def definitions() -> dict:
    return json.loads(DEFINITIONS.read_text(encoding="utf-8"))


def table_names(settings) -> dict[str, str]:
    """Logical id → the table name this stage's settings give it."""
    return {logical: getattr(settings, spec["setting"])
            for logical, spec in definitions()["Tables"].items()}


def queue_name(settings, logical: str) -> str:
    spec = definitions()["Queues"][logical]
    return getattr(settings, spec["setting"]) + spec.get("suffix", "")


def create_tables(dynamodb, settings) -> list[str]:
    """Create every table (skipping ones that exist) and switch on TTL where defined."""
    existing = set(dynamodb.list_tables()["TableNames"])
    created = []
    for spec in definitions()["Tables"].values():
        name = getattr(settings, spec["setting"])
        if name in existing:
            continue
        props = spec["Properties"]
        kwargs = {
            "TableName": name,
            "BillingMode": props["BillingMode"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
        }
        if "GlobalSecondaryIndexes" in props:
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        dynamodb.create_table(**kwargs)
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        created.append(name)
    return created


def create_queues(sqs, settings) -> dict[str, str]:
    """Create the dead-letter queue first, then the queues that redrive into it.

    Returns logical id → queue URL.
    """
    specs = definitions()["Queues"]
    urls: dict[str, str] = {}
    ordered = sorted(specs, key=lambda logical: "dead_letter" in specs[logical])
    for logical in ordered:
        spec = specs[logical]
        attributes = {}
        for key, value in spec["Properties"].items():
            if key == "RedrivePolicy":
                dead_url = urls[spec["dead_letter"]]
                dead_arn = sqs.get_queue_attributes(
                    QueueUrl=dead_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
                value = {**value, "deadLetterTargetArn": dead_arn}
            attributes[key] = _attribute(value)
        urls[logical] = sqs.create_queue(QueueName=queue_name(settings, logical),
                                         Attributes=attributes)["QueueUrl"]
    return urls


def _attribute(value) -> str:
    """SQS attributes are strings: JSON for policies, lower-case for booleans."""
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
