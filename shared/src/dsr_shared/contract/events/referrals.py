"""Referral events. `ReferralSubmitted` carries the same body as the HTTP intake
and so holds personal data; it never leaves the intake topic. Everything the
referral service publishes carries the register identifier instead (R-ID-1)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field

from dsr_shared.contract.events.base import Event
from dsr_shared.contract.events.bounds import (
    MAX_ITEMS,
    MAX_REASONS,
    Code,
    LongText,
    Name,
    Phone,
    Sentence,
    Subject,
    Text,
)
from dsr_shared.contract.events.common import AgeBand, Cohort, Rating
from dsr_shared.contract.fields import IsoDate, WorkEmail
from dsr_shared.contract.topics import Topic


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Address(_Part):
    line1: Name = Field(min_length=1)
    line2: Name | None = None
    town: Name | None = None
    postcode: str = Field(min_length=5, max_length=8)


class PersonDetails(_Part):
    given_name: Name = Field(min_length=1)
    family_name: Name = Field(min_length=1)
    date_of_birth: IsoDate
    # Spaces allowed ("943 476 5919"): checked by the intake, not here.
    nhs_number: str = Field(max_length=20)
    address: Address
    gp_practice_code: Code | None = None
    local_authority_code: Code | None = None
    looked_after_child_placed_out_of_area: bool = False
    placement_funded_by_area_icb: bool = False
    section_117: bool = False


class Diagnosis(_Part):
    condition: Literal["learning_disability", "autism", "both"]
    confirmed: bool
    evidence_reference: Name | None = None


class Consent(_Part):
    given_by: Name = Field(min_length=1)
    given_on: IsoDate


class BestInterestDecision(_Part):
    decided_on: IsoDate
    decision_maker: Name = Field(min_length=1)


class Referrer(_Part):
    name: Name = Field(min_length=1)
    role: Name = Field(min_length=1)
    organisation: Name = Field(min_length=1)
    email: WorkEmail
    phone: Phone | None = None


class Professional(_Part):
    name: Name = Field(min_length=1)
    role: Name = Field(min_length=1)
    organisation: Name | None = None
    email: WorkEmail | None = None
    phone: Phone | None = None
    # The professional who keeps the record up to date (seed 000).
    case_holder: bool = False


class ReferralSubmitted(Event):
    """A referral from a professional (HTTP) or another system (topic)."""

    EVENT_TYPE: ClassVar[str] = "ReferralSubmitted"
    TOPIC: ClassVar[Topic] = Topic.REFERRALS_SUBMITTED
    KEY_FIELD: ClassVar[str] = "submission_id"

    # The sender's idempotency key: the same submission twice gives one referral.
    # Over HTTP it may come as the Idempotency-Key header; on the topic the
    # envelope's event_id stands in when it is missing.
    submission_id: str | None = Field(default=None, min_length=1, max_length=200)
    referral_date: IsoDate
    person: PersonDetails
    diagnosis: Diagnosis
    consent: Consent | None = None
    best_interest_decision: BestInterestDecision | None = None
    referrer: Referrer
    professionals: list[Professional] = Field(default_factory=list, max_length=MAX_ITEMS)
    current_situation: LongText = ""
    risks: LongText = ""
    proposed_rating: Literal[Rating.RED, Rating.AMBER, Rating.GREEN] = Rating.AMBER
    rating_rationale: Text = Field(min_length=1)
    inpatient_now: bool = False


class DischargeSeen(_Part):
    """The discharge that referred a person automatically (R-ELIG-4): the
    post-discharge DSP meeting (R-OB-5) counts from it. No NHS number."""

    hospital_ods_code: str = Field(min_length=3, max_length=10)
    discharged_at: AwareDatetime
    destination: Name | None = None


class ReferralAccepted(Event):
    """The person is on the register under `register_id`. No name, date of birth,
    address or NHS number: only what the downstream rules need."""

    EVENT_TYPE: ClassVar[str] = "ReferralAccepted"
    TOPIC: ClassVar[Topic] = Topic.REFERRALS

    referral_id: uuid.UUID
    register_id: Code
    initial_rating: Rating
    rating_rationale: Text
    cohort: Cohort
    age_band: AgeBand
    nhs_number_hash: Code
    referrer_email: EmailStr
    accepted_by: Subject
    # Professionals' work contacts (not the person's data): who to tell about whom.
    professionals: list[Professional] = Field(default_factory=list, max_length=MAX_ITEMS)
    # The date of the consent or best-interest decision: renewal falls due a year on (R-OB-13).
    consent_date: date | None = None
    # Only on an automatic referral made because of a discharge (R-ELIG-4).
    discharge: DischargeSeen | None = None


class AgeBandChanged(Event):
    """The person's age band moved on (R-OB-10 follows the age on the day of
    the event): they turned 18 or the area's keyworking age limit (25) while on
    the register, or the band announced at referral was already out of date.
    From `effective_on` the person is in `age_band`. No date of birth:
    `effective_on` is the day the referral service noticed the change, not the
    birthday (docs/PERSONAL_DATA.md)."""

    EVENT_TYPE: ClassVar[str] = "AgeBandChanged"
    TOPIC: ClassVar[Topic] = Topic.REFERRALS

    register_id: Code
    age_band: AgeBand
    # The area's calendar day on which the change was noticed and takes effect.
    effective_on: date


class FurtherReferralReceived(Event):
    """A referral for someone already on the register: kept with their record
    in the referral service (it holds personal data) and sent to the DSR team,
    which decides what it changes. No personal data: the register id says who."""

    EVENT_TYPE: ClassVar[str] = "FurtherReferralReceived"
    TOPIC: ClassVar[Topic] = Topic.REFERRALS

    register_id: Code
    referral_id: uuid.UUID
    proposed_rating: Literal[Rating.RED, Rating.AMBER, Rating.GREEN]
    referrer_email: EmailStr
    # The token subject that submitted it, or `system:<area>` on the topic door.
    submitted_by: Subject
    received_at: AwareDatetime


class RejectionReason(_Part):
    code: Code
    message: Sentence
    field: Name | None = None


class ReferralRejected(Event):
    EVENT_TYPE: ClassVar[str] = "ReferralRejected"
    TOPIC: ClassVar[Topic] = Topic.REFERRALS
    KEY_FIELD: ClassVar[str] = "referral_id"

    referral_id: uuid.UUID
    reasons: list[RejectionReason] = Field(max_length=MAX_REASONS)
    referrer_email: EmailStr
