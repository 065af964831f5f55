"""HTTP: FHIR Encounters from systems that send FHIR (role system), and the
quarantine of unparseable HL7 messages (role ops only: they may hold personal
data; every read is audited)."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import JSONResponse
from fhir.resources.R4B.operationoutcome import OperationOutcome
from pydantic import ValidationError

from dsr_shared.platform.auth import Principal, Role, require_roles
from dsr_shared.platform.openapi import documented
from dsr_hospital_gateway.adapters.stores import Quarantine
from dsr_hospital_gateway.domain.messages import Refused
from dsr_hospital_gateway.service import TRY_AGAIN, Gateway

FHIR_JSON = "application/fhir+json"
Ops = Annotated[Principal, Depends(require_roles(Role.OPS))]
System = Annotated[Principal, Depends(require_roles(Role.SYSTEM))]
ENCOUNTER_BODY = {
    "requestBody": {
        "required": True,
        "description": "A FHIR R4 Encounter (UK Core): subject.identifier the NHS number "
        "(https://fhir.nhs.uk/Id/nhs-number), period, status, class, serviceProvider or a site location "
        "(ODS code), the ward location(s), serviceType (specialty or treatment function), and the UK Core "
        "legal status extension. See docs/HOSPITAL_FEEDS.md.",
        "content": {FHIR_JSON: {"schema": {"type": "object"}}, "application/json": {"schema": {"type": "object"}}},
    }
}
# What the answers hold: a FHIR R4 OperationOutcome, as much of it as the gateway writes.
OUTCOME_SCHEMA = {
    "type": "object",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"const": "OperationOutcome"},
        "issue": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["severity", "code"],
                "properties": {
                    "severity": {"enum": ["fatal", "error", "warning", "information"]},
                    "code": {"type": "string"},
                    "diagnostics": {"type": "string"},
                    "expression": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}


def _outcome_answer(description: str) -> dict[str, Any]:
    return {"description": description, "content": {FHIR_JSON: {"schema": OUTCOME_SCHEMA}}}


OUTCOME_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _outcome_answer("Taken: an OperationOutcome (information) says what was recorded"),
    400: _outcome_answer("Not JSON"),
    422: _outcome_answer("Not an R4 Encounter, or not one the register can read: an OperationOutcome with every issue"),
    503: _outcome_answer("The register cannot record it now; send it again"),
}


def outcome(status_code: int, *issues: dict[str, Any]) -> JSONResponse:
    body = OperationOutcome.model_validate({"resourceType": "OperationOutcome", "issue": list(issues)})
    return JSONResponse(json.loads(body.model_dump_json(exclude_none=True)), status_code, media_type=FHIR_JSON)


def fhir_router(gateway: Gateway) -> APIRouter:
    router = APIRouter(tags=["fhir"])
    audit = gateway.runtime.audit

    @router.post(
        "/fhir/Encounter", openapi_extra=ENCOUNTER_BODY, responses=OUTCOME_RESPONSES, response_class=JSONResponse
    )
    async def encounter(request: Request, principal: System) -> JSONResponse:
        """The same mapping and events as HL7 v2 ADT (docs/HOSPITAL_FEEDS.md)."""
        started = time.perf_counter()
        try:
            body = json.loads(await request.body())
        except ValueError:
            gateway.count_fhir("refused", started, reason="not_json")
            return outcome(400, {"severity": "error", "code": "structure", "diagnostics": "the body is not JSON"})
        resource_id = str(body.get("id", "")) if isinstance(body, dict) else ""
        subject = f"encounter:{resource_id[:64] or '-'}"
        try:
            taken = await gateway.fhir_encounter(body if isinstance(body, dict) else {})
        except ValidationError as exc:
            gateway.count_fhir("refused", started, reason="not_an_encounter")
            await audit.record(principal, "fhir.encounter", subject, "refused")
            return outcome(422, *(_issue(error) for error in exc.errors()))
        except (ValueError, TypeError) as exc:
            gateway.count_fhir("refused", started, reason="not_an_encounter")
            await audit.record(principal, "fhir.encounter", subject, "refused")
            return outcome(
                422,
                {
                    "severity": "error",
                    "code": "structure",
                    "diagnostics": f"not an R4 Encounter ({type(exc).__name__})",
                },
            )
        except Refused as refusal:
            failed = refusal is TRY_AGAIN
            gateway.count_fhir("failed" if failed else "refused", started, reason=refusal.code)
            await audit.record(principal, "fhir.encounter", subject, "failed" if failed else "refused")
            code = "transient" if failed else "required" if refusal.error == "101" else "invalid"
            issue = {"severity": "error", "code": code, "diagnostics": refusal.reason}
            if refusal.where and refusal.where.startswith("Encounter"):
                issue["expression"] = [refusal.where]
            return outcome(503 if failed else 422, issue)
        gateway.count_fhir(taken.outcome, started, events=list(taken.event_types))
        await audit.record(principal, "fhir.encounter", subject, taken.outcome)
        return outcome(200, {"severity": "information", "code": "informational", "diagnostics": taken.text})

    return router


def _issue(error: Any) -> dict[str, Any]:
    """A validation error as an issue: where and what, never the value sent."""
    where = ".".join(str(p) for p in error.get("loc", ()) if p != "__root__")
    return {
        "severity": "error",
        "code": "structure",
        "diagnostics": f"{where or 'Encounter'}: {error.get('msg')}",
        "expression": [f"Encounter.{where}" if where else "Encounter"],
    }


def quarantine_router(quarantine: Quarantine, gateway: Gateway) -> APIRouter:
    router = APIRouter(tags=["quarantine"])
    audit = gateway.runtime.audit

    def summary(doc: dict[str, Any]) -> dict[str, Any]:
        return {key: doc[key] for key in ("received_at", "expires_at", "reason", "peer", "size")} | {
            "quarantine_id": doc["_id"]
        }

    @router.get("/quarantine")
    async def listing(principal: Ops) -> dict:
        """Messages that could not be parsed, newest first: why, from where, how
        large; not their content. Kept for the retention period, then deleted."""
        await audit.record(principal, "quarantine.list", "*")
        return {"messages": [summary(doc) for doc in await quarantine.list()]}

    @router.get("/quarantine/{quarantine_id}", responses=documented(404))
    async def read(quarantine_id: str, principal: Ops) -> dict:
        """One message as received (it may hold personal data: this read is audited)."""
        doc = await quarantine.get(quarantine_id)
        await audit.record(principal, "quarantine.read", f"quarantine:{quarantine_id}", "ok" if doc else "missing")
        if doc is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such message")
        return summary(doc) | {"content": bytes(doc["raw"]).decode("latin-1")}

    @router.delete("/quarantine/{quarantine_id}", status_code=status.HTTP_204_NO_CONTENT, responses=documented(404))
    async def delete(quarantine_id: str, principal: Ops) -> None:
        """Dealt with: delete it before its retention ends."""
        deleted = await quarantine.delete(quarantine_id)
        await audit.record(
            principal, "quarantine.delete", f"quarantine:{quarantine_id}", "ok" if deleted else "missing"
        )
        if not deleted:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such message")

    return router
