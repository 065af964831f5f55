"""The scheduler as its own process on the real broker and database, fed the
register's events the way the rating and referral services publish them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from dsr_shared.platform.auth import Role
from dsr_shared.rules.area import load_profile
from support import EventFeed, TopicReader, auth, referral_accepted


@dataclass
class SchedulerService:
    processes: list[Any]
    feed: EventFeed
    reader: TopicReader
    prefix: str
    area: str
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=30))

    @property
    def url(self) -> str:
        return self.processes[0].url

    async def publish(self, topic: str, event_type: str, data: dict, *, key: str, at: datetime) -> uuid.UUID:
        return (await self.feed.publish(topic, event_type, data, key=key, at=at)).event_id

    async def accepted(self, register_id: str, at: datetime, *, consent_date: str | None = None, cohort: str = "adult",
                       age_band: str = "adult") -> uuid.UUID:
        data = referral_accepted(register_id, "h" * 64, cohort=cohort, age_band=age_band, consent_date=consent_date)
        return await self.publish("dsr.referrals", "ReferralAccepted", data, key=register_id, at=at)

    async def rated(self, register_id: str, to: str, at: datetime, *, frm: str | None = None, cohort: str = "adult",
                    age_band: str = "adult", secure: bool | None = None) -> uuid.UUID:
        hospital = None
        if secure is not None:
            hospital = {"hospital_ods_code": "RXM", "admitted_at": at.isoformat(), "bed_type": "learning_disability",
                        "secure": secure, "legal_basis": "section_3"}
        cause = {"blue": "admission"}.get(to, "discharge" if frm == "blue" else ("referral" if frm is None else "person"))
        data = {
            "register_id": register_id, "from_rating": frm, "to_rating": to, "rationale": "r", "changed_by": "x",
            "cause": cause, "cohort": cohort, "age_band": age_band, "hospital": hospital,
        }
        return await self.publish("dsr.ratings", "RatingChanged", data, key=register_id, at=at)

    async def update_added(self, register_id: str, at: datetime) -> uuid.UUID:
        data = {"register_id": register_id, "update_id": str(uuid.uuid4()), "added_by": "case.holder@example.org", "text": "t"}
        return await self.publish("dsr.ratings", "UpdateAdded", data, key=register_id, at=at)

    async def removed(self, register_id: str, at: datetime) -> uuid.UUID:
        data = {"register_id": register_id, "removed_by": "dsr.team@example.org", "cause": "dsr_team", "reason": "r"}
        return await self.publish("dsr.ratings", "PersonRemoved", data, key=register_id, at=at)

    async def obligations(self, **filters: str) -> list[dict]:
        answer = await self.http.get(f"{self.url}/obligations", params=filters, headers=auth(Role.DSR_TEAM))
        answer.raise_for_status()
        return answer.json()["obligations"]

    async def advance_clock(self, by: timedelta) -> None:
        for process in self.processes:
            answer = await self.http.post(f"{process.url}/clock/advance", json={"by": by.total_seconds()}, headers=auth(Role.OPS))
            answer.raise_for_status()

    async def now(self) -> datetime:
        answer = await self.http.get(f"{self.url}/clock", headers=auth(Role.OPS))
        return datetime.fromisoformat(answer.json()["now"])

    def published(self, event_type: str, register_id: str | None = None) -> list[dict]:
        found = self.reader.events(f"{self.prefix}dsr.obligations", event_type)
        return [e for e in found if register_id is None or e["data"]["register_id"] == register_id]


@pytest.fixture
async def scheduler_service(service_process, infra, isolation):
    """Start scheduler processes (one or more, one database) on an area profile."""
    started: list[SchedulerService] = []

    async def start(profile: str = "derbyshire", processes: int = 1) -> SchedulerService:
        env = {"DSR_AREA_PROFILE": profile, "DSR_SIMULATED_CLOCK": "true", "DSR_SWEEP_EVERY_SECONDS": "1"}
        running = [service_process("scheduler", **env) for _ in range(processes)]
        area = load_profile(profile).code
        feed = await EventFeed(infra.kafka_bootstrap, f"{isolation}.", area).start()
        reader = TopicReader(infra.kafka_bootstrap, f"{isolation}.dsr.obligations")
        await reader.__aenter__()
        service = SchedulerService(running, feed, reader, f"{isolation}.", area)
        started.append(service)
        return service

    yield start
    for service in started:
        await service.reader.__aexit__(None, None, None)
        await service.feed.stop()
        await service.http.aclose()

