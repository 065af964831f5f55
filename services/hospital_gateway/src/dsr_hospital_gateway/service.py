"""The gateway's one use case: a hospital message in, the register's events
out on Kafka (acks=all), and only then the answer (HL7 ACK or HTTP).

HL7 v2 over MLLP: the frame is parsed (not HL7 at all: kept in quarantine for
the operations team, AR), its header checked (AR), a repeated MSH-10 from the
same sender answered as the first time without publishing again, the message
validated against HL7 v2.4 and read (AE with what is wrong), mapped with the
area's hospital feeds (not a stay that matters: AA, nothing published or
kept), published (Kafka unavailable: AR, send again), remembered, answered AA.

Event ids are derived from the message (sender and MSH-10; for FHIR, the
event's content), so a message published twice (the gateway died before it
answered, the sender sent it again) is the same event and its consumers drop
the second. Nothing personal is logged: control ids, message types, outcomes
and reason codes only."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from dsr_shared.contract.envelope import derived_event_id
from dsr_shared.contract.events import Event
from dsr_shared.platform.db import Outgoing
from dsr_shared.platform.runtime import Runtime
from dsr_hospital_gateway.adapters import fhir_encounter, hl7v2
from dsr_hospital_gateway.adapters.stores import ControlIds, Quarantine
from dsr_hospital_gateway.domain.messages import Refused
from dsr_hospital_gateway.domain.stays import events_for, when
from dsr_hospital_gateway.metrics import MESSAGES, REFUSALS, ROUND_TRIP_SECONDS
from dsr_hospital_gateway.settings import GatewaySettings

log = structlog.get_logger()

NOT_IN_SCOPE = "not a mental health or learning disability stay: nothing recorded"
TRY_AGAIN = Refused("AR", "unavailable", "the register cannot record it now; send it again")
UNPARSEABLE = "not an HL7 v2 message; kept for the operations team"
UNREADABLE = Refused("AE", "unreadable", "the message could not be read")
EXIT_CODE_FOR_TESTS = 70


@dataclass(frozen=True)
class Outcome:
    outcome: str  # published, not_in_scope, duplicate
    text: str
    event_types: tuple[str, ...] = ()


class Gateway:
    def __init__(
        self, runtime: Runtime, settings: GatewaySettings, control_ids: ControlIds, quarantine: Quarantine
    ) -> None:
        self.runtime = runtime
        self.settings = settings
        self.control_ids = control_ids
        self.quarantine = quarantine
        self.feeds = settings.area.hospital_feeds
        self.zone = ZoneInfo(settings.area.working_time.timezone)
        # hl7apy's validation is CPU work: one thread, so the event loop keeps
        # answering other connections and health checks meanwhile.
        self._validator = ThreadPoolExecutor(1, thread_name_prefix="hl7-validation")

    # --- HL7 v2 over MLLP -----------------------------------------------------

    async def hl7(self, block: bytes, peer: str) -> bytes:
        """The ACK for one MLLP frame."""
        started = time.perf_counter()
        header: hl7v2.Header | None = None
        try:
            received = hl7v2.parse(block)
            header = received.header
            hl7v2.check_header(header, self.settings.mllp_processing_ids)
            outcome = await self._take_hl7(received)
            answer = hl7v2.ack(header, "AA", outcome.text, at=self.runtime.clock.now())
            self._count(
                "mllp",
                header.trigger,
                outcome.outcome,
                started,
                control_id=header.control_id,
                events=list(outcome.event_types),
            )
        except hl7v2.Unparseable as exc:
            kept = await self._quarantine(block, exc.code, peer)
            refusal = Refused("AR", exc.code, UNPARSEABLE)
            answer = hl7v2.ack(
                None, "AR", UNPARSEABLE, at=self.runtime.clock.now(), control_id=exc.control_id, refusal=refusal
            )
            self._count("mllp", "?", "unparseable", started, reason=exc.code, quarantine_id=kept, size=len(block))
        except Refused as refusal:
            answer = self._refuse(header, refusal, started)
        except Exception as exc:  # noqa: BLE001 - a message the readers choke on: an error, not a stalled sender
            log.error("message not read", error=type(exc).__name__)
            answer = self._refuse(header, UNREADABLE, started)
        return answer

    def _refuse(self, header: hl7v2.Header | None, refusal: Refused, started: float) -> bytes:
        outcome = "failed" if refusal is TRY_AGAIN else "refused"
        self._count(
            "mllp",
            header.trigger if header else "?",
            outcome,
            started,
            reason=refusal.code,
            control_id=header.control_id if header else None,
            ack=refusal.ack,
        )
        return hl7v2.ack(header, refusal.ack, refusal.reason, at=self.runtime.clock.now(), refusal=refusal)

    async def _take_hl7(self, received: hl7v2.Received) -> Outcome:
        header = received.header
        key = f"{header.sender}|{header.control_id}"
        try:
            seen = await self.control_ids.answered(key)
        except Exception as exc:  # noqa: BLE001 - without the store a repeat is published again, as the same events
            log.warning("control ids unreadable; a repeat is published again", error=type(exc).__name__)
            seen = None
        if seen is not None:
            return Outcome("duplicate", seen["text"])
        events = events_for(hl7v2.hospital_message(received, self.feeds, self.zone), self.feeds)
        if events:  # a stay that counts: validated in full before anything is taken from it
            await asyncio.get_running_loop().run_in_executor(self._validator, hl7v2.validate, str(received.message))
        basis = uuid.uuid5(uuid.NAMESPACE_URL, f"dsr:hl7:{key}")
        outgoing = [
            self._outgoing(e, derived_event_id(basis, f"{e.EVENT_TYPE}:{i}"), str(basis)) for i, e in enumerate(events)
        ]
        outcome = await self._publish(outgoing)
        try:
            await self.control_ids.remember(
                key,
                self.runtime.clock.now(),
                outcome.outcome,
                outcome.text,
                [str(o.envelope.event_id) for o in outgoing],
            )
        except Exception as exc:  # noqa: BLE001 - published already: a repeat would be the same events
            log.warning("control id not remembered", error=type(exc).__name__, control_id=header.control_id)
        return outcome

    async def _quarantine(self, block: bytes, reason: str, peer: str) -> str | None:
        try:
            return await self.quarantine.keep(block, reason, peer, self.runtime.clock.now())
        except Exception as exc:  # noqa: BLE001 - the sender still gets its AR
            log.error("unparseable message not kept", error=type(exc).__name__, reason=reason)
            return None

    # --- FHIR -------------------------------------------------------------------

    async def fhir_encounter(self, body: dict[str, Any]) -> Outcome:
        """Raises pydantic's ValidationError (not an R4 Encounter) or Refused."""
        resource = fhir_encounter.encounter(body)
        messages = fhir_encounter.hospital_messages(resource, self.runtime.clock.now(), self.zone)
        events = [event for message in messages for event in events_for(message, self.feeds)]
        outgoing = []
        for event in events:
            digest = hashlib.sha256(f"{event.EVENT_TYPE}:{event.model_dump_json()}".encode()).hexdigest()
            event_id = uuid.uuid5(uuid.NAMESPACE_URL, f"dsr:fhir:{digest}")
            outgoing.append(self._outgoing(event, event_id, str(event_id)))
        return await self._publish(outgoing)

    # --- both -------------------------------------------------------------------

    def _outgoing(self, event: Event, event_id: uuid.UUID, correlation_id: str) -> Outgoing:
        return self.runtime.outgoing(event, occurred_at=when(event), correlation_id=correlation_id, event_id=event_id)

    async def _publish(self, outgoing: list[Outgoing]) -> Outcome:
        if not outgoing:
            return Outcome("not_in_scope", NOT_IN_SCOPE)
        try:
            for message in outgoing:
                await self.runtime.publisher.publish(message.envelope, message.topic, message.key)
        except Exception as exc:
            log.error("publishing failed", error=type(exc).__name__)
            raise TRY_AGAIN from exc
        if self.settings.exit_after_publish_for_tests:
            log.warning("exiting after the publish, before the answer (tests only)")
            os._exit(EXIT_CODE_FOR_TESTS)
        types = tuple(m.envelope.event_type for m in outgoing)
        return Outcome("published", f"recorded: {', '.join(types)}", types)

    def count_fhir(self, outcome: str, started: float, **fields: Any) -> None:
        self._count("fhir", "Encounter", outcome, started, **fields)

    def _count(self, channel: str, message_type: str, outcome: str, started: float, **fields: Any) -> None:
        duration = time.perf_counter() - started
        MESSAGES.labels(channel, message_type, outcome).inc()
        ROUND_TRIP_SECONDS.labels(channel).observe(duration)
        if "reason" in fields:
            REFUSALS.labels(channel, fields["reason"]).inc()
        level = log.info if outcome in ("published", "not_in_scope", "duplicate") else log.warning
        level(
            "hospital message",
            channel=channel,
            message_type=message_type,
            outcome=outcome,
            duration_ms=round(duration * 1000, 1),
            **{k: v for k, v in fields.items() if v is not None},
        )

    async def expire(self) -> None:
        now = self.runtime.clock.now()
        kept, remembered = await self.quarantine.expire(now), await self.control_ids.expire(now)
        if kept or remembered:
            log.info("retention", quarantine_deleted=kept, control_ids_forgotten=remembered)
