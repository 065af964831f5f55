"""What events do to the register.

- dsr.referrals: a person enters (R-RAG-1), with any hospital events that
  arrived before the referral named them; their age band moves on
  (AgeBandChanged, R-OB-10), and what the register announces next carries it.
- dsr.hospital.*: admissions and discharges, matched by the keyed hash of the
  NHS number (R-RAG-3, R-RAG-4), and the hospitals' corrections: cancelled
  admissions and discharges, transfers; for someone not on the register they
  are kept until a referral names them. A merge of two patient records is
  never applied: it waits for the DSR team.
- dsr.ratings (the register's own log): changes people made over HTTP. They
  were applied when made, so reading them back changes nothing; after a
  rebuild they are what puts those changes back."""

from __future__ import annotations

from collections.abc import Callable

from dsr_shared.contract.envelope import Envelope, derived_event_id
from dsr_shared.contract.events import (
    AdmissionCancelled,
    Admitted,
    AgeBandChanged,
    DischargeCancelled,
    Discharged,
    Event,
    PatientsMerged,
    PersonRemoved,
    ProfessionalsChanged,
    RatingChanged,
    ReferralAccepted,
    RemovalRequested,
    Transferred,
    UpdateAdded,
)
from dsr_shared.platform.db import Outgoing
from dsr_shared.platform.runtime import Context
from dsr_shared.platform.unit_of_work import Transaction
from dsr_shared.rules.pseudonym import nhs_number_hash
from dsr_rating.domain import event_facts
from dsr_rating.domain.facts import Fact, ProfessionalsList, RemovalRequest, Update
from dsr_rating.domain.record import PersonRecord
from dsr_rating.service.core import Register, context_of, retrying_conflicts
from dsr_rating.service.ports import ClaimMissing


