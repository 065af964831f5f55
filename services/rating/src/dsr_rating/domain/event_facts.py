"""What each event, or change over HTTP, puts on a person's record: the facts
a referral, a hospital event or the register's own log makes (R-RAG-1..6,
R-ELIG-4), and what a removal is when a referrer asks for it. Pure: plain
values in (an event, its id and time, who acts), facts out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from nhs_number import is_valid as nhs_number_is_valid

from dsr_shared.contract.envelope import derived_event_id
from dsr_shared.contract.events import (
    AdmissionCancelled,
    Admitted,
    DischargeCancelled,
    Discharged,
    Event,
    PatientsMerged,
    PersonRemoved,
    Rating,
    RatingChanged,
    ReferralAccepted,
    Transferred,
)
from dsr_shared.contract.events.ratings import HospitalStay
from dsr_rating.domain.facts import Fact, RemovalRequest, Update, fact_id, stay_identity
from dsr_rating.domain.standing import Standing


def valid_nhs_number(nhs_number: str) -> str:
    """R-ID-2: a hospital event with an invalid NHS number is refused (dead-lettered)."""
    if not nhs_number_is_valid(nhs_number):
        raise ValueError("R-ID-2: the event carries an invalid NHS number")
    return nhs_number


def named_nhs_numbers(event: Event) -> list[str]:
    """The valid NHS numbers of the people a hospital event names (none for
    other events): whom its handling will claim (R-RAG-3)."""
    if isinstance(event, PatientsMerged):
        numbers = [event.nhs_number, event.merged_nhs_number]
    elif isinstance(event, Admitted | Discharged | AdmissionCancelled | DischargeCancelled | Transferred):
        numbers = [event.nhs_number]
    else:
        numbers = []
    return [n for n in numbers if nhs_number_is_valid(n)]


def entry_facts(event_id: uuid.UUID, occurred_at: datetime, event: ReferralAccepted) -> list[Fact]:
    """The person enters the register (R-RAG-1). An automatic referral on
    discharge (R-ELIG-4) enters at the discharge, which comes with it: the
    hospital's own Discharged event is the same fact (a twin)."""
    seen = event.discharge
    entry = Fact(
        id=str(event_id),
        kind="entry",
        at=seen.discharged_at if seen else occurred_at,
        by=event.accepted_by,
        rationale=event.rating_rationale,
        rating=event.initial_rating,
        after_discharge=seen is not None,
    )
    if seen is None:
        return [entry]
    discharge_id = str(derived_event_id(event_id, "discharge"))
    return [discharge_fact(discharge_id, seen.hospital_ods_code, seen.discharged_at, seen.destination), entry]


def discharge_fact(fact_id: str, hospital_ods_code: str, at: datetime, destination: str | None) -> Fact:
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


def discharged_fact(event_id: uuid.UUID, event: Discharged) -> Fact:
    return discharge_fact(str(event_id), event.hospital_ods_code, event.discharged_at, event.destination)


def admission_fact(event_id: uuid.UUID, event: Admitted) -> Fact:
    """An admission makes the person blue (R-RAG-3)."""
    stay = HospitalStay(**event.model_dump(include=set(HospitalStay.model_fields)))
    secure = ", secure" if event.secure else ""
    return Fact(
        id=str(event_id),
        kind="admission",
        at=event.admitted_at,
        by=f"hospital:{event.hospital_ods_code}",
        rationale=f"Admitted to {event.hospital_ods_code} ({event.bed_type} bed{secure}, {event.legal_basis}); R-RAG-3.",
        hospital=stay,
        hospital_ods_code=event.hospital_ods_code,
    )


def transfer_fact(event_id: uuid.UUID, event: Transferred) -> Fact:
    """Still in hospital, somewhere else now (HL7 A02): the stay starts at the transfer."""
    stay = HospitalStay(**event.model_dump(include=set(HospitalStay.model_fields)), admitted_at=event.transferred_at)
    return Fact(
        id=str(event_id),
        kind="transfer",
        at=event.transferred_at,
        by=f"hospital:{event.hospital_ods_code}",
        rationale=f"Transferred to {event.hospital_ods_code} ({event.bed_type} bed{', secure' if event.secure else ''}, "
        f"{event.legal_basis}).",
        hospital=stay,
        hospital_ods_code=event.hospital_ods_code,
    )


