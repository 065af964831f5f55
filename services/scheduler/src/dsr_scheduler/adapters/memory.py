"""The scheduler's obligations in memory, with ObligationStore's methods
(adapters/obligations.py; the service's ports), for the use-case tests that
run in milliseconds (dsr_testing.scheduler_world builds them a scheduler);
tests/test_repository_contract.py holds both to the same behaviour.
Datetimes are kept as given: the database keeps milliseconds, so contract
tests use whole seconds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dsr_scheduler.domain.obligations import ACTIVE, Listing, Obligation


class InMemoryObligations:
    """What adapters/obligations.py's ObligationStore does, kept in dicts;
    the transaction is ignored (InMemoryUnitOfWork puts the state back)."""

    def __init__(self) -> None:
        self.items: dict[str, Obligation] = {}
        self.people: dict[str, dict[str, Any]] = {}

    async def ensure_indexes(self) -> None:
        pass

    async def add_all(self, obligations: list[Obligation], transaction=None) -> None:
        for obligation in obligations:
            key = str(obligation.obligation_id)
            if key in self.items:
                raise KeyError(f"duplicate obligation {key}")
            self.items[key] = obligation

    async def replace(self, obligation: Obligation, transaction=None) -> None:
        key = str(obligation.obligation_id)
        if key in self.items:  # as replace_one: no match, no change
            self.items[key] = obligation

    async def replace_all(self, obligations: list[Obligation], transaction=None) -> None:
        for obligation in obligations:
            await self.replace(obligation)

    async def save_all(self, added: list[Obligation], replaced: list[Obligation], transaction=None) -> None:
        await self.add_all(added)
        await self.replace_all(replaced)

    async def get(self, obligation_id: str, transaction=None) -> Obligation | None:
        return self.items.get(obligation_id)

    async def all_for(self, register_id: str, transaction=None) -> list[Obligation]:
        return [o for o in self.items.values() if o.register_id == register_id]

    async def active_for(self, register_id: str, transaction=None) -> list[Obligation]:
        return [o for o in await self.all_for(register_id) if o.state in ACTIVE]

    async def listing(self, query: Listing, limit: int) -> list[Obligation]:
        return sorted((o for o in self.items.values() if query.shows(o)), key=lambda o: o.due_at)[:limit]

    async def count(self, query: Listing) -> int:
        return sum(query.shows(o) for o in self.items.values())

    async def pending_until(self, horizon: datetime, limit: int) -> list[Obligation]:
        pending = (o for o in self.items.values() if o.state in ACTIVE and o.due_at <= horizon)
        return sorted(pending, key=lambda o: o.due_at)[:limit]

    async def ids_to_announce(self, state: str, field: str, now: datetime, limit: int) -> list[str]:
        come = sorted(
            (o for o in self.items.values() if o.state == state and getattr(o, field) <= now),
            key=lambda o: getattr(o, field),
        )
        return [str(o.obligation_id) for o in come[:limit]]

    async def move(self, obligation_id: str, from_state: str, to_state: str, transaction=None) -> Obligation | None:
        held = self.items.get(obligation_id)
        if held is None or held.state != from_state:
            return None
        self.items[obligation_id] = held.model_copy(update={"state": to_state})
        return self.items[obligation_id]

    async def count_due_and_overdue(self) -> dict[str, int]:
        return {state: sum(o.state == state for o in self.items.values()) for state in ("due", "overdue")}

    async def set_person(self, register_id: str, fields: dict[str, Any], transaction=None) -> None:
        self.people.setdefault(register_id, {"_id": register_id}).update(fields)

    async def newer_timeline(self, register_id: str, version: int, fields: dict[str, Any], transaction=None) -> bool:
        if self.people.get(register_id, {}).get("timeline_version", -1) >= version:
            return False
        await self.set_person(register_id, {**fields, "timeline_version": version})
        return True

    async def person(self, register_id: str, transaction=None) -> dict[str, Any] | None:
        return self.people.get(register_id)

    async def people_on_register(self) -> list[dict[str, Any]]:
        return [p for _, p in sorted(self.people.items()) if p.get("on_register") is True]
