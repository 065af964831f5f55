"""Bad input loses nothing and stops nothing: every unprocessable message goes
to `<topic>.dlq` of the topic it came from, with its reason, and the next
message is handled. One consumer reads several topics, and each topic's
messages reach only that topic's handlers. The same body runs on FastStream's
in-memory broker and on the real Kafka."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from faststream.kafka import KafkaBroker, KafkaMessage, TestKafkaBroker

from dsr_shared.contract.envelope import new_envelope
from dsr_shared.contract.events import RatingChanged
from dsr_shared.contract.topics import Topic
from dsr_shared.platform.consuming import subscribe
from dsr_shared.platform.kafka_gauges import ConsumerProgress, measure
from dsr_shared.platform.messaging import ensure_topics
from dsr_shared.platform.metrics import REGISTRY
from dsr_shared.platform.settings import ServiceSettings
from dsr_testing.support import NHS_NUMBERS, enveloped, eventually


def rating_changed(register_id: str, schema_version: int = 1, **data_overrides) -> bytes:
    data = {
        "register_id": register_id,
        "from_rating": None,
        "to_rating": "amber",
        "rationale": "r",
        "changed_by": "x",
        "cause": "referral",
        "cohort": "adult",
        **data_overrides,
    }
    return enveloped("RatingChanged", data, schema_version)


@pytest.fixture(params=["in_memory", pytest.param("real", marks=pytest.mark.infra)])
async def harness(request, isolation):
    settings_kwargs = {"service_name": "probe", "topic_prefix": f"{isolation}."}
    if request.param == "real":
        infra = request.getfixturevalue("infra")
        settings = ServiceSettings(kafka_bootstrap=infra.kafka_bootstrap, **settings_kwargs)
        await ensure_topics(settings, [Topic.REFERRALS, Topic.RATINGS, Topic.ADMISSIONS])
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

    async def on_admitted(envelope, event) -> None:
        handled.append(f"admitted {event.nhs_number}")

    # dsr.ratings second: a message is dead-lettered to its own topic's DLQ, not the first one's.
    subscribe(
        broker,
        settings,
        {
            Topic.REFERRALS: {"ReferralAccepted": on_referral_accepted},
            Topic.RATINGS: {"RatingChanged": on_rating_changed},
            Topic.ADMISSIONS: {"Admitted": on_admitted},
        },
    )

    @broker.subscriber(
        f"{settings.topic(Topic.REFERRALS)}.dlq",
        f"{settings.topic(Topic.RATINGS)}.dlq",
        f"{settings.topic(Topic.ADMISSIONS)}.dlq",
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


def admitted(nhs_number: str, *, area: str = "QJ2", event_type: str = "Admitted") -> bytes:
    data = {
        "nhs_number": nhs_number,
        "admitted_at": "2027-01-04T10:00:00+00:00",
        "hospital_ods_code": "RXM",
        "bed_type": "mental_health",
        "legal_basis": "section_2",
    }
    envelope = new_envelope(
        event_type=event_type, schema_version=1, occurred_at=datetime.now(timezone.utc), area=area, data=data
    )
    return envelope.model_dump_json().encode()


def consumed(topic: str, event_type: str, outcome: str) -> float:
    labels = {"topic": topic, "event_type": event_type, "outcome": outcome}
    return REGISTRY.get_sample_value("dsr_events_consumed_total", labels) or 0


async def test_hospital_topics_take_only_this_areas_events_of_their_types_keyed_by_nhs_number(harness):
    """Item 8: what another system publishes is checked strictly; an internal
    topic's unknown type is counted and logged, and skipped."""
    broker, settings, handled, dead = harness
    topic, internal = settings.topic(Topic.ADMISSIONS), settings.topic(Topic.RATINGS)
    nhs_number, other = NHS_NUMBERS[0], NHS_NUMBERS[1]
    bad = {
        admitted(nhs_number, event_type="Admited"): (nhs_number, "unknown_event_type"),
        admitted(nhs_number, event_type="RatingChanged"): (nhs_number, "unknown_event_type"),  # another topic's type
        admitted(nhs_number, event_type="DischargeCancelled"): (nhs_number, "unknown_event_type"),  # the discharges'
        admitted(nhs_number, area="ZZZ"): (nhs_number, "wrong_area"),
        admitted(nhs_number): (other, "wrong_key"),
        admitted(other): (None, "wrong_key"),
    }
    unknown_before = consumed(internal, "unknown", "unknown")
    transfers_before = consumed(topic, "Transferred", "skipped")
    for body, (key, _) in bad.items():
        await broker.publish(body, topic, key=key.encode() if key else None)
    # A type of this topic that this consumer does not handle: skipped, not dead-lettered.
    await broker.publish(admitted(nhs_number, event_type="Transferred"), topic, key=nhs_number.encode())
    await broker.publish(
        rating_changed("QJ2-NEW", schema_version=1).replace(b'"RatingChanged"', b'"RatingChangd"'),
        internal,
        key=b"QJ2-NEW",
    )
    await broker.publish(admitted(nhs_number), topic, key=nhs_number.encode())

    async def settled():
        return (
            handled == [f"admitted {nhs_number}"]
            and len(dead) == len(bad)
            and consumed(internal, "unknown", "unknown") == unknown_before + 1
            and consumed(topic, "Transferred", "skipped") == transfers_before + 1
        )

    await eventually(settled, timeout=60)
    by_body = {body: headers for body, headers, _ in dead}
    for body, (_, reason) in bad.items():
        assert by_body[body]["dlq-reason"] == reason
        assert nhs_number not in by_body[body]["dlq-error"] and other not in by_body[body]["dlq-error"]
    assert all(dlq == f"{topic}.dlq" for _, _, dlq in dead)


