"""The register's store: one document per person (their record, saved whole,
guarded by its version), plus hospital events for people not on the register
and hospital merges of patient records for the DSR team to resolve."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.collation import Collation
from pymongo.errors import BulkWriteError, DuplicateKeyError

from dsr_shared.platform.db import DUPLICATE_KEY, VersionConflict
from dsr_rating.domain.facts import Fact, one_per_fact
from dsr_rating.domain.record import PersonRecord
from dsr_rating.domain.standing import Standing
from dsr_rating.service.ports import ClaimMissing

# Kept beside the record for queries and the tracking-meeting list; always
# recomputed from the record on save.
_DERIVED = ("status", "rating", "rating_since", "green_until", "in_hospital")

# One line of a listing: the derived fields and the latest update, not the
# record's history (views.summary_view).
SUMMARY = {**{name: 1 for name in _DERIVED}, "cohort": 1, "age_band": 1, "updates": {"$slice": -1}}
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Who may keep a record, as written on it (any case: access.Contacts compares normalised).
CONTACT_PATHS = ("referrer_emails", "professionals.professionals.email")
ANY_CASE = Collation(locale="en", strength=2)


def merge_id(kept_digest: str, merged_digest: str) -> str:
    """The same merge sent twice is one item."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"dsr:merge:{kept_digest}:{merged_digest}"))


def merge_document(
    kept: PersonRecord | None, merged: PersonRecord | None, hospital_ods_code: str, merged_at: datetime, event_id: str
) -> dict[str, Any]:
    """What is kept of a merge until the DSR team resolves it: register ids only."""
    return {
        "kept_register_id": kept.register_id if kept else None,
        "merged_register_id": merged.register_id if merged else None,
        "hospital_ods_code": hospital_ods_code,
        "merged_at": merged_at,
        "event_id": event_id,
        "resolved_at": None,
    }


class PeopleStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.people = db["people"]
        self.unmatched = db["unmatched_hospital_events"]
        self.claims = db["nhs_number_hash_claims"]
        self.merges = db["hospital_merges"]

    async def ensure_indexes(self) -> None:
        await self.people.create_index("nhs_number_hash")
        await self.people.create_index([("status", 1), ("rating", 1), ("cohort", 1)])
        await self.people.create_index([("status", 1), ("rating", 1), ("green_until", 1)])
        # The register's listings, page by page in register-identifier order (GET /register).
        await self.people.create_index([("status", 1), ("_id", 1)])
        await self.people.create_index([("status", 1), ("rating", 1), ("_id", 1)])
        await self.people.create_index([("status", 1), ("cohort", 1), ("_id", 1)])
        await self.people.create_index([("status", 1), ("in_hospital", 1), ("_id", 1)])
        # Removal requests waiting, and a keeper's caseload: only the records that have them.
        await self.people.create_index("removal_requests.at")
        for path in CONTACT_PATHS:
            await self.people.create_index(path, collation=ANY_CASE)
        await self.unmatched.create_index("nhs_number_hash")
        await self.merges.create_index([("resolved_at", 1), ("merged_at", 1)])

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
        result = await self.people.replace_one(
            {"_id": record.register_id, "version": record.version}, doc, session=session
        )
        if result.matched_count == 0:
            raise VersionConflict(record.register_id)

    async def page(self, query: dict[str, Any], skip: int, limit: int) -> list[dict[str, Any]]:
        """One page of summaries in register-identifier order (SUMMARY's fields)."""
        if limit <= 0:
            return []
        cursor = self.people.find(query, projection=SUMMARY).sort("_id", 1).skip(skip).limit(limit)
        return [doc async for doc in cursor]

    async def groups(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """How many people `query` finds, by rating and cohort, counted by the database."""
        pipeline = [
            {"$match": query},
            {"$group": {"_id": {"rating": "$rating", "cohort": "$cohort"}, "n": {"$sum": 1}}},
        ]
        return [group async for group in await self.people.aggregate(pipeline)]

    async def green_month_over(self, now: datetime) -> list[str]:
        query = {"status": "on_register", "rating": "green", "green_until": {"$lte": now}}
        return [doc["_id"] async for doc in self.people.find(query, projection={"_id": 1})]

    async def prepare_claim(self, digest: str) -> None:
        """Create the claim document before the transaction that writes it: two
        transactions inserting it would meet a duplicate key, not a retryable
        conflict, and a transaction does not see what was inserted after it began.
        An insert, not an upsert: one that finds the document there answers at
        once, even while a batch's open transaction holds it."""
        try:
            await self.claims.insert_one({"_id": digest, "touched": 0})
        except DuplicateKeyError:
            pass

    async def prepare_claims(self, digests: list[str]) -> None:
        """Several at once, before a batch's transaction opens (one round trip)."""
        if digests:
            try:
                await self.claims.insert_many([{"_id": d, "touched": 0} for d in dict.fromkeys(digests)], ordered=False)
            except BulkWriteError as exc:
                if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                    raise

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
        names them. Twins are kept too (one admission under two event ids): the
        record chooses between them as it does for events that come after it."""
        doc = {"nhs_number_hash": digest, "fact": fact.model_dump(mode="python")}
        await self.unmatched.update_one(
            {"_id": f"{digest}:{fact.id}"}, {"$setOnInsert": doc}, upsert=True, session=session
        )

    async def take_unmatched(self, digest: str, session: AsyncClientSession) -> list[Fact]:
        docs = [doc async for doc in self.unmatched.find({"nhs_number_hash": digest}, session=session)]
        if docs:
            await self.unmatched.delete_many({"_id": {"$in": [d["_id"] for d in docs]}}, session=session)
        return [Fact.model_validate(d["fact"]) for d in docs]

    async def list_unmatched(self) -> list[Fact]:
        """Each person's facts, of twins the one their record would keep; in time order."""
        facts_of: dict[str, list[Fact]] = {}
        async for doc in self.unmatched.find({}):
            facts_of.setdefault(doc["nhs_number_hash"], []).append(Fact.model_validate(doc["fact"]))
        return sorted((f for facts in facts_of.values() for f in one_per_fact(facts)), key=lambda f: f.sort_key)

    async def removed_in_hospital(self) -> list[str]:
        query = {"status": "removed", "in_hospital": True}
        return [doc["_id"] async for doc in self.people.find(query, projection={"_id": 1}).sort("_id", 1)]

    async def keeping(self, names: frozenset[str]) -> list[dict[str, Any]]:
        """The people on the register whose referrers or professionals name
        any of `names`, with their contacts and SUMMARY's fields: two indexed
        lookups, not a pass over the register. (The caller checks each match as
        a record read does: names are compared normalised.)"""
        projection = {**SUMMARY, **{path: 1 for path in CONTACT_PATHS}}
        found: dict[str, dict[str, Any]] = {}
        for path in CONTACT_PATHS:
            query = {path: {"$in": sorted(names)}, "status": "on_register"}
            async for doc in self.people.find(query, projection=projection, collation=ANY_CASE):
                found[doc["_id"]] = doc
        return [found[key] for key in sorted(found)]

    async def with_removal_requests(self) -> list[PersonRecord]:
        """Records on the register with a removal request, through the index on
        the requests' times (only records that have one are read)."""
        query = {"removal_requests.at": {"$gte": EPOCH}, "status": "on_register"}
        return [PersonRecord.model_validate(doc) async for doc in self.people.find(query).sort("_id", 1)]

    async def keep_merge(
        self,
        kept_digest: str,
        merged_digest: str,
        kept: PersonRecord | None,
        merged: PersonRecord | None,
        hospital_ods_code: str,
        merged_at: datetime,
        event_id: str,
        session: AsyncClientSession,
    ) -> None:
        """A hospital merged two patient records, at least one of them someone on
        the register: kept, by register id only, until the DSR team resolves it.
        The same merge sent twice is one item."""
        doc = merge_document(kept, merged, hospital_ods_code, merged_at, event_id)
        await self.merges.update_one(
            {"_id": merge_id(kept_digest, merged_digest)}, {"$setOnInsert": doc}, upsert=True, session=session
        )

    async def list_merges(self, *, resolved: bool = False) -> list[dict[str, Any]]:
        query = {"resolved_at": {"$ne": None}} if resolved else {"resolved_at": None}
        return [doc async for doc in self.merges.find(query).sort([("merged_at", 1), ("_id", 1)])]

    async def resolve_merge(self, merge_id: str, by: str, note: str, at: datetime) -> dict[str, Any] | None:
        """None when there is no such merge waiting."""
        return await self.merges.find_one_and_update(
            {"_id": merge_id, "resolved_at": None},
            {"$set": {"resolved_at": at, "resolved_by": by, "note": note}},
            return_document=True,
        )
