"""docs/RULES.md R-ELIG-1..3 and R-ID-2, each for both outcomes, on both shipped
area profiles. Pure: the domain function, no I/O."""

from __future__ import annotations

from datetime import date

import pytest

from dsr_shared.contract.events import AgeBand, Cohort, ReferralSubmitted
from dsr_shared.rules.area import AgeBands, load_profile
from dsr_referral.domain.eligibility import age_band_on, assess, lives_in_area

TODAY = date(2026, 11, 20)
POSTCODE = {"derbyshire": "DE22 3LZ", "staffordshire": "ST4 6QG"}
LOCAL_AUTHORITY = {"derbyshire": "E10000007", "staffordshire": "E10000028"}
OUT_OF_AREA = "M1 1AE"


@pytest.fixture(params=["derbyshire", "staffordshire"])
def area(request):
    return request.param, load_profile(request.param)


def referral(area_name: str, **changes) -> ReferralSubmitted:
    body = {
        "submission_id": "s-1",
        "referral_date": TODAY.isoformat(),
        "person": {
            "given_name": "Robin",
            "family_name": "Example",
            "date_of_birth": "1994-03-02",
            "nhs_number": "9434765919",
            "address": {"line1": "2 Any Road", "postcode": POSTCODE[area_name]},
        },
        "diagnosis": {"condition": "learning_disability", "confirmed": True, "evidence_reference": "EV-1"},
        "consent": {"given_by": "the person", "given_on": "2026-11-01"},
        "referrer": {"name": "A", "role": "Nurse", "organisation": "Trust", "email": "a@example.org"},
        "rating_rationale": "Escalating risk.",
    }
    for path, value in changes.items():
        target = body
        *parents, leaf = path.split("__")
        for parent in parents:
            target = target[parent]
        if value is None:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return ReferralSubmitted.model_validate(body)


def codes(area, **changes) -> set[str]:
    name, profile = area
    return {r.code for r in assess(referral(name, **changes), profile, TODAY).reasons}


def test_a_complete_referral_in_the_area_is_eligible(area):
    assert codes(area) == set()


def test_r_elig_1_unconfirmed_diagnosis_is_rejected(area):
    assert "R-ELIG-1.unconfirmed" in codes(area, diagnosis__confirmed=False)


def test_r_elig_1_diagnosis_without_evidence_is_rejected(area):
    assert "R-ELIG-1.no_evidence" in codes(area, diagnosis__evidence_reference=None)


def test_r_elig_1_confirmed_diagnosis_with_evidence_is_accepted(area):
    assert not any(c.startswith("R-ELIG-1") for c in codes(area, diagnosis__condition="both"))


def test_r_elig_2_neither_consent_nor_best_interest_decision_is_rejected(area):
    assert "R-ELIG-2.no_consent" in codes(area, consent=None)


def test_r_elig_2_a_best_interest_decision_instead_of_consent_is_accepted(area):
    found = codes(area, consent=None, best_interest_decision={"decided_on": "2026-11-02", "decision_maker": "MDT"})
    assert found == set()


def test_r_elig_3_living_in_the_area_is_accepted(area):
    assert codes(area) == set()


def test_r_elig_3_living_elsewhere_with_no_other_tie_is_rejected(area):
    assert "R-ELIG-3.out_of_area" in codes(area, person__address__postcode=OUT_OF_AREA)


def test_r_elig_3_a_gp_practice_in_the_area_is_accepted(area):
    name, profile = area
    geography = profile.geography.model_copy(update={"gp_practice_codes": ["C81001"]})
    profile = profile.model_copy(update={"geography": geography})
    found = assess(
        referral(name, person__address__postcode=OUT_OF_AREA, person__gp_practice_code="c81001"), profile, TODAY
    )
    assert found.eligible


def test_r_elig_3_the_area_local_authority_is_accepted(area):
    name, _ = area
    assert (
        codes(area, person__address__postcode=OUT_OF_AREA, person__local_authority_code=LOCAL_AUTHORITY[name]) == set()
    )


def test_r_elig_3_funded_out_of_area_placement_is_accepted_only_when_red(area):
    assert codes(area, person__address__postcode=OUT_OF_AREA, person__section_117=True, proposed_rating="red") == set()
    assert "R-ELIG-3.out_of_area" in codes(
        area, person__address__postcode=OUT_OF_AREA, person__placement_funded_by_area_icb=True, proposed_rating="amber"
    )


