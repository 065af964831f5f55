"""R-OB-14: the weekly tracking meeting and its agenda. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from dsr_shared.rules.area import AreaProfile
from dsr_scheduler.domain.obligations import Obligation

# An area without a tracking meeting still gets an agenda: for the week ahead.
WITHOUT_MEETING = timedelta(days=7)


def next_meeting(area: AreaProfile, now: datetime) -> tuple[datetime | None, datetime]:
    """The next meeting (None when the area has none), and how far ahead its
    agenda looks: to the meeting, or a week."""
    meeting_at = area.next_tracking_meeting(now)
    return meeting_at, meeting_at or now + WITHOUT_MEETING


def agenda(
    area: AreaProfile,
    meeting_at: datetime | None,
    horizon: datetime,
    people: list[dict[str, Any]],
    pending: list[Obligation],
) -> dict[str, Any]:
    """People by rating, what is due or overdue by the horizon, and whose
    case holder's update is missing."""
    by_rating: dict[str, list[str]] = {}
    for person in people:
        by_rating.setdefault(person.get("rating") or "unknown", []).append(person["_id"])
    items = [
        o.model_dump(
            mode="json",
            include={"obligation_id", "register_id", "rule", "kind", "title", "responsible", "due_at", "state"},
        )
        for o in pending
    ]
    return {
        "area": area.code,
        "meeting_at": meeting_at,
        "agenda_until": horizon,
        "people_by_rating": by_rating,
        "counts": {rating: len(ids) for rating, ids in by_rating.items()},
        "due_or_overdue": [i for i in items if i["kind"] != "case_holder_update"],
        "updates_missing": [i for i in items if i["kind"] == "case_holder_update"],
    }
