"""Issue 3: generated invalid referrals through both doors. Over HTTP every one
gets a 422 with reasons, never a 5xx; on the topic every one ends in the DLQ
with a reason or as ReferralRejected with its reasons; nothing gets stuck, and
a valid referral sent after them is accepted."""

from __future__ import annotations

import copy
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nhs_number import is_valid

from dsr_shared.platform.auth import Role
from dsr_testing.support import TopicReader, auth, enveloped, eventually, referral_body

pytestmark = [pytest.mark.stack, pytest.mark.timeout(900)]

EXAMPLES = 1000
REQUIRED = ["referral_date", "person", "diagnosis", "referrer", "rating_rationale"]
PERSON_REQUIRED = ["given_name", "family_name", "date_of_birth", "nhs_number", "address"]
junk = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
)


def _drop(body, key):
    body.pop(key, None)


def _drop_person(body, key):
    if isinstance(body.get("person"), dict):
        body["person"].pop(key, None)


def _set(path):
    def apply(body, value):
        target = body
        for part in path[:-1]:
            if not isinstance(target.get(part), dict):
                target[part] = {}  # an earlier mutation removed or broke it
            target = target[part]
        target[path[-1]] = value

    return apply


invalid_nhs = st.from_regex(r"\A\d{10}\Z").filter(lambda n: not is_valid(n)) | st.text(max_size=12)
mutations = st.one_of(
    st.tuples(st.just(_drop), st.sampled_from(REQUIRED)),
    st.tuples(st.just(_drop_person), st.sampled_from(PERSON_REQUIRED)),
    st.tuples(st.just(_set(("person", "nhs_number"))), invalid_nhs),
    st.tuples(st.just(_set(("person", "date_of_birth"))), junk | st.just("2099-01-01")),
    st.tuples(st.just(_set(("referral_date",))), junk | st.just("2099-12-31")),
    st.tuples(st.just(_set(("diagnosis", "confirmed"))), st.just(False)),
    st.tuples(st.just(_set(("diagnosis", "condition"))), junk),
    st.tuples(
        st.just(_set(("person", "address", "postcode"))), st.sampled_from(["M1 1AE", "LS1 4AP", "EH1 1YZ"]) | junk
    ),
    st.tuples(st.just(_set(("consent",))), st.none()),
    st.tuples(st.just(_set(("proposed_rating",))), st.sampled_from(["blue", "purple"]) | junk),
    st.tuples(st.just(_set(("referrer", "email"))), junk),
)


@st.composite
def invalid_referrals(draw):
    body = copy.deepcopy(BASE)
    for mutate, value in draw(st.lists(mutations, min_size=1, max_size=4)):
        mutate(body, value)
    # Without consent a best-interest decision must be absent too, so the referral stays invalid.
    body.pop("best_interest_decision", None)
    return body


BASE = referral_body(submission_id=None)


@pytest.fixture
def referral(service_process):
    return service_process("referral")


async def test_a_thousand_invalid_referrals_through_each_door(referral, infra, isolation):
    sent: list[dict] = []
    statuses: dict[int, int] = {}
    published_over_http = 0  # rule rejections (schema-valid) publish ReferralRejected too

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(invalid_referrals())
    def post_over_http(body):
        answer = httpx.post(
            f"{referral.url}/referrals",
            json={**body, "submission_id": str(uuid.uuid4())},
            headers=auth(Role.REFERRER),
            timeout=30,
        )
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
        assert answer.status_code == 422, answer.text
        reasons = answer.json()["reasons"]
        assert reasons and all(r["code"] and r["message"] for r in reasons)
        if not any(r["code"].startswith("schema.") for r in reasons):
            nonlocal published_over_http
            published_over_http += 1
        sent.append(body)

    post_over_http()
    assert len(sent) >= EXAMPLES and set(statuses) == {422}

    topic = f"{isolation}.dsr.referrals.submitted"
    async with TopicReader(infra.kafka_bootstrap, f"{isolation}.dsr.referrals", f"{topic}.dlq") as reader:
        producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        for body in sent:
            await producer.send(topic, enveloped("ReferralSubmitted", body), key=b"intake")
        valid = referral_body(nhs_number="9434765870")
        await producer.send_and_wait(topic, enveloped("ReferralSubmitted", valid), key=b"intake")
        await producer.stop()

        async def all_answered():
            rejected = reader.events(f"{isolation}.dsr.referrals", "ReferralRejected")
            dead = reader.on(f"{topic}.dlq")
            accepted = reader.events(f"{isolation}.dsr.referrals", "ReferralAccepted")
            return len(rejected) - published_over_http + len(dead) >= len(sent) and accepted

        await eventually(all_answered, timeout=300, interval=1)
        for record in reader.on(f"{topic}.dlq"):
            headers = dict(record.headers)
            assert headers["dlq-reason"] in (b"invalid_envelope", b"invalid_event") and headers["dlq-error"]
        for event in reader.events(f"{isolation}.dsr.referrals", "ReferralRejected"):
            assert event["data"]["reasons"]
