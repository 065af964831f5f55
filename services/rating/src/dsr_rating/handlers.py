"""Subscribers: thin entry points that turn events into facts on the register.

- dsr.referrals: a person enters (R-RAG-1), with any hospital events that
  arrived before the referral named them; their age band moves on
  (AgeBandChanged, R-OB-10), and what the register announces next carries it.
- dsr.hospital.*: admissions and discharges, matched by the keyed hash of the
  NHS number (R-RAG-3, R-RAG-4), and the hospitals' corrections: cancelled
  admissions and discharges, transfers (hospital_corrections.py); for someone
  not on the register they are kept until a referral names them. A merge of
  two patient records is never applied: it waits for the DSR team.
- dsr.ratings (the register's own log): changes people made over HTTP. They
  were applied when made, so reading them back changes nothing; after a
  rebuild they are what puts those changes back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from nhs_number import is_valid as nhs_number_is_valid
from pymongo.asynchronous.client_session import AsyncClientSession

from dsr_shared.db import Outgoing
from dsr_shared.envelope import Envelope, derived_event_id
from dsr_shared.events import (
    AdmissionCancelled,
    Admitted,
    AgeBandChanged,
    DischargeCancelled,
    Discharged,
    PatientsMerged,
    PersonRemoved,
    ProfessionalsChanged,
    RatingChanged,
    ReferralAccepted,
    RemovalRequested,
    Transferred,
    UpdateAdded,
)
from dsr_shared.events.ratings import HospitalStay
from dsr_shared.messaging import Handler
from dsr_shared.pseudonym import nhs_number_hash
from dsr_shared.runtime import Context
from dsr_rating.adapters.people import ClaimMissing
from dsr_rating.domain.facts import Fact, ProfessionalsList, RemovalRequest, Update, stay_identity
from dsr_rating.domain.record import PersonRecord
from dsr_rating.register import Register, retrying_conflicts


def _context(envelope: Envelope) -> Context:
    return Context(envelope.correlation_id, envelope.event_id)


async def _change_once(
    register: Register, envelope: Envelope, register_id: str, change: Callable[[PersonRecord, Context], list[Outgoing]]
) -> None:
    """Apply `change` to the person's record once per event, re-reading on a conflict."""

    async def effect(session: AsyncClientSession) -> list[Outgoing]:
        record = await register.people.get(register_id, session) or PersonRecord(register_id=register_id)
        messages = change(record, _context(envelope))
        await register.save(record, session)
        return messages

    await retrying_conflicts(lambda: register.runtime.uow.run_once(envelope.event_id, effect))


def _entry_facts(envelope: Envelope, event: ReferralAccepted) -> list[Fact]:
    """The person enters the register (R-RAG-1). An automatic referral on
    discharge (R-ELIG-4) enters at the discharge, which comes with it: the
    hospital's own Discharged event is the same fact (a twin)."""
    seen = event.discharge
    entry = Fact(
        id=str(envelope.event_id),
        kind="entry",
        at=seen.discharged_at if seen else envelope.occurred_at,
        by=event.accepted_by,
        rationale=event.rating_rationale,
        rating=event.initial_rating,
        after_discharge=seen is not None,
    )
    if seen is None:
        return [entry]
    discharge_id = str(derived_event_id(envelope.event_id, "discharge"))
    return [_discharge_fact(discharge_id, seen.hospital_ods_code, seen.discharged_at, seen.destination), entry]


def _discharge_fact(fact_id: str, hospital_ods_code: str, at: datetime, destination: str | None) -> Fact:
    """A discharge (R-RAG-4), built one way whether the hospital or an automatic
    referral brought it, so the two are twins of one fact."""
    return Fact(
        id=fact_id,
        kind="discharge",
        at=at,
        by=f"hospital:{hospital_ods_code}",
        rationale=f"Discharged from {hospital_ods_code}; R-RAG-4.",
        hospital_ods_code=hospital_ods_code,
        destination=destination,
    )


