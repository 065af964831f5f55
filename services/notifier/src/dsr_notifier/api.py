"""HTTP: what was sent (CONTRACT.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from dsr_shared.auth import Principal, Role, require_roles
from dsr_shared.runtime import Runtime
from dsr_notifier.adapters.sent import SentLog


def notification_router(runtime: Runtime, sent: SentLog) -> APIRouter:
    router = APIRouter(tags=["notifications"])

    @router.get("/notifications")
    async def list_notifications(
        principal: Annotated[Principal, Depends(require_roles(Role.DSR_TEAM, Role.OPS))],
        register_id: str | None = None,
        source_event_id: str | None = None,
    ) -> dict:
        filters = {k: v for k, v in (("register_id", register_id), ("source_event_id", source_event_id)) if v}
        found = await sent.recent(filters)
        await runtime.audit.record(principal, "notifications.list", register_id or "*")
        for doc in found:
            doc["notification_id"] = doc.pop("_id")
        return {"notifications": found}

    return router
