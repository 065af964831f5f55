"""GET /register as database work: which documents a listing asks for, and
the counts from a grouping of them, so the service never loads the register
whole to count or page it. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
MAX_IDS = 100


@dataclass(frozen=True)
class Filters:
    """What a listing keeps; `None` keeps everyone for that field."""

    status: str = "on_register"
    rating: str | None = None
    cohort: str | None = None
    needs_completion: bool | None = None
    in_hospital: bool | None = None
    register_ids: tuple[str, ...] = ()

    def query(self) -> dict[str, Any]:
        """The database query. Needing completion is having no known age group
        (referred automatically): it narrows, or contradicts, a cohort asked for."""
        query: dict[str, Any] = {"status": self.status}
        if self.rating:
            query["rating"] = self.rating
        cohort: Any = self.cohort
        if self.needs_completion is not None:
            if cohort is None:
                cohort = "unknown" if self.needs_completion else {"$ne": "unknown"}
            elif (cohort == "unknown") != self.needs_completion:
                cohort = {"$in": []}  # a cohort that contradicts the question: nobody
        if cohort is not None:
            query["cohort"] = cohort
        if self.in_hospital is not None:
            query["in_hospital"] = self.in_hospital
        if self.register_ids:
            query["_id"] = {"$in": sorted(set(self.register_ids))}
        return query


def after_cursor(query: dict[str, Any], after: str | None) -> dict[str, Any]:
    """Keyset paging: the people whose register identifier sorts after `after`
    (stable while people join or leave, unlike a page number)."""
    if after is None:
        return query
    if "_id" in query:
        return {"$and": [query, {"_id": {"$gt": after}}]}
    return {**query, "_id": {"$gt": after}}


def skip_for(page: int, limit: int) -> int:
    return (max(page, 1) - 1) * limit


@dataclass(frozen=True)
class Counts:
    total: int = 0
    by_rating: dict[str, int] = field(default_factory=dict)
    by_cohort: dict[str, int] = field(default_factory=dict)


def counts_of(groups: Iterable[dict[str, Any]]) -> Counts:
    """From the database's grouping by (rating, cohort): `{"_id": {"rating":
    …, "cohort": …}, "n": …}` per group."""
    by_rating: dict[str, int] = {}
    by_cohort: dict[str, int] = {}
    total = 0
    for group in groups:
        key, n = group["_id"] or {}, int(group["n"])
        total += n
        if (rating := key.get("rating")) is not None:
            by_rating[rating] = by_rating.get(rating, 0) + n
        if (cohort := key.get("cohort")) is not None:
            by_cohort[cohort] = by_cohort.get(cohort, 0) + n
    return Counts(total, by_rating, by_cohort)
