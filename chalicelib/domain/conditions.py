"""Conditions on a stored record, as data: what a record's rule ("alive", "not locked",
"unchanged since read") says, stated once.

The domain asks them of a record in Python (`holds`); the DynamoDB store turns the same
condition into a ConditionExpression, so the rule that DynamoDB enforces atomically is the
rule the code reads, never a second copy. A missing item is judged as an empty one, as
DynamoDB does: `Missing` holds, every comparison fails.
"""
from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union


@dataclass(frozen=True)
class Present:
    attribute: str


@dataclass(frozen=True)
class Missing:
    attribute: str


@dataclass(frozen=True)
class Compare:
    attribute: str
    op: str  # one of OPERATORS
    value: Any


@dataclass(frozen=True)
class All:
    parts: tuple["Condition", ...]


@dataclass(frozen=True)
class Any_:
    parts: tuple["Condition", ...]


Condition = Union[Present, Missing, Compare, All, Any_]

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def eq(attribute: str, value: Any) -> Compare:
    return Compare(attribute, "=", value)


def lt(attribute: str, value: Any) -> Compare:
    return Compare(attribute, "<", value)


def le(attribute: str, value: Any) -> Compare:
    return Compare(attribute, "<=", value)


def gt(attribute: str, value: Any) -> Compare:
    return Compare(attribute, ">", value)


def all_of(*parts: Condition) -> All:
    return All(tuple(parts))


def any_of(*parts: Condition) -> Any_:
    return Any_(tuple(parts))


def holds(condition: Condition | None, item: dict[str, Any] | None) -> bool:
    """Whether `condition` holds for `item` (None: no such item)."""
    item = item or {}
    if condition is None:
        return True
    if isinstance(condition, Present):
        return condition.attribute in item
    if isinstance(condition, Missing):
        return condition.attribute not in item
    if isinstance(condition, Compare):
        if condition.attribute not in item:
            return False
        try:
            return OPERATORS[condition.op](item[condition.attribute], condition.value)
        except TypeError:  # DynamoDB: comparing different types is false, not an error
            return False
    if isinstance(condition, All):
        return all(holds(part, item) for part in condition.parts)
    return any(holds(part, item) for part in condition.parts)
