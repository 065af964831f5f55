"""What a rating demands, and by when, for the emails that announce it. The
scheduler decides the obligations; the rules and their trigger matching are
the area profile's, shared with it, so that an escalation, an admission or an
accepted referral can say at once what is needed and by when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dsr_shared.contract.events import AgeBand, Cohort, Rating
from dsr_shared.rules.area import AreaProfile
from dsr_shared.rules.working_time import WorkingCalendar


@dataclass(frozen=True)
class Change:
    at: datetime
    to_rating: Rating
    from_rating: Rating | None = None
    cohort: Cohort = Cohort.UNKNOWN
    age_band: AgeBand = AgeBand.UNKNOWN
    secure_bed: bool | None = None
    cause: str | None = None


def demanded(area: AreaProfile, change: Change) -> list[dict]:
    """The obligations a rating change starts: title, rule, who, by when."""
    calendar = WorkingCalendar(area.working_time)
    rules = area.rules_triggered_by(
        "RatingChanged",
        to_rating=change.to_rating,
        from_rating=change.from_rating,
        cohort=change.cohort,
        age_band=change.age_band,
        secure_bed=change.secure_bed,
        cause=change.cause,
    )
    found = [
        {
            "title": rule.title,
            "rule": rule.id,
            "responsible": rule.responsible,
            "due_at": calendar.deadline(change.at, rule.deadline),
            "needs_own_consent": rule.needs_own_consent,
        }
        for rule in rules
    ]
    return sorted(found, key=lambda d: d["due_at"])
