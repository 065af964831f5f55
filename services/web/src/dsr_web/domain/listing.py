"""The register as lists: what is due per person, filters, pages. Pure."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

ACTIVE = ("open", "due", "overdue")
UPDATE_KIND = "case_holder_update"
PAGE_SIZE = 50
RATINGS = ("red", "amber", "green", "blue")
COHORTS = ("adult", "cyp", "unknown")
ATTENTION = ("due", "overdue", "update_missing")
REGISTER_ID = re.compile(r"^[A-Z0-9]{2,10}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]$")


@dataclass(frozen=True)
class Due:
    """What is pressing for one person: their soonest obligation, and counts."""

    due: int = 0
    overdue: int = 0
    update_missing: bool = False
    next: dict[str, Any] | None = None
    next_update: dict[str, Any] | None = None


def due_by_person(obligations: list[dict[str, Any]]) -> dict[str, Due]:
    found: dict[str, Due] = {}
    for o in sorted((o for o in obligations if o.get("state") in ACTIVE), key=lambda o: o["due_at"]):
        held = found.get(o["register_id"], Due())
        is_update = o.get("kind") == UPDATE_KIND
        found[o["register_id"]] = Due(
            due=held.due + (o["state"] == "due"),
            overdue=held.overdue + (o["state"] == "overdue"),
            update_missing=held.update_missing or (is_update and o["state"] == "overdue"),
            next=held.next or o,
            next_update=held.next_update or (o if is_update else None),
        )
    return found


def keep(person: dict[str, Any], due: Due, *, rating: str = "", cohort: str = "", attention: str = "") -> bool:
    if rating and person.get("rating") != rating:
        return False
    if cohort and person.get("cohort") != cohort:
        return False
    if attention == "due" and not (due.due or due.overdue):
        return False
    if attention == "overdue" and not due.overdue:
        return False
    if attention == "update_missing" and not due.update_missing:
        return False
    return True


@dataclass(frozen=True)
class Page:
    items: list[Any]
    number: int
    count: int
    total: int


def page_of(items: list[Any], number: int, size: int = PAGE_SIZE) -> Page:
    count = page_count(len(items), size)
    number = min(max(1, number), count)
    return Page(items[(number - 1) * size : number * size], number, count, len(items))


def page_count(total: int, size: int = PAGE_SIZE) -> int:
    return max(1, math.ceil(total / size))


def pressing_ids(pressing: dict[str, Due], attention: str) -> list[str]:
    """The people whose obligations match `attention`, in register order."""
    return sorted(register_id for register_id, due in pressing.items() if keep({}, due, attention=attention))


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def looks_like_register_id(text: str) -> bool:
    return bool(REGISTER_ID.match(text.strip().upper()))


def looks_like_nhs_number(text: str) -> bool:
    digits = text.replace(" ", "").replace("-", "")
    return digits.isdigit() and len(digits) == 10
