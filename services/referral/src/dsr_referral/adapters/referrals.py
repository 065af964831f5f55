"""Where referrals and the people they put on the register are stored. This
is the only store that holds names, dates of birth, addresses and NHS numbers.

A person's document (`_id` = register id, R-ID-1) lives as long as the
service: removal from the register marks it (`removed_at`, `removal`), and a
new referral returns the person under the same register id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase


class ReferralStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.referrals = db["referrals"]
        self.people = db["people"]

    async def ensure_indexes(self) -> None:
        await self.referrals.create_index("submission_id", unique=True)
        await self.referrals.create_index([("register_id", 1), ("submitted_by", 1)])
        await self.people.create_index("nhs_number", unique=True)

    async def by_submission(self, submission_id: str) -> dict[str, Any] | None:
        return await self.referrals.find_one({"submission_id": submission_id})

    async def by_id(self, referral_id: str) -> dict[str, Any] | None:
        return await self.referrals.find_one({"_id": referral_id})

    async def accepted_referral_by(self, register_id: str, submitted_by: str) -> dict[str, Any] | None:
        """One of the referrals that put this person on the register, submitted by `submitted_by`."""
        return await self.referrals.find_one(
            {"register_id": register_id, "submitted_by": submitted_by, "outcome": "accepted"}, projection={"_id": 1}
        )

    async def add_referral(self, doc: dict[str, Any], session: AsyncClientSession) -> None:
        await self.referrals.insert_one(doc, session=session)

    async def person(self, register_id: str) -> dict[str, Any] | None:
        return await self.people.find_one({"_id": register_id})

    async def person_by_nhs_number(self, nhs_number: str) -> dict[str, Any] | None:
        return await self.people.find_one({"nhs_number": nhs_number})

    async def add_person(
        self,
        register_id: str,
        nhs_number: str,
        referral_id: str,
        at: datetime,
        session: AsyncClientSession,
        *,
        address: dict[str, Any] | None = None,
        by: str | None = None,
    ) -> None:
        doc: dict[str, Any] = {"_id": register_id, "nhs_number": nhs_number, "referral_id": referral_id, "on_register_since": at}
        if address is not None:
            doc |= _address_fields(address, at, by)
        await self.people.insert_one(doc, session=session)

    async def return_person(
        self,
        register_id: str,
        referral_id: str,
        at: datetime,
        session: AsyncClientSession,
        *,
        address: dict[str, Any] | None = None,
        by: str | None = None,
    ) -> bool:
        """A removed person comes back on a new referral, under the same register id.
        False when they are no longer removed (another referral brought them back first)."""
        fields: dict[str, Any] = {"referral_id": referral_id, "on_register_since": at}
        if address is not None:
            fields |= _address_fields(address, at, by)
        result = await self.people.update_one(
            {"_id": register_id, "removed_at": {"$ne": None}},
            {"$set": fields, "$unset": {"removed_at": "", "removal": ""}},
            session=session,
        )
        return result.matched_count == 1

    async def mark_removed(
        self, register_id: str, at: datetime, removal: dict[str, Any], session: AsyncClientSession
    ) -> bool:
        """False when the person is unknown here or already removed. Every removal
        is also kept in `removals`, which a return to the register leaves alone."""
        result = await self.people.update_one(
            {"_id": register_id, "removed_at": None},
            {"$set": {"removed_at": at, "removal": removal}, "$push": {"removals": {"at": at, **removal}}},
            session=session,
        )
        return result.matched_count == 1

    async def change_address(self, register_id: str, address: dict[str, Any], at: datetime, by: str) -> bool:
        result = await self.people.update_one({"_id": register_id}, {"$set": _address_fields(address, at, by)})
        return result.matched_count == 1


def _address_fields(address: dict[str, Any], at: datetime, by: str | None) -> dict[str, Any]:
    return {"address": address, "address_changed_at": at, "address_changed_by": by}
