"""HTTP: who a person is (name, date of birth, NHS number, address), for the
DSR team and for the referrer whose referral put them on the register; and
search by NHS number or last name for the DSR team. Only this service holds
these details; every read and search is audited. A search is a POST: an NHS
number or a name never goes in a URL."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from dsr_shared.auth import Principal, Role, require_roles
from dsr_referral.adapters.referrals import PeopleDirectory
from dsr_referral.people import People


class PersonSearch(BaseModel):
    """One of: the NHS number, or the last name (exact, any case)."""

    model_config = ConfigDict(extra="forbid")

    nhs_number: str | None = Field(default=None, pattern=r"^\d{10}$")
    family_name: str | None = Field(default=None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _one(self) -> "PersonSearch":
        if (self.nhs_number is None) == (self.family_name is None):
            raise ValueError("give either nhs_number or family_name")
        return self


def demographics_router(people: People, directory: PeopleDirectory) -> APIRouter:
    router = APIRouter(tags=["people"])
    audit = people.runtime.audit

    @router.get("/people/{register_id}", responses={404: {"description": "No such person, or not yours"}})
    async def read(
        register_id: str,
        principal: Annotated[Principal, Depends(require_roles(Role.REFERRER, Role.DSR_TEAM))],
    ) -> dict:
        allowed = await people.may_change(register_id, principal.subject, dsr_team=principal.has(Role.DSR_TEAM))
        found = await directory.details(register_id) if allowed else None
        if found is None:
            await audit.record(principal, "person.read", register_id, outcome="denied_or_missing")
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such person")
        await audit.record(principal, "person.read", register_id)
        return found

    @router.post("/people/search")
    async def search(
        query: PersonSearch,
        principal: Annotated[Principal, Depends(require_roles(Role.DSR_TEAM))],
    ) -> dict:
        ids = await (directory.by_nhs_number(query.nhs_number) if query.nhs_number else directory.by_family_name(query.family_name))
        found = [d for d in [await directory.details(register_id) for register_id in ids] if d]
        for register_id in ids or ["*"]:
            await audit.record(principal, "people.search", register_id)
        return {"people": found}

    return router