def test_a_partition_is_stalled_when_it_has_lag_and_its_offset_stays(monkeypatch):
    from aiokafka import TopicPartition

    now = [0.0]
    progress = ConsumerProgress(stall_after=60, clock=lambda: now[0])
    stuck, moving, idle = TopicPartition("t", 0), TopicPartition("t", 1), TopicPartition("t", 2)
    progress.observe({stuck: 5, moving: 10, idle: 7}, {stuck: 9, moving: 20, idle: 7})
    now[0] = 59
    progress.observe({stuck: 5, moving: 15, idle: 7}, {stuck: 9, moving: 20, idle: 7})
    assert progress.stalled() == []
    now[0] = 120
    progress.observe({stuck: 5, moving: 18, idle: 7}, {stuck: 9, moving: 20, idle: 8})
    (stall,) = progress.stalled()
    assert (stall.topic, stall.partition, stall.committed, stall.end, stall.seconds) == ("t", 0, 5, 9, 120)
    now[0] = 181  # the idle partition waits from when its message was first seen, at 120
    assert {s.partition: s.seconds for s in progress.stalled()}[2] == 61
    now[0] = 182  # both moved on
    progress.observe({stuck: 6, moving: 20, idle: 8}, {stuck: 9, moving: 20, idle: 8})
    assert progress.stalled() == []


async def test_a_consumer_that_does_not_move_on_is_reported_by_the_gauges(infra, isolation):
    """On the real broker: a handler whose fault lasts keeps its message unacknowledged."""
    settings = ServiceSettings(
        kafka_bootstrap=infra.kafka_bootstrap, service_name="stuck", topic_prefix=f"{isolation}."
    )
    await ensure_topics(settings, [Topic.RATINGS])
    broker = KafkaBroker(settings.kafka_bootstrap, acks="all", enable_idempotence=True)
    tries: list[int] = []

    async def database_away(envelope, event) -> None:
        tries.append(1)
        raise ConnectionError("the database is away")

    dispatcher = subscribe(broker, settings, {Topic.RATINGS: {"RatingChanged": database_away}})
    now = [0.0]
    progress = ConsumerProgress(stall_after=60, clock=lambda: now[0])
    topic = settings.topic(Topic.RATINGS)
    async with broker:
        await broker.start()
        await broker.publish(rating_changed("QJ2-STUCK"), topic, key=b"QJ2-STUCK")
        await eventually(lambda: tries, timeout=60)
        await measure(settings, dispatcher.topics, progress)
        assert progress.stalled() == []
        now[0] = 61
        await measure(settings, dispatcher.topics, progress)
        (stall,) = progress.stalled()
        assert (stall.topic, stall.committed, stall.end) == (topic, 0, 1)
        assert REGISTRY.get_sample_value("dsr_consumer_stalled_partitions", {"topic": topic}) == 1
        assert REGISTRY.get_sample_value("dsr_consumer_lag", {"topic": topic}) == 1
