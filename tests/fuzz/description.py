"""infra/openapi.yaml read as the tests need it: each operation with its request schema and
its declared answers, every `$ref` resolved, and a check of one answer against them."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DESCRIPTION = ROOT / "infra" / "openapi.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
LOCAL_ONLY = {("/dev/sms", "GET")}  # the local stage's view of sent SMS, never deployed


@dataclass(frozen=True)
class Answer:
    schema: dict | None  # None: no body
    headers: dict  # name -> schema, of the headers that must be there


@dataclass(frozen=True)
class Operation:
    id: str
    method: str
    path: str
    request_schema: dict | None
    content_types: tuple[str, ...]
    bearer: bool
    answers: dict[int, Answer] = field(hash=False)


@lru_cache(maxsize=1)
def raw() -> dict:
    return yaml.safe_load(DESCRIPTION.read_text(encoding="utf-8"))


def _resolve(node, root):
    if isinstance(node, dict):
        if "$ref" in node:
            target = root
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return _resolve(target, root)
        return {key: _resolve(value, root) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(item, root) for item in node]
    return node


@lru_cache(maxsize=1)
def operations() -> tuple[Operation, ...]:
    spec = raw()
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            operation = _resolve(operation, spec)
            content = (operation.get("requestBody") or {}).get("content", {})
            json_schema = (content.get("application/json") or {}).get("schema")
            answers = {}
            for status, answer in operation["responses"].items():
                body = (answer.get("content") or {}).get("application/json")
                answers[int(status)] = Answer(
                    schema=body["schema"] if body else None,
                    headers={name: header["schema"]
                             for name, header in (answer.get("headers") or {}).items()
                             if header.get("required")})
            found.append(Operation(
                id=operation["operationId"], method=method.upper(), path=path,
                request_schema=json_schema if content else None,
                content_types=tuple(content), answers=answers,
                bearer=any("session" in requirement
                           for requirement in operation.get("security", []))))
    return tuple(found)


def problems(operation: Operation, status: int, headers: dict, body: bytes) -> list[str]:
    """Everything about one answer that the description does not allow."""
    from openapi_schema_validator import OAS30Validator

    found = []
    if status >= 500:
        found.append(f"a server error, {status}")
    answer = operation.answers.get(status)
    if answer is None:
        return found + [f"status {status} is not described for {operation.id}"]
    lower = {name.lower(): value for name, value in headers.items()}
    for name, schema in answer.headers.items():
        value = lower.get(name.lower())
        if value is None:
            found.append(f"no {name} header")
            continue
        found += [f"{name}: {error.message}"
                  for error in OAS30Validator(schema).iter_errors(value)]
    if answer.schema is None:
        if body:
            found.append(f"a body where none is described: {body[:200]!r}")
        return found
    if not lower.get("content-type", "").startswith("application/json"):
        found.append(f"Content-Type {lower.get('content-type')!r}, not application/json")
    try:
        document = json.loads(body)
    except ValueError:
        return found + [f"a body that is no JSON: {body[:200]!r}"]
    found += [f"body at {'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
              for error in OAS30Validator(answer.schema).iter_errors(document)]
    return found
