"""Time acts on the register: a green month that ends with the person still
green removes them (R-RAG-5). Safe with several processes: the removal is a
fact with an id derived from the green rating it ends, and saving is guarded
by the record's version."""

from __future__ import annotations

import structlog

from dsr_shared.platform.db import Outgoing, VersionConflict
from dsr_shared.platform.runtime import Context
from dsr_shared.platform.unit_of_work import Transaction
from dsr_rating.domain import event_facts
from dsr_rating.service.core import Register

log = structlog.get_logger()


class GreenMonths(Register):
    async def end_green_months(self) -> int:
        now = self.clock.now()
        removed = 0
        for register_id in await self.people.green_month_over(now):

            async def effect(transaction: Transaction, register_id: str = register_id) -> list[Outgoing]:
                record = await self.people.get(register_id, transaction)
                if record is None:
                    return []
                fact = event_facts.green_month_ended(register_id, self.standing(record), now)
                if fact is None:
                    return []
                messages = self.apply_fact(record, fact, Context(correlation_id=fact.id))
                await self.save(record, transaction)
                return messages

            try:
                removed += bool(await self.uow.commit_and_publish(effect))
            except VersionConflict:
                log.info("green month: record changed meanwhile; the next sweep looks again", register_id=register_id)
        if removed:
            log.info("green months ended", removed=removed)
        return removed
