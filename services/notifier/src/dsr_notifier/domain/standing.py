"""What the notifier keeps of the register, decided from plain values: where
each obligation stands and where each person stands. Pure."""

from __future__ import annotations

from typing import Any

from dsr_shared.contract.events import (
    ObligationCancelled,
    ObligationCompleted,
    ObligationDue,
    ObligationOverdue,
    ObligationScheduled,
    PersonRemoved,
    RatingChanged,
)

OBLIGATION_STATES = {
    ObligationScheduled.EVENT_TYPE: "open",
    ObligationDue.EVENT_TYPE: "due",
    ObligationOverdue.EVENT_TYPE: "overdue",
    ObligationCompleted.EVENT_TYPE: "done",
    ObligationCancelled.EVENT_TYPE: "cancelled",
}
# The states in which an obligation still waits for someone.
PENDING = ("open", "due", "overdue")
# Where one obligation stands now: its id, its fields (with the state), and the
# states it may have moved on from (earlier_states).
ObligationChange = tuple[str, dict[str, Any], list[str]]
_RANK = {"open": 0, "due": 1, "overdue": 2, "done": 3, "cancelled": 3}


def earlier_states(new: str) -> list[str]:
    """The states an obligation may move to `new` from: it only moves forward
    (a late ObligationScheduled does not reopen one already due, and nothing
    reopens one that is done or cancelled; the events come late and out of
    order and the projection must end the same). None for the first state:
    it is recorded only where nothing is known yet."""
    return [state for state, rank in _RANK.items() if rank < _RANK[new]]


def standing(event: RatingChanged | PersonRemoved) -> tuple[bool, str | None]:
    """Whether the person is on the register, and their rating, after the
    event: the newest transition of its timeline (an announcement may be of an
    older transition the register learned late)."""
    if event.timeline:
        latest = max(event.timeline, key=lambda t: (t.at, str(t.transition_id)))
        rating = latest.to_rating.value if latest.to_rating else None
        return rating is not None, rating
    if isinstance(event, RatingChanged):
        return True, event.to_rating.value
    return False, None
