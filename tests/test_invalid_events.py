"""Issue 16, item 5: invalid events on every input topic. For each topic some
service consumes (taken from the services' own subscriptions, so a new input
topic is fuzzed without editing this module), hypothesis generates invalid
messages: undecodable bytes, JSON of the wrong shape, an envelope with an
unknown event type, a known type with a missing or wrongly typed field, an
over-long string, and on the topics other systems publish to a wrong key and a
wrong area. They go onto one partition, then a valid event; then:

- every consumer group that reads the topic has committed past the valid event,
  whose effect is seen (the partition moved on);
- each invalid message is in the topic's `.dlq` once per consumer group the
  contract says refuses it, whole, with the reason in `dlq-reason`
  (messaging.Dispatcher): every group for an invalid envelope, a wrong area or
  (other systems' topics) an unknown type; the groups that handle the type for
  invalid fields or a wrong key. An unknown type on an internal topic is
  skipped, not dead-lettered (docs/RUNBOOK.md: a newer producer's type).

Generation is derandomized: CI sees the same messages every run."""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from dsr_shared.contract.envelope import Envelope, new_envelope
from dsr_shared.contract.events import EVENT_TYPES, decode_event
from dsr_shared.contract.topics import FROM_OTHER_SYSTEMS, Topic, dlq_name
from dsr_shared.platform.auth import Role
from dsr_shared.platform.consuming import consumed_routes
from dsr_shared.rules.pseudonym import nhs_number_hash
from dsr_testing.infra import NHS_HASH_KEY
from dsr_testing.stack import WITH_GATEWAY, whole_stack
from dsr_testing.support import TopicReader, auth, eventually, referral_accepted, referral_body, valid_nhs_number

pytestmark = pytest.mark.stack

AREA = "QJ2"  # the stack's profile, derbyshire
EXAMPLES_PER_KIND = 2
PARTITION = 0


@cache
def routes() -> dict[Topic, dict[str, frozenset[str]]]:
    """Each input topic -> the services that consume it -> the event types each handles there."""
    found: dict[Topic, dict[str, frozenset[str]]] = {}
    for service in WITH_GATEWAY:
        app = importlib.import_module(f"dsr_{service}.app").build_app()
        prefix = app.state.settings.topic_prefix
        for name, handled in consumed_routes(app.state.runtime.broker).items():
            found.setdefault(Topic(name.removeprefix(prefix)), {})[service] = handled
    return dict(sorted(found.items(), key=lambda item: list(Topic).index(item[0])))


# --- What is sent ----------------------------------------------------------


@dataclass(frozen=True)
class Valid:
    event_type: str
    data: dict[str, Any]
    key: str


@dataclass(frozen=True)
class Message:
    kind: str
    value: bytes
    key: bytes | None
    event_type: str | None = None  # a known type the message claims to be


def envelope(event_type: str, data: Any, area: str = AREA) -> Envelope:
    return new_envelope(
        event_type=event_type, schema_version=1, occurred_at=datetime.now(timezone.utc), area=area, data=data
    )


def encoded(value: Envelope | dict) -> bytes:
    return value.model_dump_json().encode() if isinstance(value, Envelope) else json.dumps(value).encode()


def decodes(value: bytes) -> bool:
    """Whether the contract's own decoder takes the message as an event."""
    try:
        decode_event(Envelope.model_validate_json(value))
    except (ValidationError, ValueError):
        return False
    return True


