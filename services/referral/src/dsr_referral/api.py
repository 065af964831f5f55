"""HTTP: POST /referrals, GET /referrals/{id} (docs/CONTRACT.md), PUT /people/{id}/address."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from dsr_shared.auth import Principal, Role, require_roles
from dsr_shared.events import ReferralSubmitted
from dsr_shared.events.referrals import Address
from dsr_referral.intake import Intake
from dsr_referral.people import People


def referral_router(intake: Intake) -> APIRouter:
    router = APIRouter(tags=["referrals"])

    @router.post(
        "/referrals",
        status_code=status.HTTP_202_ACCEPTED,
        responses={422: {"description": "Not accepted: every reason, each with a code"}},
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

    @router.get("/referrals/{referral_id}")
    async def read(
        referral_id: str,
        principal: Annotated[Principal, Depends(require_roles(Role.REFERRER, Role.DSR_TEAM))],
    ) -> dict:
        doc = await intake.store.by_id(referral_id)
        # A referrer sees only their own referrals; not found and not theirs look alike.
        if doc is None or not (principal.has(Role.DSR_TEAM) or doc["submitted_by"] == principal.subject):
            await intake.runtime.audit.record(principal, "referral.read", referral_id, outcome="denied_or_missing")
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such referral")
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

    @router.put("/people/{register_id}/address", responses={404: {"description": "No such person, or not yours"}})
    async def change_address(
        register_id: str,
        address: Address,
        principal: Annotated[Principal, Depends(require_roles(Role.REFERRER, Role.DSR_TEAM))],
    ) -> AddressChanged:
        """The person's current address. Kept only in this service: no event carries it."""
        audit = people.runtime.audit
        # A referrer changes only the people they referred; not found and not theirs look alike.
        allowed = await people.may_change(register_id, principal.subject, dsr_team=principal.has(Role.DSR_TEAM))
        changed = await people.change_address(register_id, address, principal.subject) if allowed else None
        if changed is None:
            await audit.record(principal, "person.address.change", register_id, outcome="denied_or_missing")
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such person")
        await audit.record(principal, "person.address.change", register_id)
        return AddressChanged(register_id=changed.register_id, in_area=changed.in_area)

    return router
