"""A whole register for tests that follow many people at once: the four
services as processes on the real broker and database, one SMTP sink, and the
ways people and hospitals tell it things (referrals over HTTP, hospital events
on the topics). One world serves a whole test module; each test uses its own
people."""

from __future__ import annotations

import uuid
from collections import Counter
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from dsr_shared.contract.topology import REGISTER_SERVICES
from dsr_shared.platform.auth import Role
from dsr_shared.rules.area import load_profile
from dsr_shared.rules.pseudonym import nhs_number_hash
from dsr_shared.rules.working_time import WorkingCalendar
from dsr_devstack import ServiceProcess, SmtpSink, free_port
from dsr_testing.stack import register_processes
from dsr_testing.support import EventFeed, TopicReader, auth, eventually, referral_body, valid_nhs_number

SERVICES = REGISTER_SERVICES
TEAM = auth(Role.DSR_TEAM, subject="dsr.lead@example.org")
POSTCODE = {"derbyshire": "DE1 1AA", "staffordshire": "ST4 6QG"}
HASH_KEY = "register-world-hash-key"


class World:
    def __init__(
        self,
        profile: str,
        services: dict[str, ServiceProcess],
        smtp: SmtpSink,
        feed: EventFeed,
        reader: TopicReader,
        prefix: str,
    ) -> None:
        self.profile, self.services, self.smtp, self.feed, self.reader = profile, services, smtp, feed, reader
        self.prefix = prefix  # of this world's topics and consumer groups
        self.reader_topic = f"{prefix}dsr.referrals"
        self.area = load_profile(profile)
        self.calendar = WorkingCalendar(self.area.working_time)
        self.http = httpx.AsyncClient(timeout=60)
        self._people = 0
        self._numbers: set[str] = set()

    def url(self, service: str) -> str:
        return self.services[service].url

    def new_nhs_number(self) -> str:
        while True:
            self._people += 1
            number = valid_nhs_number(1_000 + 11 * self._people)  # seeds apart: neighbours can give one
            if number not in self._numbers:
                self._numbers.add(number)
                return number

    # --- telling the register -----------------------------------------------------

    async def refer(
        self,
        nhs_number: str,
        rating: str = "amber",
        *,
        date_of_birth: str = "1980-01-01",
        headers: dict | None = None,
        **overrides: Any,
    ) -> dict:
        body = referral_body(
            nhs_number=nhs_number,
            rating=rating,
            date_of_birth=date_of_birth,
            postcode=POSTCODE[self.profile],
            **overrides,
        )
        answer = await self.http.post(f"{self.url('referral')}/referrals", json=body, headers=headers or TEAM)
        assert answer.status_code in (201, 202), answer.text
        return answer.json()

    async def admit(
        self,
        nhs_number: str,
        at: datetime,
        *,
        ods: str = "RXM",
        secure: bool = False,
        event_id: uuid.UUID | None = None,
    ) -> None:
        data = {
            "nhs_number": nhs_number,
            "admitted_at": at.isoformat(),
            "hospital_ods_code": ods,
            "bed_type": "learning_disability",
            "secure": secure,
            "legal_basis": "section_3",
        }
        await self.feed.publish("dsr.hospital.admissions", "Admitted", data, key=nhs_number, event_id=event_id)

    async def discharge(
        self, nhs_number: str, at: datetime, *, ods: str = "RXM", event_id: uuid.UUID | None = None
    ) -> None:
        data = {
            "nhs_number": nhs_number,
            "discharged_at": at.isoformat(),
            "hospital_ods_code": ods,
            "destination": "home",
        }
        await self.feed.publish("dsr.hospital.discharges", "Discharged", data, key=nhs_number, event_id=event_id)

    async def cancel_admission(self, nhs_number: str, admitted_at: datetime, at: datetime, *, ods: str = "RXM") -> None:
        data = {
            "nhs_number": nhs_number,
            "admitted_at": admitted_at.isoformat(),
            "cancelled_at": at.isoformat(),
            "hospital_ods_code": ods,
        }
        await self.feed.publish("dsr.hospital.admissions", "AdmissionCancelled", data, key=nhs_number)

    async def advance(self, by: timedelta) -> None:
        for service in SERVICES:
            answer = await self.http.post(
                f"{self.url(service)}/clock/advance", json={"by": by.total_seconds()}, headers=auth(Role.OPS)
            )
            answer.raise_for_status()

    async def now(self) -> datetime:
        answer = await self.http.get(f"{self.url('rating')}/clock", headers=auth(Role.OPS))
        return datetime.fromisoformat(answer.json()["now"])

    # --- what it shows --------------------------------------------------------------

    async def record(self, register_id: str) -> dict | None:
        answer = await self.http.get(f"{self.url('rating')}/register/{register_id}", headers=TEAM)
        return answer.json() if answer.status_code == 200 else None

    async def register_id_of(self, nhs_number: str, timeout: float = 90) -> str:
        """As the referral service announced the person (an automatic referral
        names no one a test knows): by the keyed hash of the NHS number."""
        digest = nhs_number_hash(HASH_KEY, nhs_number)

        def probe():
            found = self.reader.events(self.reader_topic, "ReferralAccepted")
            return next((e["data"]["register_id"] for e in found if e["data"]["nhs_number_hash"] == digest), None)

        return await eventually(probe, timeout=timeout)

    async def obligations(self, register_id: str, *states: str) -> list[dict]:
        answer = await self.http.get(
            f"{self.url('scheduler')}/obligations", params={"register_id": register_id}, headers=TEAM
        )
        answer.raise_for_status()
        return [o for o in answer.json()["obligations"] if not states or o["state"] in states]

    async def open_rules(self, register_id: str) -> dict[str, dict]:
        return {o["rule"]: o for o in await self.obligations(register_id, "open", "due", "overdue")}

    async def wait_for_rules(self, register_id: str, *rules: str, timeout: float = 90) -> dict[str, dict]:
        async def probe():
            found = await self.open_rules(register_id)
            return found if set(rules) <= set(found) else None

        return await eventually(probe, timeout=timeout)

    def emails(self, register_id: str, kind: str | None = None) -> list:
        return [
            m
            for m in self.smtp.messages()
            if m["X-DSR-Register-Id"] == register_id and (kind is None or m["X-DSR-Kind"] == kind)
        ]

    def email_counts(self, register_id: str) -> Counter:
        return Counter((m["X-DSR-Kind"], m["To"]) for m in self.emails(register_id))

    def deadline(self, start: datetime, rule_id: str) -> datetime:
        return self.calendar.deadline(start, self.area.rule(rule_id).deadline)


