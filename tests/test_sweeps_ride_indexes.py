"""The queries that run over and over (each sweep, each round of the mail
sender) ride an index on the real embedded database, read back from its own
`explain`. A collection scan in one of them made the full chaos run crawl:
one `$or` in the age-band sweep cost 270 ms at 3,000 people (6 ms as two
indexed queries), one `state: {$in}` in the tracking meeting 1.3 s at 20,000
obligations. Each store's method is called as the service calls it; every
`find` it sends is explained."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timezone
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from dsr_notifier.adapters.notifications import NotificationStore
from dsr_rating.adapters.people import PeopleStore
from dsr_referral.adapters.referrals import ReferralStore
from dsr_scheduler.adapters.obligations import ObligationStore

pytestmark = pytest.mark.infra

NOW = datetime(2026, 12, 1, 9, tzinfo=timezone.utc)


class Finds(monitoring.CommandListener):
    """The `find` commands sent, as sent."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find":
            self.sent.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def _stages(plan: dict) -> list[str]:
    found = [plan.get("stage", "")]
    for key in ("inputStage", "queryPlan"):
        if isinstance(plan.get(key), dict):
            found += _stages(plan[key])
    for child in plan.get("inputStages", []):
        found += _stages(child)
    return found


# What each repeated query is: the store that sends it, and the call as the service makes it.
STORES: dict[str, tuple[type, Callable[[Any], Awaitable[object]]]] = {
    "notifier: the mail sender's queue": (NotificationStore, lambda store: store.due(500)),
    "referral: the age-band sweep": (ReferralStore, lambda store: store.due_an_age_check(date(2026, 12, 1))),
    "scheduler: notices come": (
        ObligationStore,
        lambda store: store.ids_to_announce("scheduled", "notice_at", NOW, 100),
    ),
    "scheduler: obligations come due": (
        ObligationStore,
        lambda store: store.ids_to_announce("open", "due_at", NOW, 100),
    ),
    "scheduler: the tracking meeting": (ObligationStore, lambda store: store.pending_until(NOW, 100)),
    "rating: green months ended": (PeopleStore, lambda store: store.green_month_over(NOW)),
}


@pytest.mark.parametrize("what", sorted(STORES))
async def test_a_repeated_query_rides_an_index(infra, what):
    finds = Finds()
    client = AsyncMongoClient(infra.mongo_uri, event_listeners=[finds])
    db = client[f"plans_{uuid.uuid4().hex[:10]}"]
    try:
        kind, call = STORES[what]
        store = kind(db)
        await store.ensure_indexes()
        await call(store)
        assert finds.sent, "the method sent no find"
        for command in finds.sent:
            query = {k: v for k, v in command.items() if k in ("find", "filter", "sort", "projection", "limit")}
            plan = (await db.command("explain", query))["queryPlanner"]["winningPlan"]
            stages = _stages(plan)
            assert "COLLSCAN" not in stages and "IXSCAN" in stages, f"{what}: {query['filter']} is read by {stages}"
    finally:
        await client.close()
