"""Issue 3: both doors of the referral service (HTTP and the submitted topic)
on the real broker and database, with the service as its own process."""

from __future__ import annotations

import json

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from dsr_shared.platform.auth import Role
from dsr_shared.rules.area import load_profile
from dsr_testing.support import TopicReader, auth, enveloped, eventually, identity, referral_body

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
    body = referral_body(
        given_name="Morwenna", family_name="Tregarthen", nhs_number="9434765862", date_of_birth="1979-02-14"
    )
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
            await http.post("/referrals", json=keyed, headers={**auth(Role.REFERRER), "Idempotency-Key": "k-1"})
            for _ in range(2)
        ]
    assert first.json() == second.json()
    assert by_key[0].json() == by_key[1].json()
    await eventually(lambda: len(topics.events(f"{isolation}.dsr.referrals", "ReferralAccepted")) >= 2)
    ids = [e["data"]["register_id"] for e in topics.events(f"{isolation}.dsr.referrals", "ReferralAccepted")]
    assert sorted(ids) == sorted({first.json()["register_id"], by_key[0].json()["register_id"]})


async def test_idempotency_keys_belong_to_the_submitter_who_used_them(service_process, infra, isolation):
    """Issue 12 item 6: referrer B reusing A's key gets B's own referral processed, never A's ids."""
    mongo = AsyncMongoClient(infra.mongo_uri)
    db = mongo[f"{isolation}_referral"]
    await db["referrals"].create_index("submission_id", unique=True)  # as a database made before keys had owners
    referral = service_process("referral")
    assert "submission_id_1" not in await db["referrals"].index_information()
    a, b = auth(Role.REFERRER, subject="a@example.org"), auth(Role.REFERRER, subject="b@example.org")
    async with (
        TopicReader(infra.kafka_bootstrap, f"{isolation}.dsr.referrals") as topics,
        httpx.AsyncClient(base_url=referral.url) as http,
    ):
        answers = {
            "a": await http.post(
                "/referrals", json=referral_body(nhs_number="9434765919", submission_id="shared-1"), headers=a
            ),
            "b": await http.post(
                "/referrals", json=referral_body(nhs_number="9434765870", submission_id="shared-1"), headers=b
            ),
            "a_by_header": await http.post(
                "/referrals",
                json=referral_body(nhs_number="9434765862", submission_id=None),
                headers={**a, "Idempotency-Key": "shared-2"},
            ),
            "b_by_header": await http.post(
                "/referrals",
                json=referral_body(nhs_number="9434765854", submission_id=None),
                headers={**b, "Idempotency-Key": "shared-2"},
            ),
        }
        again = await http.post(
            "/referrals", json=referral_body(nhs_number="9434765870", submission_id="shared-1"), headers=b
        )
        bodies = {who: answer.json() for who, answer in answers.items()}
        assert all(answer.status_code == 202 and answer.json()["outcome"] == "accepted" for answer in answers.values())
        assert len({body["referral_id"] for body in bodies.values()}) == 4
        assert len({body["register_id"] for body in bodies.values()}) == 4
        assert again.json() == bodies["b"], "the same submitter's key still gives their own answer"
        accepted = await eventually(
            lambda: (
                len(topics.events(f"{isolation}.dsr.referrals", "ReferralAccepted")) == 4
                and topics.events(f"{isolation}.dsr.referrals", "ReferralAccepted")
            )
        )
    assert {e["data"]["accepted_by"] for e in accepted} == {
        identity().user_id("a@example.org"),
        identity().user_id("b@example.org"),
    }
    assert await db["people"].count_documents({}) == 4
    await mongo.close()


