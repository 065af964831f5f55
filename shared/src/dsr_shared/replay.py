"""Operations: move a service's consumer group back to the start of its
topics, so that the next start replays them (a rebuild; see the README).
The service must be stopped: Kafka takes offsets only from an empty group."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def rewind_consumer_group(bootstrap: str, group: str, topics: list[str]) -> int:
    """Commit the earliest offset of every partition of `topics` for `group`;
    returns how many partitions were rewound."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    partitions = [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.commit(await consumer.beginning_offsets(partitions))
        return len(partitions)
    finally:
        await consumer.stop()
