"""The broker, how events are published, and how they are consumed.

Delivery contract (DEVELOPERS.md "Delivery"):
- producer: acks=all, idempotence on; one person's events share a key.
- consumer: one per service, reading all of its input topics, so a start joins
  the consumer group once instead of once per topic;
  offsets committed only after the handler finished (NACK_ON_ERROR);
  a message that cannot be processed goes to `<topic>.dlq` with the reason in
  headers and is acknowledged, so the partition moves on; a transient fault is
  retried with backoff and, if it lasts, the message is not acknowledged and is
  read again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import ValidationError
from tenacity import AsyncRetrying

from dsr_shared.envelope import Envelope
from dsr_shared.events import Event, UnknownEventType, UnsupportedSchemaVersion, decode_event
from dsr_shared.faults import TRANSIENT_FAULTS, transient_retry_policy
from dsr_shared.metrics import DEAD_LETTERED, EVENTS_CONSUMED, EVENTS_PUBLISHED, HANDLER_SECONDS
from dsr_shared.settings import ServiceSettings
from dsr_shared.topics import Topic, dlq_name

log = structlog.get_logger()

Handler = Callable[[Envelope, Event], Awaitable[None]]


def build_broker(settings: ServiceSettings) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        client_id=f"dsr-{settings.service_name}",
        logger=None,
    )


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

    @property
    def topics(self) -> list[str]:
        return list(self.routes)

    async def __call__(self, body: bytes, message: KafkaMessage) -> None:
        topic = message.raw_message.topic
        try:
            envelope = Envelope.model_validate_json(body)
        except ValidationError as exc:
            await self.dead_letter(body, message, "invalid_envelope", _short(exc))
            return
        handler = self.routes.get(topic, {}).get(envelope.event_type)
        if handler is None:
            EVENTS_CONSUMED.labels(topic, envelope.event_type, "skipped").inc()
            return  # another consumer's event on a shared topic
        try:
            event = decode_event(envelope)
        except (ValidationError, UnknownEventType, UnsupportedSchemaVersion) as exc:
            await self.dead_letter(body, message, "invalid_event", _short(exc))
            return
        with structlog.contextvars.bound_contextvars(
            event_id=str(envelope.event_id),
            event_type=envelope.event_type,
            correlation_id=envelope.correlation_id,
            # Hospital events carry an NHS number, not a register id: nothing is logged for them.
            register_id=getattr(event, "register_id", None),
        ):
            await self._handle(handler, topic, envelope, event, body, message)

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
            if _is_transient(exc):
                EVENTS_CONSUMED.labels(topic, envelope.event_type, "retried").inc()
                log.warning("transient fault, message will be read again", error=repr(exc))
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
        record = message.raw_message
        headers = {
            "dlq-reason": reason,
            "dlq-error": error[:2000],
            "dlq-source-topic": record.topic,
            "dlq-source-partition": str(record.partition),
            "dlq-source-offset": str(record.offset),
            "dlq-attempts": str(attempts),
            "dlq-consumer-group": self.settings.consumer_group,
        }
        async for attempt in AsyncRetrying(**transient_retry_policy()):
            with attempt:
                await self.broker.publish(body, dlq_name(record.topic), key=record.key, headers=headers)
        DEAD_LETTERED.labels(record.topic).inc()
        EVENTS_CONSUMED.labels(record.topic, "?", "dead_lettered").inc()
        log.warning("message dead-lettered", reason=reason, error=error[:300], offset=record.offset)


def subscribe(
    broker: KafkaBroker, settings: ServiceSettings, routes: Mapping[Topic, Mapping[str, Handler]]
) -> Dispatcher:
    """Read every topic in `routes` with ONE consumer of the service's group
    (one consumer per topic would make each start rebalance the group once per
    topic). `routes` maps each input topic to its handlers by event type; a
    message is handled only by its own topic's handlers."""
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
    return dispatcher


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT_FAULTS)


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}" for err in exc.errors()
        )[:2000]
    return str(exc)[:2000]
