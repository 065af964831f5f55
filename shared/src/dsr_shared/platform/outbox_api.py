"""HTTP for operators, on every service: outbox entries the broker refused
for good (parked), and sending one again once its cause is fixed. `dsr outbox`
reads them from all four services."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, status

from dsr_shared.platform.auth import Principal, Role, require_roles
from dsr_shared.platform.runtime import Runtime


def outbox_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(prefix="/ops/outbox", tags=["operations"])
    outbox, audit = runtime.outbox, runtime.audit

    @router.get("/parked")
    async def parked(principal: Annotated[Principal, Depends(require_roles(Role.OPS))]) -> dict:
        """Entries that could not be published (oldest first): the event's id,
        type and topic, when it was staged and parked, and the broker's error.
        Never the event's data or key."""
        found = await outbox.parked()
        await audit.record(principal, "outbox.parked.list", "*")
        return {"parked": found}

    @router.post("/{event_id}/retry", responses={404: {"description": "No parked entry with this id"}})
    async def retry(
        event_id: Annotated[str, Path(max_length=64)],
        principal: Annotated[Principal, Depends(require_roles(Role.OPS))],
    ) -> dict:
        """Give a parked entry back to the relay, which publishes it within seconds
        (or parks it again, with the new error)."""
        if not await outbox.unpark(event_id):
            await audit.record(principal, "outbox.retry", event_id, outcome="missing")
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no parked outbox entry with this id")
        await audit.record(principal, "outbox.retry", event_id)
        return {"event_id": event_id, "state": "pending"}

    return router
