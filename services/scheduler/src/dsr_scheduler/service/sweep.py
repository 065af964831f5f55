"""Time makes obligations due and overdue (app.py's sweeper calls `sweep`)."""

from __future__ import annotations

import structlog

from dsr_shared.contract.events import Event, ObligationDue, ObligationOverdue
from dsr_shared.platform.db import Outgoing
from dsr_shared.platform.runtime import Context
from dsr_shared.platform.unit_of_work import Transaction
from dsr_scheduler.metrics import OBLIGATIONS
from dsr_scheduler.service.changes import ObligationChanges

log = structlog.get_logger()
SWEEP_BATCH = 500


class Sweep(ObligationChanges):
    async def sweep(self) -> dict[str, int]:
        """Time makes obligations due and overdue. Each ObligationDue and
        ObligationOverdue is announced exactly once, also with several scheduler
        processes: moving an obligation from one state to the next is an atomic
        claim in the same transaction as the outbox entry, and the event id
        derives from the obligation."""
        now = self.clock.now()
        counts = {"due": 0, "overdue": 0}
        # Due first, so an obligation whose notice and deadline have both passed
        # (a simulated clock moved far) is announced due, then overdue.
        for from_state, to_state, field_, event_type in (
            ("open", "due", "notice_at", ObligationDue),
            ("due", "overdue", "due_at", ObligationOverdue),
        ):
            while ids := await self.obligations.ids_to_announce(from_state, field_, now, SWEEP_BATCH):
                for obligation_id in ids:
                    counts[to_state] += len(await self._advance(obligation_id, from_state, to_state, event_type))
                if len(ids) < SWEEP_BATCH:
                    break
        if any(counts.values()):
            log.info("obligations swept", **counts)
        for state, number in (await self.obligations.count_due_and_overdue()).items():
            OBLIGATIONS.labels(state).set(number)
        return counts

    async def _advance(
        self, obligation_id: str, from_state: str, to_state: str, event_type: type[Event]
    ) -> list[Outgoing]:
        async def work(transaction: Transaction) -> list[Outgoing]:
            moved = await self.obligations.move(obligation_id, from_state, to_state, transaction)
            if moved is None:
                return []  # another process, or a completion, got there first
            at = moved.notice_at if to_state == "due" else moved.due_at
            return [self.announce(event_type, moved, max(at, moved.started_at), Context(correlation_id=obligation_id))]

        return await self.uow.commit_and_publish(work)
