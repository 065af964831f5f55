"""HTTP: who a person is (name, date of birth, NHS number, address), for the
DSR team and for whoever referred them or is named on their record as a
professional (access.py); and
search by NHS number or last name for the DSR team. Only this service holds
these details; every read and search is audited. A search is a POST: an NHS
number or a name never goes in a URL."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, model_validator

from dsr_shared.access import PersonAccess, not_found
from dsr_shared.auth import Principal, Role, require_roles
from dsr_referral.adapters.referrals import PeopleDirectory
from dsr_referral.people import People


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


def demographics_router(people: People, directory: PeopleDirectory) -> APIRouter:
    router = APIRouter(tags=["people"])
    audit = people.runtime.audit
    access = PersonAccess(audit)

    @router.get("/people/{register_id}", responses={404: {"description": "No such person, or not yours"}})
    async def read(
        register_id: str,
        principal: Annotated[Principal, Depends(require_roles(Role.REFERRER, Role.DSR_TEAM))],
    ) -> dict:
        await access.require(principal, "person.read", register_id, await people.contacts(register_id))
        found = await directory.details(register_id)
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
        ids = await (directory.by_nhs_number(query.nhs_number) if query.nhs_number else directory.by_family_name(query.family_name))
        found = [d for d in [await directory.details(register_id) for register_id in ids] if d]
        for register_id in ids or ["*"]:
            await audit.record(principal, "people.search", register_id)
        return {"people": found}

    return router
