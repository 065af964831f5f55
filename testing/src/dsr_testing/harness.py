"""One service started for a test: its process (or processes, on one
database) on the session's Kafka and database under the test's own topic
prefix and database name, ready when its health check says so; a feed that
publishes onto its topics as other services and NHS systems do, a reader of
everything it publishes (the topics the topology says it writes), an HTTP
client, and its database. Each service's tests drive it through a subclass
that knows that service's events (the rating, scheduler and notifier
conftests)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
from pymongo import AsyncMongoClient

from dsr_shared.contract.envelope import Envelope
from dsr_shared.contract.topology import SERVICES
from dsr_shared.platform.auth import Role
from dsr_shared.rules.area import load_profile
from dsr_testing.support import EventFeed, TopicReader, auth


@dataclass
class RunningService:
    processes: list[Any]
    feed: EventFeed
    reader: TopicReader
    mongo: AsyncMongoClient
    prefix: str
    area: str
    database: str
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=30))

    @property
    def process(self) -> Any:
        return self.processes[0]

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def db(self):
        return self.mongo[self.database]

    def topic(self, name: str) -> str:
        return f"{self.prefix}{name}"

    async def publish(
        self,
        topic: str,
        event_type: str,
        data: dict,
        *,
        key: str,
        at: datetime | None = None,
        event_id: uuid.UUID | None = None,
    ) -> Envelope:
        """The envelope sent (`at`, its occurred_at, defaults to now)."""
        return await self.feed.publish(topic, event_type, data, key=key, at=at, event_id=event_id)

    def events(self, topic: str, event_type: str, register_id: str | None = None) -> list[dict]:
        """What the service published on `topic` (read from the beginning), of one type, for one person or all."""
        found = self.reader.events(self.topic(topic), event_type)
        return [e for e in found if register_id is None or e["data"]["register_id"] == register_id]

    async def now(self) -> datetime:
        answer = await self.http.get(f"{self.url}/clock", headers=auth(Role.OPS))
        return datetime.fromisoformat(answer.json()["now"])

    async def advance_clock(self, by: timedelta | None = None, *, to: datetime | None = None) -> dict:
        """Every process's simulated clock, by an interval or to a moment; the first process's answer."""
        if (by is None) == (to is None):
            raise TypeError("advance the clock by an interval or to a moment")
        body = {"by": by.total_seconds()} if by is not None else {"to": to.isoformat()}  # type: ignore[union-attr]
        answers = []
        for process in self.processes:
            answer = await self.http.post(f"{process.url}/clock/advance", json=body, headers=auth(Role.OPS))
            answer.raise_for_status()
            answers.append(answer.json())
        return answers[0]


S = TypeVar("S", bound=RunningService)


class ServiceHarness:
    """Starts services for one test (the root conftest's `service_harness`)
    and stops what it started."""

    def __init__(self, service_process, kafka_bootstrap: str, mongo_uri: str, isolation: str) -> None:
        self._service_process = service_process
        self.kafka_bootstrap, self.mongo_uri, self.isolation = kafka_bootstrap, mongo_uri, isolation
        self.started: list[RunningService] = []

    async def start(
        self, handle: type[S], service: str, *, profile: str = "derbyshire", processes: int = 1, **env: str
    ) -> S:
        """`processes` of `service` on one database, on the area profile `profile`
        (a bundled profile's name or a TOML file), driven through `handle`."""
        running = [self._service_process(service, DSR_AREA_PROFILE=profile, **env) for _ in range(processes)]
        prefix = f"{self.isolation}."
        area = load_profile(profile).code
        feed = await EventFeed(self.kafka_bootstrap, prefix, area).start()
        reader = TopicReader(self.kafka_bootstrap, *(f"{prefix}{topic}" for topic in SERVICES[service].writes))
        await reader.__aenter__()
        mongo: AsyncMongoClient = AsyncMongoClient(self.mongo_uri, tz_aware=True)
        started = handle(running, feed, reader, mongo, prefix, area, f"{self.isolation}_{service}")
        self.started.append(started)
        return started

    async def close(self) -> None:
        for service in self.started:
            await service.reader.__aexit__(None, None, None)
            await service.feed.stop()
            await service.http.aclose()
            await service.mongo.close()
