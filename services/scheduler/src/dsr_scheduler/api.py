"""HTTP: obligations and the tracking meeting (docs/CONTRACT.md). Each
request is handed to one use case (service/commands.py); its result becomes
the response."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from dsr_shared.contract.events import Rating
from dsr_shared.contract.fields import IDENTIFIER_PATTERN, IsoDate, IsoInstant, text
from dsr_shared.platform.auth import Principal, Role, require_roles
from dsr_shared.platform.openapi import documented
from dsr_scheduler.domain.completion import Recommendation
from dsr_scheduler.domain.obligations import State
from dsr_scheduler.service import Scheduler

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


LIST_READERS = (Role.DSR_TEAM, Role.OPS, Role.REFERRER)
MAX_LISTED = 1000
MAX_PEOPLE = 100
Id = Annotated[str, Query(min_length=1, max_length=100, pattern=IDENTIFIER_PATTERN)]


def obligation_router(scheduler: Scheduler) -> APIRouter:
    router = APIRouter(tags=["obligations"])

    @router.get("/obligations", responses=documented(404))
    async def list_obligations(
        principal: Annotated[Principal, Depends(require_roles(*LIST_READERS))],
        register_id: Annotated[
            Id | None, Query(description="Only this person's (a referrer: 404 unless theirs).")
        ] = None,
        people: Annotated[
            list[Id] | None,
            Query(
                max_length=MAX_PEOPLE,
                description="Only these people's (repeat it; a referrer: those of theirs among them).",
            ),
        ] = None,
        kind: Id | None = None,
        state: State | None = None,
        rule: Id | None = None,
        due_before: Annotated[
            IsoInstant | None,
            Query(description="Only those due before this instant (with `state`: through its index)."),
        ] = None,
        limit: Annotated[
            int, Query(ge=1, le=MAX_LISTED, description="At most this many, soonest due first.")
        ] = MAX_LISTED,
    ) -> dict:
        """The DSR team and ops see everyone's obligations; a referrer, those
        of the people they referred or are named on as a professional."""
        return await scheduler.list_obligations(
            principal,
            register_id=register_id,
            people=people,
            kind=kind,
            state=state,
            rule=rule,
            due_before=due_before,
            limit=limit,
        )

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
        result = await scheduler.complete(
            obligation_id,
            principal,
            request.state.correlation_id,
            completed_at=body.completed_at,
            outcome=body.outcome,
            rating_review=body.rating_review,
            laep=body.laep,
            recommendations=[Recommendation(a.description, a.owner, a.due_on) for a in body.actions],
        )
        if result.outcome == "rejected":
            return JSONResponse({"outcome": "rejected", "reasons": result.reasons}, 422)
        if result.outcome == "conflict":
            raise HTTPException(status.HTTP_409_CONFLICT, f"the obligation is already {result.state}")
        if result.outcome == "exception_recorded":
            return JSONResponse(
                {"outcome": "exception_recorded", "obligation_id": obligation_id, "state": result.state}, 202
            )
        return {"obligation_id": obligation_id, "state": "done", "scheduled": result.scheduled}

    @router.get("/tracking-meeting", responses=documented())
    async def tracking_meeting(
        principal: Annotated[Principal, Depends(require_roles(Role.DSR_TEAM, Role.OPS))],
    ) -> dict:
        """R-OB-14: the agenda for the next tracking meeting: people by rating,
        what is due or overdue by then, and whose update is missing."""
        return await scheduler.tracking_meeting(principal)

    return router
