"""What the register tells others when what it knows about a person changes.

It announces every transition of the person's history that it has not
announced yet, or that a late fact has changed (where it led from or to, its
cause, the cohort or bed of that time), in time order, each at the time it
happened: RatingChanged while on the register, PersonRemoved when they leave
it. So a discharge that arrives before its admission is not lost: when the
admission arrives, both the admission (to blue) and the discharge (from blue)
are announced. Every announcement carries the person's whole timeline, so a
consumer that keeps state per person (the scheduler) reconciles with it, and
a transition that a late fact made untrue is dropped there too."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from dsr_shared.contract.envelope import derived_event_id
from dsr_shared.contract.events import Event, PersonRemoved, RatingChanged, Transition
from dsr_rating.domain.record import PersonRecord
from dsr_rating.domain.standing import HistoryEntry, Standing


@dataclass(frozen=True)
class Announcement:
    event: Event
    entry: HistoryEntry
    event_id: uuid.UUID


def _digest(transition: Transition) -> str:
    return hashlib.sha256(transition.model_dump_json().encode()).hexdigest()[:16]


def announcements(
    record: PersonRecord,
    before: list[Transition],
    after: Standing,
    *,
    version: int,
    own_fact_id: str | None = None,
) -> list[Announcement]:
    """What to publish, given the timeline announced before and where the person
    stands now. A fact made here (over HTTP) is announced under its own id, so
    reading it back from the topic changes nothing; everything else under an id
    derived from the transition and what it says, so a redelivery announces the
    same events."""
    timeline = record.timeline(after)
    if timeline == before:
        return []
    known = {t.transition_id: t for t in before}
    entries = {record.transition_id(e.fact_key): e for e in after.history if e.is_transition}
    changed = [t for t in timeline if known.get(t.transition_id) != t]
    if not changed:  # only a transition made untrue: tell the newest again, with the timeline
        changed = timeline[-1:]
    out = []
    for transition in changed:
        entry = entries[transition.transition_id]
        event = _event(record, transition, entry, timeline, version)
        if own_fact_id is not None and entry.fact_id == own_fact_id:
            event_id = uuid.UUID(own_fact_id)
        else:
            event_id = derived_event_id(transition.transition_id, f"{event.EVENT_TYPE}:{_digest(transition)}:{version}")
        out.append(Announcement(event, entry, event_id))
    return out


def _event(
    record: PersonRecord, transition: Transition, entry: HistoryEntry, timeline: list[Transition], version: int
) -> Event:
    common = {"transition_id": transition.transition_id, "timeline": timeline, "timeline_version": version}
    if transition.to_rating is None:
        cause = "green_month_ended" if entry.cause == "green_month_ended" else "dsr_team"
        return PersonRemoved(
            register_id=record.register_id,
            removed_by=entry.changed_by,
            cause=cause,
            reason=entry.rationale,
            cause_event_id=uuid.UUID(entry.fact_id),
            **common,
        )
    return RatingChanged(
        register_id=record.register_id,
        from_rating=transition.from_rating,
        to_rating=transition.to_rating,
        rationale=entry.rationale,
        changed_by=entry.changed_by,
        agreed_with_person=entry.agreed_with_person,
        cause=transition.cause,
        cause_event_id=uuid.UUID(entry.fact_id),
        cohort=transition.cohort,
        age_band=transition.age_band,
        hospital=entry.hospital,  # the bed with its ward; the timeline keeps the bed
        by_dsr_team=entry.by_dsr_team,
        **common,
    )
