"""Bad input loses nothing and stops nothing: every unprocessable message goes
to `<topic>.dlq` with its reason, and the next message is handled. The same
body runs on FastStream's in-memory broker and on the real Kafka."""

from __future__ import annotations

import json

import pytest
from faststream.kafka import KafkaBroker, KafkaMessage, TestKafkaBroker

from dsr_shared.events import RatingChanged
from dsr_shared.messaging import ensure_topics, subscribe
from dsr_shared.settings import ServiceSettings
from dsr_shared.topics import Topic
from support import enveloped, eventually


def rating_changed(register_id: str, schema_version: int = 1, **data_overrides) -> bytes:
    data = {
        "register_id": register_id, "from_rating": None, "to_rating": "amber", "rationale": "r",
        "changed_by": "x", "cause": "referral", "cohort": "adult", **data_overrides,
    }
    return enveloped("RatingChanged", data, schema_version)


@pytest.fixture(params=["in_memory", "real"])
async def harness(request, isolation):
    settings_kwargs = {"service_name": "probe", "topic_prefix": f"{isolation}."}
    if request.param == "real":
        infra = request.getfixturevalue("infra")
        settings = ServiceSettings(kafka_bootstrap=infra.kafka_bootstrap, **settings_kwargs)
        await ensure_topics(settings, [Topic.RATINGS])
    else:
        settings = ServiceSettings(**settings_kwargs)
    broker = KafkaBroker(settings.kafka_bootstrap, acks="all", enable_idempotence=True)
    handled: list[str] = []
    dead: list[tuple[bytes, dict]] = []

    async def on_rating_changed(envelope, event: RatingChanged):
        if event.rationale == "explode":
            raise RuntimeError("a bug in the handler")
        handled.append(event.register_id)

    subscribe(broker, settings, Topic.RATINGS, {"RatingChanged": on_rating_changed})

    @broker.subscriber(
        f"{settings.topic(Topic.RATINGS)}.dlq", group_id=f"{isolation}-dlq-reader", auto_offset_reset="earliest", decoder=raw_body
    )
    async def read_dlq(body: bytes, message: KafkaMessage) -> None:
        dead.append((body, dict(message.headers)))

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
    bad = {
        b"not json at all": "invalid_envelope",
        json.dumps({"event_type": "RatingChanged"}).encode(): "invalid_envelope",
        rating_changed("QJ2-NEWER", schema_version=9): "invalid_event",
        rating_changed("QJ2-PURPLE", to_rating="purple"): "invalid_event",
        rating_changed("QJ2-BUG", rationale="explode"): "handler_failed",
    }
    for body in bad:
        await broker.publish(body, topic, key=b"same-person")
    await broker.publish(rating_changed("QJ2-GOOD"), topic, key=b"same-person")

    async def all_settled():
        return handled == ["QJ2-GOOD"] and len(dead) == len(bad)

    await eventually(all_settled, timeout=60)
    by_body = {body: headers for body, headers in dead}
    assert set(by_body) == set(bad), "the DLQ keeps the original bytes"
    for body, reason in bad.items():
        headers = by_body[body]
        assert headers["dlq-reason"] == reason
        assert headers["dlq-source-topic"] == topic
        assert headers["dlq-error"]
        assert {"dlq-source-partition", "dlq-source-offset", "dlq-attempts"} <= set(headers)
