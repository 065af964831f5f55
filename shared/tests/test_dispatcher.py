"""Bad input loses nothing and stops nothing: every unprocessable message goes
to `<topic>.dlq` of the topic it came from, with its reason, and the next
message is handled. One consumer reads several topics, and each topic's
messages reach only that topic's handlers. The same body runs on FastStream's
in-memory broker and on the real Kafka."""

from __future__ import annotations

import json

import pytest
from faststream.kafka import KafkaBroker, KafkaMessage, TestKafkaBroker

from dsr_shared.events import RatingChanged
from dsr_shared.messaging import ensure_topics, subscribe
from dsr_shared.metrics import REGISTRY
from dsr_shared.settings import ServiceSettings
from dsr_shared.topics import Topic
from support import enveloped, eventually


def rating_changed(register_id: str, schema_version: int = 1, **data_overrides) -> bytes:
    data = {
        "register_id": register_id, "from_rating": None, "to_rating": "amber", "rationale": "r",
        "changed_by": "x", "cause": "referral", "cohort": "adult", **data_overrides,
    }
    return enveloped("RatingChanged", data, schema_version)


@pytest.fixture(params=["in_memory", pytest.param("real", marks=pytest.mark.infra)])
async def harness(request, isolation):
    settings_kwargs = {"service_name": "probe", "topic_prefix": f"{isolation}."}
    if request.param == "real":
        infra = request.getfixturevalue("infra")
        settings = ServiceSettings(kafka_bootstrap=infra.kafka_bootstrap, **settings_kwargs)
        await ensure_topics(settings, [Topic.REFERRALS, Topic.RATINGS])
    else:
        settings = ServiceSettings(**settings_kwargs)
    broker = KafkaBroker(settings.kafka_bootstrap, acks="all", enable_idempotence=True)
    handled: list[str] = []
    dead: list[tuple[bytes, dict, str]] = []

    async def on_rating_changed(envelope, event: RatingChanged):
        if event.rationale == "explode":
            raise RuntimeError("a bug in the handler")
        handled.append(event.register_id)

    async def on_referral_accepted(envelope, event) -> None:
        handled.append(f"referral {event.register_id}")

    # dsr.ratings second: a message is dead-lettered to its own topic's DLQ, not the first one's.
    subscribe(
        broker,
        settings,
        {Topic.REFERRALS: {"ReferralAccepted": on_referral_accepted}, Topic.RATINGS: {"RatingChanged": on_rating_changed}},
    )

    @broker.subscriber(
        f"{settings.topic(Topic.REFERRALS)}.dlq",
        f"{settings.topic(Topic.RATINGS)}.dlq",
        group_id=f"{isolation}-dlq-reader",
        auto_offset_reset="earliest",
        decoder=raw_body,
    )
    async def read_dlq(body: bytes, message: KafkaMessage) -> None:
        dead.append((body, dict(message.headers), message.raw_message.topic))

    if request.param == "real":
        async with broker:
            await broker.start()
            yield broker, settings, handled, dead
    else:
        async with TestKafkaBroker(broker) as test_broker:
            yield test_broker, settings, handled, dead


async def raw_body(message) -> bytes:
    return message.body


async def test_unprocessable_messages_go_to_the_dlq_and_the_consumer_goes_on(harness):
    broker, settings, handled, dead = harness
    topic = settings.topic(Topic.RATINGS)
    other_topic = settings.topic(Topic.REFERRALS)
    bad = {
        b"not json at all": (topic, "invalid_envelope"),
        json.dumps({"event_type": "RatingChanged"}).encode(): (topic, "invalid_envelope"),
        rating_changed("QJ2-NEWER", schema_version=9): (topic, "invalid_event"),
        rating_changed("QJ2-PURPLE", to_rating="purple"): (topic, "invalid_event"),
        rating_changed("QJ2-BUG", rationale="explode"): (topic, "handler_failed"),
        b"not json on the other topic": (other_topic, "invalid_envelope"),
    }
    for body, (source, _) in bad.items():
        await broker.publish(body, source, key=b"same-person")
    # Another topic's event type on this topic: not this topic's handler's business.
    await broker.publish(rating_changed("QJ2-ELSEWHERE"), other_topic, key=b"same-person")
    await broker.publish(rating_changed("QJ2-GOOD"), topic, key=b"same-person")

    def skipped_on_other_topic() -> float:
        labels = {"topic": other_topic, "event_type": "RatingChanged", "outcome": "skipped"}
        return REGISTRY.get_sample_value("dsr_events_consumed_total", labels) or 0

    async def all_settled():
        return handled == ["QJ2-GOOD"] and len(dead) == len(bad) and skipped_on_other_topic() == 1

    await eventually(all_settled, timeout=60)
    by_body = {body: (headers, dlq) for body, headers, dlq in dead}
    assert set(by_body) == set(bad), "the DLQ keeps the original bytes"
    for body, (source, reason) in bad.items():
        headers, dlq = by_body[body]
        assert dlq == f"{source}.dlq", "the DLQ of the topic the message came from"
        assert headers["dlq-reason"] == reason
        assert headers["dlq-source-topic"] == source
        assert headers["dlq-error"]
        assert {"dlq-source-partition", "dlq-source-offset", "dlq-attempts"} <= set(headers)
