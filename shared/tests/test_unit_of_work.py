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
        return await self.read_in(None)

    async def read_in(self, transaction: Transaction) -> int:
        if self.collection is None:
            return self.value
        doc = await self.collection.find_one({"_id": "n"}, session=transaction)
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
def unit(mongo_database):
    if mongo_database is None:
        counter = Counter()
        uow = InMemoryUnitOfWork(counter)
        return uow, counter, lambda: [m.envelope.event_type for m in uow.published]
    db = mongo_database
    broker = Published()
    outbox = Outbox(db, broker, FixedClock(NOW))  # type: ignore[arg-type]
    counter = Counter(db["counter"])
    return UnitOfWork(db.client, db, outbox, "test", FixedClock(NOW)), counter, lambda: broker.events


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


async def test_a_batch_commits_its_events_effects_together_once_each_and_publishes_them_in_order(unit):
    uow, counter, published = unit
    first, second, already = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    def adding(by: int, event_type: str):
        async def effect(transaction: Transaction) -> list[Outgoing]:
            await counter.add(by, transaction)
            return [announced(event_type)]

        return effect

    assert await uow.run_once(already, adding(100, "Before")) is True
    async with uow.batch([first, second, already]):
        assert await uow.run_once(first, adding(1, "First")) is True
        assert await uow.run_once(first, adding(1, "First again")) is False  # delivered twice in one batch
        assert await uow.run_once(already, adding(100, "Again")) is False  # processed before the batch
        assert await uow.run_once(second, adding(2, "Second")) is True
    assert await counter.read() == 103
    assert published() == ["Before", "First", "Second"]
    # After the commit the batch's events count as processed.
    assert await uow.run_once(second, adding(2, "Second again")) is False


async def test_an_effect_that_fails_in_a_batch_leaves_nothing_of_the_batch(unit):
    from dsr_shared.platform.batching import BatchBroken

    uow, counter, published = unit
    first, poison, after = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    async def adds(transaction: Transaction) -> list[Outgoing]:
        await counter.add(1, transaction)
        return [announced("Added")]

    async def fails(transaction: Transaction) -> list[Outgoing]:
        await counter.add(50, transaction)
        raise RuntimeError("the domain refused")

    with pytest.raises(BatchBroken):
        async with uow.batch([first, poison, after]):
            await uow.run_once(first, adds)
            await uow.run_once(poison, fails)
    assert await counter.read() == 0
    assert published() == []
    # Nothing of it counts as processed: each can be handled again, alone.
    assert await uow.run_once(first, adds) is True
    assert await counter.read() == 1


async def test_a_batch_sees_its_own_writes_and_refuses_a_second_transaction_inside_it(unit):
    from dsr_shared.platform.batching import BatchBroken

    uow, counter, published = unit
    seen: list[int] = []

    async def reads_then_adds(transaction: Transaction) -> list[Outgoing]:
        seen.append(await counter.read_in(transaction))
        await counter.add(1, transaction)
        return []

    async with uow.batch([]):
        await uow.run_once(uuid.uuid4(), reads_then_adds)
        await uow.run_once(uuid.uuid4(), reads_then_adds)
    assert seen == [0, 1]

    with pytest.raises(BatchBroken):
        async with uow.batch([]):
            await uow.in_transaction(reads_then_adds)
    assert await counter.read() == 2


async def test_what_waits_for_the_commit_runs_after_the_batch_commits_and_never_for_one_rolled_back(unit):
    from dsr_shared.platform.batching import BatchBroken

    uow, counter, published = unit
    calls: list[str] = []

    async def adds(transaction: Transaction) -> list[Outgoing]:
        await counter.add(1, transaction)
        return []

    await uow.when_committed(lambda: calls.append("alone"))
    assert calls == ["alone"]
    async with uow.batch([]):
        await uow.run_once(uuid.uuid4(), adds)
        await uow.when_committed(lambda: calls.append("batched"))
        assert calls == ["alone"]
    assert calls == ["alone", "batched"]

    async def fails(transaction: Transaction) -> list[Outgoing]:
        raise RuntimeError("refused")

    with pytest.raises(BatchBroken):
        async with uow.batch([]):
            await uow.when_committed(lambda: calls.append("rolled back"))
            await uow.run_once(uuid.uuid4(), fails)
    assert calls == ["alone", "batched"]
