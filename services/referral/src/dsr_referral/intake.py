"""One intake path behind both doors (HTTP and the submitted topic).

A referral for someone not on the register (or removed) puts them on it. For
someone already on it, nothing is dropped: the DSR team's full referral
completes a record made automatically on discharge (R-ELIG-4); any other is
kept with the person's record and sent to the DSR team (FurtherReferralReceived).
The answer shows the register identifier only to whoever may see the record
(access.py), so a referrer cannot learn it from an NHS number."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal
from zoneinfo import ZoneInfo

import structlog
from nhs_number import is_valid as nhs_number_is_valid
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from dsr_shared.db import Outgoing
from dsr_shared.envelope import Envelope, derived_event_id
from dsr_shared.events import (
    AgeBand,
    AgeBandChanged,
    Cohort,
    Discharged,
    DischargeSeen,
    FurtherReferralReceived,
    Rating,
    ReferralAccepted,
    ReferralRejected,
    ReferralSubmitted,
)
from dsr_shared.events.referrals import RejectionReason
from dsr_shared.pseudonym import nhs_number_hash
from dsr_shared.runtime import Runtime
from dsr_referral.access import Submitter, may_see
from dsr_referral.adapters.referrals import ReferralStore
from dsr_referral.domain.eligibility import Assessment, age_band_on, assess
from dsr_referral.domain.register_id import new_register_id

log = structlog.get_logger()

# `already_on_register`: records made before further referrals were kept.
Outcome = Literal["accepted", "rejected", "sent_to_dsr_team", "record_completed", "already_on_register"]


class PersonChanged(Exception):
    """The person's document changed between deciding and writing."""


@dataclass(frozen=True)
class IntakeAnswer:
    referral_id: str
    outcome: Outcome
    register_id: str | None = None
    reasons: list[RejectionReason] = field(default_factory=list)
    # Whether the submitter may see the person's record (access.py), and so the register id.
    may_see: bool = True

    @property
    def shown_register_id(self) -> str | None:
        return self.register_id if self.may_see else None

    @classmethod
    def from_record(cls, doc: dict) -> "IntakeAnswer":
        return cls(
            referral_id=doc["_id"],
            outcome=doc["outcome"],
            register_id=doc.get("register_id"),
            reasons=[RejectionReason.model_validate(r) for r in doc.get("reasons", [])],
        )


