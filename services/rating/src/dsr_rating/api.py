"""HTTP: the register (docs/CONTRACT.md). The DSR team sees everyone; a referrer
sees and keeps up to date the people they referred or work with (else 404,
so the register does not say who is on it). Every read and change of a
person's record is audited, refusals included."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response, status
from fastapi.responses import JSONResponse

from dsr_shared.access import Contacts, PersonAccess
from dsr_shared.auth import Principal, Role, require_roles
from dsr_shared.db import VersionConflict
from dsr_shared.events import Cohort, ProfessionalsChanged, Rating, RemovalRequested, UpdateAdded
from dsr_shared.openapi import documented
from dsr_shared.runtime import Context
from dsr_rating.api_models import (
    MergeResolvedBody,
    ProfessionalsBody,
    RatingChangeBody,
    RegisterId,
    RemovalBody,
    UpdateBody,
)
from dsr_rating.domain import listing
from dsr_rating.domain.facts import Fact, ProfessionalsList, RemovalRequest, Update
from dsr_rating.domain.record import PersonRecord
from dsr_rating.domain.rules import Refusal, not_on_register, rating_change_refusals, removal_refusals
from dsr_rating.domain.standing import Status
from dsr_rating.register import Register
from dsr_rating.views import person_view, summary_view

KEEPERS = (Role.DSR_TEAM, Role.REFERRER)


def _actor(principal: Principal) -> str:
    return principal.email or principal.subject


def record_contacts(record: PersonRecord) -> Contacts:
    """Who referred the person, and the professionals on their current list."""
    professionals = record.professionals.professionals if record.professionals else []
    return Contacts.of(record.referrer_emails, (p.email for p in professionals))


def register_router(register: Register) -> APIRouter:
    router = APIRouter(tags=["register"])
    people, audit, clock = register.people, register.runtime.audit, register.runtime.clock
    access = PersonAccess(audit)

    async def open_record(register_id: str, principal: Principal, action: str) -> PersonRecord:
        """The record, if this principal may see it; 404 otherwise (audited either way)."""
        record = await people.get(register_id)
        known = record is not None and register.standing(record).status != "not_entered"
        await access.require(principal, action, register_id, record_contacts(record) if known else None)
        return record

    async def refuse(principal: Principal, action: str, register_id: str, refusals: list[Refusal]) -> JSONResponse:
        await audit.record(principal, action, register_id, "refused")
        return JSONResponse({"outcome": "rejected", "reasons": [r.as_reason() for r in refusals]}, 422)

    async def commit(principal: Principal, action: str, record: PersonRecord, messages, own_ids: list[uuid.UUID]) -> None:
        try:
            await register.commit(record, messages, own_event_ids=own_ids)
        except VersionConflict as exc:
            await audit.record(principal, action, record.register_id, "conflict")
            raise HTTPException(status.HTTP_409_CONFLICT, "the record changed meanwhile; read it again") from exc
        await audit.record(principal, action, record.register_id, "ok")

    async def check_version(principal: Principal, action: str, record: PersonRecord, if_match: str | None) -> None:
        if if_match is not None and if_match.strip('W/"') != str(record.version):
            await audit.record(principal, action, record.register_id, "conflict")
            raise HTTPException(status.HTTP_409_CONFLICT, f"the record is at version {record.version}, not {if_match}")

    @router.get("/register", responses=documented(422))
    async def list_register(
        principal: Annotated[Principal, Depends(require_roles(Role.DSR_TEAM, Role.OPS))],
        rating: Rating | None = None,
        cohort: Cohort | None = None,
        status_: Annotated[Status, Query(alias="status")] = "on_register",
        needs_completion: bool | None = None,
        in_hospital: bool | None = None,
        register_id: Annotated[
            list[RegisterId] | None, Query(max_length=listing.MAX_IDS, description="Only these people (repeat the parameter).")
        ] = None,
        limit: Annotated[
            int, Query(ge=0, le=listing.MAX_LIMIT, description="People on this page; 0 for the counts alone.")
        ] = listing.DEFAULT_LIMIT,
        page: Annotated[int, Query(ge=1, le=100_000, description="Which page of `limit` people (from 1).")] = 1,
        after: Annotated[
            RegisterId | None, Query(description="Only people after this register identifier: `next_after` of the page before.")
        ] = None,
    ) -> dict:
        """The list the tracking meeting works from (R-OB-14): people by rating
        and adult/CYP, in register-identifier order, a page at a time, with the
        counts of everyone the filters keep. `needs_completion=true`: the people
        referred automatically whose record the DSR team should complete."""
        filters = listing.Filters(
            status=status_, rating=rating.value if rating else None, cohort=cohort.value if cohort else None,
            needs_completion=needs_completion, in_hospital=in_hospital, register_ids=tuple(register_id or ()),
        )
        query = filters.query()
        # One more than the page: whether there is a next one.
        groups, found = await asyncio.gather(
            people.groups(query),
            people.page(listing.after_cursor(query, after), listing.skip_for(page, limit), limit + 1 if limit else 0),
        )
        counts = listing.counts_of(groups)
        shown = found[:limit]
        await audit.record(principal, "register.list", "*")
        return {
            "total": counts.total,
            "counts": {"by_rating": counts.by_rating, "by_cohort": counts.by_cohort},
            "people": [summary_view(doc) for doc in shown],
            "limit": limit,
            "page": page,
            "next_after": shown[-1]["_id"] if len(found) > limit else None,
        }

    @router.get("/register/{register_id}", responses=documented(404))
    async def read_person(
        register_id: str, response: Response, principal: Annotated[Principal, Depends(require_roles(*KEEPERS))]
    ) -> dict:
        record = await open_record(register_id, principal, "register.read")
        await audit.record(principal, "register.read", register_id, "ok")
        response.headers["ETag"] = f'"{record.version}"'
        return person_view(record, register.standing(record))

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
        action = "register.rating"
        record = await open_record(register_id, principal, action)
        await check_version(principal, action, record, if_match)
        now = clock.now()
        standing = register.standing(record)
        refusals = rating_change_refusals(
            standing,
            body.rating,
            by_dsr_team=principal.has(Role.DSR_TEAM),
            now=now,
            post_discharge=register.area.post_discharge.rating,
        )
        if refusals:
            return await refuse(principal, action, register_id, refusals)
        fact = Fact(
            id=str(uuid.uuid4()),
            kind="rating",
            at=now,
            by=_actor(principal),
            rationale=body.rationale,
            rating=body.rating,
            agreed_with_person=body.agreed_with_person,
            by_dsr_team=principal.has(Role.DSR_TEAM),
        )
        messages = register.apply_fact(record, fact, Context(request.state.correlation_id), own=True)
        if not messages:  # a fact newer than now is on the record (clocks apart): ask to read again
            raise HTTPException(status.HTTP_409_CONFLICT, "the record has a later change; read it again")
        await commit(principal, action, record, messages, [uuid.UUID(fact.id)])
        return {"register_id": register_id, "rating": body.rating, "version": record.next_version()}

    @router.post("/register/{register_id}/updates", status_code=201, responses=documented(404, 409, 422))
    async def add_update(
        register_id: str,
        body: UpdateBody,
        request: Request,
        principal: Annotated[Principal, Depends(require_roles(*KEEPERS))],
        if_match: Annotated[str | None, Header()] = None,
    ):
        """A case-holder update (seed 000); it resets the update clocks (R-OB-11, R-OB-12)."""
        action = "register.update"
        record = await open_record(register_id, principal, action)
        await check_version(principal, action, record, if_match)
        if refusals := not_on_register(register.standing(record)):
            return await refuse(principal, action, register_id, refusals)
        update = Update(id=uuid.uuid4(), at=clock.now(), by=_actor(principal), text=body.text)
        record.add_update(update)
        event = UpdateAdded(
            register_id=register_id, update_id=update.id, added_by=update.by, text=update.text, written_at=update.at
        )
        messages = [register.outgoing(event, update.at, Context(request.state.correlation_id), update.id)]
        await commit(principal, action, record, messages, [update.id])
        return {"register_id": register_id, "update_id": str(update.id), "version": record.next_version()}

    @router.put("/register/{register_id}/professionals", responses=documented(404, 409, 422))
    async def set_professionals(
        register_id: str,
        body: ProfessionalsBody,
        request: Request,
        principal: Annotated[Principal, Depends(require_roles(*KEEPERS))],
        if_match: Annotated[str | None, Header()] = None,
    ):
        """The professionals around the person and their work contacts, kept up to date (seed 000)."""
        action = "register.professionals"
        record = await open_record(register_id, principal, action)
        await check_version(principal, action, record, if_match)
        if refusals := not_on_register(register.standing(record)):
            return await refuse(principal, action, register_id, refusals)
        listing_id = uuid.uuid4()
        listing = ProfessionalsList(
            id=str(listing_id), at=clock.now(), by=_actor(principal), professionals=body.professionals
        )
        record.set_professionals(listing)
        event = ProfessionalsChanged(register_id=register_id, professionals=listing.professionals, changed_by=listing.by)
        messages = [register.outgoing(event, listing.at, Context(request.state.correlation_id), listing_id)]
        await commit(principal, action, record, messages, [listing_id])
        return {"register_id": register_id, "version": record.next_version()}

    @router.post("/register/{register_id}/removal", responses={202: {"description": "Asked: the DSR team decides"}, **documented(404, 409, 422)})
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
        action = "register.removal"
        record = await open_record(register_id, principal, action)
        await check_version(principal, action, record, if_match)
        if refusals := removal_refusals(register.standing(record)):
            return await refuse(principal, action, register_id, refusals)
        now, by, context = clock.now(), _actor(principal), Context(request.state.correlation_id)
        if principal.has(Role.DSR_TEAM):
            fact = Fact(id=str(uuid.uuid4()), kind="removal", at=now, by=by, rationale=body.reason)
            messages = register.apply_fact(record, fact, context, own=True)
            await commit(principal, action, record, messages, [uuid.UUID(fact.id)])
            return {"register_id": register_id, "outcome": "removed", "version": record.next_version()}
        update = Update(id=uuid.uuid4(), at=now, by=by, kind="removal_request", text=body.reason)
        request_id = uuid.uuid4()
        asked = RemovalRequest(
            id=str(request_id), at=now, by=by, update_id=update.id, best_interest_meeting=body.best_interest_meeting
        )
        record.add_update(update)
        record.add_removal_request(asked)
        messages = [
            register.outgoing(
                UpdateAdded(
                    register_id=register_id, update_id=update.id, added_by=by, kind=update.kind, text=update.text, written_at=now
                ),
                now,
                context,
                update.id,
            ),
            register.outgoing(
                RemovalRequested(
                    register_id=register_id,
                    requested_by=by,
                    update_id=update.id,
                    best_interest_meeting=body.best_interest_meeting,
                ),
                now,
                context,
                request_id,
            ),
        ]
        await commit(principal, action, record, messages, [update.id, request_id])
        response.status_code = status.HTTP_202_ACCEPTED
        return {"register_id": register_id, "outcome": "removal_requested", "version": record.next_version()}

    @router.get("/hospital-events/unmatched")
    async def unmatched(principal: Annotated[Principal, Depends(require_roles(Role.DSR_TEAM))]) -> dict:
        """Admissions and discharges of people not on the register: kept, shown
        here, and applied when a referral names the person (README)."""
        waiting = await people.list_unmatched()
        await audit.record(principal, "hospital_events.unmatched", "*")
        return {
            "not_on_register": [
                {
                    "kind": f.kind,
                    "at": f.at,
                    "hospital_ods_code": f.hospital_ods_code,
                    "hospital": f.hospital.model_dump(mode="json") if f.hospital else None,
                }
                for f in waiting
            ],
            "removed_but_in_hospital": await people.removed_in_hospital(),
        }

    return router


def hospital_merges_router(register: Register) -> APIRouter:
    """Hospital merges of two patient records (HL7 A40) that touch someone on
    the register: never applied by the register, resolved by the DSR team."""
    router = APIRouter(tags=["hospital events"])
    people, audit, clock = register.people, register.runtime.audit, register.runtime.clock

    def view(doc: dict) -> dict:
        return {
            "merge_id": doc["_id"],
            "kept_register_id": doc["kept_register_id"],
            "merged_register_id": doc["merged_register_id"],
            "hospital_ods_code": doc["hospital_ods_code"],
            "merged_at": doc["merged_at"],
            "resolved_at": doc.get("resolved_at"),
            "resolved_by": doc.get("resolved_by"),
            "note": doc.get("note"),
        }

    @router.get("/hospital-events/merges")
    async def merges(
        principal: Annotated[Principal, Depends(require_roles(Role.DSR_TEAM))],
        resolved: Annotated[bool, Query(description="Those already resolved instead of those waiting.")] = False,
    ) -> dict:
        """Merges waiting for the DSR team: the register ids of the records the
        hospital merged (one may be someone not on the register: null). Check
        with the hospital which NHS number is right and correct the register by
        hand (a new referral, or a removal), then mark the merge resolved."""
        found = await people.list_merges(resolved=resolved)
        for doc in found:
            for register_id in {doc["kept_register_id"], doc["merged_register_id"]} - {None}:
                await audit.record(principal, "hospital_events.merges", register_id)
        return {"merges": [view(doc) for doc in found]}

    @router.post("/hospital-events/merges/{merge_id}/resolved", responses=documented(404, 422))
    async def resolve(
        merge_id: str,
        body: MergeResolvedBody,
        principal: Annotated[Principal, Depends(require_roles(Role.DSR_TEAM))],
    ) -> dict:
        """The DSR team has dealt with the merge; `reason` says how (no NHS number here)."""
        doc = await people.resolve_merge(merge_id, _actor(principal), body.reason, clock.now())
        if doc is None:
            await audit.record(principal, "hospital_events.merge.resolve", merge_id, "missing")
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such merge waiting")
        for register_id in {doc["kept_register_id"], doc["merged_register_id"]} - {None}:
            await audit.record(principal, "hospital_events.merge.resolve", register_id)
        return view(doc)

    return router
