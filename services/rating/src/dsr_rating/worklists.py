"""HTTP: the lists the web pages work from. A keeper's caseload (the people a
referrer or professional may keep up to date) and the removal requests
waiting for the DSR team (R-RAG-6). Both audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from dsr_shared.access import Contacts, identities
from dsr_shared.auth import Principal, Role, require_roles
from dsr_rating.register import Register
from dsr_rating.views import summary_view


def worklist_router(register: Register) -> APIRouter:
    router = APIRouter(tags=["register"])
    people, audit = register.people, register.runtime.audit

    @router.get("/caseload")
    async def caseload(principal: Annotated[Principal, Depends(require_roles(Role.REFERRER, Role.DSR_TEAM))]) -> dict:
        """The people on the register this user referred or is named on as a
        professional (the same test as reading a record), as GET /register lists them."""
        found = []
        for doc in await people.keeping(identities(principal)):
            professionals = (doc.get("professionals") or {}).get("professionals", [])
            if Contacts.of(doc.get("referrer_emails") or [], (p.get("email") for p in professionals)).include(principal):
                found.append(doc)
        await audit.record(principal, "register.caseload", "*")
        return {"total": len(found), "people": [summary_view(doc) for doc in found]}

    @router.get("/removal-requests")
    async def removal_requests(principal: Annotated[Principal, Depends(require_roles(Role.DSR_TEAM))]) -> dict:
        """Removal requests waiting for the DSR team: the latest request of each
        person still on the register since they (re)entered it."""
        waiting = []
        for record in await people.with_removal_requests():
            pending = record.pending_removal_request(register.standing(record))
            if pending is not None:
                waiting.append({"register_id": record.register_id, **pending.model_dump(mode="json", exclude={"id"})})
        await audit.record(principal, "register.removal_requests", "*")
        return {"removal_requests": waiting}

    return router
