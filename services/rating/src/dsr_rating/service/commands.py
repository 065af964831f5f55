"""Changes people make over HTTP (docs/CONTRACT.md): the DSR team changes
anyone's record; a referrer those of the people they referred or work with
(else the record is missing, so the register does not say who is on it).
Every change is audited, refusals and conflicts included."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from dsr_shared.contract.events import ProfessionalsChanged, Rating, RemovalRequested, UpdateAdded
from dsr_shared.contract.events.referrals import Professional
from dsr_shared.platform.auth import Principal, Role
from dsr_shared.platform.db import Outgoing, VersionConflict
from dsr_shared.platform.runtime import Context
from dsr_rating.domain import event_facts
from dsr_rating.domain.facts import ProfessionalsList, Update
from dsr_rating.domain.record import PersonRecord
from dsr_rating.domain.rules import Refusal, not_on_register, rating_change_refusals, removal_refusals
from dsr_rating.service.core import Register, record_contacts


class Refused(Exception):
    """The change breaks a rule: every reason (HTTP 422)."""

    def __init__(self, refusals: list[Refusal]) -> None:
        super().__init__(refusals)
        self.refusals = refusals


class Conflict(Exception):
    """The record is not as the change expected: read it again (HTTP 409)."""


@dataclass(frozen=True)
class Changed:
    version: int
    outcome: str = "ok"
    update_id: uuid.UUID | None = None


def actor(principal: Principal) -> str:
    return principal.email or principal.subject


class Commands(Register):
    async def open_record(self, register_id: str, principal: Principal, action: str) -> PersonRecord:
        """The record, if this principal may see it; missing otherwise (audited either way)."""
        record = await self.people.get(register_id)
        known = record if record is not None and self.standing(record).status != "not_entered" else None
        await self.access.require(principal, action, register_id, record_contacts(known) if known else None)
        assert known is not None  # else require raised
        return known

    async def _to_change(
        self, register_id: str, principal: Principal, action: str, if_match: str | None
    ) -> PersonRecord:
        record = await self.open_record(register_id, principal, action)
        if if_match is not None and if_match.strip('W/"') != str(record.version):
            await self.audit.record(principal, action, record.register_id, "conflict")
            raise Conflict(f"the record is at version {record.version}, not {if_match}")
        return record

    async def _refuse_if(self, principal: Principal, action: str, register_id: str, refusals: list[Refusal]) -> None:
        if refusals:
            await self.audit.record(principal, action, register_id, "refused")
            raise Refused(refusals)

    async def _commit(
        self,
        principal: Principal,
        action: str,
        record: PersonRecord,
        messages: list[Outgoing],
        own_ids: list[uuid.UUID],
    ) -> None:
        try:
            await self.commit(record, messages, own_event_ids=own_ids)
        except VersionConflict as exc:
            await self.audit.record(principal, action, record.register_id, "conflict")
            raise Conflict("the record changed meanwhile; read it again") from exc
        await self.audit.record(principal, action, record.register_id, "ok")

    async def change_rating(
        self,
        register_id: str,
        principal: Principal,
        *,
        if_match: str | None,
        correlation_id: str,
        rating: Rating,
        rationale: str,
        agreed_with_person: bool | None,
    ) -> Changed:
        """R-RAG-2: a new rating with its rationale, by whom, and whether it was
        discussed and agreed with the person or their family."""
        action = "register.rating"
        record = await self._to_change(register_id, principal, action, if_match)
        now, by_dsr_team = self.clock.now(), principal.has(Role.DSR_TEAM)
        refusals = rating_change_refusals(
            self.standing(record),
            rating,
            by_dsr_team=by_dsr_team,
            now=now,
            post_discharge=self.area.post_discharge.rating,
        )
        await self._refuse_if(principal, action, register_id, refusals)
        fact = event_facts.rating_fact(
            at=now,
            by=actor(principal),
            rationale=rationale,
            rating=rating,
            agreed_with_person=agreed_with_person,
            by_dsr_team=by_dsr_team,
        )
        messages = self.apply_fact(record, fact, Context(correlation_id), own=True)
        if not messages:  # a fact newer than now is on the record (clocks apart): ask to read again
            raise Conflict("the record has a later change; read it again")
        await self._commit(principal, action, record, messages, [uuid.UUID(fact.id)])
        return Changed(record.next_version())

    async def add_update(
        self, register_id: str, principal: Principal, *, if_match: str | None, correlation_id: str, text: str
    ) -> Changed:
        """A case-holder update (seed 000); it resets the update clocks (R-OB-11, R-OB-12)."""
        action = "register.update"
        record = await self._to_change(register_id, principal, action, if_match)
        await self._refuse_if(principal, action, register_id, not_on_register(self.standing(record)))
        update = Update(id=uuid.uuid4(), at=self.clock.now(), by=actor(principal), text=text)
        record.add_update(update)
        messages = [self._update_added(register_id, update, Context(correlation_id))]
        await self._commit(principal, action, record, messages, [update.id])
        return Changed(record.next_version(), update_id=update.id)

    async def set_professionals(
        self,
        register_id: str,
        principal: Principal,
        *,
        if_match: str | None,
        correlation_id: str,
        professionals: list[Professional],
    ) -> Changed:
        """The professionals around the person and their work contacts, kept up to date (seed 000)."""
        action = "register.professionals"
        record = await self._to_change(register_id, principal, action, if_match)
        await self._refuse_if(principal, action, register_id, not_on_register(self.standing(record)))
        listing_id = uuid.uuid4()
        listing = ProfessionalsList(
            id=str(listing_id), at=self.clock.now(), by=actor(principal), professionals=professionals
        )
        record.set_professionals(listing)
        event = ProfessionalsChanged(
            register_id=register_id, professionals=listing.professionals, changed_by=listing.by
        )
        messages = [self.outgoing(event, listing.at, Context(correlation_id), listing_id)]
        await self._commit(principal, action, record, messages, [listing_id])
        return Changed(record.next_version())

    async def remove(
        self,
        register_id: str,
        principal: Principal,
        *,
        if_match: str | None,
        correlation_id: str,
        reason: str,
        best_interest_meeting: bool,
    ) -> Changed:
        """R-RAG-6: the DSR team removes; a referrer asks, with the update that
        records the conversation or best-interest meeting, and the DSR team is alerted."""
        action = "register.removal"
        record = await self._to_change(register_id, principal, action, if_match)
        await self._refuse_if(principal, action, register_id, removal_refusals(self.standing(record)))
        now, by, context = self.clock.now(), actor(principal), Context(correlation_id)
        decided = event_facts.removal(
            by_dsr_team=principal.has(Role.DSR_TEAM),
            at=now,
            by=by,
            reason=reason,
            best_interest_meeting=best_interest_meeting,
        )
        if not isinstance(decided, event_facts.RemovalAsked):
            messages = self.apply_fact(record, decided, context, own=True)
            await self._commit(principal, action, record, messages, [uuid.UUID(decided.id)])
            return Changed(record.next_version(), "removed")
        update, asked = decided.update, decided.request
        record.add_update(update)
        record.add_removal_request(asked)
        requested = RemovalRequested(
            register_id=register_id,
            requested_by=by,
            update_id=update.id,
            best_interest_meeting=asked.best_interest_meeting,
        )
        messages = [
            self._update_added(register_id, update, context),
            self.outgoing(requested, now, context, uuid.UUID(asked.id)),
        ]
        await self._commit(principal, action, record, messages, [update.id, uuid.UUID(asked.id)])
        return Changed(record.next_version(), "removal_requested")

    def _update_added(self, register_id: str, update: Update, context: Context) -> Outgoing:
        event = UpdateAdded(
            register_id=register_id,
            update_id=update.id,
            added_by=update.by,
            kind=update.kind,
            text=update.text,
            written_at=update.at,
        )
        return self.outgoing(event, update.at, context, update.id)
