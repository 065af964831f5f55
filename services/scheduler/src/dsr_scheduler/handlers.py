"""Subscribers: what happens on the register schedules, cancels and completes
obligations.

- ReferralAccepted: consent renewal a year from the consent date (R-OB-13).
- RatingChanged: cancel what the new rating no longer needs, schedule what it
  demands (R-OB-1, 3..12).
- UpdateAdded: the case holder's update completes the update that was due and
  starts the clock again (R-OB-11, R-OB-12).
- ConsentRenewed: completes the renewal; the next is a year on (R-OB-13).
- PersonRemoved: everything still open is cancelled."""

from __future__ import annotations

from pymongo.asynchronous.client_session import AsyncClientSession

from dsr_shared.db import Outgoing
from dsr_shared.envelope import Envelope
from dsr_shared.events import ConsentRenewed, PersonRemoved, RatingChanged, ReferralAccepted, UpdateAdded
from dsr_shared.messaging import Handler
from dsr_scheduler.domain.obligations import Completion, Trigger
from dsr_shared.runtime import Context
from dsr_scheduler.scheduling import Scheduler


def _context(envelope: Envelope) -> Context:
    return Context(envelope.correlation_id, envelope.event_id)


def _trigger(envelope: Envelope, event_type: str, register_id: str, **fields) -> Trigger:
    return Trigger(event=event_type, at=envelope.occurred_at, event_id=envelope.event_id, register_id=register_id, **fields)


def referral_handlers(scheduler: Scheduler) -> dict[str, Handler]:
    async def on_accepted(envelope: Envelope, event: ReferralAccepted) -> None:
        trigger = _trigger(envelope, ReferralAccepted.EVENT_TYPE, event.register_id, cohort=event.cohort, age_band=event.age_band)
        start = scheduler.consent_start(event.consent_date, envelope.occurred_at)

        async def effect(session: AsyncClientSession) -> list[Outgoing]:
            return await scheduler.react(trigger, _context(envelope), session, start=start)

        await scheduler.runtime.uow.run_once(envelope.event_id, effect)

    return {ReferralAccepted.EVENT_TYPE: on_accepted}


def register_handlers(scheduler: Scheduler) -> dict[str, Handler]:
    uow = scheduler.runtime.uow

    async def on_rating_changed(envelope: Envelope, event: RatingChanged) -> None:
        trigger = _trigger(
            envelope, RatingChanged.EVENT_TYPE, event.register_id, to_rating=event.to_rating, from_rating=event.from_rating,
            cohort=event.cohort, age_band=event.age_band, secure_bed=event.hospital.secure if event.hospital else None,
            cause=event.cause,
        )

        async def effect(session: AsyncClientSession) -> list[Outgoing]:
            await scheduler.note_person(
                event.register_id, session, on_register=True, rating=event.to_rating.value, cohort=event.cohort.value,
                rating_since=envelope.occurred_at,
            )
            return await scheduler.react(trigger, _context(envelope), session)

        await uow.run_once(envelope.event_id, effect)

    async def on_update_added(envelope: Envelope, event: UpdateAdded) -> None:
        await complete_kind(envelope, event.register_id, "case_holder_update", event.added_by, "update added",
                            last_update_at=envelope.occurred_at)

    async def on_consent_renewed(envelope: Envelope, event: ConsentRenewed) -> None:
        await complete_kind(envelope, event.register_id, "consent_renewal", event.renewed_by, "consent renewed")

    async def complete_kind(envelope: Envelope, register_id: str, kind: str, by: str, outcome: str, **person) -> None:
        async def effect(session: AsyncClientSession) -> list[Outgoing]:
            if person:
                await scheduler.note_person(register_id, session, **person)
            out: list[Outgoing] = []
            for obligation in await scheduler.store.active_for(register_id, session):
                if obligation.kind == kind:
                    completion = Completion(at=envelope.occurred_at, by=by, outcome=outcome)
                    out += await scheduler.complete(obligation, completion, _context(envelope), session)
            return out

        await uow.run_once(envelope.event_id, effect)

    async def on_person_removed(envelope: Envelope, event: PersonRemoved) -> None:
        trigger = _trigger(envelope, PersonRemoved.EVENT_TYPE, event.register_id)

        async def effect(session: AsyncClientSession) -> list[Outgoing]:
            await scheduler.note_person(event.register_id, session, on_register=False)
            return await scheduler.react(trigger, _context(envelope), session, cancel_all=f"removed from the register ({event.cause})")

        await uow.run_once(envelope.event_id, effect)

    return {
        RatingChanged.EVENT_TYPE: on_rating_changed,
        UpdateAdded.EVENT_TYPE: on_update_added,
        ConsentRenewed.EVENT_TYPE: on_consent_renewed,
        PersonRemoved.EVENT_TYPE: on_person_removed,
    }
