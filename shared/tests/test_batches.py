"""A batching consumer ends where handling each event alone would: every
event takes effect once, in order; a poison event is dead-lettered and the
others are handled; an effect that fails spoils only the shared transaction,
not the events. (The shared transaction itself: test_unit_of_work.py, on both
stores; the services batch on the real broker in every process test.)"""

from __future__ import annotations

from types import SimpleNamespace

from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker

from dsr_shared.contract.events import RatingChanged
from dsr_shared.contract.topics import Topic
from dsr_shared.platform.consuming import Dispatcher, Refused
from dsr_shared.platform.metrics import REGISTRY
from dsr_shared.platform.settings import ServiceSettings
from dsr_shared.platform.unit_of_work import InMemoryUnitOfWork, Transaction
from dsr_testing.support import enveloped

SETTINGS = ServiceSettings(service_name="probe", topic_prefix="batches.")
TOPIC = SETTINGS.topic(Topic.RATINGS)


class Ledger:
    """A repository: what each register id was told, in order."""

    def __init__(self) -> None:
        self.entries: list[str] = []

    async def add(self, entry: str, transaction: Transaction) -> None:
        self.entries.append(entry)


def record(offset: int, body: bytes) -> ConsumerRecord:
    return ConsumerRecord(TOPIC, 0, offset, 0, 0, b"key", body, None, 3, len(body), [])


def rating_changed(register_id: str, rationale: str = "r") -> bytes:
    return enveloped(
        "RatingChanged",
        {
            "register_id": register_id,
            "from_rating": None,
            "to_rating": "amber",
            "rationale": rationale,
            "changed_by": "x",
            "cause": "referral",
            "cohort": "adult",
        },
    )


def probe(batches: bool = True) -> tuple[Dispatcher, Ledger, InMemoryUnitOfWork, list[Refused]]:
    ledger = Ledger()
    uow = InMemoryUnitOfWork(ledger)

    async def on_rating_changed(envelope, event: RatingChanged) -> None:
        async def effect(transaction: Transaction) -> list:
            if event.rationale == "explode":
                raise RuntimeError("a bug in the handler")
            await ledger.add(event.register_id, transaction)
            return []

        await uow.run_once(envelope.event_id, effect)

    dispatcher = Dispatcher(
        KafkaBroker(), SETTINGS, {Topic.RATINGS: {"RatingChanged": on_rating_changed}}, uow if batches else None
    )
    dead: list[Refused] = []

    async def dead_letter(refused: Refused, attempts: int = 1) -> None:
        dead.append(refused)

    dispatcher.dead_letter = dead_letter  # type: ignore[method-assign]
    return dispatcher, ledger, uow, dead


async def consume(dispatcher: Dispatcher, records: list[ConsumerRecord]) -> None:
    await dispatcher.on_batch([r.value for r in records], SimpleNamespace(raw_message=tuple(records)))  # type: ignore[arg-type]


def broken_batches() -> float:
    return REGISTRY.get_sample_value("dsr_batches_broken_total") or 0.0


async def test_a_batch_handles_each_event_once_in_order_and_dead_letters_the_poison_after_commit():
    dispatcher, ledger, uow, dead = probe()
    first = rating_changed("R-1")
    records = [
        record(0, first),
        record(1, b"not json"),
        record(2, rating_changed("R-2")),
        record(3, first),
        record(4, rating_changed("R-3")),
    ]
    before = broken_batches()

    await consume(dispatcher, records)

    assert ledger.entries == ["R-1", "R-2", "R-3"]
    assert [(d.record.offset, d.reason) for d in dead] == [(1, "invalid_envelope")]
    assert broken_batches() == before


async def test_an_effect_that_fails_rolls_back_the_batch_and_its_events_are_handled_one_at_a_time():
    dispatcher, ledger, uow, dead = probe()
    records = [
        record(0, rating_changed("R-1")),
        record(1, rating_changed("R-2")),
        record(2, rating_changed("R-X", "explode")),
        record(3, rating_changed("R-3")),
        record(4, rating_changed("R-4")),
    ]
    before = broken_batches()

    await consume(dispatcher, records)

    # once each although the first batch ran them; batched again after the poison.
    assert ledger.entries == ["R-1", "R-2", "R-3", "R-4"]
    assert [(d.record.offset, d.reason) for d in dead] == [(2, "handler_failed")]
    assert broken_batches() == before + 1
    assert len(uow.processed) == 4


async def test_without_a_unit_of_work_that_batches_each_event_has_its_own_transaction():
    dispatcher, ledger, uow, dead = probe(batches=False)
    records = [
        record(0, rating_changed("R-1")),
        record(1, rating_changed("R-X", "explode")),
        record(2, rating_changed("R-2")),
    ]

    await consume(dispatcher, records)

    assert ledger.entries == ["R-1", "R-2"]
    assert [(d.record.offset, d.reason) for d in dead] == [(1, "handler_failed")]
