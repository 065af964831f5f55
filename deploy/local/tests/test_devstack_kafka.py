from __future__ import annotations

import os

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from dsr_devstack import Kafka, free_port
from dsr_devstack._proc import pid_alive, port_free


async def consume_one(bootstrap: str, topic: str) -> bytes:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id="devstack-test",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=30_000, max_records=1)
        records = [r for rs in batch.values() for r in rs]
        assert records, "no record within 30 s"
        return records[0].value
    finally:
        await consumer.stop()


async def test_produce_restart_consume_stop(tmp_path, jar_cache, cleanup):
    kafka = Kafka(tmp_path / "kafka", free_port(), free_port(), jar_cache)
    cleanup(kafka)
    first = kafka.start()
    assert first.kind == "cold" and "format" in first.phases
    assert kafka.running and kafka.bootstrap == f"127.0.0.1:{kafka.port}"

    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait("devstack.test", b"kept across restart")
    finally:
        await producer.stop()

    pid = kafka.pid
    kafka.stop()
    assert not kafka.running and not pid_alive(pid)

    # Formatted once: the second start is warm and the record is still there.
    assert kafka.start().kind == "warm"
    assert await consume_one(kafka.bootstrap, "devstack.test") == b"kept across restart"

    pid = kafka.pid
    kafka.stop()
    assert not pid_alive(pid)
    assert port_free(kafka.port) and port_free(kafka.controller_port)
    assert not kafka.pid_file.exists()


def test_second_start_reuses_running_broker(tmp_path, jar_cache, cleanup):
    ports = free_port(), free_port()
    kafka = Kafka(tmp_path / "kafka", *ports, jar_cache)
    cleanup(kafka)
    kafka.start()
    pid = kafka.pid

    # Another object over the same state dir, as a second `up` would build.
    again = Kafka(tmp_path / "kafka", *ports, jar_cache)
    assert again.running and again.pid == pid
    assert again.start().kind == "reused"
    assert kafka.pid == pid

    # Stopping through the pid file alone, as `down` from another shell does.
    again.stop()
    assert not pid_alive(pid) and not kafka.running
    assert all(port_free(p) for p in ports)
    assert os.listdir(tmp_path / "kafka" / "data")  # data stays on disk
