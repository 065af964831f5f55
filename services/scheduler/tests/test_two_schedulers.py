"""Two scheduler processes on one database and one consumer group: every
ObligationDue and ObligationOverdue is announced exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

from dsr_testing.support import eventually

PEOPLE = 40


async def test_two_processes_announce_each_due_and_overdue_exactly_once(scheduler_service):
    svc = await scheduler_service("derbyshire", processes=2)
    at = datetime.now(timezone.utc)
    for n in range(PEOPLE):
        await svc.rated(f"P-{n:03d}", "red" if n % 2 else "amber", at)

    async def all_scheduled():
        return len(await svc.obligations()) == PEOPLE // 2 * (1 + 3)  # red: R-OB-1; amber: R-OB-3, 4, 11

    await eventually(all_scheduled, timeout=90)
    total = PEOPLE // 2 * 4
    # Both processes see the same time, and sweep it at once.
    await svc.advance_clock(timedelta(days=60))
    await eventually(lambda: len(svc.published("ObligationOverdue")) >= total, timeout=120)

    due = Counter(e["data"]["obligation_id"] for e in svc.published("ObligationDue"))
    overdue = Counter(e["data"]["obligation_id"] for e in svc.published("ObligationOverdue"))
    assert len(due) == len(overdue) == total
    assert set(due.values()) == {1} and set(overdue.values()) == {1}, "an announcement went out twice"
    events = svc.published("ObligationDue") + svc.published("ObligationOverdue")
    assert len({e["event_id"] for e in events}) == len(events)
