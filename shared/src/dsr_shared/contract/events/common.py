"""Value types several events use."""

from __future__ import annotations

from enum import StrEnum


class Rating(StrEnum):
    """The ratings (cohorts) of docs/RULES.md "Ratings"."""

    RED = "red"
    AMBER = "amber"
    GREEN = "green"
    BLUE = "blue"


class Cohort(StrEnum):
    ADULT = "adult"
    CYP = "cyp"
    # Referred automatically on discharge (R-ELIG-4): no age known until the DSR team adds it.
    UNKNOWN = "unknown"


class AgeBand(StrEnum):
    """Age without the date of birth, which stays in the referral service:
    CYP under 18; young adult 18 to 24 (keyworking, R-OB-10); adult 25 and over."""

    CYP = "cyp"
    YOUNG_ADULT = "young_adult"
    ADULT = "adult"
    UNKNOWN = "unknown"

    @property
    def cohort(self) -> Cohort:
        """The cohort follows the age band: a young person becomes an adult on
        the register at 18, like their band."""
        return {AgeBand.CYP: Cohort.CYP, AgeBand.UNKNOWN: Cohort.UNKNOWN}.get(self, Cohort.ADULT)