def test_r_elig_3_looked_after_child_placed_out_of_area_by_the_area_is_accepted_only_for_cyp(area):
    name, _ = area
    placed = {
        "person__address__postcode": OUT_OF_AREA,
        "person__local_authority_code": LOCAL_AUTHORITY[name],
        "person__looked_after_child_placed_out_of_area": True,
    }
    assert codes(area, person__date_of_birth="2012-05-05", **placed) == set()
    assert "R-ELIG-3.out_of_area" in codes(area, **placed)  # an adult is no looked-after child


def test_r_id_2_an_invalid_nhs_number_is_rejected(area):
    assert "R-ID-2.invalid_nhs_number" in codes(area, person__nhs_number="9434765918")


def test_r_id_2_a_valid_nhs_number_with_spaces_is_accepted(area):
    assert codes(area, person__nhs_number="943 476 5919") == set()


def test_dates_in_the_future_are_rejected_each_with_its_field(area):
    found = assess(referral(area[0], referral_date="2026-12-01", consent__given_on="2027-01-01"), area[1], TODAY)
    assert {(r.code, r.field) for r in found.reasons} >= {
        ("date_in_future", "referral_date"),
        ("date_in_future", "consent.given_on"),
    }


def test_every_reason_is_given_at_once(area):
    found = codes(
        area,
        diagnosis__confirmed=False,
        consent=None,
        person__nhs_number="1234567890",
        person__address__postcode=OUT_OF_AREA,
    )
    assert {"R-ELIG-1.unconfirmed", "R-ELIG-2.no_consent", "R-ID-2.invalid_nhs_number", "R-ELIG-3.out_of_area"} <= found


@pytest.mark.parametrize(
    ("born", "cohort", "band"),
    [
        ("2008-11-21", Cohort.CYP, AgeBand.CYP),
        ("2008-11-20", Cohort.ADULT, AgeBand.YOUNG_ADULT),
        ("2001-11-20", Cohort.ADULT, AgeBand.ADULT),
    ],
)
def test_age_at_referral_date_decides_cohort_and_band(area, born, cohort, band):
    name, profile = area
    found = assess(referral(name, person__date_of_birth=born), profile, TODAY)
    assert (found.cohort, found.age_band) == (cohort, band)


def test_r_elig_3_the_postcode_district_check_alone_as_used_for_a_changed_address(area):
    name, profile = area
    assert lives_in_area(POSTCODE[name].lower().replace(" ", ""), profile)
    assert not lives_in_area(OUT_OF_AREA, profile)


@pytest.mark.parametrize(
    ("day", "band"),
    [
        (date(2026, 6, 14), AgeBand.CYP),  # the day before the 18th birthday
        (date(2026, 6, 15), AgeBand.YOUNG_ADULT),  # the 18th birthday
        (date(2033, 6, 14), AgeBand.YOUNG_ADULT),  # the day before the 25th: keyworking still applies (R-OB-10)
        (date(2033, 6, 15), AgeBand.ADULT),  # the 25th birthday
    ],
)
def test_the_age_band_follows_the_age_on_the_day(day, band):
    assert age_band_on(date(2008, 6, 15), day, AgeBands(keyworking_until=25)) == band


def test_a_leap_day_birthday_comes_on_the_first_of_march_in_other_years():
    assert age_band_on(date(2008, 2, 29), date(2026, 2, 28), AgeBands()) == AgeBand.CYP
    assert age_band_on(date(2008, 2, 29), date(2026, 3, 1), AgeBands()) == AgeBand.YOUNG_ADULT


def test_r_elig_4_kept_discharges_owe_a_referral_where_the_newest_timeline_has_the_person_off():
    from datetime import UTC, datetime, timedelta

    from dsr_referral.domain.automatic_referral import back_since_later, referrals_owed
    from dsr_referral.domain.register_moves import Move

    day = datetime(2026, 3, 2, tzinfo=UTC)
    moves = [Move(day, True), Move(day + timedelta(days=30), False)]
    # Day 10: on. Days 35 and 40 off: the first brings them back, so the second is on.
    assert referrals_owed([day + timedelta(days=d) for d in (40, 10, 35)], moves) == [2]
    assert referrals_owed([day + timedelta(days=10)], moves) == []
    assert referrals_owed([day + timedelta(days=35)], [*moves, Move(day + timedelta(days=50), False)]) == [0]
    # The same stay kept twice (twins under two event ids): one referral.
    assert referrals_owed([day + timedelta(days=35)] * 2, moves) == [0]
    back = [*moves, Move(day + timedelta(days=40), True)]
    assert back_since_later(back, day + timedelta(days=35)) and not back_since_later(back, day + timedelta(days=45))
    assert not back_since_later(moves, day + timedelta(days=35))
