"""The one way into a transaction, as the use cases see it.

A use case hands the unit of work a piece of `Work`: given the transaction,
it loads through the service's repositories, asks the domain to decide, saves
(passing the transaction on), and returns the events its change causes. The
unit of work commits the change, the record that an event was processed (the
inbox) and those events (the outbox) together, then publishes them.

Two implementations keep this contract: `dsr_shared.platform.db.UnitOfWork` over
MongoDB (the transaction is a client session) and `InMemoryUnitOfWork` here,
for use-case tests that run in milliseconds (the transaction is an opaque
token the in-memory repositories ignore). Use cases and entry points name
only `UnitOfWork` and `Transaction`, never the database driver."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

from dsr_shared.platform.batching import AfterCommit, Batch, BatchBroken, open_batch_of, opened, when_committed
from dsr_shared.platform.db import Outgoing

# What a repository needs to take part in the unit of work's transaction: a
# MongoDB client session, or nothing in memory. Opaque to use cases.
Transaction = Any
Work = Callable[[Transaction], Awaitable[list[Outgoing]]]


class UnitOfWork(Protocol):
    async def run_once(self, event_id: uuid.UUID | str, effect: Work) -> bool:
        """Run an event's effect at most once (by event id); True when it ran now."""
        ...

    async def commit_and_publish(self, work: Work) -> list[Outgoing]:
        """A command's change and its events in one transaction, then published."""
        ...

    async def in_transaction(self, work: Work) -> list[Outgoing]:
        """One transaction; what `work` returns is not staged (its caller's to send)."""
        ...

    async def mark_processed(self, event_ids: list[uuid.UUID | str], transaction: Transaction) -> None:
        """Events this service made itself, recorded as processed within `transaction`."""
        ...

    def batch(self, event_ids: list[uuid.UUID | str]) -> AbstractAsyncContextManager[None]:
        """Effects `run_once` runs inside share one transaction (platform/batching.py)."""
        ...

    async def when_committed(self, call: AfterCommit) -> None:
        """`call` once this task's change has committed: at once, or when its batch commits."""
        ...


class InMemoryUnitOfWork:
    """The same contract over plain objects: `stores` are the in-memory
    repositories, whose state is put back when the work raises (as a
    rolled-back transaction leaves the database). What would be published is
    kept in `published`, in order; processed event ids in `processed`."""

    def __init__(self, *stores: object) -> None:
        self.stores = stores
        self.processed: set[str] = set()
        self.published: list[Outgoing] = []

    async def run_once(self, event_id: uuid.UUID | str, effect: Work) -> bool:
        batch = open_batch_of(self)
        if batch is not None:
            return await batch.run(str(event_id), effect)
        if str(event_id) in self.processed:
            return False
        self.published += await self._atomically(effect, also_processed=(str(event_id),))
        return True

    @asynccontextmanager
    async def batch(self, event_ids: list[uuid.UUID | str]) -> AsyncIterator[None]:
        """As the MongoDB one: effects inside share one atomic change, kept
        whole on leaving, or not at all when one of them failed."""
        saved = self._snapshot()
        batch = Batch(owner=self, transaction=None, done={str(e) for e in event_ids} & self.processed)
        try:
            with opened(batch):
                yield
        except BaseException:
            self._restore(saved)
            raise
        self.processed.update(batch.ran)
        self.published += batch.messages
        await batch.done_with()

    async def when_committed(self, call: AfterCommit) -> None:
        await when_committed(self, call)

    async def commit_and_publish(self, work: Work) -> list[Outgoing]:
        messages = await self._atomically(work)
        self.published += messages
        return messages

    async def in_transaction(self, work: Work) -> list[Outgoing]:
        return await self._atomically(work)

    async def mark_processed(self, event_ids: list[uuid.UUID | str], transaction: Transaction) -> None:
        self.processed.update(str(e) for e in event_ids)

    async def _atomically(self, work: Work, *, also_processed: tuple[str, ...] = ()) -> list[Outgoing]:
        if open_batch_of(self) is not None:
            raise BatchBroken("a handler opened a transaction of its own inside a batch")
        saved = self._snapshot()
        try:
            messages = await work(None)
        except BaseException:
            self._restore(saved)
            raise
        self.processed.update(also_processed)
        return messages

    def _snapshot(self) -> tuple[list[dict[str, Any]], set[str]]:
        return [copy.deepcopy(vars(store)) for store in self.stores], set(self.processed)

    def _restore(self, saved: tuple[list[dict[str, Any]], set[str]]) -> None:
        states, processed = saved
        for store, state in zip(self.stores, states, strict=True):
            vars(store).clear()
            vars(store).update(state)
        self.processed = processed

    def events(self, event_type: str | None = None) -> list[Outgoing]:
        """What was published, optionally of one type."""
        return [m for m in self.published if event_type is None or m.envelope.event_type == event_type]