def referral_handlers(register: Register) -> dict[str, Handler]:
    async def on_accepted(envelope: Envelope, event: ReferralAccepted) -> None:
        async def effect(session: AsyncClientSession) -> list[Outgoing]:
            await register.people.claim(event.nhs_number_hash, session)
            record = await register.people.get(event.register_id, session) or PersonRecord(register_id=event.register_id)
            record.nhs_number_hash = event.nhs_number_hash
            if event.cohort != "unknown" or record.cohort == "unknown":
                record.cohort = event.cohort
                record.set_age_band(event.age_band, envelope.occurred_at, counted=False)
            if event.referrer_email not in record.referrer_emails:
                record.referrer_emails = [*record.referrer_emails, event.referrer_email]
            if event.professionals:
                listing_id = str(derived_event_id(envelope.event_id, "professionals"))
                record.set_professionals(
                    ProfessionalsList(id=listing_id, at=envelope.occurred_at, by=event.accepted_by, professionals=event.professionals)
                )
            facts = [*_entry_facts(envelope, event), *await register.people.take_unmatched(event.nhs_number_hash, session)]
            messages = register.apply_facts(record, facts, _context(envelope))
            await register.save(record, session)
            return messages

        await register.people.prepare_claim(event.nhs_number_hash)
        await retrying_conflicts(lambda: register.runtime.uow.run_once(envelope.event_id, effect))

    async def on_age_band_changed(envelope: Envelope, event: AgeBandChanged) -> None:
        def change(record: PersonRecord, context: Context) -> list[Outgoing]:
            # Announces only what a late band changes: a transition dated after it.
            return register.change(record, lambda: record.set_age_band(event.age_band, envelope.occurred_at), context)

        await _change_once(register, envelope, event.register_id, change)

    return {ReferralAccepted.EVENT_TYPE: on_accepted, AgeBandChanged.EVENT_TYPE: on_age_band_changed}


def hospital_handlers(register: Register) -> dict[str, Handler]:
    key = register.runtime.settings.nhs_hash_key.get_secret_value()

    async def record_hospital_fact(envelope: Envelope, nhs_number: str, fact: Fact) -> None:
        if not nhs_number_is_valid(nhs_number):
            raise ValueError("R-ID-2: the event carries an invalid NHS number")  # dead-lettered
        digest = nhs_number_hash(key, nhs_number)

        async def effect(session: AsyncClientSession) -> list[Outgoing]:
            await register.people.claim(digest, session)
            record = await register.people.by_nhs_number_hash(digest, session)
            if record is None:
                await register.people.keep_unmatched(digest, fact, session)
                return []
            messages = register.apply_fact(record, fact, _context(envelope))
            await register.save(record, session)
            return messages

        async def attempt() -> None:
            # The claim is made when the person is first heard of; only then
            # does the event cost the round trip that prepares it.
            try:
                await register.runtime.uow.run_once(envelope.event_id, effect)
            except ClaimMissing:
                await register.people.prepare_claim(digest)
                await register.runtime.uow.run_once(envelope.event_id, effect)

        await retrying_conflicts(attempt)

    async def on_admitted(envelope: Envelope, event: Admitted) -> None:
        stay = HospitalStay(**event.model_dump(include=set(HospitalStay.model_fields)))
        secure = ", secure" if event.secure else ""
        fact = Fact(
            id=str(envelope.event_id),
            kind="admission",
            at=event.admitted_at,
            by=f"hospital:{event.hospital_ods_code}",
            rationale=f"Admitted to {event.hospital_ods_code} ({event.bed_type} bed{secure}, {event.legal_basis}); R-RAG-3.",
            hospital=stay,
            hospital_ods_code=event.hospital_ods_code,
        )
        await record_hospital_fact(envelope, event.nhs_number, fact)

    async def on_discharged(envelope: Envelope, event: Discharged) -> None:
        fact = _discharge_fact(str(envelope.event_id), event.hospital_ods_code, event.discharged_at, event.destination)
        await record_hospital_fact(envelope, event.nhs_number, fact)

    async def record_cancellation(envelope: Envelope, event: AdmissionCancelled | DischargeCancelled,
                                  cancelled: Literal["admission", "discharge"], of: datetime, rationale: str) -> None:
        fact = Fact(
            id=str(envelope.event_id),
            kind=f"{cancelled}_cancelled",
            at=event.cancelled_at,
            by=f"hospital:{event.hospital_ods_code}",
            rationale=rationale,
            hospital_ods_code=event.hospital_ods_code,
            cancels=stay_identity(cancelled, event.hospital_ods_code, of),
        )
        await record_hospital_fact(envelope, event.nhs_number, fact)

    async def on_admission_cancelled(envelope: Envelope, event: AdmissionCancelled) -> None:
        await record_cancellation(envelope, event, "admission", event.admitted_at, f"The admission to "
                                  f"{event.hospital_ods_code} at {event.admitted_at.isoformat()} was cancelled by the hospital.")

    async def on_discharge_cancelled(envelope: Envelope, event: DischargeCancelled) -> None:
        await record_cancellation(envelope, event, "discharge", event.discharged_at, f"The discharge from "
                                  f"{event.hospital_ods_code} at {event.discharged_at.isoformat()} was cancelled "
                                  "by the hospital: still in hospital (R-RAG-3).")

    async def on_transferred(envelope: Envelope, event: Transferred) -> None:
        stay = HospitalStay(**event.model_dump(include=set(HospitalStay.model_fields)), admitted_at=event.transferred_at)
        fact = Fact(
            id=str(envelope.event_id),
            kind="transfer",
            at=event.transferred_at,
            by=f"hospital:{event.hospital_ods_code}",
            rationale=f"Transferred to {event.hospital_ods_code} ({event.bed_type} bed{', secure' if event.secure else ''}, "
            f"{event.legal_basis}).",
            hospital=stay,
            hospital_ods_code=event.hospital_ods_code,
        )
        await record_hospital_fact(envelope, event.nhs_number, fact)

    async def on_patients_merged(envelope: Envelope, event: PatientsMerged) -> None:
        """Never applied: when either record is someone on the register, the DSR
        team is asked to resolve it (GET /hospital-events/merges); otherwise
        nothing is kept."""
        if not (nhs_number_is_valid(event.nhs_number) and nhs_number_is_valid(event.merged_nhs_number)):
            raise ValueError("R-ID-2: the merge carries an invalid NHS number")  # dead-lettered
        kept, merged = nhs_number_hash(key, event.nhs_number), nhs_number_hash(key, event.merged_nhs_number)

        async def effect(session: AsyncClientSession) -> list[Outgoing]:
            people = {}
            for digest in (kept, merged):
                await register.people.claim(digest, session)
                people[digest] = await register.people.by_nhs_number_hash(digest, session)
            if any(people.values()):
                await register.people.keep_merge(
                    kept, merged, people[kept], people[merged], event.hospital_ods_code, event.merged_at,
                    str(envelope.event_id), session,
                )
            return []

        for digest in (kept, merged):
            await register.people.prepare_claim(digest)
        await retrying_conflicts(lambda: register.runtime.uow.run_once(envelope.event_id, effect))

    return {
        Admitted.EVENT_TYPE: on_admitted,
        Discharged.EVENT_TYPE: on_discharged,
        AdmissionCancelled.EVENT_TYPE: on_admission_cancelled,
        DischargeCancelled.EVENT_TYPE: on_discharge_cancelled,
        Transferred.EVENT_TYPE: on_transferred,
        PatientsMerged.EVENT_TYPE: on_patients_merged,
    }


