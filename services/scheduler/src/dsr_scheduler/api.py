"""HTTP: obligations and the tracking meeting (docs/CONTRACT.md)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from dsr_shared.access import NOBODY, PersonAccess
from dsr_shared.auth import Principal, Role, require_roles
from dsr_shared.contacts import ContactsProjection, list_scope
from dsr_shared.envelope import derived_event_id
from dsr_shared.events import Rating
from dsr_shared.fields import IDENTIFIER_PATTERN, IsoDate, IsoInstant, text
from dsr_shared.openapi import documented
from dsr_shared.runtime import Context
from dsr_scheduler.domain.obligations import CETR_KINDS, Completion, State
from dsr_scheduler.scheduling import Scheduler
from dsr_scheduler.tracking import agenda

Text = text(4000)
Owner = text(200)


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: Text
    owner: Owner
    due_on: IsoDate


class CompletionBody(BaseModel):
    """When it was done and how it went. A C(E)TR (R-OB-15) also records the
    rating review and its recommendations as actions with owner and due date.
    `laep: true` records a Local Area Emergency Protocol instead of a community
    C(E)TR (R-OB-2): an exception that does not complete it."""

    model_config = ConfigDict(extra="forbid")

    completed_at: IsoInstant
    outcome: Text
    rating_review: Rating | None = None
    actions: list[Action] = Field(default_factory=list, max_length=50)
    laep: bool = False


LIST_WHOLE = (Role.DSR_TEAM, Role.OPS)
LIST_READERS = (*LIST_WHOLE, Role.REFERRER)
MAX_LISTED = 1000
MAX_PEOPLE = 100


def within_scope(people: list[str], scope: str | dict | None) -> list[str]:
    """Of the people asked for, those the list's scope admits (None: everyone)."""
    if scope is None:
        return sorted(set(people))
    admitted = {scope} if isinstance(scope, str) else set(scope["$in"])
    return sorted(set(people) & admitted)
Id = Annotated[str, Query(min_length=1, max_length=100, pattern=IDENTIFIER_PATTERN)]


