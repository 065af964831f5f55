"""What a person's timeline demands, whatever order the register learned it in.

The register announces each transition of a person's history with the whole
timeline as it knows it now (RatingChanged.timeline). Rather than add up
changes as they arrive, the scheduler derives the obligations the timeline
demands, in time order, as if every fact had arrived on time, and reconciles
what it holds with that:
- an obligation the timeline demands and that is not held is created (and
  cancelled at once if a later transition ended it: an admission the register
  learned of after its discharge still schedules, then cancels, what it set);
- one the timeline ended is cancelled, at the time of the transition that
  ended it;
- one whose transition is no longer in the timeline, or no longer demands it
  (a late fact changed where it led), is withdrawn: kept for the record, not
  demanded;
- one a late fact undid the end of is opened again.
Completed obligations stay completed. Obligations that no transition made
(repeat rounds after a completion, C(E)TR actions, consent renewal) are
cancelled when the person's current rating no longer needs them, as before.
Pure: no I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from dsr_shared.contract.events import Transition
from dsr_shared.rules.area import AreaProfile
from dsr_shared.rules.working_time import WorkingCalendar
from dsr_scheduler.domain.obligations import Obligation, Trigger, new_obligation, triggered_rules


@dataclass
class _Derived:
    obligation: Obligation
    ended_at: datetime | None = None
    reason: str | None = None


@dataclass
class Plan:
    create: list[tuple[Obligation, datetime | None, str | None]] = field(default_factory=list)
    cancel: list[tuple[Obligation, datetime, str]] = field(default_factory=list)
    withdraw: list[Obligation] = field(default_factory=list)
    reopen: list[Obligation] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.create or self.cancel or self.withdraw or self.reopen)


def trigger_of(register_id: str, transition: Transition) -> Trigger:
    return Trigger(
        event="RatingChanged",
        at=transition.at,
        event_id=transition.transition_id,
        register_id=register_id,
        to_rating=transition.to_rating,
        from_rating=transition.from_rating,
        cohort=transition.cohort,
        age_band=transition.age_band,
        secure_bed=transition.hospital.secure if transition.hospital else None,
        cause=transition.cause,
    )


def _ends(obligation: Obligation, transition: Transition) -> str | None:
    if transition.to_rating is None:
        return "removed from the register"
    if obligation.while_rating is not None and transition.to_rating not in obligation.while_rating:
        return f"rating changed to {transition.to_rating}"
    return None


def derive(
    area: AreaProfile, calendar: WorkingCalendar, register_id: str, timeline: list[Transition], held: list[Obligation]
) -> dict[uuid.UUID, _Derived]:
    """The first rounds the timeline demands, as if every fact had come on time.
    A rule is not started again while one of its obligations is open: one the
    timeline started and did not end or see completed, or a repeat round held."""
    held_by_id = {o.obligation_id: o for o in held}
    derived: dict[uuid.UUID, _Derived] = {}

    def open_at(rule_id: str, at: datetime) -> bool:
        for d in derived.values():
            if d.obligation.rule != rule_id or d.ended_at is not None:
                continue
            done = held_by_id.get(d.obligation.obligation_id)
            if done is None or done.state != "done" or done.completion is None or done.completion.at > at:
                return True
        return any(o.rule == rule_id and o.transition_id is None and o.active and o.started_at <= at for o in held)

    for transition in sorted(timeline, key=lambda t: (t.at, str(t.transition_id))):
        for d in derived.values():
            if d.ended_at is None and (reason := _ends(d.obligation, transition)):
                d.ended_at, d.reason = transition.at, reason
        if transition.to_rating is None:
            continue
        for rule in triggered_rules(area, trigger_of(register_id, transition)):
            if open_at(rule.id, transition.at):
                continue
            obligation = new_obligation(
                area,
                calendar,
                rule,
                register_id,
                transition.at,
                transition.transition_id,
                transition_id=transition.transition_id,
            )
            derived[obligation.obligation_id] = _Derived(obligation)
    return derived


def reconcile(
    area: AreaProfile, calendar: WorkingCalendar, register_id: str, timeline: list[Transition], held: list[Obligation]
) -> Plan:
    """What to change so that what is held is what the timeline demands."""
    plan = Plan()
    derived = derive(area, calendar, register_id, timeline, held)
    held_by_id = {o.obligation_id: o for o in held}
    for obligation_id, d in derived.items():
        have = held_by_id.get(obligation_id)
        if have is None:
            plan.create.append((d.obligation, d.ended_at, d.reason))
        elif d.ended_at is not None and (have.active or have.state == "withdrawn"):
            plan.cancel.append((have, d.ended_at, d.reason or ""))
        elif have.state in ("cancelled", "withdrawn") and d.ended_at is None:
            plan.reopen.append(have)
    for have in held:
        if have.transition_id is not None and have.obligation_id not in derived and have.state != "done":
            if have.state != "withdrawn":
                plan.withdraw.append(have)
    latest = max(timeline, key=lambda t: (t.at, str(t.transition_id)), default=None)
    if latest is not None:
        for have in held:
            if have.transition_id is None and have.active and (reason := _ends(have, latest)):
                plan.cancel.append((have, max(latest.at, have.started_at), reason))
    return plan
