"""HTTP: the lists the web pages work from. A keeper's caseload (the people a
referrer or professional may keep up to date) and the removal requests
waiting for the DSR team (R-RAG-6). Translation only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from dsr_shared.platform.auth import Principal, Role, require_roles
from dsr_rating.service import RatingService
from dsr_rating.views import summary_view


def worklist_router(service: RatingService) -> APIRouter:
    router = APIRouter(tags=["register"])

    @router.get("/caseload")
    async def caseload(principal: Annotated[Principal, Depends(require_roles(Role.REFERRER, Role.DSR_TEAM))]) -> dict:
        """The people on the register this user referred or is named on as a
        professional (the same test as reading a record), as GET /register lists them."""
        found = await service.caseload(principal)
        return {"total": len(found), "people": [summary_view(doc) for doc in found]}

    @router.get("/removal-requests")
    async def removal_requests(principal: Annotated[Principal, Depends(require_roles(Role.DSR_TEAM))]) -> dict:
        """Removal requests waiting for the DSR team: the latest request of each
        person still on the register since they (re)entered it."""
        return {"removal_requests": await service.removal_requests(principal)}

    return router
