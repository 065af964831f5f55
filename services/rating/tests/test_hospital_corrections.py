"""Hospital corrections in the fold, pure: a cancelled admission (A11) or
discharge (A13) is undone, a transfer (A02) keeps the person blue in the new
bed, and the register ends the same whatever order the facts arrive in."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from dsr_shared.contract.events import Rating
from dsr_shared.contract.events.ratings import HospitalStay
from dsr_shared.rules.area import load_profile
from dsr_shared.rules.working_time import WorkingCalendar
from dsr_rating.domain.announce import announcements
from dsr_rating.domain.facts import Fact, stay_identity
from dsr_rating.domain.record import PersonRecord

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
AREA = load_profile("derbyshire")
CALENDAR = WorkingCalendar(AREA.working_time)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def fact(kind: str, hours: float, **fields) -> Fact:
    return Fact(id=str(uuid.uuid4()), kind=kind, at=at(hours), by="hospital:RXM01", rationale=kind, **fields)


def entry(hours: float = 0, rating: Rating = Rating.AMBER) -> Fact:
    return Fact(id=str(uuid.uuid4()), kind="entry", at=at(hours), by="referrer@nhs.net", rating=rating, rationale="r")


def stay(ods: str, hours: float, ward: str | None = None) -> HospitalStay:
    return HospitalStay(
        hospital_ods_code=ods, admitted_at=at(hours), bed_type="mental_health", legal_basis="section_2", ward=ward
    )


def admission(hours: float, ods: str = "RXM01") -> Fact:
    return fact("admission", hours, hospital=stay(ods, hours), hospital_ods_code=ods)


def discharge(hours: float, ods: str = "RXM01") -> Fact:
    return fact("discharge", hours, hospital_ods_code=ods)


def transfer(hours: float, ods: str, ward: str = "W2") -> Fact:
    return fact("transfer", hours, hospital=stay(ods, hours, ward), hospital_ods_code=ods)


def admission_cancelled(hours: float, admitted: float, ods: str = "RXM01") -> Fact:
    return fact(
        "admission_cancelled", hours, hospital_ods_code=ods, cancels=stay_identity("admission", ods, at(admitted))
    )


def discharge_cancelled(hours: float, discharged: float, ods: str = "RXM01") -> Fact:
    return fact(
        "discharge_cancelled", hours, hospital_ods_code=ods, cancels=stay_identity("discharge", ods, at(discharged))
    )


def record_of(facts) -> PersonRecord:
    record = PersonRecord(register_id="QJ2-TEST-TEST-0")
    for f in facts:
        record.add_fact(f)
    return record


def standing_of(facts):
    return record_of(facts).standing(AREA, CALENDAR)


def changes(record: PersonRecord, facts) -> tuple:
    """Where the person stood and what the register announces when `facts` arrive."""
    before = record.standing(AREA, CALENDAR)
    timeline = record.timeline(before)
    for f in facts:
        record.add_fact(f)
    after = record.standing(AREA, CALENDAR)
    return before, after, announcements(record, timeline, after, version=record.next_version())


def transitions(record: PersonRecord) -> list[tuple]:
    return [(t.from_rating, t.to_rating, t.cause) for t in record.timeline(record.standing(AREA, CALENDAR))]


def test_a_cancelled_admission_puts_back_the_rating_before_and_drops_out_of_the_timeline():
    record = record_of([entry(0, Rating.RED), admission(1)])
    admitted = record.timeline(record.standing(AREA, CALENDAR))[-1]
    before, after, told = changes(record, [admission_cancelled(2, admitted=1)])
    assert before.rating == Rating.BLUE
    assert (after.rating, after.in_hospital, after.hospital) == (Rating.RED, False, None)
    # R-RAG-7: the admission stays in the history, as a change that did not take
    # effect, and the cancellation shows at its own time; neither is a transition.
    assert [(h.from_rating, h.to_rating, h.cause, h.took_effect) for h in after.history[1:]] == [
        (Rating.RED, Rating.BLUE, "admission", False),
        (Rating.RED, Rating.RED, "admission_cancelled", True),
    ]
    assert transitions(record) == [(None, Rating.RED, "referral")]
    # The newest transition is told again with the timeline without the
    # admission: the scheduler withdraws what the admission demanded.
    [again] = told
    assert again.event.transition_id != admitted.transition_id
    assert [t.cause for t in again.event.timeline] == ["referral"]
    # R-OB-5 is for a real discharge: a cancelled admission starts no post-discharge meeting.
    rules = AREA.rules_triggered_by(
        "RatingChanged", to_rating=Rating.RED, from_rating=Rating.BLUE, cause="admission_cancelled"
    )
    assert "R-OB-5" not in {r.id for r in rules}


def test_a_cancellation_read_before_its_admission_announces_nothing():
    record = record_of([entry(0, Rating.RED)])
    _, after, told = changes(record, [admission_cancelled(2, admitted=1)])
    assert after.rating == Rating.RED and told == []
    _, after, told = changes(record, [admission(1)])
    assert (after.rating, after.in_hospital) == (Rating.RED, False) and told == []
    assert transitions(record) == [(None, Rating.RED, "referral")]


def test_a_case_holders_change_made_during_a_cancelled_stay_takes_effect():
    standing = standing_of(
        [
            entry(0),
            admission(1),
            fact("rating", 2, rating=Rating.GREEN, by_dsr_team=False),
            admission_cancelled(3, admitted=1),
        ]
    )
    assert standing.rating == Rating.GREEN


def test_a_cancelled_discharge_makes_the_person_blue_again_in_the_same_bed():
    record = record_of([entry(0), admission(1), discharge(5)])
    before, after, told = changes(record, [discharge_cancelled(6, discharged=5)])
    assert before.rating == Rating.AMBER
    assert (after.rating, after.in_hospital, after.hospital.hospital_ods_code) == (Rating.BLUE, True, "RXM01")
    assert transitions(record) == [(None, Rating.AMBER, "referral"), (Rating.AMBER, Rating.BLUE, "admission")]
    [again] = told
    assert (again.event.to_rating, again.event.cause, again.event.hospital.admitted_at) == (
        Rating.BLUE,
        "admission",
        at(1),
    )


def test_a_transfer_keeps_the_person_blue_in_the_new_hospital_with_the_admission_time():
    record = record_of([entry(0), admission(1)])
    before, after, told = changes(record, [transfer(3, "RHA01", ward="W9")])
    assert after.rating == Rating.BLUE and after.history == before.history
    assert (after.hospital.hospital_ods_code, after.hospital.ward, after.hospital.admitted_at) == ("RHA01", "W9", at(1))
    assert told == []  # no rating change to announce


def test_a_transfer_without_a_known_admission_counts_as_one():
    standing = standing_of([entry(0), transfer(3, "RHA01")])
    assert (standing.rating, standing.hospital.hospital_ods_code) == (Rating.BLUE, "RHA01")
    assert standing.history[-1].cause == "admission"


def test_a_cancellation_sent_twice_under_two_event_ids_is_one_fact():
    record = record_of([entry(0), admission(1), admission_cancelled(2, admitted=1)])
    assert not record.add_fact(admission_cancelled(2, admitted=1))


STAYS = [
    entry(0),
    admission(1),
    transfer(2, "RHA01"),
    discharge(3, "RHA01"),
    discharge_cancelled(4, discharged=3, ods="RHA01"),
    discharge(6, "RHA01"),
    admission(8),
    admission_cancelled(9, admitted=8),
]


@settings(max_examples=60, deadline=None)
@given(st.permutations(STAYS))
def test_the_register_ends_the_same_whatever_the_order(facts):
    expected = record_of(STAYS)
    standing = expected.standing(AREA, CALENDAR)
    assert (standing.rating, standing.in_hospital) == (Rating.AMBER, False)
    assert record_of(facts).standing(AREA, CALENDAR) == standing
    # What the register announces last, whichever order it learned the facts in.
    assert (
        transitions(record_of(facts))
        == transitions(expected)
        == [
            (None, Rating.AMBER, "referral"),
            (Rating.AMBER, Rating.BLUE, "admission"),
            (Rating.BLUE, Rating.AMBER, "discharge"),
        ]
    )
