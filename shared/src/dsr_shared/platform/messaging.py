"""The broker and how events are published (consuming.py: how they are consumed).

- producer: acks=all, idempotence on; one person's events share a key
  (docs/CONTRACT.md "Delivery");
- what goes to a `<topic>.dlq`: the message whole, or one too large to copy
  whole as its first bytes, with its size ("Dead letters").
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from faststream.kafka import KafkaBroker
from tenacity import AsyncRetrying

from dsr_shared.contract.envelope import Envelope
from dsr_shared.contract.topics import Topic, dlq_name
from dsr_shared.platform.faults import transient_retry_policy
from dsr_shared.platform.metrics import EVENTS_PUBLISHED
from dsr_shared.platform.settings import ServiceSettings

log = structlog.get_logger()

# Room for what FastStream adds to each message (its own headers) and for
# Kafka's framing beyond the record estimate.
MESSAGE_HEADROOM = 1024
# What a dead letter keeps of a message too large to copy whole.
DLQ_EXCERPT_BYTES = 64 * 1024
DLQ_KEY_BYTES = 256


def build_broker(settings: ServiceSettings) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        client_id=f"dsr-{settings.service_name}",
        max_request_size=settings.kafka_max_message_bytes,
        logger=None,
    )


def message_bytes(key: bytes | None, value: bytes, headers: Mapping[str, str]) -> int:
    """The size Kafka counts for one message, with room for the framework's headers."""
    encoded = [(name, text.encode()) for name, text in headers.items()]
    return DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, encoded) + MESSAGE_HEADROOM


@dataclass(frozen=True)
class DeadLetter:
    """What goes to a `.dlq`: the message whole, or, when that would be over
    the producer's limit, its first bytes with its size (`dlq-truncated`)."""

    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @property
    def excerpt(self) -> bool:
        return self.headers.get("dlq-truncated") == "true"


def dead_letter_of(
    key: bytes | None, value: bytes, headers: Mapping[str, str], limit: int, *, excerpt: bool = False
) -> DeadLetter:
    """The dead letter of a message: whole when it fits within `limit`, else
    (or when `excerpt`) its first DLQ_EXCERPT_BYTES bytes and key bytes."""
    if not excerpt and message_bytes(key, value, headers) <= limit:
        return DeadLetter(key, value, dict(headers))
    marked = {
        **headers,
        "dlq-truncated": "true",
        "dlq-original-bytes": str(len(value)),
        "dlq-original-key-bytes": str(len(key or b"")),
    }
    return DeadLetter(key[:DLQ_KEY_BYTES] if key is not None else None, value[:DLQ_EXCERPT_BYTES], marked)


async def ensure_topics(settings: ServiceSettings, topics: list[Topic]) -> None:
    """Create the topics (and their DLQs) this service uses; existing ones are kept."""
    names = [settings.topic(t) for t in topics]
    wanted = names + [dlq_name(n) for n in names]
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [NewTopic(n, settings.topic_partitions, settings.topic_replication) for n in wanted if n not in existing]
        if new:
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass  # another service created it first
    finally:
        await admin.close()


def encode(envelope: Envelope) -> bytes:
    return envelope.model_dump_json().encode()


def headers_of(envelope: Envelope) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "event_type": envelope.event_type,
        "event_id": str(envelope.event_id),
        "correlation_id": envelope.correlation_id,
        "schema_version": str(envelope.schema_version),
    }


class EventPublisher:
    """Publishes enveloped events, keyed so one person's events stay in order."""

    def __init__(self, broker: KafkaBroker, settings: ServiceSettings) -> None:
        self._broker = broker
        self._settings = settings

    async def publish(self, envelope: Envelope, topic: str, key: str) -> None:
        async for attempt in AsyncRetrying(**transient_retry_policy()):
            with attempt:
                await self._broker.publish(encode(envelope), topic, key=key.encode(), headers=headers_of(envelope))
        EVENTS_PUBLISHED.labels(topic, envelope.event_type).inc()

    async def send(self, envelope: Envelope, topic: str, key: str) -> asyncio.Future:
        """Hand the event to the producer and return at once; the future ends
        with the broker's acknowledgement. Several sent this way are in flight
        together and keep their order within a partition (idempotent producer)."""
        future = await self._broker.publish(
            encode(envelope), topic, key=key.encode(), headers=headers_of(envelope), no_confirm=True
        )

        def count(done: asyncio.Future) -> None:
            if not done.cancelled() and done.exception() is None:
                EVENTS_PUBLISHED.labels(topic, envelope.event_type).inc()

        future.add_done_callback(count)
        return future