async def test_a_further_referral_is_kept_and_sent_to_the_dsr_team_without_the_register_id(
    referral, topics, infra, isolation
):
    """Issue 11 (a second referral is not dropped) and issue 12 item 7 (no membership
    oracle): only whoever may see the record learns its register id."""
    owner = auth(Role.REFERRER, subject="owner@example.org")
    other = auth(Role.REFERRER, subject="other@example.org")
    team = auth(Role.DSR_TEAM, subject="team@example.org")
    second = referral_body(
        nhs_number="943 476 5919",
        given_name="Morwenna",
        family_name="Tregarthen",
        rating="red",
        referrer={"name": "Kim Second", "role": "GP", "organisation": "Surgery", "email": "kim.second@example.org"},
    )
    async with httpx.AsyncClient(base_url=referral.url) as http:
        first = await http.post("/referrals", json=referral_body(nhs_number="9434765919"), headers=owner)
        register_id = first.json()["register_id"]
        unrelated = await http.post("/referrals", json=second, headers=other)
        assert unrelated.status_code == 202, unrelated.text
        assert unrelated.json() == {
            "referral_id": unrelated.json()["referral_id"],
            "outcome": "sent_to_dsr_team",
            "register_id": None,
            "reasons": [],
        }
        assert (await http.post("/referrals", json=second, headers=other)).json() == unrelated.json()
        # Whoever may see the record is told which record it went to.
        by_owner = await http.post("/referrals", json=referral_body(nhs_number="9434765919"), headers=owner)
        by_team = await http.post("/referrals", json=referral_body(nhs_number="9434765919"), headers=team)
        assert [(a.json()["outcome"], a.json()["register_id"]) for a in (by_owner, by_team)] == [
            ("sent_to_dsr_team", register_id),
            ("sent_to_dsr_team", register_id),
        ]

        # GET /referrals/{id}: the referrer reads their own referral, not the register id; the team reads it all.
        path = f"/referrals/{unrelated.json()['referral_id']}"
        own = (await http.get(path, headers=other)).json()
        assert own["outcome"] == "sent_to_dsr_team" and "register_id" not in own
        assert own["submission"]["person"]["given_name"] == "Morwenna"
        assert (await http.get(path, headers=team)).json()["register_id"] == register_id
        assert (await http.get(path, headers=owner)).status_code == 404
        assert register_id not in (await http.get(path, headers=other)).text

    topic = f"{isolation}.dsr.referrals"
    further = await eventually(
        lambda: (
            len(topics.events(topic, "FurtherReferralReceived")) == 3
            and topics.events(topic, "FurtherReferralReceived")
        )
    )
    assert [(e["data"]["submitted_by"], e["data"]["proposed_rating"]) for e in further] == [
        (identity().user_id(who), rating)
        for who, rating in (("other@example.org", "red"), ("owner@example.org", "amber"), ("team@example.org", "amber"))
    ]
    assert all(e["data"]["register_id"] == register_id for e in further)
    assert further[0]["data"]["referral_id"] == unrelated.json()["referral_id"]
    assert further[0]["data"]["referrer_email"] == "kim.second@example.org"
    assert len(topics.events(topic, "ReferralAccepted")) == 1, "still one person, entered once"
    raw = b"".join(r.value for r in topics.on(topic))
    for personal in (b"Morwenna", b"Tregarthen", b"9434765919", b"1990-04-12", b"DE1 1AA"):
        assert personal not in raw
    mongo = AsyncMongoClient(infra.mongo_uri)
    db = mongo[f"{isolation}_referral"]
    person = await db["people"].find_one({"_id": register_id})
    assert [f["referral_id"] for f in person["further_referrals"]] == [
        unrelated.json()["referral_id"],
        by_owner.json()["referral_id"],
        by_team.json()["referral_id"],
    ]
    kept = await db["referrals"].find_one({"_id": unrelated.json()["referral_id"]})
    assert kept["register_id"] == register_id and kept["submission"]["proposed_rating"] == "red"
    await mongo.close()


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
        created = await http.post(
            "/referrals", json=referral_body(), headers=auth(Role.REFERRER, subject="owner@example.org")
        )
        path = f"/referrals/{created.json()['referral_id']}"
        assert (await http.get(path)).status_code == 401
        assert (await http.get(path, headers={"Authorization": "Bearer nonsense"})).status_code == 401
        assert (await http.get(path, headers=auth(Role.OPS))).status_code == 403
        assert (
            await http.get(path, headers=auth(Role.REFERRER, subject="someone-else@example.org"))
        ).status_code == 404
        own = await http.get(path, headers=auth(Role.REFERRER, subject="owner@example.org"))
        assert own.status_code == 200 and own.json()["submission"]["person"]["given_name"] == "Alexandra"
        assert (await http.get(path, headers=auth(Role.DSR_TEAM))).status_code == 200
        assert (await http.post("/referrals", json=referral_body(), headers=auth(Role.OPS))).status_code == 403
    mongo = AsyncMongoClient(infra.mongo_uri)
    actions = [d["action"] async for d in mongo[f"{isolation}_referral"]["audit"].find({})]
    # 401 and 403 are refused before the record is touched; the other referrer is denied.
    assert actions.count("referral.read") == 3
    await mongo.close()


