"""People on the register, as the referral service keeps them, on the real
broker and database with the service as its own process: removal (from
dsr.ratings), a return on a new referral or a discharge under the same
register id (R-RAG-6, R-ID-1, R-ELIG-4), the current address, and age bands
that move on as people grow older on the register (R-OB-10)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from dsr_shared.platform.auth import Role
from dsr_testing.support import TopicReader, auth, enveloped, eventually, identity, referral_body

pytestmark = pytest.mark.stack

OWNER = "owner@example.org"
PROFESSIONALS = [
    {
        "name": "Kit Casey",
        "role": "Community nurse",
        "organisation": "DHCFT",
        "email": "kit.casey@example.org",
        "case_holder": True,
    },
    {"name": "Ola Social", "role": "Social worker", "email": "ola.social@example.org"},
]


@pytest.fixture
def referral(service_process):
    return service_process("referral")


@pytest.fixture
async def topics(infra, isolation, referral):
    async with TopicReader(infra.kafka_bootstrap, f"{isolation}.dsr.referrals") as reader:
        yield reader


@pytest.fixture
async def db(infra, isolation):
    mongo = AsyncMongoClient(infra.mongo_uri, tz_aware=True)
    yield mongo[f"{isolation}_referral"]
    await mongo.close()


@pytest.fixture
async def publish(infra):
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()

    async def send(topic: str, message: bytes, key: str) -> None:
        await producer.send_and_wait(topic, message, key=key.encode())

    yield send
    await producer.stop()


def removal(register_id: str, cause: str = "dsr_team") -> bytes:
    return enveloped(
        "PersonRemoved",
        {
            "register_id": register_id,
            "removed_by": "dsr.team@example.org",
            "cause": cause,
            "reason": "Settled; agreed at the tracking meeting.",
        },
    )


def discharged(nhs_number: str) -> bytes:
    data = {
        "nhs_number": nhs_number,
        "discharged_at": datetime.now(timezone.utc).isoformat(),
        "hospital_ods_code": "RXM01",
    }
    return enveloped("Discharged", data)


def occurred_at(message: bytes) -> datetime:
    return datetime.fromisoformat(json.loads(message)["occurred_at"])


async def consumed(http: httpx.AsyncClient, topic: str, event_type: str, outcome: str) -> float:
    """How many messages of a type the service has finished with, from its /metrics."""
    text = (await http.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith("dsr_events_consumed_total{") and all(
            f'{label}="{value}"' in line
            for label, value in (("topic", topic), ("event_type", event_type), ("outcome", outcome))
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def metric_total(text: str, name: str, topic_part: str) -> float:
    return sum(
        float(m.group(1))
        for m in re.finditer(rf'^{name}\{{[^}}]*topic="[^"]*{re.escape(topic_part)}"[^}}]*\}} (\S+)$', text, re.M)
    )


def accepted_for(topics: TopicReader, isolation: str, register_id: str) -> list[dict]:
    return [
        e
        for e in topics.events(f"{isolation}.dsr.referrals", "ReferralAccepted")
        if e["data"]["register_id"] == register_id
    ]


async def test_a_removed_person_returns_on_a_new_referral_under_the_same_register_id(
    referral, topics, db, publish, isolation
):
    ratings = f"{isolation}.dsr.ratings"
    body = referral_body(nhs_number="9434765919", professionals=PROFESSIONALS)
    async with httpx.AsyncClient(base_url=referral.url) as http:
        first = await http.post("/referrals", json=body, headers=auth(Role.REFERRER))
        assert first.status_code == 202 and first.json()["outcome"] == "accepted", first.text
        register_id = first.json()["register_id"]
        entered = await eventually(lambda: accepted_for(topics, isolation, register_id))
        # Professionals' work contacts travel with the acceptance, case holder marked.
        assert entered[0]["data"]["professionals"] == [
            {"organisation": None, "phone": None, "case_holder": False, **p} for p in PROFESSIONALS
        ]

        # Another type on dsr.ratings comes first on the same partition: skipped, not dead-lettered.
        other = enveloped(
            "UpdateAdded",
            {"register_id": register_id, "update_id": "5f0c3c1e-8e57-4b0e-9a8e-0c5d4b3c2a10", "added_by": OWNER},
        )
        await publish(ratings, other, register_id)
        removed = removal(register_id)
        for _ in range(2):  # delivered twice
            await publish(ratings, removed, register_id)
        await eventually(lambda: _at_least(consumed(http, ratings, "PersonRemoved", "processed"), 2))
        person = await db["people"].find_one({"_id": register_id})
        assert abs(person["removed_at"] - occurred_at(removed)) < timedelta(milliseconds=1)
        assert person["removal"]["cause"] == "dsr_team" and len(person["removals"]) == 1
        metrics = (await http.get("/metrics")).text
        assert await consumed(http, ratings, "UpdateAdded", "skipped") == 1
        assert metric_total(metrics, "dsr_dead_lettered_total", ".dsr.ratings") == 0

        # R-RAG-6: a new referral brings them back; R-ID-1: under the same identifier.
        again = await http.post(
            "/referrals",
            json=referral_body(nhs_number="943 476 5919", postcode="DE22 3LZ"),
            headers=auth(Role.REFERRER),
        )
        assert again.status_code == 202, again.text
        assert again.json()["outcome"] == "accepted"
        assert again.json()["register_id"] == register_id
        assert again.json()["referral_id"] != first.json()["referral_id"]
        returned = await eventually(
            lambda: (
                len(accepted_for(topics, isolation, register_id)) == 2 and accepted_for(topics, isolation, register_id)
            )
        )
        assert returned[1]["data"]["referral_id"] == again.json()["referral_id"]
        person = await db["people"].find_one({"_id": register_id})
        assert "removed_at" not in person and "removal" not in person
        assert person["referral_id"] == again.json()["referral_id"]
        assert person["address"]["postcode"] == "DE22 3LZ"  # the new referral's address is the current one
        assert await db["people"].count_documents({}) == 1

        # The old removal delivered a third time changes nothing (exactly once, not "not removed yet").
        await publish(ratings, removed, register_id)
        await eventually(lambda: _at_least(consumed(http, ratings, "PersonRemoved", "processed"), 3))
        assert "removed_at" not in await db["people"].find_one({"_id": register_id})
        assert (
            await db["processed_events"].count_documents(
                {"_id": {"$regex": ":" + json.loads(removed)["event_id"] + "$"}}
            )
            == 1
        )

        # On the register again: a further referral finds them there.
        third = await http.post("/referrals", json=referral_body(nhs_number="9434765919"), headers=auth(Role.REFERRER))
        assert third.json()["outcome"] == "sent_to_dsr_team" and third.json()["register_id"] == register_id
    assert len(accepted_for(topics, isolation, register_id)) == 2


async def test_r_elig_4_a_removed_person_discharged_from_hospital_is_referred_again_under_the_same_register_id(
    referral, topics, db, publish, isolation
):
    ratings, discharges = f"{isolation}.dsr.ratings", f"{isolation}.dsr.hospital.discharges"
    async with httpx.AsyncClient(base_url=referral.url) as http:
        first = await http.post("/referrals", json=referral_body(nhs_number="9434765870"), headers=auth(Role.REFERRER))
        register_id = first.json()["register_id"]
        await publish(ratings, removal(register_id, cause="green_month_ended"), register_id)

        async def is_removed():
            return (await db["people"].find_one({"_id": register_id})).get("removed_at")

        await eventually(is_removed)
        for _ in range(2):  # two discharges: the first refers them, the second finds them on the register
            await publish(discharges, discharged("9434765870"), "9434765870")
        await eventually(lambda: _at_least(consumed(http, discharges, "Discharged", "processed"), 2))
    events = await eventually(
        lambda: len(accepted_for(topics, isolation, register_id)) == 2 and accepted_for(topics, isolation, register_id)
    )
    automatic = events[1]["data"]
    assert automatic["accepted_by"] == "system:discharge" and automatic["initial_rating"] == "amber"
    person = await db["people"].find_one({"_id": register_id})
    assert "removed_at" not in person and person["referral_id"] == automatic["referral_id"]
    assert person["removals"][0]["cause"] == "green_month_ended"
    assert await db["referrals"].count_documents({"register_id": register_id, "outcome": "accepted"}) == 2


async def test_the_current_address_is_changed_by_the_dsr_team_or_the_referrer_who_referred_the_person(
    referral, db, isolation
):
    path = "/people/{}/address"
    moved_in_area = {"line1": "7 New Street", "town": "Derby", "postcode": "DE22 3LZ"}
    moved_away = {"line1": "3 Far Road", "town": "Manchester", "postcode": "M1 1AE"}
    async with httpx.AsyncClient(base_url=referral.url) as http:
        created = await http.post(
            "/referrals", json=referral_body(nhs_number="9434765862"), headers=auth(Role.REFERRER, subject=OWNER)
        )
        register_id = created.json()["register_id"]
        person = await db["people"].find_one({"_id": register_id})
        assert person["address"]["postcode"] == "DE1 1AA"  # kept from the accepted referral
        # A second referrer who found the person already on the register did not refer them.
        late = await http.post(
            "/referrals",
            json=referral_body(nhs_number="9434765862"),
            headers=auth(Role.REFERRER, subject="late@example.org"),
        )
        assert late.json() | {"referral_id": None} == {
            "referral_id": None,
            "outcome": "sent_to_dsr_team",
            "register_id": None,
            "reasons": [],
        }
        published_before = metric_total((await http.get("/metrics")).text, "dsr_events_published_total", ".dsr.")

        own = await http.put(path.format(register_id), json=moved_in_area, headers=auth(Role.REFERRER, subject=OWNER))
        assert own.status_code == 200, own.text
        assert own.json() == {"register_id": register_id, "in_area": True}
        person = await db["people"].find_one({"_id": register_id})
        assert person["address"] == {"line1": "7 New Street", "line2": None, "town": "Derby", "postcode": "DE22 3LZ"}
        assert person["address_changed_by"] == identity().user_id(OWNER)  # the directory's id, not the email
        away = await http.put(path.format(register_id), json=moved_away, headers=auth(Role.REFERRER, subject=OWNER))
        assert away.status_code == 200 and away.json() == {"register_id": register_id, "in_area": False}
        team = await http.put(
            path.format(register_id), json=moved_in_area, headers=auth(Role.DSR_TEAM, subject="team@example.org")
        )
        assert team.status_code == 200 and team.json()["in_area"] is True

        for subject in ("someone-else@example.org", "late@example.org"):
            other = await http.put(
                path.format(register_id), json=moved_away, headers=auth(Role.REFERRER, subject=subject)
            )
            assert other.status_code == 404
        unknown = await http.put(path.format("QJ2-0000-0000-0"), json=moved_away, headers=auth(Role.DSR_TEAM))
        assert unknown.status_code == 404
        assert (await http.put(path.format(register_id), json=moved_away)).status_code == 401
        assert (await http.put(path.format(register_id), json=moved_away, headers=auth(Role.OPS))).status_code == 403
        bad = await http.put(
            path.format(register_id), json={"line1": "x", "postcode": "1"}, headers=auth(Role.DSR_TEAM)
        )
        assert bad.status_code == 422

        # Addresses never leave the service: no event was published for any of this.
        assert (
            metric_total((await http.get("/metrics")).text, "dsr_events_published_total", ".dsr.") == published_before
        )
    user = identity().user_id
    person = await db["people"].find_one({"_id": register_id})
    assert person["address"]["postcode"] == "DE22 3LZ" and person["address_changed_by"] == user("team@example.org")
    audit = [
        (d["actor"], d["outcome"], d["subject_id"]) async for d in db["audit"].find({"action": "person.address.change"})
    ]
    assert sorted(audit) == sorted(
        [
            (user(OWNER), "ok", register_id),
            (user(OWNER), "ok", register_id),
            (user("team@example.org"), "ok", register_id),
            (user("someone-else@example.org"), "denied", register_id),
            (user("late@example.org"), "denied", register_id),
            (user("tester@example.org"), "missing", "QJ2-0000-0000-0"),
        ]
    )  # 401 and 403 are refused before the record is touched (as for GET /referrals/{id}); 422 before too


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


async def test_an_age_band_change_is_announced_once_without_the_date_of_birth(service_process, infra, isolation, db):
    referral = service_process("referral", DSR_SIMULATED_CLOCK="true", DSR_SWEEP_EVERY_SECONDS="1")
    today = date.today()
    people = {
        "turns_25": years_before(today + timedelta(days=30), 25),  # 24 years and 11 months: keyworking still (R-OB-10)
        "turns_18": years_before(today + timedelta(days=20), 18),
        "adult": date(1990, 4, 12),
    }
    topic = f"{isolation}.dsr.referrals"
    async with TopicReader(infra.kafka_bootstrap, topic) as topics, httpx.AsyncClient(base_url=referral.url) as http:
        ids = {}
        for (who, born), nhs_number in zip(people.items(), ("9434765919", "9434765870", "9434765862"), strict=True):
            answer = await http.post(
                "/referrals",
                json=referral_body(nhs_number=nhs_number, date_of_birth=born.isoformat()),
                headers=auth(Role.REFERRER),
            )
            assert answer.json()["outcome"] == "accepted", answer.text
            ids[who] = answer.json()["register_id"]
        entered = await eventually(
            lambda: len(topics.events(topic, "ReferralAccepted")) == 3 and topics.events(topic, "ReferralAccepted")
        )
        assert {e["data"]["register_id"]: e["data"]["age_band"] for e in entered} == {
            ids["turns_25"]: "young_adult",
            ids["turns_18"]: "cyp",
            ids["adult"]: "adult",
        }

        async def swept(day: date) -> bool:
            """Every person compared with their age on `day`."""
            return await db["people"].count_documents({"age_band_checked_on": day.isoformat()}) == 3

        async def advance(by: str) -> date:
            moved = await http.post("/clock/advance", json={"by": by}, headers=auth(Role.OPS))
            assert moved.status_code == 200, moved.text
            return datetime.fromisoformat(moved.json()["now"]).astimezone(ZoneInfo("Europe/London")).date()

        await eventually(lambda: swept(datetime.now(ZoneInfo("Europe/London")).date()))
        assert topics.events(topic, "AgeBandChanged") == []

        later = await advance("P40D")
        changed = await eventually(
            lambda: len(topics.events(topic, "AgeBandChanged")) == 2 and topics.events(topic, "AgeBandChanged")
        )
        assert {e["data"]["register_id"]: e["data"] for e in changed} == {
            ids["turns_25"]: {"register_id": ids["turns_25"], "age_band": "adult", "effective_on": later.isoformat()},
            ids["turns_18"]: {
                "register_id": ids["turns_18"],
                "age_band": "young_adult",
                "effective_on": later.isoformat(),
            },
        }
        assert all(r.key.decode() == json.loads(r.value)["data"]["register_id"] for r in topics.on(topic))
        await eventually(lambda: swept(later))

        # Time moves on again: nothing new to announce, nothing announced twice.
        again = await advance("P40D")
        await eventually(lambda: swept(again))
        assert await db["outbox"].count_documents({"envelope.event_type": "AgeBandChanged"}) == 2
        assert len(topics.events(topic, "AgeBandChanged")) == 2
        bands = {doc["_id"]: doc["announced_age_band"] async for doc in db["people"].find({})}
        assert bands == {ids["turns_25"]: "adult", ids["turns_18"]: "young_adult", ids["adult"]: "adult"}

    # No date of birth leaves the service, in events or in its log; the sweeper
    # logs counts, never who changed band (the day would give the birthday away).
    births = [born.isoformat() for born in people.values()]
    assert not [r for r in topics.on(topic) if any(b.encode() in r.value for b in births)]
    log = referral.log_file.read_text()
    assert not [b for b in births if b in log]
    sweeps = [line for line in log.splitlines() if "age band" in line]
    assert sweeps and not [line for line in sweeps if any(i in line for i in ids.values())]


async def test_the_dsr_team_completes_the_record_of_a_person_referred_automatically_on_discharge(
    service_process, infra, isolation, db, publish
):
    """Issue 11: the record made on discharge (R-ELIG-4) has no date of birth;
    the DSR team's full referral completes it, the age band follows on the bus
    without the date of birth, and birthdays are followed after (18: young adult)."""
    referral = service_process("referral", DSR_SIMULATED_CLOCK="true", DSR_SWEEP_EVERY_SECONDS="1")
    london = ZoneInfo("Europe/London")
    today = datetime.now(london).date()
    born = years_before(today + timedelta(days=20), 18)  # 17: turns 18 in 20 days
    team = auth(Role.DSR_TEAM, subject="team@example.org")
    full = referral_body(
        nhs_number="9434765846",
        date_of_birth=born.isoformat(),
        postcode="DE22 3LZ",
        given_name="Tamsin",
        family_name="Olorun",
        rating="red",
    )
    topic = f"{isolation}.dsr.referrals"
    async with TopicReader(infra.kafka_bootstrap, topic) as topics, httpx.AsyncClient(base_url=referral.url) as http:
        await publish(f"{isolation}.dsr.hospital.discharges", discharged("9434765846"), "9434765846")
        [automatic] = await eventually(lambda: topics.events(topic, "ReferralAccepted"))
        register_id = automatic["data"]["register_id"]
        assert (
            automatic["data"]["age_band"] == "unknown"
            and automatic["data"]["discharge"]["hospital_ods_code"] == "RXM01"
        )
        await eventually(lambda: db["people"].find_one({"_id": register_id, "age_band_checked_on": today.isoformat()}))

        def post(body: dict, headers: dict):
            return http.post("/referrals", json={**body, "submission_id": str(uuid.uuid4())}, headers=headers)

        # A referrer's full referral does not complete the record: it goes to the DSR team.
        by_referrer = await post(full, auth(Role.REFERRER, subject="late@example.org"))
        assert (by_referrer.json()["outcome"], by_referrer.json()["register_id"]) == ("sent_to_dsr_team", None)
        # The team's referral is a referral: every reason, and nothing completed.
        refused = await post({**full, "consent": None}, team)
        assert refused.status_code == 422 and [r["code"] for r in refused.json()["reasons"]] == ["R-ELIG-2.no_consent"]

        completed = await post(full, team)
        assert completed.status_code == 202, completed.text
        assert (completed.json()["outcome"], completed.json()["register_id"]) == ("record_completed", register_id)
        [band] = await eventually(lambda: topics.events(topic, "AgeBandChanged"))
        assert band["data"] == {"register_id": register_id, "age_band": "cyp", "effective_on": today.isoformat()}
        person = await db["people"].find_one({"_id": register_id})
        assert person["address"]["postcode"] == "DE22 3LZ" and person["announced_age_band"] == "cyp"
        assert person["record_completed"]["referral_id"] == completed.json()["referral_id"]
        assert person["record_completed"]["by"] == identity().user_id("team@example.org")
        kept = (await http.get(f"/referrals/{completed.json()['referral_id']}", headers=team)).json()
        assert kept["submission"]["person"]["date_of_birth"] == born.isoformat() and kept["register_id"] == register_id

        # Completed once: the team's next full referral is a further referral, and no band is announced again.
        again = await post(full, team)
        assert (again.json()["outcome"], again.json()["register_id"]) == ("sent_to_dsr_team", register_id)
        await eventually(lambda: db["people"].find_one({"_id": register_id, "age_band_checked_on": today.isoformat()}))
        assert len(topics.events(topic, "AgeBandChanged")) == 1

        # The 18th birthday is followed like anyone else's.
        moved = await http.post("/clock/advance", json={"by": "P30D"}, headers=auth(Role.OPS))
        later = datetime.fromisoformat(moved.json()["now"]).astimezone(london).date()
        changed = await eventually(
            lambda: len(topics.events(topic, "AgeBandChanged")) == 2 and topics.events(topic, "AgeBandChanged")
        )
        assert changed[1]["data"] == {
            "register_id": register_id,
            "age_band": "young_adult",
            "effective_on": later.isoformat(),
        }
        further = topics.events(topic, "FurtherReferralReceived")
        assert [(e["data"]["submitted_by"], e["data"]["proposed_rating"]) for e in further] == [
            (identity().user_id("late@example.org"), "red"),
            (identity().user_id("team@example.org"), "red"),
        ]
    for personal in (b"Tamsin", b"Olorun", b"9434765846", born.isoformat().encode(), b"DE22 3LZ"):
        assert not [r for r in topics.on(topic) if personal in r.value]


async def _at_least(value, n: float) -> bool:
    return (await value) >= n
