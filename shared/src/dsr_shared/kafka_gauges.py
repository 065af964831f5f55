"""Consumer lag and dead-letter sizes as Prometheus gauges, measured from the
broker every so often by each service for its own group and topics."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from dsr_shared.metrics import CONSUMER_LAG, DLQ_SIZE
from dsr_shared.settings import ServiceSettings
from dsr_shared.topics import Topic, dlq_name


async def measure(settings: ServiceSettings, topics: list[Topic]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(settings.consumer_group)
        dlqs = [dlq_name(settings.topic(t)) for t in topics]
        described = await admin.describe_topics(dlqs)
    finally:
        await admin.close()
    dlq_partitions = [TopicPartition(t["topic"], p["partition"]) for t in described for p in t.get("partitions", [])]
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        wanted = list(committed) + dlq_partitions
        end = await consumer.end_offsets(wanted) if wanted else {}
        start = await consumer.beginning_offsets(dlq_partitions) if dlq_partitions else {}
    finally:
        await consumer.stop()
    lag: dict[str, int] = {}
    for tp, meta in committed.items():
        if meta.offset >= 0:
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, end[tp] - meta.offset)
    for topic, value in lag.items():
        CONSUMER_LAG.labels(topic).set(value)
    sizes = {topic: 0 for topic in dlqs}
    for tp in dlq_partitions:
        sizes[tp.topic] += end[tp] - start[tp]
    for topic, value in sizes.items():
        DLQ_SIZE.labels(topic).set(value)