def own_log_handlers(register: Register) -> dict[str, Handler]:
    """Changes made over HTTP, read back from dsr.ratings. Events the register
    derived from other topics (referral, hospital, green month) are derived
    again from those topics and are not read back."""

    async def apply_own(envelope: Envelope, register_id: str, fact: Fact) -> None:
        await _change_once(register, envelope, register_id, lambda r, c: register.apply_fact(r, fact, c, own=True))

    def amend(change: Callable[[object], bool], part: object) -> list[Outgoing]:
        change(part)  # announced when it was made; nothing to announce again
        return []

    async def on_rating_changed(envelope: Envelope, event: RatingChanged) -> None:
        if event.cause != "person":
            return
        # A change announced again (a late fact changed where it led from) is
        # the same fact: its id is the cause, not the announcement.
        fact = Fact(
            id=str(event.cause_event_id or envelope.event_id),
            kind="rating",
            at=envelope.occurred_at,
            by=event.changed_by,
            rationale=event.rationale,
            rating=event.to_rating,
            agreed_with_person=event.agreed_with_person,
            by_dsr_team=event.by_dsr_team,
        )
        await apply_own(envelope, event.register_id, fact)

    async def on_person_removed(envelope: Envelope, event: PersonRemoved) -> None:
        if event.cause != "dsr_team":
            return
        fact = Fact(
            id=str(event.cause_event_id or envelope.event_id), kind="removal", at=envelope.occurred_at,
            by=event.removed_by, rationale=event.reason,
        )
        await apply_own(envelope, event.register_id, fact)

    async def on_update_added(envelope: Envelope, event: UpdateAdded) -> None:
        update = Update(
            id=event.update_id, at=event.written_at or envelope.occurred_at, by=event.added_by, kind=event.kind, text=event.text
        )
        await _change_once(register, envelope, event.register_id, lambda r, c: amend(r.add_update, update))

    async def on_removal_requested(envelope: Envelope, event: RemovalRequested) -> None:
        request = RemovalRequest(
            id=str(envelope.event_id),
            at=envelope.occurred_at,
            by=event.requested_by,
            update_id=event.update_id,
            best_interest_meeting=event.best_interest_meeting,
        )
        await _change_once(register, envelope, event.register_id, lambda r, c: amend(r.add_removal_request, request))

    async def on_professionals_changed(envelope: Envelope, event: ProfessionalsChanged) -> None:
        listing = ProfessionalsList(
            id=str(envelope.event_id), at=envelope.occurred_at, by=event.changed_by, professionals=event.professionals
        )
        await _change_once(register, envelope, event.register_id, lambda r, c: amend(r.set_professionals, listing))

    return {
        RatingChanged.EVENT_TYPE: on_rating_changed,
        PersonRemoved.EVENT_TYPE: on_person_removed,
        UpdateAdded.EVENT_TYPE: on_update_added,
        RemovalRequested.EVENT_TYPE: on_removal_requested,
        ProfessionalsChanged.EVENT_TYPE: on_professionals_changed,
    }

