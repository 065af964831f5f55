"""How long one sweep of the scheduler takes with 1,000 and with 100,000 open
obligations (issue 5). The sweep must read what is due through the
(state, notice_at) and (state, due_at) indexes, not scan every obligation: its
time should hardly grow with the number of open obligations. The same query
forced to a collection scan is measured alongside, as the baseline.

Needs a MongoDB (the local SecantusDB: `python -m dsr_devstack up --infra-only`,
or DSR_MONGO_URI). Publishes nothing: the outbox is silent (DSR_REBUILD).

    uv run --frozen python bench/sweep_bench.py [--sizes 1000 100000] [--due 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import datetime, timedelta, timezone

from dsr_shared.platform.clock import FixedClock
from dsr_shared.platform.contacts import ContactsProjection
from dsr_shared.platform.runtime import Runtime
from dsr_shared.platform.settings import ServiceSettings
from dsr_scheduler.adapters.obligations import ObligationStore
from dsr_scheduler.service import Scheduler

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=timezone.utc)


def obligation(n: int, due: bool) -> dict:
    due_at = NOW - timedelta(days=1) if due else NOW + timedelta(days=30 + n % 300)
    oid = str(uuid.uuid4())
    return {
        "_id": oid,
        "obligation_id": oid,
        "register_id": f"QJ2-BENC-{n:04d}-X",
        "rule": "R-OB-4",
        "kind": "follow_up_dsp_meeting",
        "title": "Follow-up DSP meeting",
        "responsible": "dsr_team",
        "started_at": NOW - timedelta(days=30),
        "due_at": due_at,
        "notice_at": due_at - timedelta(days=2),
        "state": "open",
        "while_rating": ["amber"],
        "repeat": None,
        "needs_own_consent": False,
        "triggered_by_event_id": str(uuid.uuid4()),
        "completion": None,
        "cancelled_reason": None,
        "exceptions": [],
    }


async def measure(size: int, due: int, rounds: int) -> dict[str, float]:
    settings = ServiceSettings(
        service_name="scheduler", mongo_db=f"bench_sweep_{size}_{uuid.uuid4().hex[:6]}", rebuild=True
    )
    runtime = Runtime.build(settings, FixedClock(NOW))
    store = ObligationStore(runtime.db)
    scheduler = Scheduler(
        area=settings.area,
        clock=runtime.clock,
        uow=runtime.uow,
        obligations=store,
        contacts=ContactsProjection(runtime.db),
        audit=runtime.audit,
        outgoing=runtime.outgoing,
    )
    try:
        await store.ensure_indexes()
        docs = [obligation(n, due=n < due) for n in range(size)]
        for start in range(0, size, 5000):
            await store.obligations.insert_many(docs[start : start + 5000])

        started = time.perf_counter()
        counts = await scheduler.sweep()  # announces the `due` obligations: due, then overdue
        first = time.perf_counter() - started
        assert counts == {"due": due, "overdue": due}, counts

        idle = []
        for _ in range(rounds):  # nothing left to announce: the cost of looking
            started = time.perf_counter()
            await scheduler.sweep()
            idle.append(time.perf_counter() - started)

        scan = []
        query = {"state": "open", "notice_at": {"$lte": NOW}}
        for _ in range(max(1, rounds // 2)):
            started = time.perf_counter()
            [d async for d in store.obligations.find(query, projection={"_id": 1}).hint([("$natural", 1)])]
            scan.append(time.perf_counter() - started)
        return {"first": first, "idle": statistics.median(idle), "scan": statistics.median(scan)}
    finally:
        await runtime.mongo.drop_database(settings.database_name)
        await runtime.mongo.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100000])
    parser.add_argument("--due", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    results = {size: await measure(size, args.due, args.rounds) for size in args.sizes}
    base = results[args.sizes[0]]
    print(
        f"{'open obligations':>17} | {'first sweep':>11} | {'idle sweep':>10} | {'x baseline':>10} | {'scan query':>10}"
    )
    for size, r in results.items():
        print(
            f"{size:>17,} | {r['first'] * 1000:>8.1f} ms | {r['idle'] * 1000:>7.2f} ms | "
            f"{r['idle'] / base['idle']:>9.2f}x | {r['scan'] * 1000:>7.1f} ms"
        )
    biggest = results[args.sizes[-1]]
    print(
        f"idle sweep {args.sizes[-1]:,} vs {args.sizes[0]:,}: {biggest['idle'] / base['idle']:.2f}x "
        f"(open obligations {args.sizes[-1] / args.sizes[0]:.0f}x); "
        f"a collection scan of the same query: {biggest['scan'] / biggest['idle']:.0f}x the indexed sweep"
    )


if __name__ == "__main__":
    asyncio.run(main())
