"""Where referrals and the people they put on the register are stored. This
is the only store that holds names, dates of birth, addresses and NHS numbers."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase


class ReferralStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.referrals = db["referrals"]
        self.people = db["people"]

    async def ensure_indexes(self) -> None:
        await self.referrals.create_index("submission_id", unique=True)
        await self.people.create_index("nhs_number", unique=True)

    async def by_submission(self, submission_id: str) -> dict[str, Any] | None:
        return await self.referrals.find_one({"submission_id": submission_id})

    async def by_id(self, referral_id: str) -> dict[str, Any] | None:
        return await self.referrals.find_one({"_id": referral_id})

    async def person_by_nhs_number(self, nhs_number: str) -> dict[str, Any] | None:
        return await self.people.find_one({"nhs_number": nhs_number})

    async def add_referral(self, doc: dict[str, Any], session: AsyncClientSession) -> None:
        await self.referrals.insert_one(doc, session=session)

    async def add_person(self, register_id: str, nhs_number: str, referral_id: str, session: AsyncClientSession) -> None:
        await self.people.insert_one(
            {"_id": register_id, "nhs_number": nhs_number, "referral_id": referral_id}, session=session
        )
