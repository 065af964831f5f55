"""What every service is built from: settings, clock, broker, database,
outbox, unit of work and audit log. Each service's `app.py` composes one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from dsr_shared.contract.envelope import new_envelope
from dsr_shared.contract.events import Event
from dsr_shared.platform.audit import AuditLog
from dsr_shared.platform.clock import Clock, SimulatedClock, SystemClock
from dsr_shared.platform.db import Outbox, Outgoing, UnitOfWork, build_mongo_client
from dsr_shared.platform.messaging import EventPublisher, build_broker
from dsr_shared.platform.settings import ServiceSettings


@dataclass(frozen=True)
class Context:
    """Where a change came from, for the envelopes of the events it causes."""

    correlation_id: str | None
    causation_id: uuid.UUID | None = None


@dataclass
class Runtime:
    settings: ServiceSettings
    clock: Clock
    broker: KafkaBroker
    publisher: EventPublisher
    mongo: AsyncMongoClient
    db: AsyncDatabase
    outbox: Outbox
    uow: UnitOfWork
    audit: AuditLog

    @classmethod
    def build(
        cls, settings: ServiceSettings, clock: Clock | None = None, broker: KafkaBroker | None = None
    ) -> "Runtime":
        clock = clock or (SimulatedClock() if settings.simulated_clock else SystemClock())
        broker = broker or build_broker(settings)
        publisher = EventPublisher(broker, settings)
        mongo = build_mongo_client(settings.mongo_uri)
        db = mongo[settings.database_name]
        outbox = Outbox(
            db,
            publisher,
            clock,
            silent=settings.rebuild,
            max_message_bytes=settings.kafka_max_message_bytes,
            publish_wait_seconds=settings.publish_wait_seconds,
        )
        uow = UnitOfWork(mongo, db, outbox, settings.service_name, clock)
        return cls(
            settings, clock, broker, publisher, mongo, db, outbox, uow, AuditLog(db, clock, settings.service_name)
        )

    def outgoing(
        self,
        event: Event,
        *,
        occurred_at: datetime,
        correlation_id: str | None = None,
        causation_id: uuid.UUID | str | None = None,
        event_id: uuid.UUID | None = None,
    ) -> Outgoing:
        """An event of this service, in its envelope, addressed to its topic."""
        return outgoing(
            self.settings,
            event,
            occurred_at=occurred_at,
            correlation_id=correlation_id,
            causation_id=causation_id,
            event_id=event_id,
        )


def outgoing(
    settings: ServiceSettings,
    event: Event,
    *,
    occurred_at: datetime,
    correlation_id: str | None = None,
    causation_id: uuid.UUID | str | None = None,
    event_id: uuid.UUID | None = None,
) -> Outgoing:
    """An event of the service `settings` describe, in its envelope, addressed
    to its topic: what Runtime.outgoing gives, and what the use-case tests
    build their outgoing events with (functools.partial(outgoing, settings))."""
    envelope = new_envelope(
        event_type=event.EVENT_TYPE,
        schema_version=event.SCHEMA_VERSION,
        occurred_at=occurred_at,
        area=settings.area.code,
        data=event.model_dump(mode="json"),
        correlation_id=correlation_id,
        causation_id=str(causation_id) if causation_id else None,
        event_id=event_id,
    )
    return Outgoing(envelope, settings.topic(event.TOPIC), event.message_key())