class OnEvents(Register):
    async def prepare_batch(self, events: list[tuple[Envelope, Event]]) -> None:
        """Before a batch's shared transaction opens: the claims of everyone
        it names, which a transaction does not see if made after it began."""
        digests = [event.nhs_number_hash for _, event in events if isinstance(event, ReferralAccepted)]
        digests += [
            nhs_number_hash(self.nhs_hash_key, number)
            for _, event in events
            for number in event_facts.named_nhs_numbers(event)
        ]
        await self.people.prepare_claims(digests)

    # dsr.referrals

    async def referral_accepted(self, envelope: Envelope, event: ReferralAccepted) -> None:
        async def effect(transaction: Transaction) -> list[Outgoing]:
            await self.people.claim(event.nhs_number_hash, transaction)
            record = await self.people.get(event.register_id, transaction) or PersonRecord(
                register_id=event.register_id
            )
            record.nhs_number_hash = event.nhs_number_hash
            if event.cohort != "unknown" or record.cohort == "unknown":
                record.cohort = event.cohort
                record.set_age_band(event.age_band, envelope.occurred_at, counted=False)
            if event.referrer_email not in record.referrer_emails:
                record.referrer_emails = [*record.referrer_emails, event.referrer_email]
            if event.professionals:
                listing_id = str(derived_event_id(envelope.event_id, "professionals"))
                record.set_professionals(
                    ProfessionalsList(
                        id=listing_id, at=envelope.occurred_at, by=event.accepted_by, professionals=event.professionals
                    )
                )
            # The hospital events kept for the person until a referral named them.
            kept = await self.people.take_unmatched(event.nhs_number_hash, transaction)
            facts = [*event_facts.entry_facts(envelope.event_id, envelope.occurred_at, event), *kept]
            messages = self.apply_facts(record, facts, context_of(envelope))
            await self.save(record, transaction)
            return messages

        await self.people.prepare_claim(event.nhs_number_hash)
        await retrying_conflicts(lambda: self.uow.run_once(envelope.event_id, effect))

    async def age_band_changed(self, envelope: Envelope, event: AgeBandChanged) -> None:
        def change(record: PersonRecord, context: Context) -> list[Outgoing]:
            # Announces only what a late band changes: a transition dated after it.
            return self.change(record, lambda: record.set_age_band(event.age_band, envelope.occurred_at), context)

        await self.change_once(envelope, event.register_id, change)

    # dsr.hospital.*

    async def admitted(self, envelope: Envelope, event: Admitted) -> None:
        await self._hospital_fact(envelope, event.nhs_number, event_facts.admission_fact(envelope.event_id, event))

    async def discharged(self, envelope: Envelope, event: Discharged) -> None:
        await self._hospital_fact(envelope, event.nhs_number, event_facts.discharged_fact(envelope.event_id, event))

    async def hospital_cancelled(self, envelope: Envelope, event: AdmissionCancelled | DischargeCancelled) -> None:
        await self._hospital_fact(envelope, event.nhs_number, event_facts.cancellation_fact(envelope.event_id, event))

    async def transferred(self, envelope: Envelope, event: Transferred) -> None:
        await self._hospital_fact(envelope, event.nhs_number, event_facts.transfer_fact(envelope.event_id, event))

    async def _hospital_fact(self, envelope: Envelope, nhs_number: str, fact: Fact) -> None:
        digest = nhs_number_hash(self.nhs_hash_key, event_facts.valid_nhs_number(nhs_number))

        async def effect(transaction: Transaction) -> list[Outgoing]:
            record = await self.people.by_nhs_number_hash(digest, transaction)
            if record is None:
                # The claim makes this conflict with a referral naming the person
                # at the same moment; a person found needs none: saving the
                # record conflicts with any other change to it.
                await self.people.claim(digest, transaction)
                await self.people.keep_unmatched(digest, fact, transaction)
                return []
            messages = self.apply_fact(record, fact, context_of(envelope))
            await self.save(record, transaction)
            return messages

        async def attempt() -> None:
            # The claim is made when the person is first heard of; only then
            # does the event cost the round trip that prepares it.
            try:
                await self.uow.run_once(envelope.event_id, effect)
            except ClaimMissing:
                await self.people.prepare_claim(digest)
                await self.uow.run_once(envelope.event_id, effect)

        await retrying_conflicts(attempt)

    async def patients_merged(self, envelope: Envelope, event: PatientsMerged) -> None:
        """Never applied: when either record is someone on the register, the DSR
        team is asked to resolve it (GET /hospital-events/merges); otherwise
        nothing is kept."""
        kept, merged = (
            nhs_number_hash(self.nhs_hash_key, event_facts.valid_nhs_number(n))
            for n in (event.nhs_number, event.merged_nhs_number)
        )

        async def effect(transaction: Transaction) -> list[Outgoing]:
            people = {}
            for digest in (kept, merged):
                await self.people.claim(digest, transaction)
                people[digest] = await self.people.by_nhs_number_hash(digest, transaction)
            if any(people.values()):
                await self.people.keep_merge(
                    kept,
                    merged,
                    people[kept],
                    people[merged],
                    event.hospital_ods_code,
                    event.merged_at,
                    str(envelope.event_id),
                    transaction,
                )
            return []

        for digest in (kept, merged):
            await self.people.prepare_claim(digest)
        await retrying_conflicts(lambda: self.uow.run_once(envelope.event_id, effect))

    # dsr.ratings: the register's own changes read back. Events it derived
    # from other topics (referral, hospital, green month) are derived again
    # from those topics and are not read back.

    async def own_rating_changed(self, envelope: Envelope, event: RatingChanged) -> None:
        fact = event_facts.own_rating_fact(envelope.event_id, envelope.occurred_at, event)
        if fact is not None:
            await self._apply_own(envelope, event.register_id, fact)

    async def own_person_removed(self, envelope: Envelope, event: PersonRemoved) -> None:
        fact = event_facts.own_removal_fact(envelope.event_id, envelope.occurred_at, event)
        if fact is not None:
            await self._apply_own(envelope, event.register_id, fact)

    async def own_update_added(self, envelope: Envelope, event: UpdateAdded) -> None:
        update = Update(
            id=event.update_id,
            at=event.written_at or envelope.occurred_at,
            by=event.added_by,
            kind=event.kind,
            text=event.text,
        )
        await self._amend(envelope, event.register_id, lambda record: record.add_update(update))

    async def own_removal_requested(self, envelope: Envelope, event: RemovalRequested) -> None:
        request = RemovalRequest(
            id=str(envelope.event_id),
            at=envelope.occurred_at,
            by=event.requested_by,
            update_id=event.update_id,
            best_interest_meeting=event.best_interest_meeting,
        )
        await self._amend(envelope, event.register_id, lambda record: record.add_removal_request(request))

    async def own_professionals_changed(self, envelope: Envelope, event: ProfessionalsChanged) -> None:
        listing = ProfessionalsList(
            id=str(envelope.event_id), at=envelope.occurred_at, by=event.changed_by, professionals=event.professionals
        )
        await self._amend(envelope, event.register_id, lambda record: record.set_professionals(listing))

    async def _apply_own(self, envelope: Envelope, register_id: str, fact: Fact) -> None:
        await self.change_once(envelope, register_id, lambda record, c: self.apply_fact(record, fact, c, own=True))

    async def _amend(self, envelope: Envelope, register_id: str, amend: Callable[[PersonRecord], object]) -> None:
        def change(record: PersonRecord, _: Context) -> list[Outgoing]:
            amend(record)
            return []  # announced when it was made; nothing to announce again

        await self.change_once(envelope, register_id, change)
