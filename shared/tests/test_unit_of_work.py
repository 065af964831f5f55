"""The unit of work's contract, kept by both implementations: the in-memory
one the use-case tests use and the MongoDB one the services run on."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from dsr_shared.contract.envelope import new_envelope
from dsr_shared.platform.clock import FixedClock
from dsr_shared.platform.db import Outbox, Outgoing, UnitOfWork
from dsr_shared.platform.unit_of_work import InMemoryUnitOfWork, Transaction

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


class Counter:
    """The smallest repository: one counter, in memory or in a collection."""

    def __init__(self, collection: Any = None) -> None:
        self.collection = collection
        self.value = 0

    async def add(self, by: int, transaction: Transaction) -> None:
        if self.collection is None:
            self.value += by
        else:
            await self.collection.update_one({"_id": "n"}, {"$inc": {"value": by}}, upsert=True, session=transaction)

    async def read(self) -> int:
        if self.collection is None:
            return self.value
        doc = await self.collection.find_one({"_id": "n"})
        return doc["value"] if doc else 0


class Published:
    """A broker that takes everything: what was published, in order."""

    def __init__(self) -> None:
        self.events: list[str] = []

    async def publish(self, envelope, topic, key) -> None:
        self.events.append(envelope.event_type)

    async def send(self, envelope, topic, key) -> asyncio.Future:
        self.events.append(envelope.event_type)
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def announced(event_type: str) -> Outgoing:
    envelope = new_envelope(event_type=event_type, schema_version=1, occurred_at=NOW, area="QJ2", data={})
    return Outgoing(envelope, "t.dsr.test", "key")


@pytest.fixture
async def unit(store, request):
    if store == "memory":
        counter = Counter()
        uow = InMemoryUnitOfWork(counter)
        yield uow, counter, lambda: [m.envelope.event_type for m in uow.published]
        return
    client, db = request.getfixturevalue("mongo_database")
    broker = Published()
    outbox = Outbox(db, broker, FixedClock(NOW))  # type: ignore[arg-type]
    counter = Counter(db["counter"])
    yield UnitOfWork(client, db, outbox, "test", FixedClock(NOW)), counter, lambda: broker.events
    await client.close()


async def test_an_event_takes_effect_once_however_often_it_is_delivered(unit):
    uow, counter, published = unit
    event_id = uuid.uuid4()

    async def effect(transaction: Transaction) -> list[Outgoing]:
        await counter.add(1, transaction)
        return [announced("Counted")]

    assert await uow.run_once(event_id, effect) is True
    assert await uow.run_once(event_id, effect) is False
    assert await uow.run_once(str(event_id), effect) is False
    assert await counter.read() == 1
    assert published() == ["Counted"]


async def test_work_that_fails_leaves_nothing_and_the_event_can_be_processed_again(unit):
    uow, counter, published = unit
    event_id = uuid.uuid4()

    async def failing(transaction: Transaction) -> list[Outgoing]:
        await counter.add(5, transaction)
        raise RuntimeError("the domain refused")

    with pytest.raises(RuntimeError):
        await uow.run_once(event_id, failing)
    assert await counter.read() == 0
    assert published() == []

    async def effect(transaction: Transaction) -> list[Outgoing]:
        await counter.add(1, transaction)
        return []

    assert await uow.run_once(event_id, effect) is True
    assert await counter.read() == 1


async def test_a_command_commits_and_publishes_and_own_events_count_as_processed(unit):
    uow, counter, published = unit
    own = announced("Changed")

    async def work(transaction: Transaction) -> list[Outgoing]:
        await counter.add(2, transaction)
        await uow.mark_processed([own.envelope.event_id], transaction)
        return [own]

    assert await uow.commit_and_publish(work) == [own]
    assert await counter.read() == 2
    assert published() == ["Changed"]

    async def again(transaction: Transaction) -> list[Outgoing]:
        await counter.add(1, transaction)
        return []

    assert await uow.run_once(own.envelope.event_id, again) is False
    assert await counter.read() == 2
