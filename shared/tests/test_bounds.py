"""Bounds on every input. Every text and list of every event, and of every
HTTP request body, has a maximum; the largest event there can be, written in
the most expensive way (every character a JSON escape), still fits in one
Kafka message with its envelope and headers."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest

from dsr_shared.contract.events import EVENT_TYPES
from dsr_shared.platform.messaging import MESSAGE_HEADROOM
from dsr_shared.platform.settings import ServiceSettings

# The most bytes one character of a JSON string can take: "\u0001".
ESCAPED = 6
FIXED = {"date": 12, "date-time": 40, "uuid": 38, "email": 254 * ESCAPED + 2, "duration": 40}
# The envelope around `data`: ids, type, version, time, area, correlation.
ENVELOPE = 1024


class Unbounded(AssertionError):
    pass


def worst(schema: dict[str, Any], defs: dict[str, Any], where: str) -> int:
    """The most bytes a JSON value of `schema` can take; Unbounded names the first field with no maximum."""
    if "$ref" in schema:
        return worst(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, where)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return max(worst(option, defs, where) for option in schema[key])
    if "allOf" in schema:
        return max(worst(part, defs, where) for part in schema["allOf"])
    if "enum" in schema or "const" in schema:
        return max(len(json.dumps(v)) for v in schema.get("enum", [schema.get("const")]))
    kind = schema.get("type")
    if kind == "string":
        if "maxLength" in schema:
            return schema["maxLength"] * ESCAPED + 2
        if schema.get("format") in FIXED:
            return FIXED[schema["format"]]
        raise Unbounded(f"{where}: text with no maxLength")
    if kind == "array":
        if "maxItems" not in schema:
            raise Unbounded(f"{where}: list with no maxItems")
        return 2 + schema["maxItems"] * (worst(schema.get("items", {}), defs, f"{where}[]") + 1)
    if kind == "object" or "properties" in schema:
        if schema.get("additionalProperties") not in (None, False):
            raise Unbounded(f"{where}: open mapping")
        if not schema.get("properties") and schema.get("additionalProperties") is None and kind == "object":
            raise Unbounded(f"{where}: open mapping")
        return 2 + sum(
            len(json.dumps(name)) + 2 + worst(sub, defs, f"{where}.{name}")
            for name, sub in schema.get("properties", {}).items()
        )
    if kind in ("integer", "number"):
        return 32
    if kind == "boolean":
        return 5
    if kind == "null":
        return 4
    raise Unbounded(f"{where}: no type ({schema})")


def worst_of(schema: dict[str, Any], where: str) -> int:
    return worst(schema, schema.get("$defs", {}), where)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_the_largest_event_of_each_type_fits_in_one_kafka_message(event_type: str):
    limit = ServiceSettings().kafka_max_message_bytes
    largest = worst_of(EVENT_TYPES[event_type].model_json_schema(), event_type)
    print(f"{event_type}: at most {largest:,} bytes of data")
    assert largest + ENVELOPE + MESSAGE_HEADROOM <= limit


def test_the_check_finds_an_unbounded_text_and_list():
    from pydantic import BaseModel

    class Loose(BaseModel):
        note: str
        items: list[int] = []

    with pytest.raises(Unbounded, match="Loose.note"):
        worst_of(Loose.model_json_schema(), "Loose")


def request_bodies(service: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    spec = importlib.import_module(f"dsr_{service}.app").build_app().openapi()
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                found.append(
                    (f"{method.upper()} {path}", media["schema"], spec.get("components", {}).get("schemas", {}))
                )
    return found


# The hospital gateway's one body is a FHIR resource: open by FHIR's design, bounded
# by the request limit alone; what it becomes is an event, bounded above.
@pytest.mark.parametrize("service", ["referral", "rating", "scheduler", "notifier"])
def test_every_request_body_is_bounded_and_below_the_request_limit(service: str):
    limit = ServiceSettings().max_request_bytes
    for operation, schema, components in request_bodies(service):
        largest = worst(schema, components, operation)
        print(f"{service} {operation}: at most {largest:,} bytes")
        assert largest <= limit, operation
