"""The rating service as its own process on the real broker and database, fed
the way other services and NHS systems feed it: events on its input topics
(dsr_testing.harness starts it; RatingService knows its events)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import httpx
import pytest

from dsr_shared.platform.auth import Role
from dsr_shared.rules.pseudonym import nhs_number_hash
from dsr_testing.harness import RunningService
from dsr_testing.support import auth, referral_accepted, valid_nhs_number

HASH_KEY = "rating-tests-hash-key"
REFERRER = "case.holder@example.org"


@dataclass
class RatingService(RunningService):
    _people: int = 0
    _nhs_numbers: set[str] = field(default_factory=set)

    def new_person(self) -> tuple[str, str]:
        """A register id and a valid NHS number nobody else in this test uses."""
        self._people += 1
        nhs_number = valid_nhs_number(7000 + 10 * self._people)  # seeds apart: neighbours can give one number
        assert nhs_number not in self._nhs_numbers
        self._nhs_numbers.add(nhs_number)
        return f"{self.area}-{uuid.uuid4().hex[:4].upper()}-{self._people:04d}-X", nhs_number

    async def accept(
        self,
        register_id: str,
        nhs_number: str,
        rating: str = "amber",
        *,
        at: datetime | None = None,
        cohort: str = "adult",
        age_band: str = "adult",
        referrer: str = REFERRER,
        **extra,
    ) -> uuid.UUID:
        data = referral_accepted(
            register_id,
            nhs_number_hash(HASH_KEY, nhs_number),
            rating=rating,
            referrer=referrer,
            cohort=cohort,
            age_band=age_band,
            **extra,
        )
        return (await self.publish("dsr.referrals", "ReferralAccepted", data, key=register_id, at=at)).event_id

    async def age_band_changed(
        self, register_id: str, age_band: str, *, at: datetime | None = None, event_id: uuid.UUID | None = None
    ) -> uuid.UUID:
        """As the referral service announces a birthday that moved the person to another band."""
        at = at or datetime.now(timezone.utc)
        data = {"register_id": register_id, "age_band": age_band, "effective_on": at.date().isoformat()}
        return (
            await self.publish("dsr.referrals", "AgeBandChanged", data, key=register_id, at=at, event_id=event_id)
        ).event_id

    async def admit(
        self,
        nhs_number: str,
        at: datetime,
        *,
        ods: str = "RXM",
        secure: bool = False,
        event_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        data = {
            "nhs_number": nhs_number,
            "admitted_at": at.isoformat(),
            "hospital_ods_code": ods,
            "bed_type": "learning_disability",
            "secure": secure,
            "legal_basis": "section_3",
        }
        return (
            await self.publish("dsr.hospital.admissions", "Admitted", data, key=nhs_number, event_id=event_id)
        ).event_id

    async def discharge(
        self, nhs_number: str, at: datetime, *, ods: str = "RXM", event_id: uuid.UUID | None = None
    ) -> uuid.UUID:
        data = {
            "nhs_number": nhs_number,
            "discharged_at": at.isoformat(),
            "hospital_ods_code": ods,
            "destination": "home",
        }
        return (
            await self.publish("dsr.hospital.discharges", "Discharged", data, key=nhs_number, event_id=event_id)
        ).event_id

    async def person(self, register_id: str, *roles: Role, subject: str = "dsr.team@example.org") -> httpx.Response:
        return await self.http.get(
            f"{self.url}/register/{register_id}", headers=auth(*(roles or (Role.DSR_TEAM,)), subject=subject)
        )

    async def rating_of(self, register_id: str) -> str | None:
        answer = await self.person(register_id)
        return answer.json()["rating"] if answer.status_code == 200 else None

    async def change(
        self,
        register_id: str,
        rating: str,
        *,
        subject: str = REFERRER,
        role: Role = Role.REFERRER,
        headers: dict | None = None,
        **body,
    ) -> httpx.Response:
        payload = {"rating": rating, "rationale": "Discussed at the DSP meeting.", "agreed_with_person": True, **body}
        return await self.http.post(
            f"{self.url}/register/{register_id}/rating",
            json=payload,
            headers={**auth(role, subject=subject), **(headers or {})},
        )

    def published(self, event_type: str, register_id: str | None = None) -> list[dict]:
        return self.events("dsr.ratings", event_type, register_id)


@pytest.fixture
def rating_service(service_harness):
    """Start the rating service on an area profile; feed it and read what it publishes."""

    async def start(profile: str = "derbyshire", **env: str) -> RatingService:
        return await service_harness.start(
            RatingService,
            "rating",
            profile=profile,
            DSR_NHS_HASH_KEY=HASH_KEY,
            DSR_SIMULATED_CLOCK="true",
            DSR_SWEEP_EVERY_SECONDS="1",
            **env,
        )

    return start
