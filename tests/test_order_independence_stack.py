"""The register ends the same, including what it demands, whatever order the
facts arrive in: on the whole stack (four services, real Kafka and database,
the SMTP sink). Each example follows 12 people twice: once with every fact
delivered in time order, once with each person's hospital events (and their
redeliveries and twins) shuffled and everyone's deliveries interleaved across
the topics. Pairs end with the same rating, history, obligations (rule,
trigger time, deadline, state) and emails (kind, recipient, count).

Each person's referral is delivered before their hospital events, and the
hospital events happen after it: a discharge of someone not yet known
refers them automatically (R-ELIG-4), so a discharge that overtakes its
referral is a different story, told by test_what_a_rating_demands.py (as
is an admission before the referral). The pure version of this property, with
the referral anywhere in time, is test_order_independence.py."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsr_testing.register_world import World, running_world
from dsr_testing.support import eventually

pytestmark = pytest.mark.stack
PEOPLE = 12  # the pure property (test_order_independence.py) covers breadth; this covers the wiring


@pytest.fixture(scope="module")
async def world(infra, identity, tmp_path_factory):
    async with running_world(infra, identity, tmp_path_factory.mktemp("order"), "derbyshire") as running:
        yield running


plans = st.lists(
    st.fixed_dictionaries(
        {
            "rating": st.sampled_from(["red", "amber", "green"]),
            "hours": st.lists(st.integers(1, 900), max_size=4, unique=True).map(sorted),
            "again": st.lists(st.integers(0, 3), max_size=2),
            "twins": st.lists(st.integers(0, 3), max_size=1),
        }
    ),
    min_size=PEOPLE,
    max_size=PEOPLE,
)


def _deliveries(plan: dict, base: datetime) -> list[tuple[str, datetime, uuid.UUID]]:
    facts = [
        ("admit" if i % 2 == 0 else "discharge", base + timedelta(hours=h), uuid.uuid4())
        for i, h in enumerate(plan["hours"])
    ]
    extra = [facts[i] for i in plan["again"] if i < len(facts)]  # the same event again
    extra += [(kind, at, uuid.uuid4()) for kind, at, _ in (facts[i] for i in plan["twins"] if i < len(facts))]
    return facts + extra


async def _deliver(world: World, nhs: str, delivery: tuple[str, datetime, uuid.UUID]) -> None:
    kind, at, event_id = delivery
    await (world.admit if kind == "admit" else world.discharge)(nhs, at, event_id=event_id)


async def _outcome(world: World, register_id: str) -> tuple | None:
    """What the register shows and demands of one person, with the entry's own
    time (which differs between the two runs) written as "entry"."""
    record = await world.record(register_id)
    if record is None or not record["history"]:
        return None  # not on the register yet
    entered = record["history"][0]["at"]

    def when(value: str) -> str:
        return "entry" if value == entered else value

    history = [(h["from_rating"], h["to_rating"], h["cause"], when(h["at"])) for h in record["history"]]
    obligations = sorted(
        # An obligation the entry started is due by a deadline counted from the entry.
        (o["rule"], when(o["started_at"]), "from entry" if o["started_at"] == entered else o["due_at"], o["state"])
        for o in await world.obligations(register_id)
    )
    emails = Counter((kind, to) for kind, to in world.email_counts(register_id).elements())
    return record["rating"], history, obligations, emails


@pytest.mark.timeout(900)  # one example of 24 people through the whole stack
@settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck), derandomize=False)
@given(plans=plans, seed=st.integers(0, 2**32 - 1))
async def test_people_end_the_same_whatever_order_their_facts_arrive_in(world, plans, seed):
    shuffle = random.Random(seed)
    base = await world.now() + timedelta(hours=1)
    in_time, shuffled = [], []
    for plan in plans:
        deliveries = _deliveries(plan, base)
        ordered = (world.new_nhs_number(), sorted(deliveries, key=lambda d: d[1]), plan)
        mixed = (world.new_nhs_number(), shuffle.sample(deliveries, len(deliveries)), plan)
        in_time.append(ordered)
        shuffled.append(mixed)

    # In time order: every referral, then every hospital event by its time.
    ids: dict[str, str] = {}
    for nhs, _, plan in in_time:
        ids[nhs] = (await world.refer(nhs, plan["rating"]))["register_id"]
    for nhs, delivery in sorted(((nhs, d) for nhs, ds, _ in in_time for d in ds), key=lambda x: x[1][1]):
        await _deliver(world, nhs, delivery)

    # Shuffled: each person's referral first, the rest in any order, everyone interleaved.
    queues = [[("refer", plan)] + [("event", d) for d in ds] for _, ds, plan in shuffled]
    owners = [nhs for nhs, _, _ in shuffled]
    while any(queues):
        i = shuffle.choice([i for i, q in enumerate(queues) if q])
        what, item = queues[i].pop(0)
        if what == "refer":
            ids[owners[i]] = (await world.refer(owners[i], item["rating"]))["register_id"]
        else:
            await _deliver(world, owners[i], item)

    async def settled():
        for (a, _, _), (b, _, _) in zip(in_time, shuffled, strict=True):
            expected = await _outcome(world, ids[a])
            if expected is None or expected != await _outcome(world, ids[b]):
                return None
        return True

    try:
        await eventually(settled, timeout=240, interval=2)
    except AssertionError:
        for (a, _, plan), (b, _, _) in zip(in_time, shuffled, strict=True):
            expected, got = await _outcome(world, ids[a]), await _outcome(world, ids[b])
            assert got == expected, f"{ids[b]} vs {ids[a]} ({plan})"
        raise
