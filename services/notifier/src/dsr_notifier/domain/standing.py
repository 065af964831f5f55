"""What the notifier keeps of the register, decided from plain values: where
each obligation stands and where each person stands. Pure."""

from __future__ import annotations

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
_RANK = {"open": 0, "due": 1, "overdue": 2, "done": 3, "cancelled": 3}


def is_first(state: str) -> bool:
    """Nothing comes before it: it is recorded only where nothing is known yet."""
    return _RANK[state] == 0


def moves_forward(current: str | None, new: str) -> bool:
    """An obligation only moves forward: a late ObligationScheduled does not
    reopen one already due, and nothing reopens one that is done or cancelled
    (the events come late and out of order; the projection must end the same)."""
    return current is None or _RANK[new] > _RANK[current]


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
