"""HTTP: obligations (CONTRACT.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from dsr_shared.auth import Principal, Role, require_roles
from dsr_shared.runtime import Runtime
from dsr_scheduler.adapters.obligations import ObligationStore
from dsr_scheduler.domain.obligations import State


def obligation_router(runtime: Runtime, store: ObligationStore) -> APIRouter:
    router = APIRouter(tags=["obligations"])

    @router.get("/obligations")
    async def list_obligations(
        principal: Annotated[Principal, Depends(require_roles(Role.DSR_TEAM, Role.OPS, Role.REFERRER))],
        register_id: str | None = None,
        kind: str | None = None,
        state: State | None = None,
    ) -> dict:
        filters = {k: v for k, v in (("register_id", register_id), ("kind", kind), ("state", state)) if v}
        found = await store.find(filters)
        await runtime.audit.record(principal, "obligations.list", register_id or "*")
        return {"obligations": [o.model_dump(mode="json") for o in found]}

    return router
