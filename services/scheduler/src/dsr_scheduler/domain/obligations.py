"""What a rating demands (docs/RULES.md R-OB-*), from the rules in the area
profile: which rules an event triggers, the obligations they create, and how
an obligation moves: open → due → overdue → done or cancelled. Pure: no I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Literal

from pydantic import BaseModel, ConfigDict

from dsr_shared.contract.envelope import derived_event_id
from dsr_shared.contract.events import AgeBand, Cohort, Rating
from dsr_shared.rules.area import AreaProfile, Duration, ObligationRule
from dsr_shared.rules.working_time import WorkingCalendar

# withdrawn: the transition that caused it turned out not to have happened as
# first reported (a late fact changed the person's history); kept for the record.
State = Literal["open", "due", "overdue", "done", "cancelled", "withdrawn"]
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
    # The register's transition that demanded it (first rounds of the rules
    # a rating change triggers); None for repeats, actions and renewals.
    transition_id: uuid.UUID | None = None
    # When it was cancelled (by the transition that ended it), completed or withdrawn.
    ended_at: datetime | None = None
    # How many times it was opened again after a late fact undid what ended it.
    generation: int = 0

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
        trigger.event,
        to_rating=trigger.to_rating,
        from_rating=trigger.from_rating,
        cohort=trigger.cohort,
        age_band=trigger.age_band,
        secure_bed=trigger.secure_bed,
        cause=trigger.cause,
    )


def new_obligation(
    area: AreaProfile,
    calendar: WorkingCalendar,
    rule: ObligationRule,
    register_id: str,
    start: datetime,
    cause: uuid.UUID,
    *,
    sequence: int = 0,
    transition_id: uuid.UUID | None = None,
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
        transition_id=transition_id,
    )


def action(
    area: AreaProfile,
    calendar: WorkingCalendar,
    cetr: Obligation,
    cause: uuid.UUID,
    index: int,
    description: str,
    owner: str,
    due_on: date,
    at: datetime,
) -> Obligation:
    """R-OB-15: a C(E)TR's recommendation, as an obligation with its owner and
    date (due at the end of that working day)."""
    due_at = datetime.combine(due_on, area.working_time.day_end, tzinfo=calendar.zone)
    return Obligation(
        obligation_id=derived_event_id(cause, f"action:{index}"),
        register_id=cetr.register_id,
        rule="R-OB-15",
        kind="cetr_action",
        title=description,
        responsible=owner,
        started_at=at,
        due_at=due_at,
        notice_at=min(calendar.before(due_at, area.due_notice), due_at),
        triggered_by_event_id=cause,
    )


def consent_start(calendar: WorkingCalendar, consent_date: date | None, fallback: datetime) -> datetime:
    """R-OB-13 counts a year from the consent date, from the start of that day
    in the area's time zone; without one, from the acceptance."""
    if consent_date is None:
        return fallback
    return datetime.combine(consent_date, time(0), tzinfo=calendar.zone)


@dataclass(frozen=True)
class Listing:
    """Which obligations a list shows: of these people (None: anyone), of this
    kind, rule and state, due before an instant. Withdrawn obligations were
    never demanded after all: shown only when asked for by state."""

    people: frozenset[str] | None = None
    kind: str | None = None
    state: State | None = None
    rule: str | None = None
    due_before: datetime | None = None

    def shows(self, obligation: Obligation) -> bool:
        return (
            (self.people is None or obligation.register_id in self.people)
            and (self.kind is None or obligation.kind == self.kind)
            and (obligation.state == self.state if self.state else obligation.state != "withdrawn")
            and (self.rule is None or obligation.rule == self.rule)
            and (self.due_before is None or obligation.due_at < self.due_before)
        )


def rating_no_longer_applies(obligation: Obligation, rating: Rating | None) -> bool:
    """An obligation ends when the rating that caused it no longer applies (docs/RULES.md "Obligations")."""
    return obligation.active and obligation.while_rating is not None and rating not in obligation.while_rating
