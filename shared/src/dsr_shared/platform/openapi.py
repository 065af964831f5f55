"""What every service's OpenAPI document says about answers that are not the
endpoint's own: the refusals (401, 403, 404, 409) with their one body, and
422 with every reason as the services send it (http.py), not FastAPI's
default shape (an endpoint whose 422 has a media type of its own, FHIR's,
keeps it). Endpoints name the statuses particular to them with
`documented(...)`; `complete_document` adds 400 and 413 to every operation with a
body, 401 and 403 to every operation that needs a token, and 404 to every
operation with a path parameter."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import models_json_schema


class Problem(BaseModel):
    """A refusal: why, in a sentence."""

    detail: str


class Reason(BaseModel):
    code: str
    message: str
    field: str | None = None


class Rejected(BaseModel):
    """Not accepted: every reason, each with a machine-readable code."""

    model_config = ConfigDict(extra="allow")

    outcome: str
    reasons: list[Reason]


DESCRIPTIONS = {
    400: "The request could not be read",
    401: "No bearer token, or one that is not valid",
    403: "The token's roles do not admit this endpoint",
    404: "Not found, or not yours to see: the two look alike",
    409: "In conflict with the record as it is now: read it again",
    413: "The request body is over the service's limit (DSR_MAX_REQUEST_BYTES)",
    422: "Not accepted: every reason, each with a code",
}


def documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses` of an endpoint: its own statuses, with the shared bodies."""
    return {code: {"model": Rejected if code == 422 else Problem, "description": DESCRIPTIONS[code]} for code in codes}


def complete_document(app: FastAPI) -> None:
    """Replace the app's OpenAPI builder with one that declares the shared answers."""

    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes, description=app.description)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        _, shared = models_json_schema(
            [(m, "validation") for m in (Problem, Reason, Rejected)], ref_template="#/components/schemas/{model}"
        )
        components.update(shared["$defs"])
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                _complete(operation, secured=bool(operation.get("security")), has_path_params="{" in path)
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]


def _answer(code: int) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{'Rejected' if code == 422 else 'Problem'}"}
    # 413 (http.BodyLimit): refused on Content-Length with the reasons, or while reading with a sentence.
    schema = {"anyOf": [{"$ref": "#/components/schemas/Rejected"}, ref]} if code == 413 else ref
    return {"description": DESCRIPTIONS[code], "content": {"application/json": {"schema": schema}}}


def _complete(operation: dict[str, Any], *, secured: bool, has_path_params: bool) -> None:
    responses = operation.setdefault("responses", {})
    # An endpoint that answers 422 in a format of its own (FHIR's OperationOutcome) keeps it.
    if "422" in responses and set(responses["422"].get("content", {})) <= {"application/json"}:
        responses["422"] = {**_answer(422), "description": responses["422"].get("description") or DESCRIPTIONS[422]}
        if responses["422"]["description"] == "Validation Error":
            responses["422"]["description"] = DESCRIPTIONS[422]
    # 400: a body that cannot be read at all (not JSON, not UTF-8), before any check; 413: one too large.
    wanted = (
        ([400, 413] if "requestBody" in operation else [])
        + ([401, 403] if secured else [])
        + ([404] if has_path_params else [])
    )
    for code in wanted:
        responses.setdefault(str(code), _answer(code))
