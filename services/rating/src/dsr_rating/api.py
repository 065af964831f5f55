"""HTTP: the register (docs/CONTRACT.md). Translation only: a request to one
call on the service (service/commands.py and service/queries.py say what each
does and who may), its result or refusal to a response. The DSR team sees
everyone; a referrer sees and keeps up to date the people they referred or
work with (else 404, so the register does not say who is on it)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response, status
from fastapi.responses import JSONResponse

from dsr_shared.contract.events import Cohort, Rating
from dsr_shared.platform.auth import Principal, Role, require_roles
from dsr_shared.platform.openapi import documented
from dsr_rating.api_models import (
    MergeResolvedBody,
    ProfessionalsBody,
    RatingChangeBody,
    RegisterId,
    RemovalBody,
    UpdateBody,
)
from dsr_rating.domain import listing
from dsr_rating.domain.standing import Status
from dsr_rating.service import Changed, Conflict, RatingService, Refused
from dsr_rating.views import merge_view, person_view, summary_view, unmatched_view

KEEPERS = (Role.DSR_TEAM, Role.REFERRER)
T = TypeVar("T")


async def _answer(change: Awaitable[T]) -> T | JSONResponse:
    """A refusal is 422 with every reason; a conflict is 409."""
    try:
        return await change
    except Refused as refused:
        return JSONResponse({"outcome": "rejected", "reasons": [r.as_reason() for r in refused.refusals]}, 422)
    except Conflict as conflict:
        raise HTTPException(status.HTTP_409_CONFLICT, str(conflict)) from conflict


def register_router(service: RatingService) -> APIRouter:
    router = APIRouter(tags=["register"])

    @router.get("/register", responses=documented(422))
    async def list_register(
        principal: Annotated[Principal, Depends(require_roles(Role.DSR_TEAM, Role.OPS))],
        rating: Rating | None = None,
        cohort: Cohort | None = None,
        status_: Annotated[Status, Query(alias="status")] = "on_register",
        needs_completion: bool | None = None,
        in_hospital: bool | None = None,
        register_id: Annotated[
            list[RegisterId] | None,
            Query(max_length=listing.MAX_IDS, description="Only these people (repeat the parameter)."),
        ] = None,
        limit: Annotated[
            int, Query(ge=0, le=listing.MAX_LIMIT, description="People on this page; 0 for the counts alone.")
        ] = listing.DEFAULT_LIMIT,
        page: Annotated[int, Query(ge=1, le=100_000, description="Which page of `limit` people (from 1).")] = 1,
        after: Annotated[
            RegisterId | None,
            Query(description="Only people after this register identifier: `next_after` of the page before."),
        ] = None,
    ) -> dict:
        """The list the tracking meeting works from (R-OB-14): people by rating
        and adult/CYP, in register-identifier order, a page at a time, with the
        counts of everyone the filters keep. `needs_completion=true`: the people
        referred automatically whose record the DSR team should complete."""
        filters = listing.Filters(
            status=status_,
            rating=rating.value if rating else None,
            cohort=cohort.value if cohort else None,
            needs_completion=needs_completion,
            in_hospital=in_hospital,
            register_ids=tuple(register_id or ()),
        )
        found = await service.list_register(principal, filters, after=after, page=page, limit=limit)
        return {
            "total": found.counts.total,
            "counts": {"by_rating": found.counts.by_rating, "by_cohort": found.counts.by_cohort},
            "people": [summary_view(doc) for doc in found.people],
            "limit": limit,
            "page": page,
            "next_after": found.next_after,
        }

    @router.get("/register/{register_id}", responses=documented(404))
    async def read_person(
        register_id: str, response: Response, principal: Annotated[Principal, Depends(require_roles(*KEEPERS))]
    ) -> dict:
        record, standing = await service.read(register_id, principal)
        response.headers["ETag"] = f'"{record.version}"'
        return person_view(record, standing)

    @router.post("/register/{register_id}/rating", responses=documented(404, 409, 422))
    async def change_rating(
        register_id: str,
        body: RatingChangeBody,
        request: Request,
        principal: Annotated[Principal, Depends(require_roles(*KEEPERS))],
        if_match: Annotated[str | None, Header()] = None,
    ):
        """R-RAG-2: a new rating with its rationale, by whom, and whether it was
        discussed and agreed with the person or their family."""
        changed = await _answer(
            service.change_rating(
                register_id,
                principal,
                if_match=if_match,
                correlation_id=request.state.correlation_id,
                rating=body.rating,
                rationale=body.rationale,
                agreed_with_person=body.agreed_with_person,
            )
        )
        if not isinstance(changed, Changed):
            return changed
        return {"register_id": register_id, "rating": body.rating, "version": changed.version}

    @router.post("/register/{register_id}/updates", status_code=201, responses=documented(404, 409, 422))
    async def add_update(
        register_id: str,
        body: UpdateBody,
        request: Request,
        principal: Annotated[Principal, Depends(require_roles(*KEEPERS))],
        if_match: Annotated[str | None, Header()] = None,
    ):
        """A case-holder update (seed 000); it resets the update clocks (R-OB-11, R-OB-12)."""
        changed = await _answer(
            service.add_update(
                register_id, principal, if_match=if_match, correlation_id=request.state.correlation_id, text=body.text
            )
        )
        if not isinstance(changed, Changed):
            return changed
        return {"register_id": register_id, "update_id": str(changed.update_id), "version": changed.version}

    @router.put("/register/{register_id}/professionals", responses=documented(404, 409, 422))
    async def set_professionals(
        register_id: str,
        body: ProfessionalsBody,
        request: Request,
        principal: Annotated[Principal, Depends(require_roles(*KEEPERS))],
        if_match: Annotated[str | None, Header()] = None,
    ):
        """The professionals around the person and their work contacts, kept up to date (seed 000)."""
        changed = await _answer(
            service.set_professionals(
                register_id,
                principal,
                if_match=if_match,
                correlation_id=request.state.correlation_id,
                professionals=body.professionals,
            )
        )
        if not isinstance(changed, Changed):
            return changed
        return {"register_id": register_id, "version": changed.version}

    @router.post(
        "/register/{register_id}/removal",
        responses={202: {"description": "Asked: the DSR team decides"}, **documented(404, 409, 422)},
    )
    async def removal(
        register_id: str,
        body: RemovalBody,
        request: Request,
        response: Response,
        principal: Annotated[Principal, Depends(require_roles(*KEEPERS))],
        if_match: Annotated[str | None, Header()] = None,
    ):
        """R-RAG-6: the DSR team removes; a referrer asks, with the update that
        records the conversation or best-interest meeting, and the DSR team is alerted."""
        changed = await _answer(
            service.remove(
                register_id,
                principal,
                if_match=if_match,
                correlation_id=request.state.correlation_id,
                reason=body.reason,
                best_interest_meeting=body.best_interest_meeting,
            )
        )
        if not isinstance(changed, Changed):
            return changed
        if changed.outcome == "removal_requested":
            response.status_code = status.HTTP_202_ACCEPTED
        return {"register_id": register_id, "outcome": changed.outcome, "version": changed.version}

    @router.get("/hospital-events/unmatched")
    async def unmatched(principal: Annotated[Principal, Depends(require_roles(Role.DSR_TEAM))]) -> dict:
        """Admissions and discharges of people not on the register: kept, shown
        here, and applied when a referral names the person (README)."""
        waiting, removed_in_hospital = await service.unmatched(principal)
        return {"not_on_register": [unmatched_view(f) for f in waiting], "removed_but_in_hospital": removed_in_hospital}

    return router


def hospital_merges_router(service: RatingService) -> APIRouter:
    """Hospital merges of two patient records (HL7 A40) that touch someone on
    the register: never applied by the register, resolved by the DSR team."""
    router = APIRouter(tags=["hospital events"])

    @router.get("/hospital-events/merges")
    async def merges(
        principal: Annotated[Principal, Depends(require_roles(Role.DSR_TEAM))],
        resolved: Annotated[bool, Query(description="Those already resolved instead of those waiting.")] = False,
    ) -> dict:
        """Merges waiting for the DSR team: the register ids of the records the
        hospital merged (one may be someone not on the register: null). Check
        with the hospital which NHS number is right and correct the register by
        hand (a new referral, or a removal), then mark the merge resolved."""
        return {"merges": [merge_view(doc) for doc in await service.merges(principal, resolved=resolved)]}

    @router.post("/hospital-events/merges/{merge_id}/resolved", responses=documented(404, 422))
    async def resolve(
        merge_id: str,
        body: MergeResolvedBody,
        principal: Annotated[Principal, Depends(require_roles(Role.DSR_TEAM))],
    ) -> dict:
        """The DSR team has dealt with the merge; `reason` says how (no NHS number here)."""
        doc = await service.resolve_merge(merge_id, principal, body.reason)
        if doc is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such merge waiting")
        return merge_view(doc)

    return router
