"""The register's store: one document per person (their record, saved whole,
guarded by its version), plus hospital events for people not on the register."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from dsr_shared.db import VersionConflict
from dsr_rating.domain.facts import Fact
from dsr_rating.domain.record import PersonRecord
from dsr_rating.domain.standing import Standing

# Kept beside the record for queries and the tracking-meeting list; always
# recomputed from the record on save.
_DERIVED = ("status", "rating", "rating_since", "green_until", "in_hospital")


class ClaimMissing(VersionConflict):
    """The person's claim document is not there yet (prepare_claim makes it)."""


class PeopleStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.people = db["people"]
        self.unmatched = db["unmatched_hospital_events"]
        self.claims = db["nhs_number_hash_claims"]

    async def ensure_indexes(self) -> None:
        await self.people.create_index("nhs_number_hash")
        await self.people.create_index([("status", 1), ("rating", 1), ("cohort", 1)])
        await self.people.create_index([("status", 1), ("rating", 1), ("green_until", 1)])
        await self.unmatched.create_index("nhs_number_hash")

    async def get(self, register_id: str, session: AsyncClientSession | None = None) -> PersonRecord | None:
        doc = await self.people.find_one({"_id": register_id}, session=session)
        return PersonRecord.model_validate(doc) if doc else None

    async def by_nhs_number_hash(self, digest: str, session: AsyncClientSession) -> PersonRecord | None:
        doc = await self.people.find_one({"nhs_number_hash": digest}, session=session)
        return PersonRecord.model_validate(doc) if doc else None

    async def save(self, record: PersonRecord, standing: Standing, session: AsyncClientSession) -> None:
        """Write the record whole; VersionConflict if it changed since it was read."""
        doc = {
            **record.model_dump(mode="python", exclude={"version"}),
            **standing.model_dump(mode="python", include=set(_DERIVED)),
            "version": record.next_version(),
        }
        if record.version == 0:
            try:
                await self.people.insert_one({"_id": record.register_id, **doc}, session=session)
            except DuplicateKeyError as exc:
                raise VersionConflict(record.register_id) from exc
            return
        result = await self.people.replace_one({"_id": record.register_id, "version": record.version}, doc, session=session)
        if result.matched_count == 0:
            raise VersionConflict(record.register_id)

    async def list(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        projection = {"facts": 0, "removal_requests": 0, "professionals": 0, "nhs_number_hash": 0}
        return [doc async for doc in self.people.find(filters, projection=projection).sort("_id", 1)]

    async def green_month_over(self, now: datetime) -> list[str]:
        query = {"status": "on_register", "rating": "green", "green_until": {"$lte": now}}
        return [doc["_id"] async for doc in self.people.find(query, projection={"_id": 1})]

    async def prepare_claim(self, digest: str) -> None:
        """Create the claim document before the transaction that writes it: two
        transactions inserting it would meet a duplicate key, not a retryable
        conflict, and a transaction does not see what was inserted after it began."""
        await self.claims.update_one({"_id": digest}, {"$setOnInsert": {"touched": 0}}, upsert=True)

    async def claim(self, digest: str, session: AsyncClientSession) -> None:
        """Write one document per person that both a referral and a hospital
        event touch, so that two such transactions at once conflict and one is
        retried: a hospital event is never left unmatched beside a referral
        that committed at the same moment."""
        result = await self.claims.update_one({"_id": digest}, {"$inc": {"touched": 1}}, session=session)
        if result.matched_count == 0:
            raise ClaimMissing(digest)  # prepare_claim first

    async def keep_unmatched(self, digest: str, fact: Fact, session: AsyncClientSession) -> None:
        """A hospital event for someone not on the register: kept until a referral
        names them. Of two twins (one admission under two event ids) the one with
        the smaller id is kept, as on a record, whichever arrived first."""
        key = f"{digest}:{fact.identity}"
        kept = await self.unmatched.find_one({"_id": key}, projection={"fact.id": 1}, session=session)
        if kept is None or fact.id < kept["fact"]["id"]:
            doc = {"nhs_number_hash": digest, "fact": fact.model_dump(mode="python")}
            await self.unmatched.replace_one({"_id": key}, doc, upsert=True, session=session)

    async def take_unmatched(self, digest: str, session: AsyncClientSession) -> list[Fact]:
        docs = [doc async for doc in self.unmatched.find({"nhs_number_hash": digest}, session=session)]
        if docs:
            await self.unmatched.delete_many({"_id": {"$in": [d["_id"] for d in docs]}}, session=session)
        return [Fact.model_validate(d["fact"]) for d in docs]

    async def list_unmatched(self) -> list[Fact]:
        return [Fact.model_validate(d["fact"]) async for d in self.unmatched.find({}).sort("fact.at", 1)]

    async def removed_in_hospital(self) -> list[str]:
        query = {"status": "removed", "in_hospital": True}
        return [doc["_id"] async for doc in self.people.find(query, projection={"_id": 1}).sort("_id", 1)]