@asynccontextmanager
async def running_world(infra, identity, folder: Path, profile: str, **extra_env: str):
    """Start a whole register on an area profile, in its own topics and databases
    (`extra_env` adds to or overrides the services' environment)."""
    isolation = f"w{uuid.uuid4().hex[:10]}"
    smtp = SmtpSink(folder / "smtp", free_port())
    smtp.start()
    services: dict[str, ServiceProcess] = {}
    feed = reader = None
    try:
        defaults = {"DSR_SIMULATED_CLOCK": "true", "DSR_SWEEP_EVERY_SECONDS": "1", "DSR_NHS_HASH_KEY": HASH_KEY}
        started = register_processes(
            infra,
            identity,
            isolation,
            folder,
            smtp.port,
            profile=profile,
            start_timeout=180,
            **{**defaults, **extra_env},
        )
        for name, process in started.items():
            services[name] = process
            process.start()
        feed = await EventFeed(infra.kafka_bootstrap, f"{isolation}.", load_profile(profile).code).start()
        reader = TopicReader(infra.kafka_bootstrap, f"{isolation}.dsr.referrals")
        await reader.__aenter__()
        world = World(profile, services, smtp, feed, reader, f"{isolation}.")
        try:
            yield world
        finally:
            await world.http.aclose()
    finally:
        if reader is not None:
            await reader.__aexit__(None, None, None)
        if feed is not None:
            await feed.stop()
        for process in reversed(list(services.values())):
            process.stop()
        smtp.stop()
