"""HTTP: POST /referrals, GET /referrals/{id} (docs/CONTRACT.md), PUT /people/{id}/address."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from dsr_shared.access import Contacts, PersonAccess
from dsr_shared.auth import Principal, Role, require_roles
from dsr_shared.events import ReferralSubmitted
from dsr_shared.events.referrals import Address, RejectionReason
from dsr_shared.openapi import documented
from dsr_referral.access import Submitter
from dsr_referral.intake import Intake
from dsr_referral.people import People


class ReferralAnswer(BaseModel):
    referral_id: str
    outcome: Literal["accepted", "sent_to_dsr_team", "record_completed", "already_on_register"] = Field(
        description="accepted: on the register; sent_to_dsr_team: the person was on the register already, the "
        "referral is kept with their record and the DSR team alerted; record_completed: the DSR team's referral "
        "completed a record made automatically on discharge; already_on_register: a resubmission answered as "
        "before further referrals were kept"
    )
    register_id: str | None = Field(
        description="Only to the DSR team and to a referrer whose referral put the person on the register"
    )
    reasons: list[RejectionReason] = Field(description="Empty")


class ReferralRefused(BaseModel):
    referral_id: str | None = Field(
        default=None, description="The rejected referral's record; absent when the body did not match the schema (nothing kept)"
    )
    outcome: Literal["rejected"]
    reasons: list[RejectionReason]


def referral_contacts(doc: dict) -> Contacts:
    return Contacts.of([doc.get("submitted_by"), (doc.get("referrer") or {}).get("email")])


def referral_router(intake: Intake) -> APIRouter:
    router = APIRouter(tags=["referrals"])
    access = PersonAccess(intake.runtime.audit)

    @router.post(
        "/referrals",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=ReferralAnswer,
        responses={422: {"model": ReferralRefused, "description": "Not accepted: every reason, each with a code"}},
    )
    async def submit(
        referral: ReferralSubmitted,
        request: Request,
        principal: Annotated[Principal, Depends(require_roles(Role.REFERRER, Role.DSR_TEAM))],
        idempotency_key: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        """Idempotent per submitter: `submission_id` (or the Idempotency-Key header) is the key."""
        submission_id = referral.submission_id or idempotency_key or str(uuid.uuid4())
        referral = referral.model_copy(update={"submission_id": submission_id})
        answer = await intake.submit(referral, Submitter.of(principal), request.state.correlation_id)
        await intake.runtime.audit.record(principal, f"referral.submit.{answer.outcome}", answer.register_id or answer.referral_id)
        if answer.outcome == "rejected":
            refused = ReferralRefused(referral_id=answer.referral_id, outcome="rejected", reasons=answer.reasons)
            return JSONResponse(refused.model_dump(mode="json"), status_code=status.HTTP_422_UNPROCESSABLE_ENTITY)
        body = ReferralAnswer(
            referral_id=answer.referral_id, outcome=answer.outcome, register_id=answer.shown_register_id, reasons=answer.reasons
        )
        return JSONResponse(body.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)

    @router.get("/referrals/{referral_id}", responses=documented(404))
    async def read(
        referral_id: str,
        principal: Annotated[Principal, Depends(require_roles(Role.REFERRER, Role.DSR_TEAM))],
    ) -> dict:
        """The DSR team, or whoever referred: the submitting user or the referrer
        named on it; anyone else gets the 404 of a missing id. The register id
        only to whoever may see the person's record (dsr_referral.access)."""
        doc = await intake.store.by_id(referral_id)
        await access.require(principal, "referral.read", referral_id, referral_contacts(doc) if doc else None)
        assert doc is not None  # access.require: a missing referral is 404
        shown, register_id = await intake.referral_as_seen_by(doc, Submitter.of(principal))
        await intake.runtime.audit.record(principal, "referral.read", register_id or referral_id)
        return shown

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
