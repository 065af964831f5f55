"""Value types several events use."""

from __future__ import annotations

from enum import StrEnum


class Rating(StrEnum):
    """The cohorts of DOMAIN.md "Ratings"."""

    RED = "red"
    AMBER = "amber"
    GREEN = "green"
    BLUE = "blue"


class Cohort(StrEnum):
    ADULT = "adult"
    CYP = "cyp"
