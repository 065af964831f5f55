"""Several consumed events in one transaction.

Most of a handler's time is round trips to the database, and a third of them
are the same for every event: the inbox record, the outbox entries, the
commit. For the events one fetch returned, a service whose consumer batches
runs every handler's effect in one shared transaction and writes those once:
one read of the inbox, one insert of inbox records, one of outbox entries,
one commit. The outcome is the one each event would have had alone, in the
same order (docs/CONTRACT.md "Delivery").

A shared transaction has no savepoints, so an effect that fails (a conflict,
a poison event, a fault) spoils the whole batch: it is rolled back and its
events are handled one at a time in their own transactions, as without
batching, up to and including the one that failed; the rest are batched again.
The batch is the consumer task's own (a context variable): requests and
sweepers running beside it keep their own transactions."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

# Called once a change has committed; may be a coroutine function.
AfterCommit = Callable[[], Awaitable[None] | None]


async def _called(call: AfterCommit) -> None:
    result = call()
    if inspect.isawaitable(result):
        await result


class BatchBroken(Exception):
    """An effect failed inside a shared transaction: the batch is rolled back
    and its events handled one at a time. Not a conflict or fault of the
    event's own (handlers do not catch it)."""


@dataclass
class Batch:
    """What a shared transaction has done so far."""

    owner: object  # the unit of work that opened it
    transaction: Any
    done: set[str]  # inbox ids processed before or within this batch
    ran: list[str] = field(default_factory=list)  # inbox ids processed within it
    messages: list[Any] = field(default_factory=list)  # what it will publish, in order
    broken: BatchBroken | None = None
    committed: list[AfterCommit] = field(default_factory=list)  # to call once it has committed

    async def run(self, key: str, effect: Callable[[Any], Awaitable[list[Any]]]) -> bool:
        """An effect joins the shared transaction, once by `key` (its inbox id);
        True when it ran now. One that fails breaks the batch."""
        if key in self.done:
            return False
        try:
            messages = await effect(self.transaction)
        except Exception as exc:
            self.broken = BatchBroken(f"{type(exc).__name__}: {exc}"[:300])
            raise self.broken from exc
        self.done.add(key)
        self.ran.append(key)
        self.messages += messages
        return True

    async def done_with(self) -> None:
        for call in self.committed:
            await _called(call)


# The batch open in this task, if any.
CURRENT: ContextVar[Batch | None] = ContextVar("dsr_batch", default=None)


async def when_committed(owner: object, call: AfterCommit) -> None:
    """`call` once what this task changed through `owner` has committed: now,
    or when the batch open in this task commits (never, if it is rolled back:
    its events are handled again)."""
    batch = CURRENT.get()
    if batch is not None and batch.owner is owner:
        batch.committed.append(call)
    else:
        await _called(call)


@contextmanager
def opened(batch: Batch) -> Iterator[Batch]:
    """`batch` is this task's while inside; leaving it raises BatchBroken if an
    effect failed, even if its handler went on regardless."""
    token = CURRENT.set(batch)
    try:
        yield batch
        if batch.broken is not None:
            raise batch.broken
    finally:
        CURRENT.reset(token)


def open_batch_of(owner: object) -> Batch | None:
    """The batch `owner` opened in this task; an effect run inside it joins it."""
    batch = CURRENT.get()
    if batch is None or batch.owner is not owner:
        return None
    if batch.broken is not None:
        raise batch.broken
    return batch


class Batches(Protocol):
    """A unit of work that can share one transaction among several events."""

    def batch(self, event_ids: list[Any]) -> AbstractAsyncContextManager[None]:
        """An async context: effects run by `run_once` inside it share one
        transaction, committed (with their inbox records and events) on exit."""
        ...
