"""The register's transaction, shared by every use case: load a record,
change it through the domain, save it with its announcements through the one
unit of work."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random

from dsr_shared.contract.envelope import Envelope
from dsr_shared.contract.events import Event
from dsr_shared.platform.access import Contacts, PersonAccess
from dsr_shared.platform.clock import Clock
from dsr_shared.platform.db import Outgoing, VersionConflict
from dsr_shared.platform.runtime import Context
from dsr_shared.platform.unit_of_work import Transaction, UnitOfWork
from dsr_shared.rules.area import AreaProfile
from dsr_shared.rules.working_time import WorkingCalendar
from dsr_rating.domain.announce import announcements
from dsr_rating.domain.facts import Fact
from dsr_rating.domain.record import PersonRecord
from dsr_rating.domain.standing import Standing
from dsr_rating.service.ports import Audit, Outgoer, People

Change = Callable[[PersonRecord, Context], list[Outgoing]]


def context_of(envelope: Envelope) -> Context:
    return Context(envelope.correlation_id, envelope.event_id)


def record_contacts(record: PersonRecord) -> Contacts:
    """Who referred the person, and the professionals on their current list."""
    professionals = record.professionals.professionals if record.professionals else []
    return Contacts.of(record.referrer_emails, (p.email for p in professionals))


class Register:
    def __init__(
        self,
        uow: UnitOfWork,
        people: People,
        audit: Audit,
        clock: Clock,
        area: AreaProfile,
        outgoing: Outgoer,
        nhs_hash_key: str,
    ) -> None:
        self.uow = uow
        self.people = people
        self.audit = audit
        self.access = PersonAccess(audit)  # type: ignore[arg-type]  # records through Audit only
        self.clock = clock
        self.area = area
        self.calendar = WorkingCalendar(area.working_time)
        self._outgoing = outgoing
        self.nhs_hash_key = nhs_hash_key

    def standing(self, record: PersonRecord) -> Standing:
        return record.standing(self.area, self.calendar)

    def apply_fact(self, record: PersonRecord, fact: Fact, context: Context, *, own: bool = False) -> list[Outgoing]:
        """Add one fact and announce what it changed. An own fact (made here,
        over HTTP) is announced under its own id (domain/announce.py)."""
        return self.change(record, lambda: record.add_fact(fact), context, own_fact_id=fact.id if own else None)

    def apply_facts(self, record: PersonRecord, facts: list[Fact], context: Context) -> list[Outgoing]:
        """Several facts at once (a referral and the hospital events kept for the
        person): announced together, so nothing is announced that the next
        fact makes untrue."""
        return self.change(record, lambda: [record.add_fact(f) for f in facts], context)

    def change(
        self, record: PersonRecord, mutate: Callable[[], object], context: Context, *, own_fact_id: str | None = None
    ) -> list[Outgoing]:
        """Change the record and announce every transition it adds or alters."""
        before = record.timeline(self.standing(record))
        mutate()
        told = announcements(
            record, before, self.standing(record), version=record.next_version(), own_fact_id=own_fact_id
        )
        return [self.outgoing(a.event, a.entry.at, context, a.event_id) for a in told]

    def outgoing(self, event: Event, at: datetime, context: Context, event_id: uuid.UUID) -> Outgoing:
        return self._outgoing(
            event,
            occurred_at=at,
            correlation_id=context.correlation_id,
            causation_id=context.causation_id,
            event_id=event_id,
        )

    async def save(self, record: PersonRecord, transaction: Transaction) -> None:
        await self.people.save(record, self.standing(record), transaction)

    async def commit(self, record: PersonRecord, messages: list[Outgoing], *, own_event_ids: list[uuid.UUID]) -> None:
        """A change from HTTP: saved only if nobody changed the record since it
        was read (else VersionConflict → 409); its own events are marked as
        processed so reading them back from the topic changes nothing."""

        async def work(transaction: Transaction) -> list[Outgoing]:
            await self.save(record, transaction)
            if own_event_ids:
                await self.uow.mark_processed(list(own_event_ids), transaction)
            return messages

        await self.uow.commit_and_publish(work)

    async def change_once(self, envelope: Envelope, register_id: str, change: Change) -> None:
        """Apply `change` to the person's record once per event, re-reading on a conflict."""

        async def effect(transaction: Transaction) -> list[Outgoing]:
            record = await self.people.get(register_id, transaction) or PersonRecord(register_id=register_id)
            messages = change(record, context_of(envelope))
            await self.save(record, transaction)
            return messages

        await retrying_conflicts(lambda: self.uow.run_once(envelope.event_id, effect))


async def retrying_conflicts(work: Callable[[], Awaitable[object]]) -> None:
    """For event handlers: a record changed under us is read again and the
    event applied to what it is now."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(VersionConflict),
        wait=wait_random(0.01, 0.2),
        stop=stop_after_attempt(20),
        reraise=True,
    ):
        with attempt:
            await work()
