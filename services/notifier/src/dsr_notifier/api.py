"""HTTP: what was sent, to whom, when, for which event (docs/CONTRACT.md), and a
way to send again an email the relay refused for good."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status

from dsr_shared.contract.fields import IDENTIFIER_PATTERN
from dsr_shared.platform.access import PersonAccess, not_found
from dsr_shared.platform.auth import Principal, Role, require_roles
from dsr_shared.platform.contacts import ContactsProjection, list_scope
from dsr_shared.platform.openapi import documented
from dsr_shared.platform.runtime import Runtime
from dsr_notifier.service import NotifierService

State = Literal["pending", "sending", "sent", "failed"]


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    doc["notification_id"] = doc.pop("_id")
    wake_at = doc.pop("wake_at", None)
    if doc.get("state") == "pending":
        doc["next_attempt_at"] = wake_at
    return doc


LIST_WHOLE = (Role.DSR_TEAM, Role.OPS)
Id = Annotated[str, Query(min_length=1, max_length=320, pattern=IDENTIFIER_PATTERN)]


def notification_router(runtime: Runtime, service: NotifierService, contacts: ContactsProjection) -> APIRouter:
    router = APIRouter(tags=["notifications"])
    access = PersonAccess(runtime.audit)

    @router.get("/notifications", responses=documented(404))
    async def list_notifications(
        principal: Annotated[Principal, Depends(require_roles(*LIST_WHOLE, Role.REFERRER))],
        register_id: Annotated[
            Id | None, Query(description="Only about this person (a referrer: 404 unless theirs).")
        ] = None,
        source_event_id: Id | None = None,
        recipient: Id | None = None,
        state: State | None = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    ) -> dict:
        """Newest first: each email (one per event and recipient) with its
        source event, recipient, kind (`template`), subject, state (`pending`,
        `sending`, `sent`, `failed`), attempts, the relay's last error, and when
        it was queued (`created_at`), sent (`sent_at`) or will be tried again
        (`next_attempt_at`). The DSR team and ops see every email; a referrer,
        those about the people they referred or are named on as a professional."""
        scope = await list_scope(access, contacts, principal, "notifications.list", register_id, LIST_WHOLE)
        filters = {
            k: v
            for k, v in (
                ("register_id", scope),
                ("source_event_id", source_event_id),
                ("recipient", recipient.lower() if recipient else None),
                ("state", state),
            )
            if v
        }
        found = await service.notifications(filters, limit)
        await runtime.audit.record(principal, "notifications.list", register_id or "*")
        return {"notifications": [_public(doc) for doc in found]}

    @router.post("/notifications/{notification_id}/retry", responses=documented(404, 409))
    async def retry(
        notification_id: str,
        principal: Annotated[Principal, Depends(require_roles(*LIST_WHOLE))],
    ) -> dict:
        """Send again an email that failed for good (say, after the address was
        corrected at the relay). Only a failed email can be retried."""
        retried = await service.retry(notification_id)
        found = retried.notification
        if found is None:
            await runtime.audit.record(principal, "notifications.retry", notification_id, "refused")
            if retried.state is None:
                raise not_found()
            raise HTTPException(status.HTTP_409_CONFLICT, f"the notification is {retried.state}, not failed")
        await runtime.audit.record(principal, "notifications.retry", found.get("register_id") or notification_id)
        return _public(found)

    return router
