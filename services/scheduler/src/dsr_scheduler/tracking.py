"""R-OB-14: the weekly tracking meeting and its agenda. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dsr_shared.area import AreaProfile
from dsr_scheduler.domain.obligations import Obligation


def agenda(
    area: AreaProfile, meeting_at: datetime | None, horizon: datetime, people: list[dict[str, Any]],
    pending: list[Obligation],
) -> dict[str, Any]:
    by_rating: dict[str, list[str]] = {}
    for person in people:
        by_rating.setdefault(person.get("rating") or "unknown", []).append(person["_id"])
    items = [o.model_dump(mode="json", include={"obligation_id", "register_id", "rule", "kind", "title", "responsible",
                                                "due_at", "state"}) for o in pending]
    return {
        "area": area.code,
        "meeting_at": meeting_at,
        "agenda_until": horizon,
        "people_by_rating": by_rating,
        "counts": {rating: len(ids) for rating, ids in by_rating.items()},
        "due_or_overdue": [i for i in items if i["kind"] != "case_holder_update"],
        "updates_missing": [i for i in items if i["kind"] == "case_holder_update"],
    }
