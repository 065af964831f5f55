"""What the register tells others when a fact changes where a person stands:
RatingChanged while on the register, PersonRemoved when they leave it. A fact
that only takes its place in the past (late or out of order) announces nothing."""

from __future__ import annotations

import uuid

from dsr_shared.events import Event, PersonRemoved, RatingChanged
from dsr_shared.events.common import Rating
from dsr_rating.domain.record import PersonRecord
from dsr_rating.domain.standing import HistoryEntry, Standing


def announcement(record: PersonRecord, before: Standing, after: Standing) -> tuple[Event, HistoryEntry] | None:
    last = next((entry for entry in reversed(after.history) if entry.took_effect), None)
    if last is None:
        return None
    if before.on_register and after.status == "removed":
        cause = "green_month_ended" if last.cause == "green_month_ended" else "dsr_team"
        removed = PersonRemoved(register_id=record.register_id, removed_by=last.changed_by, cause=cause, reason=last.rationale)
        return removed, last
    if after.on_register and (not before.on_register or before.rating != after.rating):
        changed = RatingChanged(
            register_id=record.register_id,
            from_rating=before.rating if before.on_register else None,
            to_rating=after.rating,
            rationale=last.rationale,
            changed_by=last.changed_by,
            agreed_with_person=last.agreed_with_person,
            cause=last.cause,
            cause_event_id=uuid.UUID(last.fact_id),
            cohort=record.cohort,
            age_band=record.age_band,
            hospital=after.hospital if after.rating == Rating.BLUE else None,
            by_dsr_team=last.by_dsr_team,
        )
        return changed, last
    return None
