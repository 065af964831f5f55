"""R-ELIG-4: someone discharged from a learning disability or mental health
hospital who is not on the register is referred automatically and rated
amber. Pure: the discharge and what the register knows of the person in, the
decision and the referral out. Where the person stood is judged at the
discharge's time, by the rating service's newest timeline known here: a late
discharge from before a removal, or a removal a late fact made untrue, refers
nobody again. A discharge judged while the person was on the register is
kept, and judged again on each newer timeline: a removal heard after it
(the end of a green month the rating service recorded late) may have had
them off the register at its time (`referrals_owed`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from nhs_number import is_valid as nhs_number_is_valid

from dsr_shared.contract.events import AgeBand, Cohort, Discharged, DischargeSeen, Rating, ReferralAccepted
from dsr_referral.domain.register_moves import Move, on_register_at, on_register_now

# Who accepts an automatic referral: no person did.
ACCEPTED_BY = "system:discharge"


def needs_automatic_referral(discharge: Discharged, *, known: bool, removed: bool, moves: Sequence[Move] = ()) -> bool:
    """False for someone on the register when discharged: their discharge is
    the rating service's (R-RAG-4). Someone off it then is referred again (and
    keeps their register id, R-ID-1). `moves`: the newest timeline's, which
    decide at the discharge's time; with none heard yet, whether this service
    holds the person removed now (`removed`) decides. R-ID-2: an invalid NHS
    number is refused (ValueError: the event is dead-lettered)."""
    if not nhs_number_is_valid(discharge.nhs_number):
        raise ValueError("R-ID-2: the discharge carries an invalid NHS number")
    if not known:
        return True
    return not on_register_at(moves, discharge.discharged_at) if moves else removed


def referrals_owed(discharged_at: Sequence[datetime], moves: Sequence[Move]) -> list[int]:
    """Of the discharges kept (their times), the positions of those at which
    the newest timeline has the person off the register, in time order. Each
    one owed brings them back at its time, so a later discharge, or the same
    stay's twin under another event id, then falls on the register."""
    owed: list[int] = []
    known = sorted(moves, key=lambda m: m.at)
    for i in sorted(range(len(discharged_at)), key=lambda i: discharged_at[i]):
        if not on_register_at(known, discharged_at[i]):
            owed.append(i)
            known = sorted([*known, Move(discharged_at[i], True)], key=lambda m: m.at)
    return owed


def back_since_later(moves: Sequence[Move], discharged_at: datetime) -> bool:
    """On the register now, by the newest timeline, since a time after the
    discharge: a later discharge's automatic referral (or a referral) brought
    them back, but this discharge, when they were off, is the one that refers
    them in time (the later entry then changes nothing at the rating service)."""
    return on_register_now(moves) and moves[-1].at > discharged_at


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
