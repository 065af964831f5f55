"""HTTP: the register (CONTRACT.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status

from dsr_shared.auth import Principal, Role, require_roles
from dsr_shared.events import Cohort, Rating
from dsr_shared.runtime import Runtime
from dsr_rating.adapters.people import PeopleStore

READERS = (Role.DSR_TEAM, Role.REFERRER, Role.OPS)


def register_router(runtime: Runtime, people: PeopleStore) -> APIRouter:
    router = APIRouter(tags=["register"])

    @router.get("/register")
    async def list_register(
        principal: Annotated[Principal, Depends(require_roles(Role.DSR_TEAM, Role.OPS))],
        rating: Rating | None = None,
        cohort: Cohort | None = None,
    ) -> dict:
        filters = {k: v.value for k, v in (("rating", rating), ("cohort", cohort)) if v is not None}
        found = await people.list(filters)
        counts: dict[str, int] = {}
        for person in found:
            counts[person.rating.value] = counts.get(person.rating.value, 0) + 1
        await runtime.audit.record(principal, "register.list", "*")
        return {
            "counts": counts,
            "people": [{"register_id": p.register_id, "rating": p.rating, "cohort": p.cohort} for p in found],
        }

    @router.get("/register/{register_id}")
    async def read_person(
        register_id: str, principal: Annotated[Principal, Depends(require_roles(*READERS))]
    ) -> dict:
        person = await people.get(register_id)
        await runtime.audit.record(principal, "register.read", register_id, "ok" if person else "missing")
        if person is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "not on the register")
        return person.model_dump(mode="json", exclude={"nhs_number_hash"})

    return router
