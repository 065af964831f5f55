"""The scheduler's use cases over in-memory repositories (its
adapters/memory.py, dsr_shared.platform.contacts.InMemoryContacts), for tests that run
in milliseconds, on the in-memory unit of work and a fixed clock."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime, timezone

from dsr_shared.platform.auth import Principal
from dsr_shared.platform.clock import FixedClock
from dsr_shared.platform.contacts import InMemoryContacts
from dsr_shared.platform.runtime import outgoing
from dsr_shared.platform.settings import ServiceSettings
from dsr_shared.platform.unit_of_work import InMemoryUnitOfWork
from dsr_shared.rules.area import AreaProfile
from dsr_scheduler.adapters.memory import InMemoryObligations
from dsr_scheduler.service import Scheduler

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@dataclass
class InMemoryAudit:
    """The audit log's entries: (action, subject, outcome)."""

    entries: list[tuple[str, str, str]] = field(default_factory=list)

    async def record(
        self, principal: Principal, action: str, subject_id: str, outcome: str = "ok", transaction=None
    ) -> None:
        self.entries.append((action, subject_id, outcome))


@dataclass
class SchedulerWorld:
    """The scheduler's use cases and everything they touch, in memory."""

    scheduler: Scheduler
    uow: InMemoryUnitOfWork
    obligations: InMemoryObligations
    contacts: InMemoryContacts
    audit: InMemoryAudit
    clock: FixedClock
    area: AreaProfile
    settings: ServiceSettings


def memory_scheduler(area_profile: str = "derbyshire", now: datetime = T0) -> SchedulerWorld:
    settings = ServiceSettings(service_name="scheduler", area_profile=area_profile)
    clock = FixedClock(now)
    obligations, contacts, audit = InMemoryObligations(), InMemoryContacts(), InMemoryAudit()
    uow = InMemoryUnitOfWork(obligations, contacts)
    area = settings.area
    scheduler = Scheduler(
        area=area,
        clock=clock,
        uow=uow,
        obligations=obligations,
        contacts=contacts,
        audit=audit,
        outgoing=functools.partial(outgoing, settings),
    )
    return SchedulerWorld(scheduler, uow, obligations, contacts, audit, clock, area, settings)
