"""Hospital events arrive twice, late and out of order (docs/RULES.md "Events
from other NHS systems"): the register ends the same whatever the order. And the
register can be rebuilt from the topics alone, field for field."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone

from pymongo import AsyncMongoClient

from dsr_shared.platform.auth import Role
from dsr_ops.replay import rewind_consumer_group
from dsr_testing.support import auth, eventually

RATING_TOPICS = ["dsr.referrals", "dsr.ratings", "dsr.hospital.admissions", "dsr.hospital.discharges"]
REFERRER = "case.holder@example.org"  # the referrer the rating_service fixture accepts people from


class AwaitingAll(list):
    """Falsy, so `eventually` goes on waiting, and shows what it saw last."""

    def __bool__(self) -> bool:
        return False


def normalised(view: dict) -> dict:
    """What must match between people who got the same events in different orders."""
    return {
        "status": view["status"],
        "rating": view["rating"],
        "in_hospital": view["in_hospital"],
        "hospital": view["hospital"],
        "history": [
            (h["at"], h["from_rating"], h["to_rating"], h["cause"], h["took_effect"]) for h in view["history"][1:]
        ],
        "hospital_events": sorted((e["kind"], e["at"], e["hospital_ods_code"]) for e in view["hospital_events"]),
    }


async def send_in_order(svc, register_id: str, nhs: str, base: datetime, order: random.Random) -> None:
    """One stay at RXM, a second at RHA; every event once more, one under a
    new event id, and a stale discharge older than the latest admission."""
    a1, d1, a2 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    sends = [
        lambda: svc.accept(register_id, nhs, "amber", at=base),
        lambda: svc.admit(nhs, base + timedelta(hours=1), event_id=a1),
        lambda: svc.discharge(nhs, base + timedelta(hours=10), event_id=d1),
        lambda: svc.admit(nhs, base + timedelta(hours=20), ods="RHA", event_id=a2),
        lambda: svc.admit(nhs, base + timedelta(hours=1), event_id=a1),  # redelivered
        lambda: svc.admit(nhs, base + timedelta(hours=20), ods="RHA"),  # the same admission, a new event id
        lambda: svc.discharge(nhs, base + timedelta(hours=15)),  # older than the latest admission
    ]
    order.shuffle(sends)
    for send in sends:
        await send()


async def test_the_register_ends_the_same_whatever_the_order_then_rebuilds_field_for_field(
    rating_service, infra, isolation
):
    svc = await rating_service("derbyshire")
    base = datetime.now(timezone.utc) - timedelta(days=2)
    people = []
    for seed in range(6):
        register_id, nhs = svc.new_person()
        people.append(register_id)
        await send_in_order(svc, register_id, nhs, base, random.Random(seed))

    async def settled():
        views = [(await svc.person(p)).json() for p in people]
        pending = [(v.get("rating"), len(v.get("hospital_events", ()))) for v in views]
        return views if all(p == ("blue", 4) for p in pending) else AwaitingAll(pending)

    views = await eventually(settled, timeout=90)
    first = normalised(views[0])
    assert first["hospital"]["hospital_ods_code"] == "RHA"
    assert [(h[1], h[2], h[3]) for h in first["history"]] == [
        ("amber", "blue", "admission"),
        ("blue", "amber", "discharge"),
        ("amber", "blue", "admission"),
    ]
    for view in views[1:]:
        assert normalised(view) == first

    # A person's own changes over HTTP, to be rebuilt from the register's own topic.
    # And a band change from the referral service (the 25th birthday), rebuilt from dsr.referrals.
    someone, nhs = svc.new_person()
    await svc.accept(someone, nhs, "amber", age_band="young_adult")
    await eventually(lambda: _rated(svc, someone, "amber"))
    await svc.age_band_changed(someone, "adult")
    await eventually(lambda: _age_band(svc, someone, "adult"))
    assert (await svc.change(someone, "red")).status_code == 200
    keeper = auth(Role.REFERRER, subject=REFERRER)
    assert (
        await svc.http.post(f"{svc.url}/register/{someone}/updates", json={"text": "Seen today."}, headers=keeper)
    ).status_code == 201
    team = {"professionals": [{"name": "Pat", "role": "Nurse", "email": "pat@example.org", "case_holder": True}]}
    assert (
        await svc.http.put(f"{svc.url}/register/{someone}/professionals", json=team, headers=keeper)
    ).status_code == 200
    asked = await svc.http.post(f"{svc.url}/register/{someone}/removal", json={"reason": "Settled."}, headers=keeper)
    assert asked.status_code == 202
    removed = await svc.http.post(
        f"{svc.url}/register/{people[0]}/removal", json={"reason": "Moved away."}, headers=auth(Role.DSR_TEAM)
    )
    assert removed.status_code == 200
    await eventually(lambda: svc.published("PersonRemoved", people[0]) and svc.published("RemovalRequested", someone))

    mongo = AsyncMongoClient(infra.mongo_uri, tz_aware=True)
    database = mongo[f"{isolation}_rating"]

    async def register_snapshot() -> dict:
        collections = {}
        for name in ("people", "unmatched_hospital_events"):
            collections[name] = sorted([doc async for doc in database[name].find({})], key=lambda d: d["_id"])
        return collections

    before = await register_snapshot()
    assert len(before["people"]) == 7
    try:
        # Rebuild: stop, drop the database, rewind the consumer group, replay the topics.
        svc.process.stop()
        await mongo.drop_database(f"{isolation}_rating")
        await rewind_consumer_group(
            infra.kafka_bootstrap, f"{isolation}.dsr-rating", [f"{isolation}.{t}" for t in RATING_TOPICS]
        )
        published_before = svc.reader.distinct()
        rebuilt = await rating_service("derbyshire", DSR_REBUILD="true")

        async def same_register():
            return (await register_snapshot()) == before

        await eventually(same_register, timeout=120)
        answer = await rebuilt.person(someone)
        assert answer.json()["rating"] == "red" and answer.json()["removal_requested"]
        assert answer.json()["age_band"] == "adult"
        assert svc.reader.distinct() == published_before  # a rebuild publishes nothing
    finally:
        await mongo.close()


async def _rated(svc, register_id: str, rating: str) -> bool:
    return await svc.rating_of(register_id) == rating


async def _age_band(svc, register_id: str, age_band: str) -> bool:
    return (await svc.person(register_id)).json()["age_band"] == age_band
