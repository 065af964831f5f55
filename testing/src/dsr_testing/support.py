"""Helpers for tests: waiting on conditions, tokens, sample referrals."""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from typing import Any, TypeVar

from dsr_shared.platform.auth import Role
from dsr_testing.tokens import BearerHeaders, IdentityClient

T = TypeVar("T")

# Set by the session's `identity` fixture (root conftest.py).
_identity: IdentityClient | None = None


def use_identity(client: IdentityClient | None) -> None:
    global _identity
    _identity = client


def identity() -> IdentityClient:
    if _identity is None:
        raise RuntimeError("no identity service: use the `identity` (or `service_env`) fixture in this test")
    return _identity


async def eventually(probe: Callable[[], Awaitable[T] | T], timeout: float = 60.0, interval: float = 0.2) -> T:
    """Poll `probe` (plain or async) until it returns something truthy; fail with its last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")


def enveloped(event_type: str, data: Any, schema_version: int = 1, *, area: str = "QJ2") -> bytes:
    """An event as another system would publish it: JSON in the contract's
    envelope, for an area (`area`: its code; Derbyshire's by default)."""
    from datetime import datetime, timezone

    from dsr_shared.contract.envelope import new_envelope

    envelope = new_envelope(
        event_type=event_type,
        schema_version=schema_version,
        occurred_at=datetime.now(timezone.utc),
        area=area,
        data=data,
    )
    return envelope.model_dump_json().encode()


def token(*roles: Role, subject: str = "tester@example.org") -> str:
    """A register access token for `subject` holding exactly `roles`, obtained
    through the OpenID provider and the identity service (see tokens.py)."""
    return identity().token(tuple(r.value for r in roles), subject)


def auth(*roles: Role, subject: str = "tester@example.org") -> Mapping[str, str]:
    """The Authorization header of token(); read lazily, so it may be built at import."""
    return BearerHeaders(identity, tuple(r.value for r in roles), subject)


# Valid modulus-11 NHS numbers, generated for tests (not real people).
NHS_NUMBERS = ["9434765919", "9434765870", "9434765862", "9434765854", "9434765846"]


def referral_body(
    *,
    given_name: str = "Alexandra",
    family_name: str = "Testperson",
    nhs_number: str = "9434765919",
    date_of_birth: str = "1990-04-12",
    postcode: str = "DE1 1AA",
    rating: str = "amber",
    **overrides: Any,
) -> dict[str, Any]:
    body = {
        "submission_id": str(uuid.uuid4()),
        "referral_date": date.today().isoformat(),
        "person": {
            "given_name": given_name,
            "family_name": family_name,
            "date_of_birth": date_of_birth,
            "nhs_number": nhs_number,
            "address": {"line1": "1 Example Street", "town": "Derby", "postcode": postcode},
        },
        "diagnosis": {"condition": "autism", "confirmed": True, "evidence_reference": "DOC-123"},
        "consent": {"given_by": "the person", "given_on": "2026-01-05"},
        "referrer": {
            "name": "Sam Referrer",
            "role": "Community nurse",
            "organisation": "DHCFT",
            "email": "sam.referrer@example.org",
        },
        "rating_rationale": "Wellbeing deteriorating after a change of placement.",
        "proposed_rating": rating,
    }
    body.update(overrides)
    return body


def referral_accepted(
    register_id: str,
    nhs_number_hash: str,
    *,
    rating: str = "amber",
    referrer: str = "case.holder@example.org",
    **overrides: Any,
) -> dict[str, Any]:
    """The data of a ReferralAccepted as the referral service publishes it:
    `register_id` is on the register, rated `rating`, referred by `referrer`."""
    return {
        "referral_id": str(uuid.uuid4()),
        "register_id": register_id,
        "initial_rating": rating,
        "rating_rationale": "Wellbeing deteriorating.",
        "cohort": "adult",
        "age_band": "adult",
        "nhs_number_hash": nhs_number_hash,
        "referrer_email": referrer,
        "accepted_by": referrer,
        **overrides,
    }


def valid_nhs_number(seed: int) -> str:
    """A valid NHS number from a seed (modulus 11), for many distinct people:
    distinct seeds below 10^8 give distinct numbers, all starting with 9 (past
    seed 12,627 the old formula wrapped to a leading 0, which no NHS number has)."""
    while True:
        base = f"{900000000 + seed * 7919 % 100000000:09d}"
        total = sum(int(d) * w for d, w in zip(base, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        if check == 11:
            check = 0
        if check != 10:
            return base + str(check)
        seed += 1


class TopicReader:
    """Reads every message of some topics from the beginning, in the background."""

    def __init__(self, bootstrap: str, *topics: str) -> None:
        from aiokafka import AIOKafkaConsumer

        self.consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=f"reader-{uuid.uuid4().hex[:8]}",
            metadata_max_age_ms=1000,
            # Tests block the event loop now and then (starting a service, signing
            # someone in): a member evicted for missed heartbeats would rejoin and
            # read everything again from the start.
            session_timeout_ms=120_000,
            heartbeat_interval_ms=3_000,
        )
        self.records: list = []
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> "TopicReader":
        await self.consumer.start()
        self._task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        # Nothing is committed: after a rebalance (a blocked event loop misses
        # heartbeats) the reader starts over; what it has already read is dropped.
        seen: set[tuple[str, int, int]] = set()
        async for record in self.consumer:
            if (record.topic, record.partition, record.offset) not in seen:
                seen.add((record.topic, record.partition, record.offset))
                self.records.append(record)

    async def __aexit__(self, *exc) -> None:
        if self._task:
            self._task.cancel()
        await self.consumer.stop()

    def distinct(self) -> int:
        """How many messages were read, counting once one read twice (the
        reader starts again from the beginning when it rejoins its group)."""
        return len({(r.topic, r.partition, r.offset) for r in self.records})

    def on(self, topic: str) -> list:
        return [r for r in self.records if r.topic == topic]

    def events(self, topic: str, event_type: str) -> list[dict]:
        import json

        found = []
        for record in self.on(topic):
            try:
                body = json.loads(record.value)
            except ValueError:
                continue
            if isinstance(body, dict) and body.get("event_type") == event_type:
                found.append(body)
        return found


class EventFeed:
    """Publishes events in the contract's envelope onto an instance's topics,
    as another service or NHS system would: acks=all, idempotent, keyed."""

    def __init__(self, bootstrap: str, prefix: str, area: str) -> None:
        from aiokafka import AIOKafkaProducer

        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
        self.prefix, self.area = prefix, area

    async def start(self) -> "EventFeed":
        await self.producer.start()
        return self

    async def stop(self) -> None:
        await self.producer.stop()

    async def send(self, topic: str, envelope: Any, key: str) -> Any:
        await self.producer.send_and_wait(
            f"{self.prefix}{topic}", envelope.model_dump_json().encode(), key=key.encode()
        )
        return envelope

    async def publish(
        self, topic: str, event_type: str, data: dict, *, key: str, at: Any = None, event_id: uuid.UUID | None = None
    ) -> Any:
        """Returns the envelope sent; `at` (occurred_at) defaults to now."""
        from datetime import datetime, timezone

        from dsr_shared.contract.envelope import new_envelope

        envelope = new_envelope(
            event_type=event_type,
            schema_version=1,
            occurred_at=at or datetime.now(timezone.utc),
            area=self.area,
            data=data,
            event_id=event_id,
        )
        return await self.send(topic, envelope, key)