class Intake:
    def __init__(self, runtime: Runtime, store: ReferralStore) -> None:
        self.runtime = runtime
        self.store = store

    async def submit(self, referral: ReferralSubmitted, who: Submitter, correlation_id: str) -> IntakeAnswer:
        """The same submission twice from the same submitter gives the same
        answer and one record; another submitter's same key is their own referral."""
        answer = await self._submit_once(referral, who, correlation_id)
        return await self._as_seen_by(answer, who)

    async def referral_as_seen_by(self, doc: dict[str, Any], who: Submitter) -> tuple[dict[str, Any], str | None]:
        """A kept referral `who` may read (api.py checks that), without the
        register id of a person whose record they may not see; and that
        register id, for the audit."""
        register_id = doc.get("register_id")
        if register_id and not await may_see(self.store, register_id, who):
            del doc["register_id"]
        doc["referral_id"] = doc.pop("_id")
        return doc, register_id

    async def _as_seen_by(self, answer: IntakeAnswer, who: Submitter) -> IntakeAnswer:
        if answer.register_id and not await may_see(self.store, answer.register_id, who):
            return replace(answer, may_see=False)
        return answer

    async def _submit_once(self, referral: ReferralSubmitted, who: Submitter, correlation_id: str) -> IntakeAnswer:
        previous = await self.store.by_submission(referral.submission_id, who.subject)
        if previous:
            return IntakeAnswer.from_record(previous)
        try:
            return await self._decide(referral, who, correlation_id)
        except (DuplicateKeyError, PersonChanged):
            previous = await self.store.by_submission(referral.submission_id, who.subject)
            if previous:
                return IntakeAnswer.from_record(previous)
            return await self._decide(referral, who, correlation_id)

    async def _decide(self, referral: ReferralSubmitted, who: Submitter, correlation_id: str) -> IntakeAnswer:
        now = self.runtime.clock.now()
        area = self.runtime.settings.area
        today = now.astimezone(ZoneInfo(area.working_time.timezone)).date()
        assessment = assess(referral, area, today)
        referral_id = str(uuid.uuid4())
        nhs_number = referral.person.nhs_number.replace(" ", "")
        base = {
            "_id": referral_id,
            "submission_id": referral.submission_id,
            "submitted_by": who.subject,
            "submitted_at": now,
            "referrer": referral.referrer.model_dump(mode="json"),
            "correlation_id": correlation_id,
        }
        if not assessment.eligible:
            # Rejected: the person's details are not kept (R-ELIG-2), only why.
            doc = {**base, "outcome": "rejected", "reasons": [r.model_dump() for r in assessment.reasons]}
            event = ReferralRejected(
                referral_id=uuid.UUID(referral_id), reasons=list(assessment.reasons), referrer_email=referral.referrer.email
            )
            await self._commit(doc, [event], correlation_id, now)
            return IntakeAnswer.from_record(doc)

        known = await self.store.person_by_nhs_number(nhs_number)
        if known and not known.get("removed_at"):
            if who.dsr_team and not await self.store.has_details(known["_id"]):
                return await self._complete(known, referral, assessment, base, today)
            return await self._further(known["_id"], referral, who, base)

        # R-ID-1: one identifier per person; a removed person returns under theirs
        # (R-RAG-6: a new referral is what brings them back).
        register_id = known["_id"] if known else new_register_id(area.code)
        doc = {
            **base,
            "outcome": "accepted",
            "register_id": register_id,
            "cohort": assessment.cohort.value,
            "submission": referral.model_dump(mode="json"),
        }
        event = ReferralAccepted(
            referral_id=uuid.UUID(referral_id),
            register_id=register_id,
            initial_rating=referral.proposed_rating,
            rating_rationale=referral.rating_rationale,
            cohort=assessment.cohort,
            age_band=assessment.age_band,
            nhs_number_hash=self._nhs_number_hash(nhs_number),
            referrer_email=referral.referrer.email,
            accepted_by=who.subject,
            professionals=list(referral.professionals),
            consent_date=_consent_date(referral),
        )
        address = referral.person.address.model_dump(mode="json")

        band = assessment.age_band.value  # announced now; the age sweeper announces each change after

        async def enter(session: AsyncClientSession) -> None:
            if not known:
                await self.store.add_person(
                    register_id, nhs_number, referral_id, now, session, address=address, by=who.subject, age_band=band
                )
            elif not await self.store.return_person(
                register_id, referral_id, now, session, address=address, by=who.subject, age_band=band
            ):
                raise PersonChanged(register_id)  # another referral brought them back first: decide again

        await self._commit(doc, [event], correlation_id, now, also=enter)
        log.info("referral accepted", register_id=register_id, outcome="accepted", returning=bool(known))
        return IntakeAnswer.from_record(doc)

    async def _complete(
        self, person: dict[str, Any], referral: ReferralSubmitted, assessment: Assessment, base: dict[str, Any], today: date
    ) -> IntakeAnswer:
        """The DSR team completes the record of a person referred automatically
        on discharge: the form is kept here, and the age band (as of today) is
        announced without the date of birth; the age sweeper follows it after."""
        register_id, now = person["_id"], base["submitted_at"]
        band = age_band_on(referral.person.date_of_birth, today, self.runtime.settings.area.keyworking_age_limit)
        doc = {
            **base,
            "outcome": "record_completed",
            "register_id": register_id,
            "cohort": assessment.cohort.value,
            "submission": referral.model_dump(mode="json"),
        }
        event = AgeBandChanged(register_id=register_id, age_band=band, effective_on=today)
        address = referral.person.address.model_dump(mode="json")

        async def complete(session: AsyncClientSession) -> None:
            if not await self.store.complete_person(
                person, base["_id"], now, session, address=address, by=base["submitted_by"], age_band=band.value
            ):
                raise PersonChanged(register_id)  # removed, returned or completed meanwhile: decide again

        await self._commit(doc, [event], base["correlation_id"], now, also=complete)
        log.info("record completed", register_id=register_id, outcome="record_completed")
        return IntakeAnswer.from_record(doc)

    async def _further(self, register_id: str, referral: ReferralSubmitted, who: Submitter, base: dict[str, Any]) -> IntakeAnswer:
        """Kept with the person's record (the form is personal data: it stays
        here) and sent to the DSR team, which decides what it changes."""
        now = base["submitted_at"]
        doc = {
            **base,
            "outcome": "sent_to_dsr_team",
            "register_id": register_id,
            "submission": referral.model_dump(mode="json"),
        }
        event = FurtherReferralReceived(
            register_id=register_id,
            referral_id=uuid.UUID(base["_id"]),
            proposed_rating=referral.proposed_rating,
            referrer_email=referral.referrer.email,
            submitted_by=who.subject,
            received_at=now,
        )

        async def keep(session: AsyncClientSession) -> None:
            if not await self.store.note_further_referral(register_id, base["_id"], now, session):
                raise PersonChanged(register_id)  # removed meanwhile: this referral brings them back

        await self._commit(doc, [event], base["correlation_id"], now, also=keep)
        log.info("further referral sent to the DSR team", register_id=register_id, outcome="sent_to_dsr_team")
        return IntakeAnswer.from_record(doc)

    async def _commit(self, doc, events, correlation_id, now, also=None) -> None:
        async def work(session: AsyncClientSession) -> list[Outgoing]:
            if also:
                await also(session)
            await self.store.add_referral(doc, session)
            return [self.runtime.outgoing(e, occurred_at=now, correlation_id=correlation_id) for e in events]

        await self.runtime.uow.commit_and_publish(work)

    def _nhs_number_hash(self, nhs_number: str) -> str:
        return nhs_number_hash(self.runtime.settings.nhs_hash_key.get_secret_value(), nhs_number)

    async def refer_on_discharge(self, envelope: Envelope, discharge: Discharged) -> None:
        """R-ELIG-4: a person discharged from an LD/MH hospital who is not on the
        register (never referred, or removed) is referred automatically and rated
        amber; a removed person keeps their register id (R-ID-1). Their age is
        not known here (cohort "unknown"); the DSR team completes the record."""
        nhs_number = discharge.nhs_number
        if not nhs_number_is_valid(nhs_number):
            raise ValueError("R-ID-2: the discharge carries an invalid NHS number")  # dead-lettered
        known = await self.store.person_by_nhs_number(nhs_number)
        if known and not known.get("removed_at"):
            return  # on the register: the rating service applies R-RAG-4
        area = self.runtime.settings.area
        now = self.runtime.clock.now()
        register_id = known["_id"] if known else new_register_id(area.code)
        referral_id = str(derived_event_id(envelope.event_id, "automatic-referral"))
        rationale = f"Referred automatically on discharge from {discharge.hospital_ods_code} (R-ELIG-4)."
        event = ReferralAccepted(
            referral_id=uuid.UUID(referral_id),
            register_id=register_id,
            initial_rating=Rating.AMBER,
            rating_rationale=rationale,
            cohort=Cohort.UNKNOWN,
            age_band=AgeBand.UNKNOWN,
            nhs_number_hash=self._nhs_number_hash(nhs_number),
            referrer_email=area.dsr_team_mailbox,
            accepted_by="system:discharge",
            # R-OB-5: the post-discharge DSP meeting counts from this discharge.
            discharge=DischargeSeen(
                hospital_ods_code=discharge.hospital_ods_code,
                discharged_at=discharge.discharged_at,
                destination=discharge.destination,
            ),
        )
        doc = {
            "_id": referral_id,
            "submission_id": f"discharge:{envelope.event_id}",
            "submitted_by": "system:discharge",
            "submitted_at": now,
            "outcome": "accepted",
            "register_id": register_id,
            "cohort": Cohort.UNKNOWN.value,
            "source": {"discharge_event_id": str(envelope.event_id), "hospital_ods_code": discharge.hospital_ods_code,
                       "discharged_at": discharge.discharged_at, "destination": discharge.destination},
            "correlation_id": envelope.correlation_id,
        }

        async def effect(session: AsyncClientSession) -> list[Outgoing]:
            if not known:
                await self.store.add_person(register_id, nhs_number, referral_id, now, session)
            elif not await self.store.return_person(register_id, referral_id, now, session):
                return []  # a referral brought them back meanwhile: on the register again, nothing to do
            await self.store.add_referral(doc, session)
            outgoing = self.runtime.outgoing(
                event, occurred_at=discharge.discharged_at, correlation_id=envelope.correlation_id,
                causation_id=envelope.event_id, event_id=derived_event_id(envelope.event_id, "ReferralAccepted"),
            )
            return [outgoing]

        # A second delivery, or a second discharge racing it, meets the unique NHS
        # number (or a person no longer removed) and adds nothing.
        await self.runtime.uow.run_once(envelope.event_id, effect)


def _consent_date(referral: ReferralSubmitted) -> date | None:
    """R-OB-13: renewal is due a year from the consent, or from the best-interest decision."""
    if referral.consent:
        return referral.consent.given_on
    return referral.best_interest_decision.decided_on if referral.best_interest_decision else None
