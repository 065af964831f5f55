"""Issue 3: both doors of the referral service (HTTP and the submitted topic)
on the real broker and database, with the service as its own process."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from dsr_shared.area import load_profile
from dsr_shared.auth import Role
from support import TopicReader, auth, enveloped, eventually, referral_body

pytestmark = pytest.mark.stack


@pytest.fixture
def referral(service_process):
    return service_process("referral")


@pytest.fixture
async def topics(infra, isolation, referral):
    names = [f"{isolation}.dsr.referrals", f"{isolation}.dsr.referrals.submitted.dlq"]
    async with TopicReader(infra.kafka_bootstrap, *names) as reader:
        yield reader


def submitted(body: dict) -> bytes:
    return enveloped("ReferralSubmitted", body)


async def test_http_accepts_a_referral_and_publishes_no_personal_data(referral, topics, isolation):
    body = referral_body(given_name="Morwenna", family_name="Tregarthen", nhs_number="9434765862", date_of_birth="1979-02-14")
    async with httpx.AsyncClient(base_url=referral.url) as http:
        answer = await http.post("/referrals", json=body, headers=auth(Role.REFERRER))
    assert answer.status_code == 202
    register_id = answer.json()["register_id"]
    accepted = await eventually(lambda: topics.events(f"{isolation}.dsr.referrals", "ReferralAccepted"))
    assert accepted[0]["data"]["register_id"] == register_id
    assert accepted[0]["data"]["age_band"] == "adult"
    raw = b"".join(r.value for r in topics.on(f"{isolation}.dsr.referrals"))
    for personal in (b"Morwenna", b"Tregarthen", b"9434765862", b"1979-02-14", b"DE1 1AA"):
        assert personal not in raw


async def test_http_rejects_with_every_reason_and_keeps_no_person_details(referral, topics, infra, isolation):
    body = referral_body(nhs_number="1234567890", postcode="M1 1AE", consent=None)
    async with httpx.AsyncClient(base_url=referral.url) as http:
        answer = await http.post("/referrals", json=body, headers=auth(Role.REFERRER))
        assert answer.status_code == 422
        codes = {r["code"] for r in answer.json()["reasons"]}
        assert {"R-ID-2.invalid_nhs_number", "R-ELIG-3.out_of_area", "R-ELIG-2.no_consent"} <= codes
        assert all(r["message"] for r in answer.json()["reasons"])
        stored = await http.get(f"/referrals/{answer.json()['referral_id']}", headers=auth(Role.DSR_TEAM))
    assert stored.json()["outcome"] == "rejected" and "submission" not in stored.json()
    rejected = await eventually(lambda: topics.events(f"{isolation}.dsr.referrals", "ReferralRejected"))
    assert {r["code"] for r in rejected[0]["data"]["reasons"]} == codes
    mongo = AsyncMongoClient(infra.mongo_uri)
    assert await mongo[f"{isolation}_referral"]["people"].count_documents({}) == 0  # R-ELIG-2: not on the register
    await mongo.close()


async def test_http_schema_errors_are_422_with_every_reason(referral):
    body = referral_body()
    del body["referrer"]
    body["person"]["date_of_birth"] = "not a date"
    async with httpx.AsyncClient(base_url=referral.url) as http:
        answer = await http.post("/referrals", json=body, headers=auth(Role.REFERRER))
    assert answer.status_code == 422
    assert {r["field"] for r in answer.json()["reasons"]} >= {"referrer", "person.date_of_birth"}


async def test_the_same_submission_twice_gives_one_answer_and_one_record(referral, topics, isolation):
    body = referral_body(nhs_number="9434765854")
    async with httpx.AsyncClient(base_url=referral.url) as http:
        first = await http.post("/referrals", json=body, headers=auth(Role.REFERRER))
        second = await http.post("/referrals", json=body, headers=auth(Role.REFERRER))
        keyed = referral_body(nhs_number="9434765846", submission_id=None)
        by_key = [
            await http.post("/referrals", json=keyed, headers={**auth(Role.REFERRER), "Idempotency-Key": "k-1"}) for _ in range(2)
        ]
    assert first.json() == second.json()
    assert by_key[0].json() == by_key[1].json()
    await eventually(lambda: len(topics.events(f"{isolation}.dsr.referrals", "ReferralAccepted")) >= 2)
    ids = [e["data"]["register_id"] for e in topics.events(f"{isolation}.dsr.referrals", "ReferralAccepted")]
    assert sorted(ids) == sorted({first.json()["register_id"], by_key[0].json()["register_id"]})


async def test_a_person_already_on_the_register_gets_no_second_entry(referral):
    async with httpx.AsyncClient(base_url=referral.url) as http:
        first = await http.post("/referrals", json=referral_body(nhs_number="9434765919"), headers=auth(Role.REFERRER))
        again = await http.post("/referrals", json=referral_body(nhs_number="943 476 5919"), headers=auth(Role.REFERRER))
    assert again.status_code == 202
    assert again.json()["outcome"] == "already_on_register"
    assert again.json()["register_id"] == first.json()["register_id"]


async def test_the_topic_door_accepts_and_dead_letters_what_it_cannot_read(referral, topics, infra, isolation):
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    topic = f"{isolation}.dsr.referrals.submitted"
    await producer.send_and_wait(topic, b"{not json", key=b"x")
    await producer.send_and_wait(topic, submitted({"person": "nobody"}), key=b"x")
    good = referral_body(nhs_number="9434765870", submission_id=None)
    await producer.send_and_wait(topic, submitted(good), key=b"x")
    await producer.stop()
    accepted = await eventually(lambda: topics.events(f"{isolation}.dsr.referrals", "ReferralAccepted"))
    assert accepted[0]["data"]["accepted_by"].startswith("system:")
    dead = await eventually(lambda: len(topics.on(f"{topic}.dlq")) == 2 and topics.on(f"{topic}.dlq"))
    reasons = {dict(r.headers)["dlq-reason"] for r in dead}
    assert reasons == {b"invalid_envelope", b"invalid_event"}


async def test_reading_a_referral_needs_a_token_the_right_role_and_ownership(referral, infra, isolation):
    async with httpx.AsyncClient(base_url=referral.url) as http:
        created = await http.post("/referrals", json=referral_body(), headers=auth(Role.REFERRER, subject="owner@example.org"))
        path = f"/referrals/{created.json()['referral_id']}"
        assert (await http.get(path)).status_code == 401
        assert (await http.get(path, headers={"Authorization": "Bearer nonsense"})).status_code == 401
        assert (await http.get(path, headers=auth(Role.OPS))).status_code == 403
        assert (await http.get(path, headers=auth(Role.REFERRER, subject="someone-else@example.org"))).status_code == 404
        own = await http.get(path, headers=auth(Role.REFERRER, subject="owner@example.org"))
        assert own.status_code == 200 and own.json()["submission"]["person"]["given_name"] == "Alexandra"
        assert (await http.get(path, headers=auth(Role.DSR_TEAM))).status_code == 200
        assert (await http.post("/referrals", json=referral_body(), headers=auth(Role.OPS))).status_code == 403
    mongo = AsyncMongoClient(infra.mongo_uri)
    actions = [d["action"] async for d in mongo[f"{isolation}_referral"]["audit"].find({})]
    # 401 and 403 are refused before the record is touched; the other referrer is denied.
    assert actions.count("referral.read") == 3
    await mongo.close()


def discharged(nhs_number: str, area: str = "derbyshire") -> bytes:
    data = {"nhs_number": nhs_number, "discharged_at": datetime.now(timezone.utc).isoformat(), "hospital_ods_code": "RXM01"}
    return enveloped("Discharged", data, area=load_profile(area).code)


@pytest.mark.parametrize("area", ["derbyshire", "staffordshire"])
async def test_r_elig_4_a_discharged_person_not_yet_known_is_referred_automatically_as_amber(service_process, infra, isolation, area):
    process = service_process("referral", DSR_AREA_PROFILE=area)
    async with httpx.AsyncClient(base_url=process.url) as http:
        known = await http.post("/referrals", json=referral_body(nhs_number="9434765919", postcode={"derbyshire": "DE1 1AA", "staffordshire": "ST4 6QG"}[area]), headers=auth(Role.REFERRER))
        assert known.status_code == 202, known.text
    async with TopicReader(infra.kafka_bootstrap, f"{isolation}.dsr.referrals", f"{isolation}.dsr.hospital.discharges.dlq") as reader:
        producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        topic = f"{isolation}.dsr.hospital.discharges"
        for nhs_number in ("9434765870", "9434765870", "9434765919", "9434765871"):  # unknown twice, known, invalid
            await producer.send_and_wait(topic, discharged(nhs_number, area), key=nhs_number.encode())
        await producer.stop()
        await eventually(lambda: reader.on(f"{topic}.dlq"))
        accepted = await eventually(lambda: len(reader.events(f"{isolation}.dsr.referrals", "ReferralAccepted")) >= 2)
        events = [e["data"] for e in reader.events(f"{isolation}.dsr.referrals", "ReferralAccepted")]
    assert len(events) == 2, "one for the known person's referral, one automatic: no duplicate, nothing for the known one"
    automatic = [e for e in events if e["accepted_by"] == "system:discharge"]
    assert len(automatic) == 1 and automatic[0]["initial_rating"] == "amber" and automatic[0]["cohort"] == "unknown"
    assert "R-ELIG-4" in automatic[0]["rating_rationale"]
    assert accepted
