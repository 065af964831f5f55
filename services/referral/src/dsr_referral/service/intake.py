"""One intake path behind both doors (HTTP and the submitted topic).

A referral for someone not on the register (or removed) puts them on it. For
someone already on it, nothing is dropped: the DSR team's full referral
completes a record made automatically on discharge (R-ELIG-4); any other is
kept with the person's record and sent to the DSR team (FurtherReferralReceived).
Where a referral goes is domain/intake.py's decision. The answer shows the
register identifier only to whoever may see the record (`may_see`), so a
referrer cannot learn it from an NHS number."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

import structlog

from dsr_shared.contract.events import (
    AgeBandChanged,
    Event,
    FurtherReferralReceived,
    ReferralAccepted,
    ReferralRejected,
    ReferralSubmitted,
)
from dsr_shared.contract.events.referrals import RejectionReason
from dsr_shared.platform.access import Contacts
from dsr_shared.platform.auth import Principal, Role
from dsr_shared.platform.db import Outgoing
from dsr_shared.platform.unit_of_work import Transaction
from dsr_referral.adapters.referrals import Conflict
from dsr_referral.domain.eligibility import Assessment, age_band_on, assess
from dsr_referral.domain.intake import consent_date, route
from dsr_referral.domain.register_id import new_register_id
from dsr_referral.service.ports import Ports

log = structlog.get_logger()

# `already_on_register`: records made before further referrals were kept.
Outcome = Literal["accepted", "rejected", "sent_to_dsr_team", "record_completed", "already_on_register"]


# The change a referral makes to the person's document, within its transaction.
PersonChange = Callable[[Transaction], Awaitable[None]]


class PersonChanged(Exception):
    """The person's document changed between deciding and writing."""


@dataclass(frozen=True)
class Submitter:
    """Who sent a referral: a token's subject, or `system:<area>` on the topic
    door (which carries no identity of its own). Idempotency keys are theirs."""

    subject: str
    dsr_team: bool = False
    email: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> "Submitter":
        return cls(principal.subject, principal.has(Role.DSR_TEAM), principal.email)


