"""What a rating demands, and by when, for the emails that announce it. The
scheduler decides the obligations (its rules are the same area profile); this
mirrors the trigger of each rule so that an escalation, an admission or an
accepted referral can say at once what is needed and by when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dsr_shared.area import AreaProfile
from dsr_shared.events import AgeBand, Cohort, Rating
from dsr_shared.working_time import WorkingCalendar

_UPPER_AGE = {AgeBand.CYP: 18, AgeBand.YOUNG_ADULT: 25, AgeBand.ADULT: None}


@dataclass(frozen=True)
class Change:
    at: datetime
    to_rating: Rating
    from_rating: Rating | None = None
    cohort: Cohort = Cohort.UNKNOWN
    age_band: AgeBand = AgeBand.UNKNOWN
    secure_bed: bool | None = None


def _under(age_band: AgeBand, limit: int) -> bool:
    upper = _UPPER_AGE.get(age_band)
    return upper is not None and upper <= limit


def demanded(area: AreaProfile, change: Change) -> list[dict]:
    """The obligations a rating change starts: title, rule, who, by when."""
    calendar = WorkingCalendar(area.working_time)
    from_rating = change.from_rating.value if change.from_rating else "none"
    found = []
    for rule in area.obligation_rules:
        when = rule.trigger
        if when.event != "RatingChanged":
            continue
        if when.to_ratings is not None and change.to_rating not in when.to_ratings:
            continue
        if when.from_ratings is not None and from_rating not in when.from_ratings:
            continue
        if when.cohort is not None and change.cohort != when.cohort:
            continue
        if when.secure_bed is not None and bool(change.secure_bed) != when.secure_bed:
            continue
        if when.under_age is not None and not _under(change.age_band, when.under_age):
            continue
        found.append(
            {
                "title": rule.title,
                "rule": rule.id,
                "responsible": rule.responsible,
                "due_at": calendar.deadline(change.at, rule.deadline),
                "needs_own_consent": rule.needs_own_consent,
            }
        )
    return sorted(found, key=lambda d: d["due_at"])
