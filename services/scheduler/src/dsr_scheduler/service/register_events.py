"""What the register's events change (handlers.py hands each one here):

- ReferralAccepted: consent renewal a year from the consent date (R-OB-13);
  the person's contacts (with ProfessionalsChanged), for who may see whom.
- RatingChanged: cancel what the new rating no longer needs, schedule what it
  demands (R-OB-1, R-OB-3..12), from the register's whole timeline.
- UpdateAdded: the case holder's update completes the update that was due and
  starts the clock again (R-OB-11, R-OB-12).
- ConsentRenewed: completes the renewal; the next is a year on (R-OB-13).
- PersonRemoved: everything still open is cancelled.
Each takes effect once, however often it is delivered (by event id)."""

from __future__ import annotations

from typing import Any

from dsr_shared.contract.envelope import Envelope
from dsr_shared.contract.events import (
    ConsentRenewed,
    PersonRemoved,
    ProfessionalsChanged,
    RatingChanged,
    ReferralAccepted,
    Transition,
    UpdateAdded,
)
from dsr_shared.platform.db import Outgoing
from dsr_shared.platform.unit_of_work import Transaction
from dsr_scheduler.domain.obligations import Completion, Trigger, consent_start
from dsr_scheduler.service.changes import ObligationChanges, context_of


def _trigger(envelope: Envelope, event_type: str, register_id: str, **fields: Any) -> Trigger:
    return Trigger(
        event=event_type, at=envelope.occurred_at, event_id=envelope.event_id, register_id=register_id, **fields
    )


class RegisterEvents(ObligationChanges):
    async def on_referral_accepted(self, envelope: Envelope, event: ReferralAccepted) -> None:
        """Consent renewal a year from the consent date (R-OB-13); the person's
        contacts, for who may see whom."""
        trigger = _trigger(envelope, event.EVENT_TYPE, event.register_id, cohort=event.cohort, age_band=event.age_band)
        start = consent_start(self.calendar, event.consent_date, envelope.occurred_at)

        async def effect(transaction: Transaction) -> list[Outgoing]:
            await self.contacts.referral_accepted(envelope, event, transaction)
            return await self.react(trigger, context_of(envelope), transaction, start=start)

        await self.uow.run_once(envelope.event_id, effect)

    async def on_professionals_changed(self, envelope: Envelope, event: ProfessionalsChanged) -> None:
        async def effect(transaction: Transaction) -> list[Outgoing]:
            await self.contacts.professionals_changed(envelope, event, transaction)
            return []

        await self.uow.run_once(envelope.event_id, effect)

    async def on_rating_changed(self, envelope: Envelope, event: RatingChanged) -> None:
        """Cancel what the new rating no longer needs, schedule what it demands
        (R-OB-1, R-OB-3..12): from the register's whole timeline when it sends one."""
        if event.timeline:
            return await self._on_timeline(envelope, event, event.timeline)
        # An announcement without a timeline (published before timelines): the change alone, as it came.
        trigger = _trigger(
            envelope,
            event.EVENT_TYPE,
            event.register_id,
            to_rating=event.to_rating,
            from_rating=event.from_rating,
            cohort=event.cohort,
            age_band=event.age_band,
            secure_bed=event.hospital.secure if event.hospital else None,
            cause=event.cause,
        )

        async def effect(transaction: Transaction) -> list[Outgoing]:
            await self.obligations.set_person(
                event.register_id,
                {
                    "on_register": True,
                    "rating": event.to_rating.value,
                    "cohort": event.cohort.value,
                    "rating_since": envelope.occurred_at,
                },
                transaction,
            )
            return await self.react(trigger, context_of(envelope), transaction)

        await self.uow.run_once(envelope.event_id, effect)

    async def on_person_removed(self, envelope: Envelope, event: PersonRemoved) -> None:
        """Everything still open is cancelled."""
        if event.timeline:
            return await self._on_timeline(envelope, event, event.timeline)
        trigger = _trigger(envelope, event.EVENT_TYPE, event.register_id)

        async def effect(transaction: Transaction) -> list[Outgoing]:
            await self.obligations.set_person(event.register_id, {"on_register": False}, transaction)
            reason = f"removed from the register ({event.cause})"
            return await self.react(trigger, context_of(envelope), transaction, cancel_all=reason)

        await self.uow.run_once(envelope.event_id, effect)

    async def on_update_added(self, envelope: Envelope, event: UpdateAdded) -> None:
        """The case holder's update completes the update that was due and starts
        the clock again (R-OB-11, R-OB-12)."""
        await self._complete_kind(
            envelope,
            event.register_id,
            "case_holder_update",
            event.added_by,
            "update added",
            last_update_at=envelope.occurred_at,
        )

    async def on_consent_renewed(self, envelope: Envelope, event: ConsentRenewed) -> None:
        """Completes the renewal; the next is a year on (R-OB-13)."""
        await self._complete_kind(envelope, event.register_id, "consent_renewal", event.renewed_by, "consent renewed")

    async def _on_timeline(
        self, envelope: Envelope, event: RatingChanged | PersonRemoved, timeline: list[Transition]
    ) -> None:
        """The register's newest timeline for the person: reconcile with it.
        An older timeline (a redelivery from before a newer one) changes nothing."""
        latest = max(timeline, key=lambda t: (t.at, str(t.transition_id)))
        version = event.timeline_version or 0  # the register sends one with every timeline

        async def effect(transaction: Transaction) -> list[Outgoing]:
            fields: dict[str, Any] = {"on_register": latest.to_rating is not None}
            if latest.to_rating:
                fields.update(rating=latest.to_rating.value, cohort=latest.cohort.value, rating_since=latest.at)
            if not await self.obligations.newer_timeline(event.register_id, version, fields, transaction):
                return []
            return await self.reconcile(event.register_id, timeline, context_of(envelope), transaction)

        await self.uow.run_once(envelope.event_id, effect)

    async def _complete_kind(
        self, envelope: Envelope, register_id: str, kind: str, by: str, outcome: str, **person: Any
    ) -> None:
        async def effect(transaction: Transaction) -> list[Outgoing]:
            if person:
                await self.obligations.set_person(register_id, person, transaction)
            out: list[Outgoing] = []
            for obligation in await self.obligations.active_for(register_id, transaction):
                if obligation.kind == kind:
                    completion = Completion(at=envelope.occurred_at, by=by, outcome=outcome)
                    out += await self.record_completion(obligation, completion, context_of(envelope), transaction)
            return out

        await self.uow.run_once(envelope.event_id, effect)
