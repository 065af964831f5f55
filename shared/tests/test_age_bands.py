"""Age bands are derived in one place, from the area profile: the cohort, the
band a referral announces and the keyworking rule (R-OB-10) agree with each
other whatever limit an area sets."""

from __future__ import annotations

from dsr_shared.contract.events.common import AgeBand, Cohort, Rating
from dsr_shared.rules.area import load_profile


def _keyworking_offered(area, band: AgeBand) -> bool:
    rules = area.rules_triggered_by("RatingChanged", to_rating=Rating.AMBER, from_rating=None, age_band=band)
    return "R-OB-10" in {r.id for r in rules}


def test_the_default_bands_and_the_keyworking_offer_R_OB_10():
    area = load_profile("derbyshire")
    bands = area.age_bands
    assert [bands.band(age) for age in (17, 18, 24, 25)] == [
        AgeBand.CYP,
        AgeBand.YOUNG_ADULT,
        AgeBand.YOUNG_ADULT,
        AgeBand.ADULT,
    ]
    assert [bands.cohort(age) for age in (17, 18)] == [Cohort.CYP, Cohort.ADULT]
    assert _keyworking_offered(area, AgeBand.CYP)
    assert _keyworking_offered(area, AgeBand.YOUNG_ADULT)
    assert not _keyworking_offered(area, AgeBand.ADULT)
    assert not _keyworking_offered(area, AgeBand.UNKNOWN)


def test_an_area_that_sets_its_keyworking_limit_to_26_agrees_with_itself():
    area = load_profile("derbyshire").model_copy(update={"keyworking_age_limit": 26})
    assert area.age_bands.band(25) == AgeBand.YOUNG_ADULT
    assert _keyworking_offered(area, area.age_bands.band(25))
    assert not _keyworking_offered(area, area.age_bands.band(26))


def test_an_area_that_sets_its_cyp_limit_moves_the_cohort_and_the_band_together():
    area = load_profile("derbyshire").model_copy(update={"cyp_age_limit": 19})
    assert (area.age_bands.cohort(18), area.age_bands.band(18)) == (Cohort.CYP, AgeBand.CYP)
    assert (area.age_bands.cohort(19), area.age_bands.band(19)) == (Cohort.ADULT, AgeBand.YOUNG_ADULT)
