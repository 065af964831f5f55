"""R-ELIG-4: someone discharged from a learning disability or mental health
hospital who is not on the register is referred automatically and rated
amber. Pure: the discharge and what the register knows of the person in, the
decision and the referral out."""

from __future__ import annotations

import uuid

from nhs_number import is_valid as nhs_number_is_valid

from dsr_shared.contract.events import AgeBand, Cohort, Discharged, DischargeSeen, Rating, ReferralAccepted

# Who accepts an automatic referral: no person did.
ACCEPTED_BY = "system:discharge"


def needs_automatic_referral(discharge: Discharged, *, known: bool, removed: bool) -> bool:
    """False for someone on the register: their discharge is the rating
    service's (R-RAG-4). A removed person is referred again (and keeps their
    register id, R-ID-1). R-ID-2: an invalid NHS number is refused (ValueError:
    the event is dead-lettered)."""
    if not nhs_number_is_valid(discharge.nhs_number):
        raise ValueError("R-ID-2: the discharge carries an invalid NHS number")
    return not known or removed


def automatic_referral(
    discharge: Discharged, *, referral_id: uuid.UUID, register_id: str, nhs_number_hash: str, dsr_team_mailbox: str
) -> ReferralAccepted:
    """Rated amber; the age and details are not known from a discharge (cohort
    and age band "unknown") until the DSR team completes the record. R-OB-5:
    the post-discharge DSP meeting counts from this discharge, which it carries."""
    return ReferralAccepted(
        referral_id=referral_id,
        register_id=register_id,
        initial_rating=Rating.AMBER,
        rating_rationale=f"Referred automatically on discharge from {discharge.hospital_ods_code} (R-ELIG-4).",
        cohort=Cohort.UNKNOWN,
        age_band=AgeBand.UNKNOWN,
        nhs_number_hash=nhs_number_hash,
        referrer_email=dsr_team_mailbox,
        accepted_by=ACCEPTED_BY,
        discharge=DischargeSeen(
            hospital_ods_code=discharge.hospital_ods_code,
            discharged_at=discharge.discharged_at,
            destination=discharge.destination,
        ),
    )
