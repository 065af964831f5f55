"""Twins of a hospital fact (two event ids, one admission or discharge), pure:
the record keeps the twin with the smaller id, and ends the same, version
included, whichever twin comes first, whether the person was on the register
yet or not. Each arrival is applied to the record as the store gives it back
(the database keeps milliseconds), as a handler does."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import bson
from bson.binary import UuidRepresentation
from bson.codec_options import CodecOptions
from hypothesis import given, settings
from hypothesis import strategies as st

from dsr_shared.contract.events import Rating
from dsr_shared.contract.events.ratings import HospitalStay
from dsr_shared.rules.area import load_profile
from dsr_shared.rules.working_time import WorkingCalendar
from dsr_rating.domain.announce import announcements
from dsr_rating.domain.facts import Fact, one_per_fact
from dsr_rating.domain.record import PersonRecord

# Not on a millisecond: what a hospital sends, finer than the database keeps.
T0 = datetime(2026, 3, 2, 10, 0, 0, 738008, tzinfo=timezone.utc)
AREA = load_profile("derbyshire")
CALENDAR = WorkingCalendar(AREA.working_time)
AS_STORED = CodecOptions(tz_aware=True, uuid_representation=UuidRepresentation.STANDARD)


def stored(record: PersonRecord) -> PersonRecord:
    """The record as the store reads it back (its version is what was saved)."""
    doc = {**record.model_dump(mode="python"), "version": record.next_version()}
    return PersonRecord.model_validate(bson.decode(bson.encode(doc, codec_options=AS_STORED), codec_options=AS_STORED))


def entry() -> Fact:
    return Fact(id=str(uuid.uuid4()), kind="entry", at=T0, by="referrer@nhs.net", rating=Rating.AMBER)


def admission(hours: float, ods: str = "RHA", *, bed: str = "mental_health") -> Fact:
    when = T0 + timedelta(hours=hours)
    stay = HospitalStay(hospital_ods_code=ods, admitted_at=when, bed_type=bed, legal_basis="section_3")
    return Fact(
        id=str(uuid.uuid4()), kind="admission", at=when, by=f"hospital:{ods}", hospital=stay, hospital_ods_code=ods
    )


def twin_of(fact: Fact) -> Fact:
    return fact.model_copy(update={"id": str(uuid.uuid4())})


def arrive(record: PersonRecord, fact: Fact) -> tuple[PersonRecord, list]:
    """One event handled: read the record, add the fact, announce, save."""
    record = stored(record)
    before = record.timeline(record.standing(AREA, CALENDAR))
    record.add_fact(fact)
    told = announcements(record, before, record.standing(AREA, CALENDAR), version=record.next_version())
    return stored(record), told


def test_a_fact_read_back_is_the_fact_written():
    fact = admission(1)
    kept = stored(PersonRecord(register_id="QJ2-TEST-TEST-0", facts=[fact])).facts[0]
    assert kept == fact


def test_the_later_twin_announces_nothing_moves_the_version_and_either_order_ends_the_same():
    first, stay = entry(), admission(20)
    twin = twin_of(stay)
    smaller, larger = sorted([stay, twin], key=lambda f: f.id)
    ends = []
    for order in ([smaller, larger], [larger, smaller]):
        record, _ = arrive(PersonRecord(register_id="QJ2-TEST-TEST-0"), first)
        record, told = arrive(record, order[0])
        assert [a.entry.cause for a in told] == ["admission"]
        version = record.version
        record, told = arrive(record, order[1])
        assert told == []  # the same admission: nothing new to tell
        assert record.version == version + 1  # a change like any other: one read before it conflicts
        ends.append(record)
    assert ends[0] == ends[1]
    assert [f.id for f in ends[0].facts] == [first.id, smaller.id]


@st.composite
def deliveries(draw):
    """A referral and admissions, some sent twice under new ids, shuffled; and
    how many of them arrive before the referral (kept unmatched)."""
    hours = draw(st.lists(st.integers(1, 200), min_size=1, max_size=4, unique=True))
    stays = [admission(h, draw(st.sampled_from(["RHA", "RXM"]))) for h in hours]
    twins = [twin_of(f) for f in draw(st.lists(st.sampled_from(stays), min_size=1, max_size=4))]
    events = draw(st.permutations([entry(), *stays, *twins]))
    return events, draw(st.integers(0, len(events)))


@settings(max_examples=60, deadline=None)
@given(deliveries())
def test_the_record_is_a_function_of_the_set_of_events(case):
    events, before_referral = case
    referral = next(f for f in events if f.kind == "entry")
    hospital = [f for f in events if f.kind != "entry"]
    unmatched, after = hospital[:before_referral], hospital[before_referral:]

    record = PersonRecord(register_id="QJ2-TEST-TEST-0")
    record.add_fact(referral)
    for fact in unmatched:  # as the referral finds them kept, in the store's order
        record.add_fact(fact)
    for fact in after:
        record, _ = arrive(record, fact)

    in_time = PersonRecord(register_id="QJ2-TEST-TEST-0")
    for fact in sorted(events, key=lambda f: (f.at, f.id)):
        in_time.add_fact(fact)
    assert stored(record).model_dump() == stored(in_time).model_dump()
    assert stored(record).next_version() == len(events)
    assert record.facts[1:] == one_per_fact(hospital)  # as the DSR team sees them while unmatched