def is_envelope(value: bytes) -> bool:
    try:
        Envelope.model_validate_json(value)
    except ValidationError:
        return False
    return True


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def invalid_messages(topic: Topic, valid: Valid) -> dict[str, st.SearchStrategy[Message]]:
    """The kinds of invalid message for `topic`, each built around its valid event."""
    good = envelope(valid.event_type, valid.data)
    key = valid.key.encode()
    fields = sorted(valid.data)
    texts = sorted(name for name, value in valid.data.items() if isinstance(value, str))

    def with_data(change: Callable[[dict], dict]) -> Callable[[Any], Message]:
        return lambda drawn: Message("?", encoded(envelope(valid.event_type, change(drawn))), key, valid.event_type)

    broken_envelope = st.tuples(st.sampled_from(sorted(Envelope.model_fields)), JSON).map(
        lambda change: {**good.model_dump(mode="json"), change[0]: change[1]}
    )
    kinds = {
        "undecodable": st.binary(max_size=300)
        .filter(lambda b: not is_envelope(b))
        .map(lambda b: Message("undecodable", b, key)),
        "wrong_shape": (JSON | broken_envelope)
        .map(encoded)
        .filter(lambda b: not is_envelope(b))
        .map(lambda b: Message("wrong_shape", b, key)),
        "unknown_type": st.tuples(
            st.text(min_size=1, max_size=80).filter(lambda t: t not in EVENT_TYPES),
            st.dictionaries(st.text(max_size=12), JSON, max_size=4),
        ).map(lambda t: Message("unknown_type", encoded(envelope(*t)), key)),
        "invalid_field": st.one_of(
            st.sampled_from(fields).map(lambda name: {k: v for k, v in valid.data.items() if k != name}),
            st.tuples(st.sampled_from(fields), JSON).map(lambda change: {**valid.data, change[0]: change[1]}),
        ).map(with_data(lambda data: data)),
        "over_long": st.tuples(st.sampled_from(texts), st.integers(65, 12_000)).map(
            with_data(lambda change: {**valid.data, change[0]: "x" * change[1]})
        ),
    }
    if topic in FROM_OTHER_SYSTEMS:
        kinds["wrong_key"] = (
            st.binary(min_size=1, max_size=40)
            .filter(lambda k: k != key)
            .map(lambda k: Message("wrong_key", encoded(good), k, valid.event_type))
        )
        kinds["wrong_area"] = (
            st.text(max_size=20)
            .filter(lambda a: a != AREA)
            .map(lambda area: Message("wrong_area", encoded(envelope(valid.event_type, valid.data, area)), key))
        )
    # Kinds built from a valid event must still be invalid by the contract's own decoder.
    return {
        kind: strategy.map(lambda m, kind=kind: Message(kind, m.value, m.key, m.event_type)).filter(
            lambda m: m.kind in ("wrong_key", "wrong_area") or not decodes(m.value)
        )
        for kind, strategy in kinds.items()
    }


