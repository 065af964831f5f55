"""What the `dsr` command asks of Kafka: is it there, how far behind each
service's consumer group is, how full the dead-letter topics are; publishing
a test event; rewinding a stopped group; moving a stopped group past one
message."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import RecordMetadata

from dsr_shared.contract.envelope import Envelope
from dsr_shared.contract.topics import DLQ_SUFFIX, Topic
from dsr_shared.contract.topology import SERVICES
from dsr_ops.settings import OpsSettings

# The topics each service's consumer group reads; a rewind also takes any
# other topic the group has offsets on.
CONSUMES: dict[str, list[Topic]] = {name: list(s.reads) for name, s in SERVICES.items()}

# Kafka's names for a group that has no consumer: only then does it take offsets.
STOPPED_STATES = {"Empty", "Dead"}


class TopicMissing(LookupError):
    pass


@dataclass
class GroupView:
    group: str
    state: str = "?"
    members: int = 0
    lag: int | None = None  # None: the group has committed nothing yet


@dataclass
class KafkaView:
    reachable: bool
    error: str = ""
    groups: dict[str, GroupView] = field(default_factory=dict)
    dlq_sizes: dict[str, int] = field(default_factory=dict)


@asynccontextmanager
async def admin_client(settings: OpsSettings, timeout: float):
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout)
        yield admin
    finally:
        await admin.close()


async def _partitions(admin: AIOKafkaAdminClient, topics: list[str]) -> list[TopicPartition]:
    if not topics:
        return []
    described = await admin.describe_topics(topics)
    return [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]


async def _group_states(admin: AIOKafkaAdminClient, groups: list[str]) -> dict[str, tuple[str, int]]:
    """group -> (state, number of members). One group per request: aiokafka
    fails to decode the answer about several groups at once."""
    states: dict[str, tuple[str, int]] = {}
    for name in groups:
        for response in await admin.describe_consumer_groups([name]):
            for group in response.to_object()["groups"]:
                states[group["group"]] = (group["state"], len(group["members"]))
    return states


def dlq_topics(settings: OpsSettings, topics: list[str]) -> list[str]:
    """This instance's dead-letter topics (its prefix; no other instance's)."""
    stem = f"{settings.topic_prefix}dsr."
    return sorted(t for t in topics if t.startswith(stem) and t.endswith(DLQ_SUFFIX))


async def kafka_view(settings: OpsSettings, services: list[str], timeout: float = 10.0) -> KafkaView:
    """Reachability, each service group's state and lag, each DLQ's size."""
    try:
        async with admin_client(settings, timeout) as admin:
            topics = await admin.list_topics()
            groups = {s: GroupView(settings.group(s)) for s in services if CONSUMES.get(s)}
            states = await _group_states(admin, [g.group for g in groups.values()])
            committed = {s: await admin.list_consumer_group_offsets(g.group) for s, g in groups.items()}
            dlqs = dlq_topics(settings, topics)
            dlq_partitions = await _partitions(admin, dlqs)
    except Exception as exc:  # noqa: BLE001 - any failure: Kafka is not usable from here
        return KafkaView(reachable=False, error=str(exc) or type(exc).__name__)
    wanted = {tp for offsets in committed.values() for tp in offsets} | set(dlq_partitions)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False, request_timeout_ms=int(timeout * 1000)
    )
    try:
        await asyncio.wait_for(consumer.start(), timeout)
        end = await consumer.end_offsets(list(wanted)) if wanted else {}
        start = await consumer.beginning_offsets(dlq_partitions) if dlq_partitions else {}
    except Exception as exc:  # noqa: BLE001
        return KafkaView(reachable=False, error=f"offsets: {exc or type(exc).__name__}")
    finally:
        await consumer.stop()
    for service, view in groups.items():
        view.state, view.members = states.get(view.group, ("?", 0))
        offsets = {tp: meta.offset for tp, meta in committed[service].items() if meta.offset >= 0}
        if offsets:
            view.lag = sum(max(0, end[tp] - offset) for tp, offset in offsets.items())
    sizes = {t: 0 for t in dlqs}
    for tp in dlq_partitions:
        sizes[tp.topic] += end[tp] - start[tp]
    return KafkaView(reachable=True, groups=groups, dlq_sizes=sizes)


async def publish(
    settings: OpsSettings, topic: str, envelope: Envelope, key: str, timeout: float = 30.0
) -> RecordMetadata:
    """Publish one enveloped event as the services do (acks=all, idempotent),
    to a topic that must exist already: a misspelt prefix creates nothing."""
    from dsr_shared.platform.messaging import (  # the broker framework: only when publishing
        encode,
        headers_of,
    )

    async with admin_client(settings, timeout) as admin:
        if topic not in await admin.list_topics():
            raise TopicMissing(topic)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=int(timeout * 1000),
    )
    await producer.start()
    try:
        headers = [(k, v.encode()) for k, v in headers_of(envelope).items()]
        return await producer.send_and_wait(topic, encode(envelope), key=key.encode(), headers=headers)
    finally:
        await producer.stop()


@dataclass
class RewindPlan:
    group: str
    state: str
    members: int
    topics: list[str]

    @property
    def stopped(self) -> bool:
        return self.members == 0 and self.state in STOPPED_STATES


async def rewind_plan(settings: OpsSettings, service: str, timeout: float = 10.0) -> RewindPlan:
    """What `dsr rewind` would do: the group, whether it is stopped, and the
    topics it reads (that exist), with any it has offsets on."""
    group = settings.group(service)
    async with admin_client(settings, timeout) as admin:
        existing = set(await admin.list_topics())
        state, members = (await _group_states(admin, [group])).get(group, ("?", 0))
        committed = {tp.topic for tp in await admin.list_consumer_group_offsets(group)}
    topics = {settings.topic(t) for t in CONSUMES[service]} | committed
    return RewindPlan(group, state, members, sorted(topics & existing))


class NotStopped(RuntimeError):
    pass


class NotThere(RuntimeError):
    pass


@dataclass
class Skipped:
    group: str
    topic: str
    partition: int
    offset: int
    dlq_offset: int
    excerpt: bool
    original_bytes: int


async def skip_message(
    settings: OpsSettings, service: str, topic: str, partition: int, offset: int, timeout: float = 30.0
) -> Skipped:
    """Move a stopped service's group past the message at topic[partition]@offset,
    the one it is stuck on: copy it to the topic's DLQ (reason
    `skipped_by_operator`; its first bytes if it is too large to copy whole),
    then commit offset + 1. Nothing changes unless the group is stopped and
    stands at exactly that offset."""
    from dsr_shared.contract.topics import dlq_name
    from dsr_shared.platform.consuming import dlq_headers
    from dsr_shared.platform.messaging import dead_letter_of

    group = settings.group(service)
    tp = TopicPartition(topic, partition)
    async with admin_client(settings, timeout) as admin:
        if topic not in await admin.list_topics():
            raise TopicMissing(topic)
        state, members = (await _group_states(admin, [group])).get(group, ("?", 0))
        committed = await admin.list_consumer_group_offsets(group, partitions=[tp])
    if members or state not in STOPPED_STATES:
        raise NotStopped(
            f"the consumer group {group} has {members} consumer(s) (state {state}): stop every {service} "
            "process first; nothing was changed"
        )
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        group_id=group,
        request_timeout_ms=int(timeout * 1000),
    )
    await consumer.start()
    try:
        consumer.assign([tp])
        start, end = (await consumer.beginning_offsets([tp]))[tp], (await consumer.end_offsets([tp]))[tp]
        meta = committed.get(tp)
        at = meta.offset if meta is not None and meta.offset >= 0 else start
        if at != offset:
            raise NotThere(f"{group} stands at offset {at} of {topic}[{partition}], not {offset}; nothing was changed")
        if not start <= offset < end:
            raise NotThere(f"{topic}[{partition}] has no message at offset {offset} (it holds {start} to {end - 1})")
        consumer.seek(tp, offset)
        record = None
        while record is None:
            batch = await consumer.getmany(tp, timeout_ms=int(timeout * 1000), max_records=1)
            if not batch:
                raise NotThere(
                    f"could not read {topic}[{partition}]@{offset} within {timeout:.0f}s; nothing was changed"
                )
            record = batch[tp][0]
        headers = dlq_headers(
            topic,
            partition,
            offset,
            "skipped_by_operator",
            f"the consumer group {group} was moved past it with `dsr skip`",
            0,
            group,
        )
        letter = dead_letter_of(record.key, record.value or b"", headers, settings.kafka_max_message_bytes)
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap,
            acks="all",
            enable_idempotence=True,
            max_request_size=settings.kafka_max_message_bytes,
        )
        await producer.start()
        try:
            sent = await producer.send_and_wait(
                dlq_name(topic),
                letter.value,
                key=letter.key,
                headers=[(k, v.encode()) for k, v in letter.headers.items()],
            )
        finally:
            await producer.stop()
        await consumer.commit({tp: offset + 1})
    finally:
        await consumer.stop()
    return Skipped(group, topic, partition, offset, sent.offset, letter.excerpt, len(record.value or b""))
