"""What a rating demands (DOMAIN.md R-OB-*), from the rules in the area
profile: which rules an event triggers, and the obligations they create."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from dsr_shared.area import AreaProfile, ObligationRule
from dsr_shared.envelope import derived_event_id
from dsr_shared.events import RatingChanged
from dsr_shared.working_time import WorkingCalendar

State = Literal["open", "due", "overdue", "done", "cancelled"]


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
    state: State = "open"
    while_rating: list[str] | None = None
    triggered_by_event_id: uuid.UUID


def triggered_rules(area: AreaProfile, event: RatingChanged) -> list[ObligationRule]:
    from_rating = event.from_rating.value if event.from_rating else "none"
    matched = []
    for rule in area.obligation_rules:
        trigger = rule.trigger
        if trigger.event != "RatingChanged":
            continue
        if trigger.to_ratings is not None and event.to_rating not in trigger.to_ratings:
            continue
        if trigger.from_ratings is not None and from_rating not in trigger.from_ratings:
            continue
        if trigger.cohort is not None and event.cohort != trigger.cohort:
            continue
        # Age and bed type are not on the event yet; such rules wait for them.
        if trigger.under_age is not None or trigger.secure_bed is True:
            continue
        matched.append(rule)
    return matched


def schedule(
    area: AreaProfile, calendar: WorkingCalendar, event: RatingChanged, event_id: uuid.UUID, at: datetime
) -> list[Obligation]:
    return [
        Obligation(
            # Derived from the cause, so a redelivered event schedules nothing new.
            obligation_id=derived_event_id(event_id, f"obligation:{rule.id}"),
            register_id=event.register_id,
            rule=rule.id,
            kind=rule.kind,
            title=rule.title,
            responsible=rule.responsible,
            started_at=at,
            due_at=calendar.deadline(at, rule.deadline),
            while_rating=[r.value for r in rule.while_rating] if rule.while_rating else None,
            triggered_by_event_id=event_id,
        )
        for rule in triggered_rules(area, event)
    ]
