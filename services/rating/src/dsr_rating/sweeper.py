"""Time acts on the register: a green month that ends with the person still
green removes them (R-RAG-5). Safe with several processes: the removal is a
fact with an id derived from the green rating it ends, and saving is guarded
by the record's version."""

from __future__ import annotations

import structlog
from pymongo.asynchronous.client_session import AsyncClientSession

from dsr_shared.db import Outgoing, VersionConflict
from dsr_shared.events import Rating
from dsr_shared.runtime import Context
from dsr_rating.domain.facts import Fact, fact_id
from dsr_rating.register import Register

log = structlog.get_logger()


async def end_green_months(register: Register) -> int:
    now = register.runtime.clock.now()
    removed = 0
    for register_id in await register.people.green_month_over(now):

        async def effect(session: AsyncClientSession, register_id: str = register_id) -> list[Outgoing]:
            record = await register.people.get(register_id, session)
            standing = register.standing(record)
            if standing.rating != Rating.GREEN or not standing.on_register or standing.green_until > now:
                return []
            fact = Fact(
                id=fact_id(register_id, "green-month-ended", standing.green_since.isoformat()),
                kind="green_month_ended",
                at=standing.green_until,
                by="system:green-month",
                rationale="The green month ended with no new need (R-RAG-5).",
                green_since=standing.green_since,
            )
            messages = register.apply_fact(record, fact, Context(correlation_id=fact.id))
            await register.save(record, session)
            return messages

        try:
            removed += bool(await register.runtime.uow.commit_and_publish(effect))
        except VersionConflict:
            log.info("green month: record changed meanwhile; the next sweep looks again", register_id=register_id)
    if removed:
        log.info("green months ended", removed=removed)
    return removed
