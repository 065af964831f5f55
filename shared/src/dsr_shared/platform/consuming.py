"""How a service consumes its input topics.

Delivery contract (docs/CONTRACT.md "Delivery", "Dead letters"):
- one consumer per service, reading all of its input topics, so a start joins
  the consumer group once instead of once per topic;
- offsets committed only after the handler finished (NACK_ON_ERROR);
  a message that cannot be processed goes to `<topic>.dlq` with the reason in
  headers and is acknowledged, so the partition moves on; a transient fault is
  retried with backoff and, if it lasts, the message is not acknowledged and
  is read again;
- on the topics other systems publish to (topics.FROM_OTHER_SYSTEMS), a message
  from another area, of a type that topic does not carry, or keyed otherwise
  than the contract says is dead-lettered; elsewhere an unknown event type is
  counted and logged, and skipped;
- a service whose unit of work can share a transaction (platform/batching.py)
  reads what each fetch returns as one batch and handles it in one
  transaction; the outcome is the one each event would have had alone.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import structlog
from aiokafka import ConsumerRecord
from aiokafka.errors import MessageSizeTooLargeError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import ValidationError
from tenacity import AsyncRetrying

from dsr_shared.contract.envelope import Envelope
from dsr_shared.contract.events import EVENT_TYPES, Event, UnknownEventType, UnsupportedSchemaVersion, decode_event
from dsr_shared.contract.topics import FROM_OTHER_SYSTEMS, Topic, dlq_name
from dsr_shared.contract.topology import SERVICES
from dsr_shared.platform.batching import Batches
from dsr_shared.platform.faults import is_transient, transient_retry_policy
from dsr_shared.platform.logging import throttled
from dsr_shared.platform.messaging import DeadLetter, dead_letter_of
from dsr_shared.platform.metrics import (
    BATCH_SIZE,
    BATCHES_BROKEN,
    DEAD_LETTERED,
    DEAD_LETTERED_EXCERPTS,
    EVENTS_CONSUMED,
    HANDLER_SECONDS,
)
from dsr_shared.platform.settings import ServiceSettings

log = structlog.get_logger()

# Each handler takes its own event type (the dispatch picks it by EVENT_TYPE).
Handler = Callable[[Envelope, Any], Awaitable[None]]
# Run before a batch's transaction opens, with the events it will handle:
# for writes a transaction must see from its start (the rating service's claims).
Prepare = Callable[[list[tuple[Envelope, Event]]], Awaitable[None]]


@dataclass(frozen=True)
class Routed:
    """A message its topic has a handler for, decoded."""

    record: ConsumerRecord
    topic: str
    handler: Handler
    envelope: Envelope
    event: Event


@dataclass(frozen=True)
class Refused:
    """A message to dead-letter, and why."""

    record: ConsumerRecord
    reason: str
    error: str


# A message this service skips (another consumer's event type, or an unknown one on an internal topic).
Route = Routed | Refused | None


class _Unrouted:
    """Not routed yet."""


UNROUTED = _Unrouted()


async def _raw_body(message: Any) -> Any:
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
        batches: Batches | None = None,
        prepare: Prepare | None = None,
    ) -> None:
        if not routes:
            raise ValueError("a dispatcher needs at least one topic")
        self.broker = broker
        self.settings = settings
        # Full (prefixed) topic name -> that topic's handlers by event type.
        self.routes: dict[str, Mapping[str, Handler]] = {settings.topic(t): h for t, h in routes.items()}
        self._topics: dict[str, Topic] = {settings.topic(t): t for t in routes}
        self.batches = batches
        self.prepare = prepare

    @property
    def topics(self) -> list[str]:
        return list(self.routes)

    async def on_message(self, body: bytes, message: KafkaMessage) -> None:
        await self.one(cast(ConsumerRecord, message.raw_message))

    async def on_batch(self, bodies: list[bytes], message: KafkaMessage) -> None:
        pending = list(cast(tuple[ConsumerRecord, ...], message.raw_message))
        while pending:
            pending = await self.batch(pending)

    # One message in its own transaction.

    async def one(self, record: ConsumerRecord, route: Route | _Unrouted = UNROUTED) -> None:
        """Handle one message; `route` when it was routed already."""
        try:
            if isinstance(route, _Unrouted):
                route = await self._route(record)
            if isinstance(route, Refused):
                await self.dead_letter(route)
            elif route is not None:
                with _bound(route):
                    await self._handle(route)
        except Exception as exc:
            if not is_transient(exc):
                throttled(log).error(
                    "message neither handled nor dead-lettered: it will be read again",
                    error=repr(exc)[:300],
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                )
            raise  # not acknowledged: read again

    async def _handle(self, route: Routed) -> None:
        started = time.perf_counter()
        attempts = 0
        try:
            async for attempt in AsyncRetrying(**transient_retry_policy()):
                with attempt:
                    attempts += 1
                    await route.handler(route.envelope, route.event)
        except Exception as exc:
            if is_transient(exc):
                EVENTS_CONSUMED.labels(route.topic, route.envelope.event_type, "retried").inc()
                throttled(log).warning("transient fault, message will be read again", error=repr(exc)[:300])
                raise  # not acknowledged: read again
            log.error("handler failed", error=repr(exc), attempts=attempts)
            await self.dead_letter(Refused(route.record, "handler_failed", repr(exc)), attempts)
            return
        _handled(route, time.perf_counter() - started)

    # Several messages in one transaction.

    async def batch(self, records: list[ConsumerRecord]) -> list[ConsumerRecord]:
        """Handle `records` in one shared transaction; what is left to handle.
        When an effect fails (or the commit), nothing of the batch is kept:
        the records up to the one that failed are handled one at a time, and
        the rest are returned to be batched again."""
        routes = [await self._route(r) for r in records]
        routed = [r for r in routes if isinstance(r, Routed)]
        if self.batches is None or len(routed) < 2:
            for record, route in zip(records, routes, strict=True):
                await self.one(record, route)
            return []
        if self.prepare is not None:
            await self.prepare([(r.envelope, r.event) for r in routed])
        times: list[tuple[Routed, float]] = []
        reached = 0  # records before this index went through the batch
        try:
            async with self.batches.batch([r.envelope.event_id for r in routed]):
                for route in routes:
                    if isinstance(route, Routed):
                        started = time.perf_counter()
                        with _bound(route):
                            await route.handler(route.envelope, route.event)
                        times.append((route, time.perf_counter() - started))
                    reached += 1
        except Exception as exc:
            upto = min(reached, len(records) - 1)  # the record that failed; the last if the commit did
            BATCHES_BROKEN.inc()
            throttled(log).info(
                "batch rolled back: its events one at a time up to the one that failed",
                error=repr(exc)[:300],
                events=len(records),
                failed_at=upto,
            )
            for record, route in zip(records[: upto + 1], routes[: upto + 1], strict=True):
                await self.one(record, route)
            return records[upto + 1 :]
        BATCH_SIZE.observe(len(routed))
        for route in routes:
            if isinstance(route, Refused):
                await self.dead_letter(route)
        for handled, seconds in times:
            with _bound(handled):
                _handled(handled, seconds, batch=len(routed))
        return []

    # Which handler, if any, takes a message.

    async def _route(self, record: ConsumerRecord) -> Route:
        topic = record.topic
        body = record.value or b""
        strict = self._topics.get(topic) in FROM_OTHER_SYSTEMS
        try:
            envelope = Envelope.model_validate_json(body)
        except ValidationError as exc:
            return Refused(record, "invalid_envelope", _short(exc))
        if strict and envelope.area != self.settings.area.code:
            return Refused(
                record,
                "wrong_area",
                f"envelope area {envelope.area[:20]!r} is not this area's ({self.settings.area.code})",
            )
        handler = self.routes.get(topic, {}).get(envelope.event_type)
        if handler is None:
            return self._unhandled(record, topic, envelope, strict)
        try:
            event = decode_event(envelope)
        except (ValidationError, UnknownEventType, UnsupportedSchemaVersion) as exc:
            return Refused(record, "invalid_event", _short(exc))
        if strict and record.key != event.message_key().encode():
            # The key orders one person's events; another key breaks that order. Never repeat the key: an NHS number.
            return Refused(record, "wrong_key", f"the message key is not the event's {event.KEY_FIELD}")
        return Routed(record, topic, handler, envelope, event)

    def _unhandled(self, record: ConsumerRecord, topic: str, envelope: Envelope, strict: bool) -> Route:
        """An event type this service has no handler for on this topic."""
        known = EVENT_TYPES.get(envelope.event_type)
        if strict and (known is None or known.TOPIC != self._topics[topic]):
            return Refused(
                record,
                "unknown_event_type",
                f"{envelope.event_type[:100]!r} is not an event type of {self._topics[topic].value}",
            )
        if known is None:
            # A newer producer's type, or a mistake: counted and logged, not fatal on an internal topic.
            EVENTS_CONSUMED.labels(topic, "unknown", "unknown").inc()
            log.warning(
                "unknown event type skipped",
                topic=topic,
                unknown_event_type=envelope.event_type[:100],
                event_id=str(envelope.event_id),
                offset=record.offset,
            )
        else:
            EVENTS_CONSUMED.labels(topic, envelope.event_type, "skipped").inc()  # another consumer's event
        return None

    # Dead letters.

    async def dead_letter(self, refused: Refused, attempts: int = 1) -> None:
        record, body = refused.record, refused.record.value or b""
        headers = dlq_headers(
            record.topic,
            record.partition,
            record.offset,
            refused.reason,
            refused.error,
            attempts,
            self.settings.consumer_group,
        )
        limit = self.settings.kafka_max_message_bytes
        letter = dead_letter_of(record.key, body, headers, limit)
        try:
            await self._send(letter, record.topic)
        except MessageSizeTooLargeError:  # larger than estimated: the excerpt always fits
            letter = dead_letter_of(record.key, body, headers, limit, excerpt=True)
            await self._send(letter, record.topic)
        DEAD_LETTERED.labels(record.topic).inc()
        EVENTS_CONSUMED.labels(record.topic, "?", "dead_lettered").inc()
        where = {
            "reason": refused.reason,
            "error": refused.error[:300],
            "partition": record.partition,
            "offset": record.offset,
        }
        if letter.excerpt:
            DEAD_LETTERED_EXCERPTS.labels(record.topic).inc()
            log.error("message dead-lettered as an excerpt: too large to copy whole", original_bytes=len(body), **where)
        else:
            log.warning("message dead-lettered", **where)

    async def _send(self, letter: DeadLetter, source_topic: str) -> None:
        async for attempt in AsyncRetrying(**transient_retry_policy()):
            with attempt:
                await self.broker.publish(letter.value, dlq_name(source_topic), key=letter.key, headers=letter.headers)


@contextmanager
def _bound(route: Routed) -> Iterator[None]:
    with structlog.contextvars.bound_contextvars(
        event_id=str(route.envelope.event_id),
        event_type=route.envelope.event_type,
        correlation_id=route.envelope.correlation_id,
        # Hospital events carry an NHS number, not a register id: nothing is logged for them.
        register_id=getattr(route.event, "register_id", None),
    ):
        yield


def _handled(route: Routed, seconds: float, **extra: Any) -> None:
    HANDLER_SECONDS.labels(route.topic, route.envelope.event_type).observe(seconds)
    EVENTS_CONSUMED.labels(route.topic, route.envelope.event_type, "processed").inc()
    log.info("event handled", outcome="processed", duration_ms=round(seconds * 1000, 1), **extra)


def dlq_headers(
    topic: str, partition: int, offset: int, reason: str, error: str, attempts: int, consumer_group: str
) -> dict[str, str]:
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
    broker: KafkaBroker,
    settings: ServiceSettings,
    routes: Mapping[Topic, Mapping[str, Handler]],
    *,
    batches: Batches | None = None,
    prepare: Prepare | None = None,
) -> Dispatcher:
    """Read every topic in `routes` with ONE consumer of the service's group
    (one consumer per topic would make each start rebalance the group once per
    topic). `routes` maps each input topic to its handlers by event type; a
    message is handled only by its own topic's handlers. A service of the
    topology may read only the topics the topology lists for it. With
    `batches` (its unit of work), what each fetch returns is handled in one
    shared transaction, at most DSR_CONSUMER_BATCH_EVENTS at a time."""
    declared = SERVICES.get(settings.service_name)
    if declared is not None and not set(routes) <= set(declared.reads):
        unlisted = sorted(t.value for t in set(routes) - set(declared.reads))
        raise ValueError(
            f"{settings.service_name} subscribes to {unlisted}, which dsr_shared.contract.topology does not list"
        )
    batching = batches is not None and settings.consumer_batch_events > 1
    dispatcher = Dispatcher(broker, settings, routes, batches if batching else None, prepare)
    options: dict[str, Any] = {"batch": True, "max_records": settings.consumer_batch_events} if batching else {}
    broker.subscriber(
        *dispatcher.topics,
        group_id=settings.consumer_group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=_raw_body,
        title=f"{settings.service_name}:{','.join(dispatcher.topics)}",
        description="; ".join(
            f"Handles {', '.join(sorted(handlers)) or 'nothing'} from {topic}"
            for topic, handlers in dispatcher.routes.items()
        ),
        **options,
    )(dispatcher.on_batch if batching else dispatcher.on_message)
    _DISPATCHERS[broker] = dispatcher
    return dispatcher


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}" for err in exc.errors())[
            :2000
        ]
    return str(exc)[:2000]
