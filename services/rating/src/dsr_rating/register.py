"""The register's use cases, between the entry points (handlers, HTTP,
sweeper) and the pure domain: load a record, change it, save it with its
announcements in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

from pymongo.asynchronous.client_session import AsyncClientSession
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random

from dsr_shared.db import Outgoing, VersionConflict
from dsr_shared.events import Event
from dsr_shared.runtime import Context, Runtime
from dsr_shared.working_time import WorkingCalendar
from dsr_rating.adapters.people import PeopleStore
from dsr_rating.domain.announce import announcements
from dsr_rating.domain.facts import Fact
from dsr_rating.domain.record import PersonRecord
from dsr_rating.domain.standing import Standing


class Register:
    def __init__(self, runtime: Runtime, people: PeopleStore) -> None:
        self.runtime = runtime
        self.people = people
        self.area = runtime.settings.area
        self.calendar = WorkingCalendar(self.area.working_time)

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
        told = announcements(record, before, self.standing(record), version=record.next_version(), own_fact_id=own_fact_id)
        return [self.outgoing(a.event, a.entry.at, context, a.event_id) for a in told]

    def outgoing(self, event: Event, at: datetime, context: Context, event_id: uuid.UUID) -> Outgoing:
        return self.runtime.outgoing(
            event, occurred_at=at, correlation_id=context.correlation_id, causation_id=context.causation_id, event_id=event_id
        )

    async def save(self, record: PersonRecord, session: AsyncClientSession) -> None:
        await self.people.save(record, self.standing(record), session)

    async def commit(self, record: PersonRecord, messages: list[Outgoing], *, own_event_ids: list[uuid.UUID]) -> None:
        """A change from HTTP: saved only if nobody changed the record since it
        was read (else VersionConflict → 409); its own events are marked as
        processed so reading them back from the topic changes nothing."""

        async def work(session: AsyncClientSession) -> list[Outgoing]:
            await self.save(record, session)
            if own_event_ids:
                await self.runtime.uow.mark_processed(own_event_ids, session)
            return messages

        await self.runtime.uow.commit_and_publish(work)


async def retrying_conflicts(work: Callable[[], Awaitable[object]]) -> None:
    """For event handlers: a record changed under us is read again and the
    event applied to what it is now."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(VersionConflict), wait=wait_random(0.01, 0.2), stop=stop_after_attempt(20), reraise=True
    ):
        with attempt:
            await work()