DISCHARGED_AT = "2026-03-02T10:15:00+00:00"


def discharged(nhs_number: str, area: str = "derbyshire") -> bytes:
    data = {
        "nhs_number": nhs_number,
        "discharged_at": DISCHARGED_AT,
        "hospital_ods_code": "RXM01",
        "destination": "home",
    }
    return enveloped("Discharged", data, area=load_profile(area).code)


@pytest.mark.parametrize("area", ["derbyshire", "staffordshire"])
async def test_r_elig_4_a_discharged_person_not_yet_known_is_referred_automatically_as_amber(
    service_process, infra, isolation, area
):
    process = service_process("referral", DSR_AREA_PROFILE=area)
    async with httpx.AsyncClient(base_url=process.url) as http:
        postcode = {"derbyshire": "DE1 1AA", "staffordshire": "ST4 6QG"}[area]
        known = await http.post(
            "/referrals", json=referral_body(nhs_number="9434765919", postcode=postcode), headers=auth(Role.REFERRER)
        )
        assert known.status_code == 202, known.text
    async with TopicReader(
        infra.kafka_bootstrap, f"{isolation}.dsr.referrals", f"{isolation}.dsr.hospital.discharges.dlq"
    ) as reader:
        producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        topic = f"{isolation}.dsr.hospital.discharges"
        for nhs_number in ("9434765870", "9434765870", "9434765919", "9434765871"):  # unknown twice, known, invalid
            await producer.send_and_wait(topic, discharged(nhs_number, area), key=nhs_number.encode())
        await producer.stop()
        await eventually(lambda: reader.on(f"{topic}.dlq"))
        accepted = await eventually(lambda: len(reader.events(f"{isolation}.dsr.referrals", "ReferralAccepted")) >= 2)
        events = [e["data"] for e in reader.events(f"{isolation}.dsr.referrals", "ReferralAccepted")]
    assert len(events) == 2, (
        "one for the known person's referral, one automatic: no duplicate, nothing for the known one"
    )
    automatic = [e for e in events if e["accepted_by"] == "system:discharge"]
    assert len(automatic) == 1 and automatic[0]["initial_rating"] == "amber" and automatic[0]["cohort"] == "unknown"
    assert "R-ELIG-4" in automatic[0]["rating_rationale"]
    # R-OB-5 counts from the discharge: it travels with the automatic referral (no NHS number).
    assert automatic[0]["discharge"] == {
        "hospital_ods_code": "RXM01",
        "discharged_at": DISCHARGED_AT.replace("+00:00", "Z"),
        "destination": "home",
    }
    assert "9434765870" not in json.dumps(automatic[0])
    assert [e["discharge"] for e in events if e["accepted_by"] != "system:discharge"] == [None]
    assert accepted
