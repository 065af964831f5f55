"""The register's fold (R-RAG-1..7), pure: no broker, no database."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsr_shared.contract.events import AgeBand, Rating
from dsr_shared.contract.events.ratings import HospitalStay
from dsr_shared.rules.area import Duration, load_profile
from dsr_shared.rules.working_time import WorkingCalendar
from dsr_rating.domain.facts import Fact
from dsr_rating.domain.record import PersonRecord
from dsr_rating.domain.rules import rating_change_refusals

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
PROFILES = ["derbyshire", "staffordshire"]


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def entry(hours: float = 0, rating: Rating = Rating.AMBER) -> Fact:
    return Fact(id=str(uuid.uuid4()), kind="entry", at=at(hours), by="referrer@nhs.net", rating=rating, rationale="r")


def person(hours: float, rating: Rating) -> Fact:
    return Fact(id=str(uuid.uuid4()), kind="rating", at=at(hours), by="team@nhs.net", rating=rating, rationale="r")


def admission(hours: float, ods: str = "RXM") -> Fact:
    stay = HospitalStay(hospital_ods_code=ods, admitted_at=at(hours), bed_type="mental_health", legal_basis="section_2")
    return Fact(
        id=str(uuid.uuid4()), kind="admission", at=at(hours), by=f"hospital:{ods}", hospital=stay, hospital_ods_code=ods
    )


def discharge(hours: float, ods: str = "RXM") -> Fact:
    return Fact(id=str(uuid.uuid4()), kind="discharge", at=at(hours), by=f"hospital:{ods}", hospital_ods_code=ods)


def standing_of(facts, profile="derbyshire", **overrides):
    area = load_profile(profile)
    if overrides:
        area = area.model_copy(update=overrides)
    record = PersonRecord(register_id="QJ2-TEST-TEST-0")
    for fact in facts:
        record.add_fact(fact)
    return record.standing(area, WorkingCalendar(area.working_time))


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("initial", [Rating.RED, Rating.AMBER, Rating.GREEN])
def test_r_rag_1_enters_with_the_referrers_rating(profile, initial):
    standing = standing_of([entry(0, initial)], profile)
    assert (standing.status, standing.rating) == ("on_register", initial)
    assert standing.history[0].from_rating is None and standing.history[0].cause == "referral"


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("before", [Rating.RED, Rating.AMBER, Rating.GREEN])
def test_r_rag_3_admission_makes_blue_whatever_the_rating(profile, before):
    standing = standing_of([entry(0, before), admission(1)], profile)
    assert standing.rating == Rating.BLUE and standing.in_hospital
    assert standing.hospital.legal_basis == "section_2"


@pytest.mark.parametrize("profile", PROFILES)
def test_r_rag_4_discharge_gives_amber_on_the_shipped_profiles(profile):
    standing = standing_of([entry(0, Rating.RED), admission(1), discharge(50)], profile)
    assert standing.rating == Rating.AMBER and not standing.in_hospital
    assert [e.cause for e in standing.history] == ["referral", "admission", "discharge"]


def test_r_rag_4_an_area_may_hold_red_after_discharge():
    held = load_profile("derbyshire").post_discharge.model_copy(
        update={"rating": Rating.RED, "holds_for": Duration(amount=2, unit="weeks")}
    )
    standing = standing_of([entry(0), admission(1), discharge(50)], post_discharge=held)
    assert standing.rating == Rating.RED
    assert standing.hold_until == at(50) + timedelta(weeks=2)
    during = standing.hold_until - timedelta(days=1)
    refused = rating_change_refusals(standing, Rating.AMBER, by_dsr_team=False, now=during, post_discharge=Rating.RED)
    assert [r.code for r in refused] == ["R-RAG-4.hold"]
    after = standing.hold_until + timedelta(minutes=1)
    assert rating_change_refusals(standing, Rating.AMBER, by_dsr_team=False, now=after, post_discharge=Rating.RED) == []


def test_a_discharge_older_than_the_latest_admission_changes_nothing():
    standing = standing_of([entry(0), admission(1), admission(100, "RHA"), discharge(50)])
    assert standing.rating == Rating.BLUE and standing.hospital.hospital_ods_code == "RHA"


def test_the_same_admission_twice_is_one_fact():
    first, again = admission(1), admission(1)  # same hospital and time, new event id
    record = PersonRecord(register_id="QJ2-TEST-TEST-0")
    assert record.add_fact(entry(0)) and record.add_fact(first)
    assert not record.add_fact(again) and not record.add_fact(first)


@pytest.mark.parametrize("profile", PROFILES)
def test_r_rag_5_green_lasts_a_month_and_ends_in_removal_only_if_still_green(profile):
    standing = standing_of([entry(0, Rating.GREEN)], profile)
    # One calendar month of local time: 10:00 GMT on 2 March, 10:00 BST (09:00 UTC) on 2 April.
    assert standing.green_until == datetime(2026, 4, 2, 9, 0, tzinfo=timezone.utc)
    ended = Fact(
        id=str(uuid.uuid4()),
        kind="green_month_ended",
        at=standing.green_until,
        by="system",
        green_since=standing.green_since,
    )
    assert standing_of([entry(0, Rating.GREEN), ended], profile).status == "removed"
    # A need in the month (back to amber) keeps them on; a late admission in the month too.
    assert standing_of([entry(0, Rating.GREEN), person(24, Rating.AMBER), ended], profile).status == "on_register"
    late = standing_of([entry(0, Rating.GREEN), ended, admission(48)], profile)
    assert (late.status, late.rating) == ("on_register", Rating.BLUE)


def test_r_rag_3_only_the_dsr_team_sets_or_leaves_blue_by_hand():
    amber = standing_of([entry(0)])
    codes = [
        r.code
        for r in rating_change_refusals(amber, Rating.BLUE, by_dsr_team=False, now=at(1), post_discharge=Rating.AMBER)
    ]
    assert codes == ["R-RAG-3.blue_by_admission"]
    assert rating_change_refusals(amber, Rating.BLUE, by_dsr_team=True, now=at(1), post_discharge=Rating.AMBER) == []
    blue = standing_of([entry(0), admission(1)])
    codes = [
        r.code
        for r in rating_change_refusals(blue, Rating.RED, by_dsr_team=False, now=at(2), post_discharge=Rating.AMBER)
    ]
    assert codes == ["R-RAG-3.in_hospital"]


def test_r_rag_6_a_removed_person_is_not_re_rated():
    removed = standing_of([entry(0), Fact(id=str(uuid.uuid4()), kind="removal", at=at(5), by="team", rationale="x")])
    codes = [
        r.code
        for r in rating_change_refusals(removed, Rating.RED, by_dsr_team=True, now=at(6), post_discharge=Rating.AMBER)
    ]
    assert codes == ["R-RAG-6.removed"]
    again = standing_of(
        [entry(0), Fact(id=str(uuid.uuid4()), kind="removal", at=at(5), by="team"), entry(9, Rating.RED)]
    )
    assert (again.status, again.rating, again.history[-1].from_rating) == ("on_register", Rating.RED, None)


hospital_fact = st.builds(
    lambda kind, hours, ods: (admission if kind == "a" else discharge)(hours, ods),
    st.sampled_from("ad"),
    st.integers(min_value=-48, max_value=500),
    st.sampled_from(["RXM", "RHA"]),
)


@settings(max_examples=300, deadline=None)
@given(
    facts=st.lists(hospital_fact, max_size=8),
    changes=st.lists(
        st.tuples(st.integers(1, 500), st.sampled_from([Rating.RED, Rating.AMBER, Rating.GREEN])), max_size=3
    ),
    order=st.randoms(use_true_random=False),
    duplicates=st.lists(st.integers(0, 7), max_size=3),
)
def test_the_register_ends_the_same_whatever_the_order_of_delivery(facts, changes, order, duplicates):
    everything = [entry(0), *facts, *(person(h, r) for h, r in changes)]
    everything += [everything[1 + i] for i in duplicates if 1 + i < len(facts) + 1]
    shuffled = everything[:]
    order.shuffle(shuffled)
    assert standing_of(shuffled) == standing_of(everything)


def test_r_rag_3_a_late_admission_outranks_a_case_holders_change_made_meanwhile():
    # Admitted at 10:00, reported at 11:00; the case holder rated red at 10:30, not knowing.
    standing = standing_of([entry(0), admission(10), person(10.5, Rating.RED)])
    assert standing.rating == Rating.BLUE
    assert [(e.cause, e.took_effect) for e in standing.history] == [
        ("referral", True),
        ("admission", True),
        ("person", False),
    ]
    team = Fact(id=str(uuid.uuid4()), kind="rating", at=at(11), by="team", rating=Rating.AMBER, by_dsr_team=True)
    assert standing_of([entry(0), admission(10), team]).rating == Rating.AMBER  # the DSR team corrects


def test_the_newest_age_band_wins_and_each_change_moves_the_version():
    record = PersonRecord(register_id="QJ2-AAAA-BBBB-C")
    assert record.set_age_band(AgeBand.YOUNG_ADULT, at(0), counted=False)  # with the referral, whose entry counts
    assert record.next_version() == 0
    assert record.set_age_band(AgeBand.ADULT, at(48))  # the 25th birthday
    assert not record.set_age_band(AgeBand.YOUNG_ADULT, at(24))  # an older announcement, late
    assert (record.age_band, record.next_version()) == (AgeBand.ADULT, 1)
    # A referral older than the band on record (its event published late) leaves the band alone.
    assert not record.set_age_band(AgeBand.YOUNG_ADULT, at(47), counted=False)
    assert record.age_band == AgeBand.ADULT
