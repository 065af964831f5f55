"""The scheduler's use cases over an in-memory store, for fast tests of what a
timeline demands. The behaviour that touches the database is tested on the
real stack (test_order_independence_stack.py, the scheduler's own tests)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from dsr_shared.clock import FixedClock
from dsr_shared.runtime import Runtime
from dsr_shared.settings import ServiceSettings
from dsr_scheduler.domain.obligations import ACTIVE, Obligation


class InMemoryObligations:
    """What ObligationStore does, kept in a dict; sessions are ignored."""

    def __init__(self) -> None:
        self.items: dict[str, Obligation] = {}
        self.people: dict[str, dict[str, Any]] = {}

    async def all_for(self, register_id: str, session=None) -> list[Obligation]:
        return [o for o in self.items.values() if o.register_id == register_id]

    async def active_for(self, register_id: str, session=None) -> list[Obligation]:
        return [o for o in await self.all_for(register_id) if o.state in ACTIVE]

    async def add_all(self, obligations: list[Obligation], session=None) -> None:
        for obligation in obligations:
            key = str(obligation.obligation_id)
            if key in self.items:
                raise KeyError(f"duplicate obligation {key}")
            self.items[key] = obligation

    async def replace(self, obligation: Obligation, session=None) -> None:
        self.items[str(obligation.obligation_id)] = obligation

    async def replace_all(self, obligations: list[Obligation], session=None) -> None:
        for obligation in obligations:
            await self.replace(obligation)

    async def get(self, obligation_id: str, session=None) -> Obligation | None:
        return self.items.get(obligation_id)

    async def move(self, obligation_id: str, from_state: str, to_state: str, session=None) -> Obligation | None:
        held = self.items.get(obligation_id)
        if held is None or held.state != from_state:
            return None
        self.items[obligation_id] = held.model_copy(update={"state": to_state})
        return self.items[obligation_id]

    async def set_person(self, register_id: str, fields: dict[str, Any], session=None) -> None:
        self.people.setdefault(register_id, {}).update(fields)

    async def person(self, register_id: str, session=None) -> dict[str, Any] | None:
        return self.people.get(register_id)


def memory_runtime(area_profile: str, clock=None) -> SimpleNamespace:
    """What the scheduler's use cases read of the runtime: settings, clock, outgoing."""
    from datetime import datetime, timezone

    runtime = SimpleNamespace(
        settings=ServiceSettings(service_name="scheduler", area_profile=area_profile),
        clock=clock or FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)),
    )
    runtime.outgoing = lambda event, **kw: Runtime.outgoing(runtime, event, **kw)
    return runtime
