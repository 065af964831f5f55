"""What the register should end with, computed purely from a person's facts:
the rating service's own record and announcements feed the scheduler's use
case over an in-memory store, one delivery at a time. No broker, no database.
test_order_independence.py runs it on generated histories; the chaos run
(chaos.py) on the facts of its workload."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC

from dsr_shared.contract.events import PersonRemoved, Rating, RatingChanged
from dsr_shared.platform.runtime import Context
from dsr_shared.rules.working_time import WorkingCalendar
from dsr_rating.domain.announce import announcements
from dsr_rating.domain.facts import Fact
from dsr_rating.domain.record import PersonRecord
from dsr_testing.scheduler_world import memory_scheduler


@dataclass
class Expected:
    rating: Rating | None
    history: list[dict]  # the standing's history, without fact ids
    obligations: list[tuple]  # (rule, started_at, due_at, state), withdrawn ones left out
    # (transition_id, "admission" | "escalation"): announced on the way, in this order of delivery
    emails: set[tuple]
    # ... of the transitions the final timeline keeps: emailed whatever the order. The
    # others above were true when announced, and an email is not taken back.
    final_emails: set[tuple]


def emailed(to_rating: Rating | None, cause: str) -> str | None:
    """The email a transition to `to_rating` for `cause` gives the DSR team, if any."""
    if to_rating == Rating.RED:
        return "escalation"
    if to_rating is not None and cause == "admission":
        return "admission"
    return None


def expected(record: PersonRecord, deliveries: Iterable[Fact], area_name: str) -> Expected:
    """Deliver `deliveries` (any order, with redeliveries and twins) to
    `record` (a person with no facts yet: cohort and age bands set)."""
    return asyncio.run(expected_async(record, deliveries, area_name))


async def expected_async(record: PersonRecord, deliveries: Iterable[Fact], area_name: str) -> Expected:
    """The same, on the caller's event loop (everything it awaits is in memory)."""
    world = memory_scheduler(area_name)
    area, calendar, scheduler, store = (
        world.area,
        WorkingCalendar(world.area.working_time),
        world.scheduler,
        world.obligations,
    )
    version, seen, emails = 0, -1, set()
    for fact in deliveries:
        before = record.timeline(record.standing(area, calendar))
        record.add_fact(fact)
        version += 1
        for told in announcements(record, before, record.standing(area, calendar), version=version):
            event = told.event
            if isinstance(event, RatingChanged) and (kind := emailed(event.to_rating, event.cause)):
                emails.add((event.transition_id, kind))
            if isinstance(event, (RatingChanged, PersonRemoved)) and event.timeline_version > seen:
                seen = event.timeline_version
                await scheduler.reconcile(record.register_id, event.timeline, Context("c"), None)
    standing = record.standing(area, calendar)
    # In UTC, as the service stores and shows them: a due time in the hour the
    # clocks skip (e.g. 01:22 on the last Sunday of March, London) never equals
    # its own instant given in another zone (PEP 495), so a Counter would miss it.
    demanded = sorted(
        (o.rule, o.started_at.astimezone(UTC), o.due_at.astimezone(UTC), o.state)
        for o in store.items.values()
        if o.state != "withdrawn"
    )
    final = {(t.transition_id, kind) for t in record.timeline(standing) if (kind := emailed(t.to_rating, t.cause))}
    history = [e.model_dump(exclude={"fact_id"}) for e in standing.history]
    return Expected(standing.rating, history, demanded, emails, final)
