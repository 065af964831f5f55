"""The broker, how events are published, and how they are consumed.

Delivery contract (docs/CONTRACT.md "Delivery", "Dead letters"):
- producer: acks=all, idempotence on; one person's events share a key.
- consumer: one per service, reading all of its input topics, so a start joins
  the consumer group once instead of once per topic;
  offsets committed only after the handler finished (NACK_ON_ERROR);
  a message that cannot be processed goes to `<topic>.dlq` with the reason in
  headers and is acknowledged, so the partition moves on (one too large to copy
  whole goes as its first bytes, with its size); a transient fault is retried
  with backoff and, if it lasts, the message is not acknowledged and is read
  again.
- on the topics other systems publish to (topics.FROM_OTHER_SYSTEMS), a message
  from another area, of a type that topic does not carry, or keyed otherwise
  than the contract says is dead-lettered; elsewhere an unknown event type is
  counted and logged, and skipped.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import structlog
from aiokafka import ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import MessageSizeTooLargeError, TopicAlreadyExistsError
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import ValidationError
from tenacity import AsyncRetrying

from dsr_shared.contract.envelope import Envelope
from dsr_shared.contract.events import EVENT_TYPES, Event, UnknownEventType, UnsupportedSchemaVersion, decode_event
from dsr_shared.contract.topics import FROM_OTHER_SYSTEMS, Topic, dlq_name
from dsr_shared.contract.topology import SERVICES
from dsr_shared.platform.faults import is_transient, transient_retry_policy
from dsr_shared.platform.logging import throttled
from dsr_shared.platform.metrics import (
    DEAD_LETTERED,
    DEAD_LETTERED_EXCERPTS,
    EVENTS_CONSUMED,
    EVENTS_PUBLISHED,
    HANDLER_SECONDS,
)
from dsr_shared.platform.settings import ServiceSettings

log = structlog.get_logger()

# Each handler takes its own event type (the dispatch picks it by EVENT_TYPE).
Handler = Callable[[Envelope, Any], Awaitable[None]]


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



def _record(message: KafkaMessage) -> ConsumerRecord:
    """The Kafka record of a message: these subscribers never read batches."""
    return cast(ConsumerRecord, message.raw_message)


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


def dead_letter_of(key: bytes | None, value: bytes, headers: Mapping[str, str], limit: int, *,
                   excerpt: bool = False) -> DeadLetter:
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
        new = [
            NewTopic(n, settings.topic_partitions, settings.topic_replication)
            for n in wanted
            if n not in existing
        ]
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
                await self._broker.publish(
                    encode(envelope), topic, key=key.encode(), headers=headers_of(envelope)
                )
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


async def _raw_body(message: Any) -> bytes:
    """Keep the body as bytes: the dispatcher decides what is valid, so a
    malformed body reaches the DLQ instead of failing inside the framework."""
    return message.body


class Dispatcher:
    """Routes the messages of a service's input topics to handlers, by the
    topic each message came from and then by its event type."""

    def __init__(
        self,
        broker: KafkaBroker,
        settings: ServiceSettings,
        routes: Mapping[Topic, Mapping[str, Handler]],
    ) -> None:
        if not routes:
            raise ValueError("a dispatcher needs at least one topic")
        self.broker = broker
        self.settings = settings
        # Full (prefixed) topic name -> that topic's handlers by event type.
        self.routes: dict[str, Mapping[str, Handler]] = {settings.topic(t): h for t, h in routes.items()}
        self._topics: dict[str, Topic] = {settings.topic(t): t for t in routes}

    @property
    def topics(self) -> list[str]:
        return list(self.routes)

    async def __call__(self, body: bytes, message: KafkaMessage) -> None:
        try:
            await self._dispatch(body, message)
        except Exception as exc:
            if not is_transient(exc):
                record = _record(message)
                throttled(log).error("message neither handled nor dead-lettered: it will be read again",
                                     error=repr(exc)[:300], topic=record.topic, partition=record.partition,
                                     offset=record.offset)
            raise  # not acknowledged: read again

    async def _dispatch(self, body: bytes, message: KafkaMessage) -> None:
        topic = _record(message).topic
        strict = self._topics.get(topic) in FROM_OTHER_SYSTEMS
        try:
            envelope = Envelope.model_validate_json(body)
        except ValidationError as exc:
            await self.dead_letter(body, message, "invalid_envelope", _short(exc))
            return
        if strict and envelope.area != self.settings.area.code:
            await self.dead_letter(body, message, "wrong_area",
                                   f"envelope area {envelope.area[:20]!r} is not this area's ({self.settings.area.code})")
            return
        handler = self.routes.get(topic, {}).get(envelope.event_type)
        if handler is None:
            await self._unhandled(body, message, topic, envelope, strict)
            return
        try:
            event = decode_event(envelope)
        except (ValidationError, UnknownEventType, UnsupportedSchemaVersion) as exc:
            await self.dead_letter(body, message, "invalid_event", _short(exc))
            return
        if strict and _record(message).key != event.message_key().encode():
            # The key orders one person's events; another key breaks that order. Never repeat the key: an NHS number.
            await self.dead_letter(body, message, "wrong_key", f"the message key is not the event's {event.KEY_FIELD}")
            return
        with structlog.contextvars.bound_contextvars(
            event_id=str(envelope.event_id),
            event_type=envelope.event_type,
            correlation_id=envelope.correlation_id,
            # Hospital events carry an NHS number, not a register id: nothing is logged for them.
            register_id=getattr(event, "register_id", None),
        ):
            await self._handle(handler, topic, envelope, event, body, message)

    async def _unhandled(self, body: bytes, message: KafkaMessage, topic: str, envelope: Envelope, strict: bool) -> None:
        """An event type this service has no handler for on this topic."""
        known = EVENT_TYPES.get(envelope.event_type)
        if strict and (known is None or known.TOPIC != self._topics[topic]):
            await self.dead_letter(body, message, "unknown_event_type",
                                   f"{envelope.event_type[:100]!r} is not an event type of {self._topics[topic].value}")
        elif known is None:
            # A newer producer's type, or a mistake: counted and logged, not fatal on an internal topic.
            EVENTS_CONSUMED.labels(topic, "unknown", "unknown").inc()
            log.warning("unknown event type skipped", topic=topic, unknown_event_type=envelope.event_type[:100],
                        event_id=str(envelope.event_id), offset=_record(message).offset)
        else:
            EVENTS_CONSUMED.labels(topic, envelope.event_type, "skipped").inc()  # another consumer's event

    async def _handle(
        self, handler: Handler, topic: str, envelope: Envelope, event: Event, body: bytes, message: KafkaMessage
    ) -> None:
        started = time.perf_counter()
        attempts = 0
        try:
            async for attempt in AsyncRetrying(**transient_retry_policy()):
                with attempt:
                    attempts += 1
                    await handler(envelope, event)
        except Exception as exc:
            if is_transient(exc):
                EVENTS_CONSUMED.labels(topic, envelope.event_type, "retried").inc()
                throttled(log).warning("transient fault, message will be read again", error=repr(exc)[:300])
                raise  # not acknowledged: read again
            log.error("handler failed", error=repr(exc), attempts=attempts)
            await self.dead_letter(body, message, "handler_failed", repr(exc), attempts)
            return
        duration = time.perf_counter() - started
        HANDLER_SECONDS.labels(topic, envelope.event_type).observe(duration)
        EVENTS_CONSUMED.labels(topic, envelope.event_type, "processed").inc()
        log.info("event handled", outcome="processed", duration_ms=round(duration * 1000, 1))

    async def dead_letter(
        self, body: bytes, message: KafkaMessage, reason: str, error: str, attempts: int = 1
    ) -> None:
        record = _record(message)
        headers = dlq_headers(record.topic, record.partition, record.offset, reason, error, attempts,
                              self.settings.consumer_group)
        limit = self.settings.kafka_max_message_bytes
        letter = dead_letter_of(record.key, body, headers, limit)
        try:
            await self._send(letter, record.topic)
        except MessageSizeTooLargeError:  # larger than estimated: the excerpt always fits
            letter = dead_letter_of(record.key, body, headers, limit, excerpt=True)
            await self._send(letter, record.topic)
        DEAD_LETTERED.labels(record.topic).inc()
        EVENTS_CONSUMED.labels(record.topic, "?", "dead_lettered").inc()
        where = {"reason": reason, "error": error[:300], "partition": record.partition, "offset": record.offset}
        if letter.excerpt:
            DEAD_LETTERED_EXCERPTS.labels(record.topic).inc()
            log.error("message dead-lettered as an excerpt: too large to copy whole", original_bytes=len(body), **where)
        else:
            log.warning("message dead-lettered", **where)

    async def _send(self, letter: DeadLetter, source_topic: str) -> None:
        async for attempt in AsyncRetrying(**transient_retry_policy()):
            with attempt:
                await self.broker.publish(letter.value, dlq_name(source_topic), key=letter.key, headers=letter.headers)


def dlq_headers(topic: str, partition: int, offset: int, reason: str, error: str, attempts: int,
                consumer_group: str) -> dict[str, str]:
    """Why and from where a message was dead-lettered (docs/RUNBOOK.md)."""
    return {
        "dlq-reason": reason,
        "dlq-error": error[:2000],
        "dlq-source-topic": topic,
        "dlq-source-partition": str(partition),
        "dlq-source-offset": str(offset),
        "dlq-attempts": str(attempts),
        "dlq-consumer-group": consumer_group,
    }


# The dispatcher each service's broker feeds, for what watches its progress (health, gauges).
_DISPATCHERS: weakref.WeakKeyDictionary[KafkaBroker, Dispatcher] = weakref.WeakKeyDictionary()


def consumed_topics(broker: KafkaBroker) -> list[str]:
    """The (prefixed) topics the service's consumer reads; none before `subscribe`."""
    dispatcher = _DISPATCHERS.get(broker)
    return dispatcher.topics if dispatcher else []


