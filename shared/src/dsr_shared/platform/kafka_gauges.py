"""Consumer lag, stalled partitions and dead-letter sizes, measured from the
broker every so often by each service for its own group and topics: as
Prometheus gauges, and (stalled partitions) for /health/consumer."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from dsr_shared.contract.topics import dlq_name
from dsr_shared.platform.metrics import CONSUMER_LAG, DLQ_SIZE, STALLED_PARTITIONS
from dsr_shared.platform.settings import ServiceSettings


@dataclass(frozen=True)
class Stall:
    topic: str
    partition: int
    committed: int
    end: int
    seconds: float

    def as_dict(self) -> dict:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "committed_offset": self.committed,
            "end_offset": self.end,
            "stalled_for_seconds": round(self.seconds),
        }


class ConsumerProgress:
    """Whether the group moves on. A partition is stalled when it has lag and
    its committed offset has not moved for `stall_after` seconds: a message
    the consumer can neither handle nor dead-letter, or a fault that lasts."""

    def __init__(self, stall_after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.stall_after = stall_after
        self._clock = clock
        # partition -> (committed offset, when it was first seen at that offset)
        self._since: dict[TopicPartition, tuple[int, float]] = {}
        self._end: dict[TopicPartition, int] = {}

    def observe(self, committed: dict[TopicPartition, int], end: dict[TopicPartition, int]) -> None:
        now = self._clock()
        for tp, offset in committed.items():
            previous = self._since.get(tp)
            # The clock starts when the partition is first seen waiting at this offset.
            if (
                previous is None
                or previous[0] != offset
                or end.get(tp, offset) <= offset
                or self._end.get(tp, offset) <= offset
            ):
                self._since[tp] = (offset, now)
        self._end = dict(end)

    def stalled(self) -> list[Stall]:
        now = self._clock()
        found = []
        for tp, (offset, since) in sorted(self._since.items()):
            end = self._end.get(tp, offset)
            if end > offset and now - since >= self.stall_after:
                found.append(Stall(tp.topic, tp.partition, offset, end, now - since))
        return found


async def measure(settings: ServiceSettings, inputs: list[str], progress: ConsumerProgress) -> None:
    """`inputs`: the (prefixed) topics the service's consumer group reads."""
    if not inputs:
        return
    dlqs = [dlq_name(t) for t in inputs]
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(settings.consumer_group)
        described = await admin.describe_topics(inputs + dlqs)
    finally:
        await admin.close()
    partitions = [TopicPartition(t["topic"], p["partition"]) for t in described for p in t.get("partitions", [])]
    input_partitions = [tp for tp in partitions if tp.topic in inputs]
    dlq_partitions = [tp for tp in partitions if tp.topic in dlqs]
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        end = await consumer.end_offsets(partitions) if partitions else {}
        start = await consumer.beginning_offsets(partitions) if partitions else {}
    finally:
        await consumer.stop()
    # Where the group stands on each input partition; one it never committed
    # on starts at the beginning (auto_offset_reset=earliest).
    position = {tp: start[tp] for tp in input_partitions}
    position.update({tp: meta.offset for tp, meta in committed.items() if meta.offset >= 0 and tp.topic in inputs})
    progress.observe(position, {tp: end[tp] for tp in input_partitions})
    lag = {topic: 0 for topic in inputs}
    for tp, offset in position.items():
        lag[tp.topic] += max(0, end[tp] - offset)
    for topic, value in lag.items():
        CONSUMER_LAG.labels(topic).set(value)
    stalled = {topic: 0 for topic in inputs}
    for stall in progress.stalled():
        stalled[stall.topic] += 1
    for topic, value in stalled.items():
        STALLED_PARTITIONS.labels(topic).set(value)
    sizes = {topic: 0 for topic in dlqs}
    for tp in dlq_partitions:
        sizes[tp.topic] += end[tp] - start[tp]
    for topic, value in sizes.items():
        DLQ_SIZE.labels(topic).set(value)
