"""`dsr skip`: moving a stopped group past the message it is stuck on, on the
real broker. The message is kept in the topic's DLQ (its first bytes when it
is too large to copy whole); nothing changes unless the group is stopped and
stands at that offset."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from typer.testing import CliRunner

from dsr_ops.cli import app
from dsr_testing.support import eventually

POISON = b"{" + b"y" * 1_048_447


async def test_skip_copies_the_message_to_the_dlq_and_moves_the_stopped_group_past_it(infra, isolation):
    bootstrap, prefix = infra.kafka_bootstrap, f"{isolation}."
    topic, group = f"{prefix}dsr.hospital.admissions", f"{prefix}dsr-rating"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1), NewTopic(f"{topic}.dlq", 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for value in (b"{}", POISON, b"{}"):
            await producer.send_and_wait(topic, value, key=b"9434765919", partition=0)
    finally:
        await producer.stop()
    tp = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    consumer.assign([tp])
    await consumer.commit({tp: 1})  # stuck on the poison
    await consumer.stop()
    env = {"DSR_KAFKA_BOOTSTRAP": bootstrap, "DSR_TOPIC_PREFIX": prefix, "COLUMNS": "250"}

    async def dsr(*args: str):
        return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)

    async def committed() -> int:
        client = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await client.start()
        try:
            return (await client.list_consumer_group_offsets(group))[tp].offset
        finally:
            await client.close()

    running = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await running.start()
    try:
        await eventually(lambda: running.assignment())
        busy = await dsr("skip", "rating", "dsr.hospital.admissions", "--partition", "0", "--offset", "1", "--yes")
        assert busy.exit_code == 1 and "stop every rating process first" in " ".join(busy.output.split())
    finally:
        await running.stop()
    elsewhere = await dsr("skip", "rating", "dsr.hospital.admissions", "--partition", "0", "--offset", "2", "--yes")
    assert elsewhere.exit_code == 1 and "stands at offset 1" in " ".join(elsewhere.output.split())
    assert await committed() == 1

    done = await dsr("skip", "rating", "dsr.hospital.admissions", "--partition", "0", "--offset", "1", "--yes")
    assert done.exit_code == 0, done.output
    assert f"{group} now starts at offset 2" in done.output and "its first bytes (of 1048448)" in done.output
    assert await committed() == 2
    reader = AIOKafkaConsumer(
        f"{topic}.dlq", bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await reader.start()
    try:
        batch = await eventually(lambda: reader.getmany(timeout_ms=1000))
    finally:
        await reader.stop()
    (letter,) = [record for records in batch.values() for record in records]
    headers = {k: v.decode() for k, v in letter.headers}
    assert (headers["dlq-reason"], headers["dlq-source-offset"], headers["dlq-truncated"]) == (
        "skipped_by_operator",
        "1",
        "true",
    )
    assert letter.key == b"9434765919" and letter.value == POISON[: len(letter.value)]
    listed = await dsr("dlq", "replay", "dsr.hospital.admissions", "--dry-run")
    assert "cannot be replayed" in listed.output and "would republish 0 message(s)" in listed.output