def cancellation_fact(event_id: uuid.UUID, event: AdmissionCancelled | DischargeCancelled) -> Fact:
    """The hospital cancelled an admission (A11) or a discharge (A13): the
    register stands as if it had never been sent (hospital_corrections.py)."""
    cancelled: Literal["admission", "discharge"]
    if isinstance(event, AdmissionCancelled):
        cancelled, of = "admission", event.admitted_at
        rationale = f"The admission to {event.hospital_ods_code} at {of.isoformat()} was cancelled by the hospital."
    else:
        cancelled, of = "discharge", event.discharged_at
        rationale = (
            f"The discharge from {event.hospital_ods_code} at {of.isoformat()} was cancelled "
            "by the hospital: still in hospital (R-RAG-3)."
        )
    return Fact(
        id=str(event_id),
        kind=f"{cancelled}_cancelled",
        at=event.cancelled_at,
        by=f"hospital:{event.hospital_ods_code}",
        rationale=rationale,
        hospital_ods_code=event.hospital_ods_code,
        cancels=stay_identity(cancelled, event.hospital_ods_code, of),
    )


def rating_fact(
    *, at: datetime, by: str, rationale: str, rating: Rating, agreed_with_person: bool | None, by_dsr_team: bool
) -> Fact:
    """A person's change of rating over HTTP (R-RAG-2): its reason, who made
    it, whether it was agreed with the person, whether the DSR team made it."""
    return Fact(
        id=str(uuid.uuid4()),
        kind="rating",
        at=at,
        by=by,
        rationale=rationale,
        rating=rating,
        agreed_with_person=agreed_with_person,
        by_dsr_team=by_dsr_team,
    )


def green_month_ended(register_id: str, standing: Standing, now: datetime) -> Fact | None:
    """R-RAG-5: a green month over with the person still green ends their time
    on the register. The fact's id is derived from the green rating it ends,
    so several sweeps at once make one fact."""
    if standing.rating != Rating.GREEN or not standing.on_register or standing.green_until is None:
        return None
    if standing.green_until > now or standing.green_since is None:
        return None
    return Fact(
        id=fact_id(register_id, "green-month-ended", standing.green_since.isoformat()),
        kind="green_month_ended",
        at=standing.green_until,
        by="system:green-month",
        rationale="The green month ended with no new need (R-RAG-5).",
        green_since=standing.green_since,
    )


def own_rating_fact(event_id: uuid.UUID, occurred_at: datetime, event: RatingChanged) -> Fact | None:
    """A change made over HTTP, read back from the register's own log; None
    for what the register derived from other topics (derived again from them).
    A change announced again (a late fact changed where it led from) is the
    same fact: its id is the cause, not the announcement."""
    if event.cause != "person":
        return None
    return Fact(
        id=str(event.cause_event_id or event_id),
        kind="rating",
        at=occurred_at,
        by=event.changed_by,
        rationale=event.rationale,
        rating=event.to_rating,
        agreed_with_person=event.agreed_with_person,
        by_dsr_team=event.by_dsr_team,
    )


def own_removal_fact(event_id: uuid.UUID, occurred_at: datetime, event: PersonRemoved) -> Fact | None:
    """The DSR team's removal read back (R-RAG-6); a green month's end is derived again by the sweep."""
    if event.cause != "dsr_team":
        return None
    return Fact(
        id=str(event.cause_event_id or event_id),
        kind="removal",
        at=occurred_at,
        by=event.removed_by,
        rationale=event.reason,
    )


@dataclass(frozen=True)
class RemovalAsked:
    """A referrer's request for removal: the update recording the conversation
    or best-interest meeting, and the request the DSR team is alerted by."""

    update: Update
    request: RemovalRequest


def removal(
    *, by_dsr_team: bool, at: datetime, by: str, reason: str, best_interest_meeting: bool
) -> Fact | RemovalAsked:
    """R-RAG-6: only the DSR team removes someone (a removal fact); a referrer
    asks, with an update, and the DSR team decides."""
    if by_dsr_team:
        return Fact(id=str(uuid.uuid4()), kind="removal", at=at, by=by, rationale=reason)
    update = Update(id=uuid.uuid4(), at=at, by=by, kind="removal_request", text=reason)
    request = RemovalRequest(
        id=str(uuid.uuid4()), at=at, by=by, update_id=update.id, best_interest_meeting=best_interest_meeting
    )
    return RemovalAsked(update, request)
