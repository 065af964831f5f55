"""The database client, and exactly-once effects for at-least-once delivery.

A handler's effect, the record that its event was processed (the inbox) and the
events it causes (the outbox) are written in one transaction. A redelivered
event finds its inbox record and changes nothing; events in the outbox are
published right after the commit, and by the relay if the process died first.
Consumers drop the duplicates a relay may publish, by event_id."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import structlog
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from tenacity import AsyncRetrying

from dsr_shared.clock import Clock
from dsr_shared.envelope import Envelope
from dsr_shared.faults import transient_retry_policy
from dsr_shared.messaging import EventPublisher

log = structlog.get_logger()


def build_mongo_client(uri: str) -> AsyncMongoClient:
    return AsyncMongoClient(uri, tz_aware=True, uuidRepresentation="standard", serverSelectionTimeoutMS=5000)


class VersionConflict(Exception):
    """A record changed between reading and writing it: two changes at once,
    and this one lost. HTTP answers 409; a handler reads again and retries."""


@dataclass(frozen=True)
class Outgoing:
    """An event to publish once the transaction that caused it commits."""

    envelope: Envelope
    topic: str
    key: str


class Outbox:
    def __init__(self, db: AsyncDatabase, publisher: EventPublisher, clock: Clock, *, silent: bool = False) -> None:
        self._entries = db["outbox"]
        self._publisher = publisher
        self._clock = clock
        # While rebuilding from the topics, what a handler would publish was
        # published the first time round: nothing is staged or sent.
        self._silent = silent

    async def ensure_indexes(self) -> None:
        await self._entries.create_index([("published_at", 1), ("created_at", 1)])

    async def stage(self, messages: list[Outgoing], session: AsyncClientSession) -> None:
        if not messages or self._silent:
            return
        now = self._clock.now()
        await self._entries.insert_many(
            [
                {
                    "_id": str(m.envelope.event_id),
                    "topic": m.topic,
                    "key": m.key,
                    "envelope": m.envelope.model_dump(mode="json"),
                    "created_at": now,
                    "published_at": None,
                }
                for m in messages
            ],
            session=session,
        )

    async def publish(self, messages: list[Outgoing]) -> None:
        """All in flight at once (in order within a partition), then one write
        marks them published: one broker and one database round trip, not one
        of each per event. One the broker refused is sent again with retries."""
        if self._silent or not messages:
            return
        sent = [await self._publisher.send(m.envelope, m.topic, m.key) for m in messages]
        acks = await asyncio.gather(*sent, return_exceptions=True)
        for m, ack in zip(messages, acks):
            if isinstance(ack, BaseException):
                await self._publisher.publish(m.envelope, m.topic, m.key)
        ids = [str(m.envelope.event_id) for m in messages]
        await self._entries.update_many({"_id": {"$in": ids}}, {"$set": {"published_at": self._clock.now()}})

    async def relay_once(self, older_than: timedelta) -> int:
        """Publish what a crashed process staged but never published."""
        cutoff = self._clock.now() - older_than
        pending = self._entries.find({"published_at": None, "created_at": {"$lte": cutoff}}).sort("created_at", 1)
        messages = [
            Outgoing(Envelope.model_validate(doc["envelope"]), doc["topic"], doc["key"])
            async for doc in pending.limit(500)
        ]
        await self.publish(messages)
        return len(messages)

    async def relay_forever(self, older_than: timedelta, every: float = 2.0) -> None:
        while True:
            try:
                relayed = await self.relay_once(older_than)
                if relayed:
                    log.info("outbox relayed", count=relayed)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep relaying; the next round retries
                log.warning("outbox relay failed", error=repr(exc))
            await asyncio.sleep(every)


Effect = Callable[[AsyncClientSession], Awaitable[list[Outgoing]]]


class UnitOfWork:
    """Runs one handler's effect at most once per (consumer, event_id)."""

    def __init__(self, client: AsyncMongoClient, db: AsyncDatabase, outbox: Outbox, consumer: str, clock: Clock) -> None:
        self._client = client
        self._inbox = db["processed_events"]
        self._outbox = outbox
        self._consumer = consumer
        self._clock = clock

    def _inbox_id(self, event_id: uuid.UUID | str) -> str:
        return f"{self._consumer}:{event_id}"

    async def mark_processed(self, event_ids: list[uuid.UUID | str], session: AsyncClientSession) -> None:
        """Record events this service made itself as processed, so that reading
        them back from its own topic changes nothing (only a rebuild applies them)."""
        now = self._clock.now()
        await self._inbox.insert_many([{"_id": self._inbox_id(e), "at": now} for e in event_ids], session=session)

    async def run_once(self, event_id: uuid.UUID | str, effect: Effect) -> bool:
        """True when the effect ran now; False when it had already run."""
        inbox_id = self._inbox_id(event_id)

        # No read of the inbox first: a redelivery fails on the inbox insert,
        # the transaction's first write, before the effect runs.
        async def transaction(session: AsyncClientSession) -> list[Outgoing]:
            await self._inbox.insert_one({"_id": inbox_id, "at": self._clock.now()}, session=session)
            messages = await effect(session)
            await self._outbox.stage(messages, session)
            return messages

        try:
            messages = await self.in_transaction(transaction)
        except DuplicateKeyError:
            if await self._inbox.find_one({"_id": inbox_id}, projection={"_id": 1}):
                return False  # a concurrent delivery won
            raise  # the effect's own duplicate: not a reason to drop the event
        await self._outbox.publish(messages)
        return True

    async def in_transaction(self, work: Callable[[AsyncClientSession], Awaitable[list[Outgoing]]]) -> list[Outgoing]:
        async for attempt in AsyncRetrying(**transient_retry_policy()):
            with attempt:
                async with self._client.start_session() as session:
                    return await session.with_transaction(work)
        raise AssertionError("unreachable")

    async def commit_and_publish(self, work: Callable[[AsyncClientSession], Awaitable[list[Outgoing]]]) -> list[Outgoing]:
        """For commands from HTTP: the change and its events in one transaction."""
        messages: list[Outgoing] = []

        async def transaction(session: AsyncClientSession) -> list[Outgoing]:
            nonlocal messages
            messages = await work(session)
            await self._outbox.stage(messages, session)
            return messages

        await self.in_transaction(transaction)
        await self._outbox.publish(messages)
        return messages
