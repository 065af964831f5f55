"""Where a person stands: the fold of their facts in time order (R-RAG-1..7).

The newest fact wins. An admission makes the person blue whatever they were
(R-RAG-3); a discharge gives the area's post-discharge rating (R-RAG-4); a
change by a person sets what they chose (R-RAG-2); a removal, or a green month
that ends with the person still green, takes them off the register (R-RAG-5,
R-RAG-6). A fact older than the newest takes its place in the history and
leaves the current rating alone: a discharge older than the latest admission
is recorded and changes nothing. One exception keeps R-RAG-3 whole when an
admission is reported late: a change a case holder made while the person was
in fact in hospital (the register did not know yet) is kept in the history
but does not take effect; the person stays blue until discharged. The DSR
team's changes always take effect (they correct the record). What a hospital
cancels (HL7 A11, A13) is read before the fold (hospital_corrections.py): it
stays in the history without taking effect, and the person stands as if it
had never been sent."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal, cast

from pydantic import BaseModel, ConfigDict

from dsr_shared.contract.events import Rating
from dsr_shared.contract.events.ratings import HospitalStay
from dsr_shared.rules.area import AreaProfile
from dsr_shared.rules.working_time import WorkingCalendar
from dsr_rating.domain.facts import Fact
from dsr_rating.domain.hospital_corrections import CORRECTIONS, corrected, stay_after

Status = Literal["not_entered", "on_register", "removed"]
ON = "on_register"

CAUSE_OF_KIND = {
    "entry": "referral",
    "rating": "person",
    "admission": "admission",
    "discharge": "discharge",
    "removal": "removal",
    "green_month_ended": "green_month_ended",
    "admission_cancelled": "admission_cancelled",
    "discharge_cancelled": "discharge_cancelled",
    "transfer": "admission",
}


class HistoryEntry(BaseModel):
    """One change in the person's history (R-RAG-7): who, when, why, and what caused it."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    from_rating: Rating | None
    to_rating: Rating | None  # None: off the register
    cause: str
    changed_by: str
    rationale: str
    agreed_with_person: bool | None
    fact_id: str
    by_dsr_team: bool = False
    # False for a case holder's change made while the person was in hospital.
    took_effect: bool = True
    # What the fact is, whichever of its twins the record keeps (Fact.identity).
    fact_key: str = ""
    # The stay, when the change is to blue.
    hospital: HospitalStay | None = None

    @property
    def is_transition(self) -> bool:
        """A change of where the person stands, in the timeline the register
        announces. A hospital's cancellation is in the history, as what put
        the rating back, but is none: the fold reads the facts as if the
        cancelled admission or discharge had never been sent, so the
        transition it had made drops out of the timeline instead."""
        return self.took_effect and self.from_rating != self.to_rating


class Standing(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: Status = "not_entered"
    rating: Rating | None = None
    rating_since: datetime | None = None
    green_since: datetime | None = None
    green_until: datetime | None = None
    # R-RAG-4: an area may hold the post-discharge rating for a while.
    hold_until: datetime | None = None
    in_hospital: bool = False
    hospital: HospitalStay | None = None
    history: tuple[HistoryEntry, ...] = ()

    @property
    def on_register(self) -> bool:
        return self.status == ON


def _outcome(
    fact: Fact,
    status: Status,
    rating: Rating | None,
    green_since: datetime | None,
    in_hospital: bool,
    area: AreaProfile,
):
    """The (status, rating) this fact leads to from where the person stands."""
    if fact.kind == "entry":
        if fact.after_discharge:
            return ON, area.post_discharge.rating  # R-ELIG-4, R-RAG-4
        return ON, Rating.BLUE if in_hospital else fact.rating  # R-RAG-3: referred while in hospital
    if status != ON:
        return status, rating  # recorded only: not on the register at that time
    match fact.kind:
        case "rating" if in_hospital and not fact.by_dsr_team:
            return status, rating
        case "rating":
            return ON, fact.rating
        case "admission":
            return ON, Rating.BLUE
        case "discharge":
            return ON, area.post_discharge.rating
        case "removal":
            return "removed", rating
        case "green_month_ended" if rating == Rating.GREEN and fact.green_since == green_since:
            return "removed", rating
    return status, rating


def _cause(fact: Fact, to_rating: Rating | None) -> str:
    if fact.kind == "entry" and fact.after_discharge:
        return "discharge"
    if fact.kind == "entry" and to_rating == Rating.BLUE and fact.rating != Rating.BLUE:
        return "admission"  # referred while in hospital: the admission makes them blue
    return CAUSE_OF_KIND[fact.kind]


def _entry(
    fact: Fact,
    from_rating: Rating | None,
    to_rating: Rating | None,
    *,
    took_effect: bool = True,
    stay: HospitalStay | None = None,
) -> HistoryEntry:
    return HistoryEntry(
        at=fact.at,
        from_rating=from_rating,
        to_rating=to_rating,
        cause=_cause(fact, to_rating),
        fact_key=fact.identity,
        hospital=stay if to_rating == Rating.BLUE else None,
        changed_by=fact.by,
        rationale=fact.rationale,
        agreed_with_person=fact.agreed_with_person,
        fact_id=fact.id,
        by_dsr_team=fact.by_dsr_team,
        took_effect=took_effect,
    )


def fold(facts: Iterable[Fact], area: AreaProfile, calendar: WorkingCalendar) -> Standing:
    status: Status = "not_entered"
    rating: Rating | None = None
    since = green_since = hold_until = None
    in_hospital, stay = False, None
    history: list[HistoryEntry] = []
    for fact in corrected(facts):
        in_hospital, stay = stay_after(fact, in_hospital, stay)
        new_status, new_rating = _outcome(fact, status, rating, green_since, in_hospital, area)
        if fact.cancelled:  # by the hospital: kept in the history, never in effect
            if status == ON and (new_status, new_rating) != (status, rating):
                history.append(_entry(fact, rating, new_rating if new_status == ON else None, took_effect=False))
            continue
        if fact.kind == "discharge" and new_status == ON and area.post_discharge.holds_for:
            hold_until = calendar.deadline(fact.at, area.post_discharge.holds_for)
        if (new_status, new_rating) == (status, rating):
            if fact.kind == "rating" and status == ON:
                history.append(_entry(fact, rating, fact.rating, took_effect=False))
            elif fact.kind in CORRECTIONS and status == ON:
                history.append(_entry(fact, rating, rating))  # what put the rating back
            continue
        history.append(
            _entry(fact, rating if status == ON else None, new_rating if new_status == ON else None, stay=stay)
        )
        if new_status == ON and new_rating == Rating.GREEN and not (status == ON and rating == Rating.GREEN):
            green_since = fact.at
        status, rating, since = new_status, new_rating, fact.at
    green = status == ON and rating == Rating.GREEN
    return Standing(
        status=status,
        rating=rating,
        rating_since=since,
        green_since=green_since if green else None,
        green_until=calendar.deadline(cast(datetime, green_since), area.green_month) if green else None,  # green: set
        hold_until=hold_until if status == ON else None,
        in_hospital=in_hospital,
        hospital=stay if in_hospital else None,
        history=tuple(history),
    )