def obligation_router(scheduler: Scheduler, contacts: ContactsProjection) -> APIRouter:
    router = APIRouter(tags=["obligations"])
    store, audit, clock = scheduler.store, scheduler.runtime.audit, scheduler.runtime.clock
    access = PersonAccess(audit)

    @router.get("/obligations", responses=documented(404))
    async def list_obligations(
        principal: Annotated[Principal, Depends(require_roles(*LIST_READERS))],
        register_id: Annotated[Id | None, Query(description="Only this person's (a referrer: 404 unless theirs).")] = None,
        people: Annotated[
            list[Id] | None,
            Query(max_length=MAX_PEOPLE, description="Only these people's (repeat it; a referrer: those of theirs among them)."),
        ] = None,
        kind: Id | None = None,
        state: State | None = None,
        rule: Id | None = None,
        due_before: Annotated[
            IsoInstant | None, Query(description="Only those due before this instant (with `state`: through its index).")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LISTED, description="At most this many, soonest due first.")] = MAX_LISTED,
    ) -> dict:
        """The DSR team and ops see everyone's obligations; a referrer, those
        of the people they referred or are named on as a professional."""
        scope = await list_scope(access, contacts, principal, "obligations.list", register_id, LIST_WHOLE)
        if people:
            scope = {"$in": within_scope(people, scope)}
        filters = {k: v for k, v in (("register_id", scope), ("kind", kind), ("state", state), ("rule", rule)) if v}
        # Withdrawn obligations were never demanded after all: shown only when asked for.
        filters.setdefault("state", {"$ne": "withdrawn"})
        if due_before is not None:
            filters["due_at"] = {"$lt": due_before}
        found = await store.find(filters, limit)
        # Counted again only when the list was cut short.
        total = len(found) if len(found) < limit else await store.count(filters)
        await audit.record(principal, "obligations.list", register_id or "*")
        return {"obligations": [o.model_dump(mode="json") for o in found], "total": total}

    @router.post(
        "/obligations/{obligation_id}/complete",
        responses={202: {"description": "A LAEP recorded as an exception"}, **documented(404, 409, 422)},
    )
    async def complete(
        obligation_id: str,
        body: CompletionBody,
        request: Request,
        principal: Annotated[Principal, Depends(require_roles(Role.DSR_TEAM, Role.REFERRER))],
    ):
        """The DSR team, or a referrer of the person's (referred them, or named
        on them as a professional); anyone else gets the 404 of a missing id."""
        action = "obligation.complete"
        obligation = await store.get(obligation_id)
        # One contacts lookup whether or not the obligation exists: the same work.
        subject = obligation.register_id if obligation else obligation_id
        known = await contacts.of(subject)
        await access.require(principal, action, subject, (known or NOBODY) if obligation else None)
        reasons = _refusals(obligation.kind, body, clock.now())
        if reasons:
            await audit.record(principal, action, obligation.register_id, "refused")
            return JSONResponse({"outcome": "rejected", "reasons": reasons}, 422)
        if not obligation.active:
            await audit.record(principal, action, obligation.register_id, "conflict")
            raise HTTPException(status.HTTP_409_CONFLICT, f"the obligation is already {obligation.state}")
        context = Context(request.state.correlation_id)
        by = principal.email or principal.subject

        if body.laep:
            async def record_exception(session):
                current = await store.get(obligation_id, session)
                note = f"{body.completed_at.isoformat()} LAEP by {by}: {body.outcome}"
                await store.replace(current.model_copy(update={"exceptions": [*current.exceptions, note]}), session)
                return []

            await scheduler.runtime.uow.commit_and_publish(record_exception)
            await audit.record(principal, action, obligation.register_id, "laep_exception")
            return JSONResponse({"outcome": "exception_recorded", "obligation_id": obligation_id, "state": obligation.state}, 202)

        cause = derived_event_id(obligation.obligation_id, "ObligationCompleted")
        actions = [
            scheduler.action(obligation, cause, i, a.description, a.owner, a.due_on, body.completed_at)
            for i, a in enumerate(body.actions)
        ]
        completion = Completion(
            at=body.completed_at, by=by, outcome=body.outcome, rating_review=body.rating_review, actions=len(actions)
        )

        async def work(session):
            current = await store.get(obligation_id, session)
            if not current.active:
                raise _AlreadyEnded(current.state)
            return await scheduler.complete(current, completion, context, session, actions)

        try:
            messages = await scheduler.runtime.uow.commit_and_publish(work)
        except _AlreadyEnded as ended:
            await audit.record(principal, action, obligation.register_id, "conflict")
            raise HTTPException(status.HTTP_409_CONFLICT, f"the obligation is already {ended}") from None
        await audit.record(principal, action, obligation.register_id, "ok")
        scheduled = [str(m.envelope.data["obligation_id"]) for m in messages if m.envelope.event_type == "ObligationScheduled"]
        return {"obligation_id": obligation_id, "state": "done", "scheduled": scheduled}

    @router.get("/tracking-meeting", responses=documented())
    async def tracking_meeting(
        principal: Annotated[Principal, Depends(require_roles(Role.DSR_TEAM, Role.OPS))],
    ) -> dict:
        """R-OB-14: the agenda for the next tracking meeting: people by rating,
        what is due or overdue by then, and whose update is missing."""
        now = clock.now()
        meeting_at = scheduler.area.next_tracking_meeting(now)
        horizon = meeting_at or now + timedelta(days=7)
        people = await store.people_on_register()
        pending = await store.find({"state": {"$in": ["open", "due", "overdue"]}, "due_at": {"$lte": horizon}}, limit=5000)
        await audit.record(principal, "tracking_meeting.read", "*")
        return agenda(scheduler.area, meeting_at, horizon, people, pending)

    return router


class _AlreadyEnded(Exception):
    pass


def _refusals(kind: str, body: CompletionBody, now: datetime) -> list[dict[str, str]]:
    reasons = []
    if body.completed_at > now + timedelta(minutes=5):
        reasons.append({"code": "completion.in_future", "message": "completed_at is in the future", "field": "completed_at"})
    if kind in CETR_KINDS and not body.laep and body.rating_review is None:
        reasons.append({"code": "R-OB-15.rating_review", "message": "a C(E)TR records the rating review", "field": "rating_review"})
    if body.laep and kind != "community_cetr":
        reasons.append({"code": "R-OB-2.laep", "message": "a LAEP stands in only for a community C(E)TR", "field": "laep"})
    if body.actions and kind not in CETR_KINDS:
        reasons.append({"code": "R-OB-15.actions", "message": "actions are recorded from a C(E)TR", "field": "actions"})
    return reasons
