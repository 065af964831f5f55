"""HTTP: POST /referrals, GET /referrals/{id} (CONTRACT.md), PUT /people/{id}/address."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from dsr_shared.access import Contacts, PersonAccess
from dsr_shared.auth import Principal, Role, require_roles
from dsr_shared.events import ReferralSubmitted
from dsr_shared.events.referrals import Address
from dsr_shared.openapi import documented
from dsr_referral.intake import Intake
from dsr_referral.people import People


def referral_contacts(doc: dict) -> Contacts:
    return Contacts.of([doc.get("submitted_by"), (doc.get("referrer") or {}).get("email")])


def referral_router(intake: Intake) -> APIRouter:
    router = APIRouter(tags=["referrals"])
    access = PersonAccess(intake.runtime.audit)

    @router.post(
        "/referrals",
        status_code=status.HTTP_202_ACCEPTED,
        responses=documented(422),
    )
    async def submit(
        referral: ReferralSubmitted,
        request: Request,
        principal: Annotated[Principal, Depends(require_roles(Role.REFERRER, Role.DSR_TEAM))],
        idempotency_key: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        submission_id = referral.submission_id or idempotency_key or str(uuid.uuid4())
        referral = referral.model_copy(update={"submission_id": submission_id})
        answer = await intake.submit(referral, principal.subject, request.state.correlation_id)
        body = {
            "referral_id": answer.referral_id,
            "outcome": answer.outcome,
            "register_id": answer.register_id,
            "reasons": [r.model_dump() for r in answer.reasons],
        }
        await intake.runtime.audit.record(principal, f"referral.submit.{answer.outcome}", answer.register_id or answer.referral_id)
        code = status.HTTP_422_UNPROCESSABLE_ENTITY if answer.outcome == "rejected" else status.HTTP_202_ACCEPTED
        return JSONResponse(body, status_code=code)

    @router.get("/referrals/{referral_id}", responses=documented(404))
    async def read(
        referral_id: str,
        principal: Annotated[Principal, Depends(require_roles(Role.REFERRER, Role.DSR_TEAM))],
    ) -> dict:
        """The DSR team, or whoever referred: the submitting user or the referrer
        named on it. Anyone else gets the 404 of a missing id."""
        doc = await intake.store.by_id(referral_id)
        await access.require(principal, "referral.read", referral_id, referral_contacts(doc) if doc else None)
        await intake.runtime.audit.record(principal, "referral.read", doc.get("register_id") or referral_id)
        doc["referral_id"] = doc.pop("_id")
        return doc

    return router


class AddressChanged(BaseModel):
    register_id: str
    # R-ELIG-3: whether the new postcode district is in the area's geography. False
    # does not remove anyone; the person may still be tied to the area otherwise.
    in_area: bool


def people_router(people: People) -> APIRouter:
    router = APIRouter(tags=["people"])
    access = PersonAccess(people.runtime.audit)

    @router.put("/people/{register_id}/address", responses=documented(404))
    async def change_address(
        register_id: str,
        address: Address,
        principal: Annotated[Principal, Depends(require_roles(Role.REFERRER, Role.DSR_TEAM))],
    ) -> AddressChanged:
        """The person's current address. Kept only in this service: no event
        carries it. The DSR team, or a referrer who referred the person or is
        named on them as a professional; anyone else gets the 404 of a missing id."""
        action = "person.address.change"
        await access.require(principal, action, register_id, await people.contacts(register_id))
        changed = await people.change_address(register_id, address, principal.subject)
        if changed is None:  # gone between the check and the change
            await access.require(principal, action, register_id, None)
        await people.runtime.audit.record(principal, action, register_id)
        return AddressChanged(register_id=changed.register_id, in_area=changed.in_area)

    return router
