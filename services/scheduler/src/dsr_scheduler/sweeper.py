"""Time makes obligations due and overdue. Each ObligationDue and
ObligationOverdue is announced exactly once, also with several scheduler
processes: moving an obligation from one state to the next is an atomic
claim in the same transaction as the outbox entry, and the event id derives
from the obligation."""

from __future__ import annotations

import structlog

from dsr_shared.metrics import OBLIGATIONS
from dsr_scheduler.scheduling import Scheduler

log = structlog.get_logger()
BATCH = 500


async def sweep(scheduler: Scheduler) -> dict[str, int]:
    now = scheduler.runtime.clock.now()
    counts = {"due": 0, "overdue": 0}
    store = scheduler.store
    # Due first, so an obligation whose notice and deadline have both passed
    # (a simulated clock moved far) is announced due, then overdue.
    while ids := await store.ids_to_announce("open", "notice_at", now, BATCH):
        for obligation_id in ids:
            counts["due"] += len(await scheduler.announce_due(obligation_id, now))
        if len(ids) < BATCH:
            break
    while ids := await store.ids_to_announce("due", "due_at", now, BATCH):
        for obligation_id in ids:
            counts["overdue"] += len(await scheduler.announce_overdue(obligation_id, now))
        if len(ids) < BATCH:
            break
    if any(counts.values()):
        log.info("obligations swept", **counts)
    for state, number in (await store.count_due_and_overdue()).items():
        OBLIGATIONS.labels(state).set(number)
    return counts