def examples(strategy: st.SearchStrategy[Message]) -> list[Message]:
    """A few examples of `strategy`, the same every run."""
    drawn: list[Message] = []

    @settings(
        max_examples=EXAMPLES_PER_KIND,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(message: Message) -> None:
        drawn.append(message)

    collect()
    return drawn


def refusals(topic: Topic, message: Message) -> dict[str, str]:
    """The services whose consumer must dead-letter `message`, with the reason each gives."""
    consumers = routes()[topic]
    handlers = [s for s, handled in consumers.items() if message.event_type in handled]
    everyone = list(consumers)
    strict = topic in FROM_OTHER_SYSTEMS
    refusing = {
        "undecodable": ("invalid_envelope", everyone),
        "wrong_shape": ("invalid_envelope", everyone),
        "unknown_type": ("unknown_event_type", everyone if strict else []),
        "invalid_field": ("invalid_event", handlers),
        "over_long": ("invalid_event", handlers),
        "wrong_key": ("wrong_key", handlers),
        "wrong_area": ("wrong_area", everyone),
    }
    reason, services = refusing[message.kind]
    return {service: reason for service in services}


# --- The stack, its people, and what a valid event on each topic does -------


@dataclass
class World:
    stack: Any
    prefix: str
    producer: AIOKafkaProducer
    admin: AIOKafkaAdminClient
    reader: TopicReader
    http: httpx.AsyncClient
    admitted: tuple[str, str]  # register id, NHS number: on the register and in hospital
    at_home: tuple[str, str]  # on the register, not in hospital

    def topic(self, topic: Topic) -> str:
        return f"{self.prefix}{topic.value}"

    def group(self, service: str) -> str:
        return f"{self.prefix}dsr-{service}"

    async def publish(self, topic: Topic, message: Message) -> int:
        sent = await self.producer.send_and_wait(self.topic(topic), message.value, key=message.key, partition=PARTITION)
        return sent.offset

    async def register(self, register_id: str) -> dict:
        answer = await self.http.get(f"{self.stack.url('rating')}/register/{register_id}", headers=auth(Role.DSR_TEAM))
        return answer.json() if answer.status_code == 200 else {}

    async def rating(self, register_id: str) -> str | None:
        return (await self.register(register_id)).get("rating")

    async def obligations(self, register_id: str) -> list:
        answer = await self.http.get(
            f"{self.stack.url('scheduler')}/obligations",
            params={"register_id": register_id},
            headers=auth(Role.DSR_TEAM),
        )
        return answer.json()["obligations"] if answer.status_code == 200 else []

    async def committed(self, service: str, topic: Topic) -> int:
        offsets = await self.admin.list_consumer_group_offsets(self.group(service))
        found = offsets.get(TopicPartition(self.topic(topic), PARTITION))
        return found.offset if found else -1


def person(seed: int) -> tuple[str, str]:
    return f"{AREA}-FUZ{seed}-{seed:04d}-X", valid_nhs_number(8800 + 10 * seed)


def accepted(register_id: str, nhs_number: str) -> Valid:
    return Valid(
        "ReferralAccepted", referral_accepted(register_id, nhs_number_hash(NHS_HASH_KEY, nhs_number)), register_id
    )


def valid_event(world: World, topic: Topic) -> tuple[Valid, Callable[[Envelope], Any]]:
    """A valid event for `topic`, and a probe of its effect (truthy once seen)."""
    now = datetime.now(timezone.utc)
    if topic is Topic.REFERRALS_SUBMITTED:
        body = referral_body(nhs_number=valid_nhs_number(8700))
        return Valid("ReferralSubmitted", body, body["submission_id"]), lambda sent: [
            e
            for e in world.reader.events(world.topic(Topic.REFERRALS), "ReferralAccepted")
            if e["correlation_id"] == sent.correlation_id
        ]
    if topic is Topic.REFERRALS:
        register_id, nhs_number = person(3)
        return accepted(register_id, nhs_number), lambda _: world.register(register_id)
    if topic is Topic.RATINGS:
        register_id = person(4)[0]
        data = {
            "register_id": register_id,
            "from_rating": None,
            "to_rating": "red",
            "rationale": "r",
            "changed_by": "dsr.team@example.org",
            "cause": "referral",
            "cohort": "adult",
            "age_band": "adult",
        }
        return Valid("RatingChanged", data, register_id), lambda _: world.obligations(register_id)
    if topic is Topic.ADMISSIONS:
        register_id, nhs_number = world.at_home
        data = {
            "nhs_number": nhs_number,
            "admitted_at": now.isoformat(),
            "hospital_ods_code": "RXM",
            "bed_type": "mental_health",
            "legal_basis": "section_2",
        }
        return Valid("Admitted", data, nhs_number), lambda _: _equals(world.rating(register_id), "blue")
    if topic is Topic.DISCHARGES:
        register_id, nhs_number = world.admitted
        data = {
            "nhs_number": nhs_number,
            "discharged_at": now.isoformat(),
            "hospital_ods_code": "RXM",
            "destination": "home",
        }
        return Valid("Discharged", data, nhs_number), lambda _: _equals(world.rating(register_id), "amber")
    if topic is Topic.OBLIGATIONS:
        register_id = world.at_home[0]
        data = {
            "obligation_id": str(uuid.uuid4()),
            "register_id": register_id,
            "kind": "case_holder_update",
            "title": "Case-holder update",
            "rule": "R-OB-11",
            "responsible": "case_holder",
            "due_at": (now + timedelta(days=1)).isoformat(),
        }
        return Valid("ObligationDue", data, register_id), lambda _: [
            m
            for m in world.stack.smtp.messages()
            if m["X-DSR-Register-Id"] == register_id and m["X-DSR-Kind"] == "obligation_due"
        ]
    raise AssertionError(f"{topic.value} is consumed but has no valid event here: add one to valid_event()")


async def _equals(value, expected) -> bool:
    return (await value) == expected


@pytest.fixture(scope="module")
async def world(infra, identity, tmp_path_factory):
    prefix = f"t{uuid.uuid4().hex[:10]}."
    with whole_stack(infra, identity, prefix[:-1], tmp_path_factory.mktemp("invalid_events")) as stack:
        producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all", enable_idempotence=True)
        admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
        await producer.start()
        await admin.start()
        watched = [f"{prefix}{t.value}" for t in routes()]
        reader = TopicReader(infra.kafka_bootstrap, f"{prefix}{Topic.REFERRALS.value}", *map(dlq_name, watched))
        http = httpx.AsyncClient(timeout=30)
        async with reader:
            world = World(stack, prefix, producer, admin, reader, http, admitted=person(1), at_home=person(2))
            for register_id, nhs_number in (world.admitted, world.at_home):
                valid = accepted(register_id, nhs_number)
                await producer.send_and_wait(
                    world.topic(Topic.REFERRALS),
                    encoded(envelope(valid.event_type, valid.data)),
                    key=valid.key.encode(),
                )
            admission = {
                "nhs_number": world.admitted[1],
                "admitted_at": datetime.now(timezone.utc).isoformat(),
                "hospital_ods_code": "RXM",
                "bed_type": "mental_health",
                "legal_basis": "section_2",
            }
            await eventually(lambda: _equals(world.rating(world.at_home[0]), "amber"), timeout=120)
            await producer.send_and_wait(
                world.topic(Topic.ADMISSIONS), encoded(envelope("Admitted", admission)), key=world.admitted[1].encode()
            )
            await eventually(lambda: _equals(world.rating(world.admitted[0]), "blue"), timeout=60)
            yield world
        await http.aclose()
        await admin.close()
        await producer.stop()


@pytest.mark.parametrize("topic", list(routes()), ids=lambda t: t.value)
async def test_invalid_events_are_dead_lettered_with_a_reason_and_the_next_valid_one_is_processed(world, topic):
    valid, effect = valid_event(world, topic)
    messages = [m for strategy in invalid_messages(topic, valid).values() for m in examples(strategy)]
    sent = {await world.publish(topic, m): m for m in messages}
    good = envelope(valid.event_type, valid.data)
    after = await world.publish(topic, Message("valid", encoded(good), valid.key.encode()))

    await eventually(lambda: effect(good), timeout=60)
    for service in routes()[topic]:
        await eventually(lambda service=service: _past(world, service, topic, after), timeout=60)

    def letters() -> dict[tuple[int, str], tuple[str, bytes]]:
        found = {}
        for letter in world.reader.on(dlq_name(world.topic(topic))):
            headers = {k: v.decode() for k, v in letter.headers}
            assert headers["dlq-source-topic"] == world.topic(topic)
            found[int(headers["dlq-source-offset"]), headers["dlq-consumer-group"]] = (
                headers["dlq-reason"],
                letter.value,
            )
        return found

    expected = {
        (offset, world.group(service)): (reason, message.value)
        for offset, message in sent.items()
        for service, reason in refusals(topic, message).items()
    }
    await eventually(lambda: expected.keys() <= letters().keys(), timeout=30)
    wrong = {
        where: (sent[where[0]].kind, letters().get(where, ("missing", b""))[0], reason)
        for where, (reason, value) in expected.items()
        if letters().get(where) != (reason, value)
    }
    unexpected = {where: (sent[where[0]].kind, got[0]) for where, got in letters().items() if where not in expected}
    assert not wrong, f"(offset, group): (kind, reason given, reason expected): {wrong}"
    assert not unexpected, f"dead-lettered though the contract keeps them: {unexpected}"
    kinds = sorted({m.kind for m in messages})
    print(
        f"\n{topic.value}: {len(messages)} invalid ({', '.join(kinds)}) -> {len(expected)} dead letters "
        f"for {len(routes()[topic])} consumer(s); the valid event after them processed"
    )


async def _past(world: World, service: str, topic: Topic, offset: int) -> bool:
    return await world.committed(service, topic) > offset
