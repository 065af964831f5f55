"""The scheduler's use cases over in-memory repositories, for tests that run
in milliseconds: the same methods as the MongoDB adapters (the scheduler's
service/ports.py), held to the same behaviour by the scheduler's
test_repository_contract.py, on the in-memory unit of work and a fixed clock.
Datetimes are kept as given: the database keeps milliseconds, so contract
tests use whole seconds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

from dsr_shared.contract.envelope import Envelope
from dsr_shared.contract.events import ProfessionalsChanged, ReferralAccepted
from dsr_shared.contract.events.referrals import Professional
from dsr_shared.platform.access import Contacts, identities
from dsr_shared.platform.auth import Principal
from dsr_shared.platform.clock import FixedClock
from dsr_shared.platform.contacts import contacts_in, professionals_fields
from dsr_shared.platform.runtime import Runtime
from dsr_shared.platform.settings import ServiceSettings
from dsr_shared.platform.unit_of_work import InMemoryUnitOfWork
from dsr_shared.rules.area import AreaProfile
from dsr_scheduler.domain.obligations import ACTIVE, Listing, Obligation
from dsr_scheduler.service import BuildOutgoing, Scheduler

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


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
        come = sorted((o for o in self.items.values() if o.state == state and getattr(o, field) <= now),
                      key=lambda o: getattr(o, field))
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

    async def person(self, register_id: str, transaction=None) -> dict[str, Any] | None:
        return self.people.get(register_id)

    async def people_on_register(self) -> list[dict[str, Any]]:
        return [p for _, p in sorted(self.people.items()) if p.get("on_register") is True]


def _email(value: str | None) -> str | None:
    return (value or "").strip().lower() or None


class InMemoryContacts:
    """What dsr_shared.platform.contacts.ContactsProjection keeps of each person:
    referrers (a set), the latest referrer, the newest list of professionals."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    async def ensure_indexes(self) -> None:
        pass

    async def referral_accepted(self, envelope: Envelope, event: ReferralAccepted, transaction=None) -> None:
        doc = self.docs.setdefault(event.register_id, {"_id": event.register_id})
        named = {_email(event.referrer_email), _email(event.accepted_by)}
        doc["referrers"] = sorted(set(doc.get("referrers", [])) | {n for n in named if n and not n.startswith("system:")})
        if doc.get("referrer_at") is None or doc["referrer_at"] <= envelope.occurred_at:
            doc.update(referrer_email=_email(event.referrer_email), referrer_at=envelope.occurred_at)
        self._newest(doc, event.professionals, envelope)

    async def professionals_changed(self, envelope: Envelope, event: ProfessionalsChanged, transaction=None) -> None:
        self._newest(self.docs.setdefault(event.register_id, {"_id": event.register_id}), event.professionals, envelope)

    def _newest(self, doc: dict[str, Any], professionals: list[Professional], envelope: Envelope) -> None:
        if doc.get("professionals_at") is not None:
            if (doc["professionals_at"], doc.get("professionals_event") or "") >= (envelope.occurred_at, str(envelope.event_id)):
                return
        doc.update(professionals_fields(professionals), professionals_at=envelope.occurred_at,
                   professionals_event=str(envelope.event_id))

    async def of(self, register_id: str, transaction=None) -> Contacts | None:
        doc = self.docs.get(register_id)
        return contacts_in(doc) if doc else None

    async def seen_by(self, principal: Principal) -> list[str]:
        names = identities(principal)
        return sorted(i for i, d in self.docs.items() if names & set(d.get("referrers", []) + d.get("professionals", [])))


@dataclass
class InMemoryAudit:
    """The audit log's entries: (action, subject, outcome)."""

    entries: list[tuple[str, str, str]] = field(default_factory=list)

    async def record(self, principal: Principal, action: str, subject_id: str, outcome: str = "ok", transaction=None) -> None:
        self.entries.append((action, subject_id, outcome))


def outgoing_for(settings: ServiceSettings) -> BuildOutgoing:
    """Runtime.outgoing itself, which needs only the settings."""
    holder = SimpleNamespace(settings=settings)
    return lambda event, **kw: Runtime.outgoing(holder, event, **kw)  # type: ignore[arg-type]


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
        area=area, clock=clock, uow=uow, obligations=obligations, contacts=contacts, audit=audit,
        outgoing=outgoing_for(settings),
    )
    return SchedulerWorld(scheduler, uow, obligations, contacts, audit, clock, area, settings)
