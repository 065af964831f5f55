"""GET /audit on every service: who read or changed a person's record, when,
through which endpoint, with what outcome (DPA 2018, NHS DSPT). For the DSR
team and auditors. Reading the audit is itself audited. `dsr audit` merges
the four services' answers in time order."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from dsr_shared.contract.fields import IDENTIFIER_PATTERN, IsoInstant
from dsr_shared.platform.audit import CURSOR_PATTERN, AuditLog
from dsr_shared.platform.auth import Principal, Role, require_roles
from dsr_shared.platform.openapi import documented

READERS = (Role.DSR_TEAM, Role.AUDITOR)
Id = Annotated[str, Query(min_length=1, max_length=100, pattern=IDENTIFIER_PATTERN)]


class AuditEntry(BaseModel):
    entry_id: str
    at: datetime
    service: str | None = None
    actor: str
    actor_email: str | None = None
    roles: list[str]
    action: str
    subject_id: str
    outcome: str
    endpoint: str | None = None
    correlation_id: str | None = None


class AuditPage(BaseModel):
    entries: list[AuditEntry]
    # Give it as `after` for the next page; null on the last.
    next: str | None


def audit_router(audit: AuditLog) -> APIRouter:
    router = APIRouter(tags=["audit"])

    @router.get("/audit", responses=documented())
    async def read_audit(
        principal: Annotated[Principal, Depends(require_roles(*READERS))],
        register_id: Annotated[
            Id | None,
            Query(description="Only entries about this person (or this referral, obligation or notification id)."),
        ] = None,
        actor: Annotated[Id | None, Query(description="Only entries of this user (the token's subject).")] = None,
        since: Annotated[IsoInstant | None, Query(description="Only entries at or after this time.")] = None,
        after: Annotated[
            str | None, Query(pattern=CURSOR_PATTERN, description="The `next` of the page before.")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> AuditPage:
        """This service's audit entries, oldest first, a page at a time."""
        entries, next_page = await audit.read(
            subject_id=register_id, actor=actor, since=since, after=after, limit=limit
        )
        await audit.record(principal, "audit.read", register_id or "*")
        return AuditPage(entries=[AuditEntry.model_validate(e) for e in entries], next=next_page)

    return router