def consumed_routes(broker: KafkaBroker) -> dict[str, frozenset[str]]:
    """The event types the service handles on each (prefixed) topic its consumer reads."""
    dispatcher = _DISPATCHERS.get(broker)
    return {topic: frozenset(handlers) for topic, handlers in dispatcher.routes.items()} if dispatcher else {}


def subscribe(
    broker: KafkaBroker, settings: ServiceSettings, routes: Mapping[Topic, Mapping[str, Handler]]
) -> Dispatcher:
    """Read every topic in `routes` with ONE consumer of the service's group
    (one consumer per topic would make each start rebalance the group once per
    topic). `routes` maps each input topic to its handlers by event type; a
    message is handled only by its own topic's handlers. A service of the
    topology may read only the topics the topology lists for it."""
    declared = SERVICES.get(settings.service_name)
    if declared is not None and not set(routes) <= set(declared.reads):
        unlisted = sorted(t.value for t in set(routes) - set(declared.reads))
        raise ValueError(f"{settings.service_name} subscribes to {unlisted}, which dsr_shared.contract.topology does not list")
    dispatcher = Dispatcher(broker, settings, routes)
    broker.subscriber(
        *dispatcher.topics,
        group_id=settings.consumer_group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=_raw_body,
        title=f"{settings.service_name}:{','.join(dispatcher.topics)}",
        description="; ".join(
            f"Handles {', '.join(sorted(handlers)) or 'nothing'} from {topic}" for topic, handlers in dispatcher.routes.items()
        ),
    )(dispatcher.__call__)
    _DISPATCHERS[broker] = dispatcher
    return dispatcher


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}" for err in exc.errors()
        )[:2000]
    return str(exc)[:2000]