@dataclass(frozen=True)
class IntakeAnswer:
    referral_id: str
    outcome: Outcome
    register_id: str | None = None
    reasons: list[RejectionReason] = field(default_factory=list)
    # Whether the submitter may see the person's record, and so the register id.
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
    def __init__(self, ports: Ports) -> None:
        self.ports = ports
        self.store = ports.store

    async def submit(self, referral: ReferralSubmitted, who: Submitter, correlation_id: str | None) -> IntakeAnswer:
        """The same submission twice from the same submitter gives the same
        answer and one record; another submitter's same key is their own referral."""
        answer = await self._submit_once(referral, who, correlation_id)
        if answer.register_id and not await self.may_see(answer.register_id, who):
            return replace(answer, may_see=False)
        return answer

    async def referral(self, referral_id: str) -> dict[str, Any] | None:
        return await self.store.by_id(referral_id)

    @staticmethod
    def contacts_of(referral: dict[str, Any]) -> Contacts:
        """Who may read a kept referral besides the DSR team: who submitted it, and the referrer it names."""
        return Contacts.of([referral.get("submitted_by"), (referral.get("referrer") or {}).get("email")])

    async def referral_as_seen_by(self, doc: dict[str, Any], who: Submitter) -> tuple[dict[str, Any], str | None]:
        """A kept referral `who` may read (api.py checks that), without the
        register id of a person whose record they may not see; and that
        register id, for the audit."""
        register_id = doc.get("register_id")
        if register_id and not await self.may_see(register_id, who):
            del doc["register_id"]
        doc["referral_id"] = doc.pop("_id")
        return doc, register_id

    async def may_see(self, register_id: str, who: Submitter) -> bool:
        """Who may see a person's register identifier here: the DSR team, or a
        referrer whose accepted referral put the person on the register (who
        submitted it, or the referrer named on it), counted as the shared
        contacts count referrers. A professional named on the record is not
        shown the register id of a referral they did not make (they find the
        person in the register, if named)."""
        if who.dsr_team:
            return True
        referrers = Contacts.of(await self.store.referrers_of(register_id)).referrers
        return bool(Contacts.of([who.subject, who.email]).referrers & referrers)

    async def _submit_once(
        self, referral: ReferralSubmitted, who: Submitter, correlation_id: str | None
    ) -> IntakeAnswer:
        previous = await self.store.by_submission(referral.submission_id, who.subject)
        if previous:
            return IntakeAnswer.from_record(previous)
        try:
            return await self._decide(referral, who, correlation_id)
        except (Conflict, PersonChanged):
            # Another process wrote the same submission or the same person meanwhile: answer from what is there now.
            previous = await self.store.by_submission(referral.submission_id, who.subject)
            if previous:
                return IntakeAnswer.from_record(previous)
            return await self._decide(referral, who, correlation_id)

    async def _decide(self, referral: ReferralSubmitted, who: Submitter, correlation_id: str | None) -> IntakeAnswer:
        now = self.ports.clock.now()
        area = self.ports.settings.area
        today = now.astimezone(ZoneInfo(area.working_time.timezone)).date()
        assessment = assess(referral, area, today)
        base = {
            "_id": str(uuid.uuid4()),
            "submission_id": referral.submission_id,
            "submitted_by": who.subject,
            "submitted_at": now,
            "referrer": referral.referrer.model_dump(mode="json"),
            "correlation_id": correlation_id,
        }
        if not assessment.eligible:
            return await self._reject(referral, assessment, base)
        nhs_number = referral.person.nhs_number.replace(" ", "")
        known = await self.store.person_by_nhs_number(nhs_number)
        removed = bool(known and known.get("removed_at"))
        # Whether the record has its details matters only to the DSR team's referral: looked up only then.
        has_details = bool(known and not removed and who.dsr_team and await self.store.has_details(known["_id"]))
        where = route(known=known is not None, removed=removed, by_dsr_team=who.dsr_team, has_details=has_details)
        if where in ("enter", "return"):
            return await self._enter(known, nhs_number, referral, who, assessment, base)
        assert known is not None  # on the register
        if where == "complete":
            return await self._complete(known, referral, assessment, base, today)
        return await self._further(known["_id"], referral, who, base)

    async def _reject(self, referral: ReferralSubmitted, assessment: Assessment, base: dict[str, Any]) -> IntakeAnswer:
        # Rejected: the person's details are not kept (R-ELIG-2), only why.
        doc = {**base, "outcome": "rejected", "reasons": [r.model_dump() for r in assessment.reasons]}
        event = ReferralRejected(
            referral_id=uuid.UUID(base["_id"]), reasons=list(assessment.reasons), referrer_email=referral.referrer.email
        )
        await self._commit(doc, event)
        return IntakeAnswer.from_record(doc)

    async def _enter(
        self,
        known: dict[str, Any] | None,
        nhs_number: str,
        referral: ReferralSubmitted,
        who: Submitter,
        assessment: Assessment,
        base: dict[str, Any],
    ) -> IntakeAnswer:
        """On the register: a new person, or a removed one back under their
        identifier (R-ID-1, R-RAG-6), entering with the proposed rating (R-RAG-1)."""
        referral_id, now = base["_id"], base["submitted_at"]
        register_id = known["_id"] if known else new_register_id(self.ports.settings.area.code)
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
            nhs_number_hash=self.ports.nhs_number_hash(nhs_number),
            referrer_email=referral.referrer.email,
            accepted_by=who.subject,
            professionals=list(referral.professionals),
            consent_date=consent_date(referral),
        )
        address = referral.person.address.model_dump(mode="json")
        band = assessment.age_band.value  # announced now; the age sweeper announces each change after

        async def enter(transaction: Transaction) -> None:
            if not known:
                await self.store.add_person(
                    register_id,
                    nhs_number,
                    referral_id,
                    now,
                    transaction,
                    address=address,
                    by=who.subject,
                    age_band=band,
                )
            elif not await self.store.return_person(
                register_id, referral_id, now, transaction, address=address, by=who.subject, age_band=band
            ):
                raise PersonChanged(register_id)  # another referral brought them back first: decide again

        await self._commit(doc, event, also=enter)
        log.info("referral accepted", register_id=register_id, outcome="accepted", returning=bool(known))
        return IntakeAnswer.from_record(doc)

    async def _complete(
        self,
        person: dict[str, Any],
        referral: ReferralSubmitted,
        assessment: Assessment,
        base: dict[str, Any],
        today: date,
    ) -> IntakeAnswer:
        """The DSR team completes the record of a person referred automatically
        on discharge: the form is kept here, and the age band (as of today) is
        announced without the date of birth; the age sweeper follows it after."""
        register_id, now = person["_id"], base["submitted_at"]
        band = age_band_on(referral.person.date_of_birth, today, self.ports.settings.area.age_bands)
        doc = {
            **base,
            "outcome": "record_completed",
            "register_id": register_id,
            "cohort": assessment.cohort.value,
            "submission": referral.model_dump(mode="json"),
        }
        event = AgeBandChanged(register_id=register_id, age_band=band, effective_on=today)
        address = referral.person.address.model_dump(mode="json")

        async def complete(transaction: Transaction) -> None:
            if not await self.store.complete_person(
                person, base["_id"], now, transaction, address=address, by=base["submitted_by"], age_band=band.value
            ):
                raise PersonChanged(register_id)  # removed, returned or completed meanwhile: decide again

        await self._commit(doc, event, also=complete)
        log.info("record completed", register_id=register_id, outcome="record_completed")
        return IntakeAnswer.from_record(doc)

    async def _further(
        self, register_id: str, referral: ReferralSubmitted, who: Submitter, base: dict[str, Any]
    ) -> IntakeAnswer:
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

        async def keep(transaction: Transaction) -> None:
            if not await self.store.note_further_referral(register_id, base["_id"], now, transaction):
                raise PersonChanged(register_id)  # removed meanwhile: this referral brings them back

        await self._commit(doc, event, also=keep)
        log.info("further referral sent to the DSR team", register_id=register_id, outcome="sent_to_dsr_team")
        return IntakeAnswer.from_record(doc)

    async def _commit(self, doc: dict[str, Any], event: Event, also: PersonChange | None = None) -> None:
        """The referral's record, the change to the person (`also`) and its event: one transaction."""
        now: datetime = doc["submitted_at"]

        async def work(transaction: Transaction) -> list[Outgoing]:
            if also:
                await also(transaction)
            await self.store.add_referral(doc, transaction)
            return [self.ports.outgoing(event, occurred_at=now, correlation_id=doc["correlation_id"])]

        await self.ports.uow.commit_and_publish(work)
