"""HTTP: POST /referrals, GET /referrals/{id} (docs/CONTRACT.md), PUT
/people/{id}/address, and who a person is (GET /people/{id}, POST
/searches/people). Each request becomes a call on the use cases (service/);
who may act on which person is checked here (dsr_shared.platform.access) and every
read or change of a person is audited."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from dsr_shared.contract.events import ReferralSubmitted
from dsr_shared.contract.events.referrals import Address, RejectionReason
from dsr_shared.platform.access import PersonAccess, not_found
from dsr_shared.platform.audit import AuditLog
from dsr_shared.platform.auth import Principal, Role, require_roles
from dsr_shared.platform.openapi import documented
from dsr_referral.service import Intake, People, Submitter


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
        default=None,
        description="The rejected referral's record; absent when the body did not match the schema (nothing kept)",
    )
    outcome: Literal["rejected"]
    reasons: list[RejectionReason]


def referral_router(intake: Intake, audit: AuditLog) -> APIRouter:
    router = APIRouter(tags=["referrals"])
    access = PersonAccess(audit)

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
        await audit.record(principal, f"referral.submit.{answer.outcome}", answer.register_id or answer.referral_id)
        if answer.outcome == "rejected":
            refused = ReferralRefused(referral_id=answer.referral_id, outcome="rejected", reasons=answer.reasons)
            return JSONResponse(refused.model_dump(mode="json"), status_code=status.HTTP_422_UNPROCESSABLE_ENTITY)
        body = ReferralAnswer(
            referral_id=answer.referral_id,
            outcome=answer.outcome,
            register_id=answer.shown_register_id,
            reasons=answer.reasons,
        )
        return JSONResponse(body.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)

    @router.get("/referrals/{referral_id}", responses=documented(404))
    async def read(
        referral_id: str,
        principal: Annotated[Principal, Depends(require_roles(Role.REFERRER, Role.DSR_TEAM))],
    ) -> dict:
        """The DSR team, or whoever referred: the submitting user or the referrer
        named on it; anyone else gets the 404 of a missing id. The register id
        only to the DSR team and to a referrer whose referral put the person on the
        register."""
        doc = await intake.referral(referral_id)
        await access.require(principal, "referral.read", referral_id, intake.contacts_of(doc) if doc else None)
        assert doc is not None  # access.require: a missing referral is 404
        shown, register_id = await intake.referral_as_seen_by(doc, Submitter.of(principal))
        await audit.record(principal, "referral.read", register_id or referral_id)
        return shown

    return router


class AddressChanged(BaseModel):
    register_id: str
    # R-ELIG-3: whether the new postcode district is in the area's geography. False
    # does not remove anyone; the person may still be tied to the area otherwise.
    in_area: bool


def people_router(people: People, audit: AuditLog) -> APIRouter:
    router = APIRouter(tags=["people"])
    access = PersonAccess(audit)

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
        if changed is None:  # gone between the check and the change: the 404 of a missing id
            await access.require(principal, action, register_id, None)
            raise AssertionError("access.require refuses a missing person")
        await audit.record(principal, action, register_id)
        return AddressChanged(register_id=changed.register_id, in_area=changed.in_area)

    return router


class PersonSearch(BaseModel):
    """One of: the NHS number, or the last name (exact, any case)."""

    model_config = ConfigDict(extra="forbid")

    nhs_number: str | None = Field(default=None, max_length=10, pattern=r"^\d{10}$")
    family_name: str | None = Field(default=None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _one(self) -> "PersonSearch":
        if (self.nhs_number is None) == (self.family_name is None):
            raise ValueError("give either nhs_number or family_name")
        return self


def demographics_router(people: People, audit: AuditLog) -> APIRouter:
    """Who a person is (name, date of birth, NHS number, address), for the DSR
    team and for whoever referred them or is named on their record as a
    professional; and search by NHS number or last name for the DSR team. Only
    this service holds these details; every read and search is audited. A
    search is a POST: an NHS number or a name never goes in a URL."""
    router = APIRouter(tags=["people"])
    access = PersonAccess(audit)

    @router.get("/people/{register_id}", responses={404: {"description": "No such person, or not yours"}})
    async def read(
        register_id: str,
        principal: Annotated[Principal, Depends(require_roles(Role.REFERRER, Role.DSR_TEAM))],
    ) -> dict:
        await access.require(principal, "person.read", register_id, await people.contacts(register_id))
        found = await people.details(register_id)
        if found is None:  # removed between the two reads
            await audit.record(principal, "person.read", register_id, "missing")
            raise not_found()
        await audit.record(principal, "person.read", register_id)
        return found

    # Not under /people/: /people/search would also be a register id's path.
    @router.post("/searches/people")
    async def search(
        query: PersonSearch,
        principal: Annotated[Principal, Depends(require_roles(Role.DSR_TEAM))],
    ) -> dict:
        ids, found = await people.search(nhs_number=query.nhs_number, family_name=query.family_name)
        for register_id in ids or ["*"]:
            await audit.record(principal, "people.search", register_id)
        return {"people": found}

    return router
