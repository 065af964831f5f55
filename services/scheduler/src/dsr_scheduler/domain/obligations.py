"""What a rating demands (DOMAIN.md R-OB-*), from the rules in the area
profile: which rules an event triggers, the obligations they create, and how
an obligation moves: open → due → overdue → done or cancelled. Pure: no I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from dsr_shared.area import AreaProfile, Duration, ObligationRule
from dsr_shared.envelope import derived_event_id
from dsr_shared.events import AgeBand, Cohort, Rating
from dsr_shared.working_time import WorkingCalendar

State = Literal["open", "due", "overdue", "done", "cancelled"]
ACTIVE: tuple[State, ...] = ("open", "due", "overdue")
CETR_KINDS = frozenset({"community_cetr", "post_admission_cetr", "inpatient_cetr"})


class Completion(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: datetime
    by: str
    outcome: str
    rating_review: Rating | None = None
    actions: int = 0


class Obligation(BaseModel):
    model_config = ConfigDict(frozen=True)

    obligation_id: uuid.UUID
    register_id: str
    rule: str
    kind: str
    title: str
    responsible: str
    started_at: datetime
    due_at: datetime
    # When ObligationDue is announced: the deadline less the area's notice.
    notice_at: datetime
    state: State = "open"
    while_rating: list[Rating] | None = None
    repeat: Duration | None = None
    needs_own_consent: bool = False
    triggered_by_event_id: uuid.UUID
    completion: Completion | None = None
    cancelled_reason: str | None = None
    # R-OB-2: a Local Area Emergency Protocol held instead; it is not a C(E)TR.
    exceptions: list[str] = []

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


@dataclass(frozen=True)
class Trigger:
    """What happened, in the terms the rules' triggers use."""

    event: str
    at: datetime
    event_id: uuid.UUID
    register_id: str
    to_rating: Rating | None = None
    from_rating: Rating | None = None
    cohort: Cohort = Cohort.UNKNOWN
    age_band: AgeBand = AgeBand.UNKNOWN
    secure_bed: bool | None = None
    cause: str | None = None


def triggered_rules(area: AreaProfile, trigger: Trigger) -> list[ObligationRule]:
    return area.rules_triggered_by(
        trigger.event, to_rating=trigger.to_rating, from_rating=trigger.from_rating, cohort=trigger.cohort,
        age_band=trigger.age_band, secure_bed=trigger.secure_bed, cause=trigger.cause,
    )


def new_obligation(
    area: AreaProfile, calendar: WorkingCalendar, rule: ObligationRule, register_id: str, start: datetime,
    cause: uuid.UUID, *, sequence: int = 0,
) -> Obligation:
    duration = rule.deadline if sequence == 0 else (rule.repeat or rule.deadline)
    due_at = calendar.deadline(start, duration)
    return Obligation(
        # Derived from the cause, so a redelivered event schedules nothing new.
        obligation_id=derived_event_id(cause, f"obligation:{rule.id}"),
        register_id=register_id,
        rule=rule.id,
        kind=rule.kind,
        title=rule.title,
        responsible=rule.responsible,
        started_at=start,
        due_at=due_at,
        notice_at=min(calendar.before(due_at, rule.due_notice or area.due_notice), due_at),
        while_rating=rule.while_rating,
        repeat=rule.repeat,
        needs_own_consent=rule.needs_own_consent,
        triggered_by_event_id=cause,
    )


def rating_no_longer_applies(obligation: Obligation, rating: Rating | None) -> bool:
    """An obligation ends when the rating that caused it no longer applies (DOMAIN.md)."""
    return obligation.active and obligation.while_rating is not None and rating not in obligation.while_rating
