"""Republish a dead-letter topic's messages to the topics they came from.

    python - DLQ_TOPIC [REASON] < replay_dlq.py     (Kafka: DSR_KAFKA_BOOTSTRAP)

Run it in a service's pod, which has the Kafka client and the address
(docs/RUNBOOK.md, "Replay a dead-letter topic"). Each message goes back, with
its original bytes and key, to its `dlq-source-topic` header; with REASON,
only messages whose `dlq-reason` is REASON. Only what is in the DLQ when it
starts is replayed. Consumers drop an event they have already applied (by
event_id), so replaying a message twice does no harm; one that still fails
goes to the DLQ again."""

import asyncio
import os
import sys

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def replay(bootstrap: str, dlq: str, reason: str | None = None) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([dlq])
    finally:
        await admin.close()
    partitions = [TopicPartition(dlq, p["partition"]) for p in described["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await consumer.start()
    await producer.start()
    sent = 0
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        while [p for p in partitions if await consumer.position(p) < end[p]]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    headers = {k: v.decode() for k, v in record.headers}
                    if record.offset >= end[TopicPartition(record.topic, record.partition)]:
                        continue
                    if reason and headers.get("dlq-reason") != reason:
                        continue
                    source = headers["dlq-source-topic"]
                    await producer.send_and_wait(source, record.value, key=record.key)
                    sent += 1
                    print(
                        f"{dlq}[{record.partition}]@{record.offset} -> {source} "
                        f"(was {headers.get('dlq-source-partition')}@{headers.get('dlq-source-offset')}, "
                        f"{headers.get('dlq-reason')}: {headers.get('dlq-error', '')[:120]})"
                    )
    finally:
        await producer.stop()
        await consumer.stop()
    print(f"republished {sent} message(s) from {dlq}")
    return sent


if __name__ == "__main__":
    if not 2 <= len(sys.argv) <= 3:
        sys.exit(__doc__)
    asyncio.run(replay(os.environ["DSR_KAFKA_BOOTSTRAP"], *sys.argv[1:]))
