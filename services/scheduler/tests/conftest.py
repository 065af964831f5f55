"""The scheduler as its own process on the real broker and database, fed the
register's events the way the rating and referral services publish them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import pytest

from dsr_shared.platform.auth import Role
from dsr_testing.harness import RunningService
from dsr_testing.support import auth, referral_accepted


@dataclass
class SchedulerService(RunningService):
    async def accepted(
        self,
        register_id: str,
        at: datetime,
        *,
        consent_date: str | None = None,
        cohort: str = "adult",
        age_band: str = "adult",
    ) -> uuid.UUID:
        data = referral_accepted(register_id, "h" * 64, cohort=cohort, age_band=age_band, consent_date=consent_date)
        return (await self.publish("dsr.referrals", "ReferralAccepted", data, key=register_id, at=at)).event_id

    async def rated(
        self,
        register_id: str,
        to: str,
        at: datetime,
        *,
        frm: str | None = None,
        cohort: str = "adult",
        age_band: str = "adult",
        secure: bool | None = None,
    ) -> uuid.UUID:
        hospital = None
        if secure is not None:
            hospital = {
                "hospital_ods_code": "RXM",
                "admitted_at": at.isoformat(),
                "bed_type": "learning_disability",
                "secure": secure,
                "legal_basis": "section_3",
            }
        cause = {"blue": "admission"}.get(
            to, "discharge" if frm == "blue" else ("referral" if frm is None else "person")
        )
        data = {
            "register_id": register_id,
            "from_rating": frm,
            "to_rating": to,
            "rationale": "r",
            "changed_by": "x",
            "cause": cause,
            "cohort": cohort,
            "age_band": age_band,
            "hospital": hospital,
        }
        return (await self.publish("dsr.ratings", "RatingChanged", data, key=register_id, at=at)).event_id

    async def update_added(self, register_id: str, at: datetime) -> uuid.UUID:
        data = {
            "register_id": register_id,
            "update_id": str(uuid.uuid4()),
            "added_by": "case.holder@example.org",
            "text": "t",
        }
        return (await self.publish("dsr.ratings", "UpdateAdded", data, key=register_id, at=at)).event_id

    async def removed(self, register_id: str, at: datetime) -> uuid.UUID:
        data = {"register_id": register_id, "removed_by": "dsr.team@example.org", "cause": "dsr_team", "reason": "r"}
        return (await self.publish("dsr.ratings", "PersonRemoved", data, key=register_id, at=at)).event_id

    async def obligations(self, **filters: str) -> list[dict]:
        answer = await self.http.get(f"{self.url}/obligations", params=filters, headers=auth(Role.DSR_TEAM))
        answer.raise_for_status()
        return answer.json()["obligations"]

    def published(self, event_type: str, register_id: str | None = None) -> list[dict]:
        return self.events("dsr.obligations", event_type, register_id)


@pytest.fixture
def scheduler_service(service_harness):
    """Start scheduler processes (one or more, one database) on an area profile."""

    async def start(profile: str = "derbyshire", processes: int = 1) -> SchedulerService:
        return await service_harness.start(
            SchedulerService,
            "scheduler",
            profile=profile,
            processes=processes,
            DSR_SIMULATED_CLOCK="true",
            DSR_SWEEP_EVERY_SECONDS="1",
        )

    return start
