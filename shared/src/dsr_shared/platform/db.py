"""The database client, and exactly-once effects for at-least-once delivery.

A handler's effect, the record that its event was processed (the inbox) and the
events it causes (the outbox) are written in one transaction. A redelivered
event finds its inbox record and changes nothing; events in the outbox are
published right after the commit, and by the relay if the process died first
or the broker did not take them within DSR_PUBLISH_WAIT_SECONDS. Consumers
drop the duplicates a relay may publish, by event_id.

An entry the broker refuses for good (not a passing fault) is parked with its
error: it is counted (dsr_outbox_parked), listed for operators (GET
/ops/outbox, `dsr outbox`), and the entries after it go on."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import structlog
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from tenacity import AsyncRetrying

from dsr_shared.contract.envelope import Envelope
from dsr_shared.platform.batching import AfterCommit, Batch, BatchBroken, open_batch_of, opened, when_committed
from dsr_shared.platform.clock import Clock
from dsr_shared.platform.faults import is_transient, transient_retry_policy
from dsr_shared.platform.logging import throttled
from dsr_shared.platform.messaging import EventPublisher, encode, headers_of, message_bytes
from dsr_shared.platform.metrics import OUTBOX_PARKED, OUTBOX_PARKINGS, PUBLISH_DEFERRED

log = structlog.get_logger()

# The server's code for a write that met an existing unique key (in a bulk write's errors).
DUPLICATE_KEY = 11000


# A pooled connection idle this long is closed, not reused: one the server or
# a firewall dropped meanwhile fails the first write on it (where writes are
# not retried, as on the local database, it failed a sign-in after a quiet
# half hour in the chaos run).
MAX_IDLE_MS = 60_000


def build_mongo_client(uri: str) -> AsyncMongoClient:
    return AsyncMongoClient(
        uri, tz_aware=True, uuidRepresentation="standard", serverSelectionTimeoutMS=5000, maxIdleTimeMS=MAX_IDLE_MS
    )


class VersionConflict(Exception):
    """A record changed between reading and writing it: two changes at once,
    and this one lost. HTTP answers 409; a handler reads again and retries."""


@dataclass(frozen=True)
class Outgoing:
    """An event to publish once the transaction that caused it commits."""

    envelope: Envelope
    topic: str
    key: str


class EventTooLarge(ValueError):
    """An event over the broker's limit: refused before its change commits.
    The bounds on every field (dsr_shared.contract.events.bounds) keep this from happening."""


Sent = Literal["published", "parked", "deferred"]


class Outbox:
    def __init__(
        self,
        db: AsyncDatabase,
        publisher: EventPublisher,
        clock: Clock,
        *,
        silent: bool = False,
        max_message_bytes: int = 1_048_576,
        publish_wait_seconds: float = 3.0,
    ) -> None:
        self._entries = db["outbox"]
        self._publisher = publisher
        self._clock = clock
        # While rebuilding from the topics, what a handler would publish was
        # published the first time round: nothing is staged or sent.
        self._silent = silent
        self._max_message_bytes = max_message_bytes
        self._publish_wait = publish_wait_seconds
        # Acknowledgements awaited in the background, and the ids to mark published.
        self._settling: set[asyncio.Task] = set()
        self._taken: list[str] = []
        self._marking: asyncio.Task | None = None

    async def ensure_indexes(self) -> None:
        await self._entries.create_index([("published_at", 1), ("created_at", 1)])
        await self._entries.create_index([("parked_at", 1)], sparse=True)

    async def stage(self, messages: list[Outgoing], session: AsyncClientSession) -> None:
        if not messages or self._silent:
            return
        for m in messages:
            size = message_bytes(m.key.encode(), encode(m.envelope), headers_of(m.envelope))
            if size > self._max_message_bytes:
                raise EventTooLarge(
                    f"{m.envelope.event_type} is {size} bytes, over the limit of {self._max_message_bytes}"
                )
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
        """Hand the events to the producer right after the commit, waiting at
        most DSR_PUBLISH_WAIT_SECONDS for it to take them (it is away), but
        not for the broker's acknowledgement: the change is committed, so the
        outbox already guarantees the events (an entry not marked published in
        time is the relay's). The acknowledgements are awaited, and the
        entries marked, in the background. Never raises for the broker's faults."""
        if self._silent or not messages:
            return
        try:
            acks = await asyncio.wait_for(self._hand_over(messages), self._publish_wait)
        except TimeoutError:
            PUBLISH_DEFERRED.inc()
            throttled(log).warning(
                "events not published within the wait: the outbox relay will",
                count=len(messages),
                wait_seconds=self._publish_wait,
            )
            return
        settling = asyncio.create_task(self._settle(messages, acks))
        self._settling.add(settling)
        settling.add_done_callback(self._settling.discard)

    async def _hand_over(self, messages: list[Outgoing]) -> list[asyncio.Future]:
        """All in flight at once: the idempotent producer keeps their order within a partition."""
        acks: list[asyncio.Future] = []
        for m in messages:
            try:
                acks.append(await self._publisher.send(m.envelope, m.topic, m.key))
            except Exception as exc:  # noqa: BLE001 - refused before sending (too large): _settle parks it
                refused = asyncio.get_running_loop().create_future()
                refused.set_exception(exc)
                acks.append(refused)
        return acks

    async def _settle(self, messages: list[Outgoing], acks: list[asyncio.Future]) -> None:
        """Once the broker answered: those it took are marked (with those of
        other commits answered meanwhile: one write for many); one refused for
        good is parked; one met by a passing fault is left to the relay
        (consumers drop the duplicate if the broker took it after all)."""
        answers = await asyncio.gather(*acks, return_exceptions=True)
        for m, ack in zip(messages, answers, strict=True):
            if not isinstance(ack, BaseException):
                self._taken.append(str(m.envelope.event_id))
            elif is_transient(ack) or isinstance(ack, asyncio.CancelledError):  # the producer stopped: the relay's
                throttled(log).warning("publishing deferred: the broker is not answering", error=repr(ack)[:300])
            else:
                await self._park(str(m.envelope.event_id), m.topic, m.envelope.event_type, repr(ack))
        if self._marking is None and self._taken:
            self._marking = asyncio.create_task(self._mark_taken())

    async def _mark_taken(self) -> None:
        """Mark what the broker took, in as few writes as it comes; an entry
        left unmarked (the database away, a crash) is published again by the
        relay, and its consumers drop the repeat."""
        try:
            while self._taken:
                taken, self._taken = self._taken, []
                await self._entries.update_many({"_id": {"$in": taken}}, {"$set": {"published_at": self._clock.now()}})
        except Exception as exc:  # noqa: BLE001 - the relay publishes them again
            throttled(log).warning("published events not marked: the relay will send them again", error=repr(exc)[:300])
        finally:
            self._marking = None

    async def settled(self) -> None:
        """Wait until every acknowledgement awaited in the background is in and marked."""
        while self._settling or self._marking:
            await asyncio.gather(*self._settling, *([self._marking] if self._marking else []))

    async def _send(self, m: Outgoing, raw: dict[str, Any]) -> Sent:
        """Publish one entry (the relay); a refusal for good parks it, a passing fault defers it."""
        try:
            await self._publisher.publish(m.envelope, m.topic, m.key)
        except Exception as exc:  # noqa: BLE001 - passing: try later; refused for good: park it, go on
            if is_transient(exc):
                throttled(log).warning("publishing deferred: the broker is not answering", error=repr(exc)[:300])
                return "deferred"
            await self._park(str(m.envelope.event_id), m.topic, raw.get("event_type"), repr(exc))
            return "parked"
        await self._entries.update_one({"_id": str(m.envelope.event_id)}, {"$set": {"published_at": self._clock.now()}})
        return "published"

    async def _park(self, entry_id: str, topic: str, event_type: Any, error: str) -> None:
        await self._entries.update_one(
            {"_id": entry_id}, {"$set": {"parked_at": self._clock.now(), "error": error[:2000]}}
        )
        OUTBOX_PARKINGS.labels(topic).inc()
        log.error(
            "outbox entry parked: the broker refused it",
            entry_id=entry_id,
            topic=topic,
            event_type=str(event_type)[:100],
            error=error[:300],
        )

    async def relay_once(self, older_than: timedelta) -> int:
        """Publish what was staged but not published (a crash, the broker away),
        oldest first; returns how many were published. An entry refused for
        good is parked and the others go on."""
        cutoff = self._clock.now() - older_than
        pending = self._entries.find({"published_at": None, "parked_at": None, "created_at": {"$lte": cutoff}}).sort(
            "created_at", 1
        )
        published = 0
        async for doc in pending.limit(500):
            try:
                m = Outgoing(Envelope.model_validate(doc["envelope"]), doc["topic"], doc["key"])
            except Exception as exc:  # noqa: BLE001 - an unreadable entry cannot be published, ever
                await self._park(doc["_id"], doc.get("topic", "?"), None, f"unreadable entry: {exc!r}")
                continue
            sent = await self._send(m, doc["envelope"])
            if sent == "deferred":
                break
            published += sent == "published"
        OUTBOX_PARKED.set(await self._entries.count_documents({"published_at": None, "parked_at": {"$ne": None}}))
        return published

    async def relay_forever(self, older_than: timedelta, every: float = 2.0) -> None:
        while True:
            try:
                relayed = await self.relay_once(older_than)
                if relayed:
                    log.info("outbox relayed", count=relayed)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep relaying; the next round retries
                throttled(log).warning("outbox relay failed", error=repr(exc)[:300])
            await asyncio.sleep(every)

    async def parked(self, limit: int = 200) -> list[dict[str, Any]]:
        """Entries waiting for an operator: what, where, when, why; never the
        event's data or key (a key on the hospital topics is an NHS number)."""
        found = self._entries.find({"published_at": None, "parked_at": {"$ne": None}}).sort("parked_at", 1)
        return [
            {
                "event_id": doc["_id"],
                "topic": doc.get("topic"),
                "event_type": (doc.get("envelope") or {}).get("event_type"),
                "created_at": doc.get("created_at"),
                "parked_at": doc["parked_at"],
                "error": doc.get("error", ""),
            }
            async for doc in found.limit(limit)
        ]

    async def unpark(self, event_id: str) -> bool:
        """Let the relay try a parked entry again (once its cause is fixed)."""
        answer = await self._entries.update_one(
            {"_id": event_id, "published_at": None, "parked_at": {"$ne": None}},
            {"$set": {"parked_at": None, "error": None}},
        )
        return answer.modified_count == 1


Effect = Callable[[AsyncClientSession], Awaitable[list[Outgoing]]]


class UnitOfWork:
    """Runs one handler's effect at most once per (consumer, event_id)."""

    def __init__(
        self, client: AsyncMongoClient, db: AsyncDatabase, outbox: Outbox, consumer: str, clock: Clock
    ) -> None:
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
        batch = open_batch_of(self)
        if batch is not None:
            return await batch.run(inbox_id, effect)

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

    @asynccontextmanager
    async def batch(self, event_ids: list[uuid.UUID | str]) -> AsyncIterator[None]:
        """Effects run by `run_once` inside share one transaction: one read of
        the inbox before, and on leaving one insert of the inbox records, one
        of the outbox entries and one commit; then the events are published.
        An effect that fails breaks the batch: nothing of it is kept, and
        BatchBroken (or the commit's own error) is raised to the caller."""
        ids = [self._inbox_id(e) for e in event_ids]
        done = {doc["_id"] async for doc in self._inbox.find({"_id": {"$in": ids}}, projection={"_id": 1})}
        async with self._client.start_session() as session:
            batch = Batch(owner=self, transaction=session, done=done)
            await session.start_transaction()
            try:
                with opened(batch):
                    yield
                if batch.ran:
                    now = self._clock.now()
                    await self._inbox.insert_many([{"_id": i, "at": now} for i in batch.ran], session=session)
                    await self._outbox.stage(batch.messages, session)
                    await session.commit_transaction()
            finally:
                if session.in_transaction:
                    await session.abort_transaction()
        await self._outbox.publish(batch.messages)
        await batch.done_with()

    async def when_committed(self, call: AfterCommit) -> None:
        """`call` once this task's change has committed (at once outside a batch)."""
        await when_committed(self, call)

    async def in_transaction(self, work: Callable[[AsyncClientSession], Awaitable[list[Outgoing]]]) -> list[Outgoing]:
        if open_batch_of(self) is not None:
            # A second transaction in the batch's task could wait on the batch's own writes.
            raise BatchBroken("a handler opened a transaction of its own inside a batch")
        async for attempt in AsyncRetrying(**transient_retry_policy()):
            with attempt:
                async with self._client.start_session() as session:
                    return await session.with_transaction(work)
        raise AssertionError("unreachable")

    async def commit_and_publish(
        self, work: Callable[[AsyncClientSession], Awaitable[list[Outgoing]]]
    ) -> list[Outgoing]:
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
