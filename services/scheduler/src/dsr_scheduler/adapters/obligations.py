"""Obligations in MongoDB, and the scheduler's view of who is on the register
(for the tracking meeting). The sweeper's queries use the (state, notice_at)
and (state, due_at) indexes: a sweep reads what is due, not every obligation."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pymongo import ReplaceOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from dsr_scheduler.domain.obligations import ACTIVE, Listing, Obligation


def _doc(obligation: Obligation) -> dict[str, Any]:
    return {"_id": str(obligation.obligation_id), **obligation.model_dump(mode="python")}


def _filter(query: Listing) -> dict[str, Any]:
    """The query of a Listing (domain/obligations.py says what it shows)."""
    filters: dict[str, Any] = {"state": query.state or {"$ne": "withdrawn"}}
    if query.people is not None:
        people = sorted(query.people)
        filters["register_id"] = people[0] if len(people) == 1 else {"$in": people}
    filters.update({k: v for k, v in (("kind", query.kind), ("rule", query.rule)) if v})
    if query.due_before is not None:
        filters["due_at"] = {"$lt": query.due_before}
    return filters


class ObligationStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.obligations = db["obligations"]
        self.people = db["people"]

    async def ensure_indexes(self) -> None:
        await self.obligations.create_index([("state", 1), ("notice_at", 1)])
        await self.obligations.create_index([("state", 1), ("due_at", 1)])
        await self.obligations.create_index([("register_id", 1), ("state", 1)])
        await self.people.create_index([("on_register", 1), ("rating", 1)])

    async def add_all(self, obligations: list[Obligation], session: AsyncClientSession) -> None:
        if obligations:
            await self.obligations.insert_many([_doc(o) for o in obligations], session=session)

    async def replace_all(self, obligations: list[Obligation], session: AsyncClientSession) -> None:
        """Several replaced in one round trip, in order."""
        if obligations:
            await self.obligations.bulk_write(
                [ReplaceOne({"_id": str(o.obligation_id)}, _doc(o)) for o in obligations], session=session
            )

    async def save_all(self, added: list[Obligation], replaced: list[Obligation], session: AsyncClientSession) -> None:
        """New ones and changed ones in one round trip (a bulk write of one
        kind of operation is one command: the new ones go as upserts). The
        caller read what is held in the same transaction: a new one is new."""
        writes = [ReplaceOne({"_id": str(o.obligation_id)}, _doc(o), upsert=True) for o in added]
        writes += [ReplaceOne({"_id": str(o.obligation_id)}, _doc(o)) for o in replaced]
        if writes:
            await self.obligations.bulk_write(writes, session=session)

    async def replace(self, obligation: Obligation, session: AsyncClientSession) -> None:
        await self.obligations.replace_one({"_id": str(obligation.obligation_id)}, _doc(obligation), session=session)

    async def get(self, obligation_id: str, session: AsyncClientSession | None = None) -> Obligation | None:
        doc = await self.obligations.find_one({"_id": obligation_id}, session=session)
        return Obligation.model_validate(doc) if doc else None

    async def active_for(self, register_id: str, session: AsyncClientSession) -> list[Obligation]:
        cursor = self.obligations.find({"register_id": register_id, "state": {"$in": list(ACTIVE)}}, session=session)
        return [Obligation.model_validate(doc) async for doc in cursor]

    async def all_for(self, register_id: str, session: AsyncClientSession) -> list[Obligation]:
        cursor = self.obligations.find({"register_id": register_id}, session=session)
        return [Obligation.model_validate(doc) async for doc in cursor]

    async def person(self, register_id: str, session: AsyncClientSession) -> dict[str, Any] | None:
        return await self.people.find_one({"_id": register_id}, session=session)

    async def listing(self, query: Listing, limit: int) -> list[Obligation]:
        """What the list shows, soonest due first."""
        return await self._find(_filter(query), limit)

    async def count(self, query: Listing) -> int:
        """Ids only (count_documents is a collection scan in the embedded database)."""
        return len([doc async for doc in self.obligations.find(_filter(query), projection={"_id": 1})])

    async def pending_until(self, horizon: datetime, limit: int) -> list[Obligation]:
        """Active obligations due at or before `horizon`, soonest first: one
        query per state on the (state, due_at) index, where `state: {$in}` is
        a scan of every obligation in SecantusDB (1.3 s at 20,000 against
        tens of ms)."""
        found = [o for state in ACTIVE for o in await self._find({"state": state, "due_at": {"$lte": horizon}}, limit)]
        return sorted(found, key=lambda o: o.due_at)[:limit]

    async def _find(self, filters: dict[str, Any], limit: int) -> list[Obligation]:
        cursor = self.obligations.find(filters).sort("due_at", 1).limit(limit)
        return [Obligation.model_validate(doc) async for doc in cursor]

    async def ids_to_announce(self, state: str, field: str, now: datetime, limit: int) -> list[str]:
        """Obligations in `state` whose `field` (notice_at or due_at) has come."""
        cursor = self.obligations.find({"state": state, field: {"$lte": now}}, projection={"_id": 1}).sort(field, 1)
        return [doc["_id"] async for doc in cursor.limit(limit)]

    async def move(
        self, obligation_id: str, from_state: str, to_state: str, session: AsyncClientSession
    ) -> Obligation | None:
        """The atomic claim: only one process moves an obligation out of `from_state`.
        (update_one, then read: the embedded database answers findAndModify by a
        scan, 2.5 s at 100,000 obligations, where update_one uses the _id index.)"""
        moved = await self.obligations.update_one(
            {"_id": obligation_id, "state": from_state}, {"$set": {"state": to_state}}, session=session
        )
        return await self.get(obligation_id, session) if moved.modified_count else None

    async def count_due_and_overdue(self) -> dict[str, int]:
        """For /metrics, through the (state, due_at) index, ids only. The
        embedded database answers count_documents, and a query on state alone,
        by scanning the collection (9 s at 100,000 open obligations); a range
        on the indexed date with a sort uses the index."""
        counts = {}
        for state in ("due", "overdue"):
            query = {"state": state, "due_at": {"$gte": datetime.min.replace(tzinfo=timezone.utc)}}
            cursor = self.obligations.find(query, projection={"_id": 1}).sort("due_at", 1)
            counts[state] = len([doc async for doc in cursor])
        return counts

    async def set_person(self, register_id: str, fields: dict[str, Any], session: AsyncClientSession) -> None:
        await self.people.update_one({"_id": register_id}, {"$set": fields}, upsert=True, session=session)

    async def newer_timeline(
        self, register_id: str, version: int, fields: dict[str, Any], session: AsyncClientSession
    ) -> bool:
        """Set `fields` and the timeline version if `version` is newer than the
        one held; False (nothing set) if not. One round trip for a person whose
        timeline is known (the common case); three for one heard of first."""
        moved = await self.people.update_one(
            {"_id": register_id, "timeline_version": {"$lt": version}},
            {"$set": {**fields, "timeline_version": version}},
            session=session,
        )
        if moved.matched_count:
            return True
        held = await self.people.find_one({"_id": register_id}, projection={"timeline_version": 1}, session=session)
        if (held or {}).get("timeline_version", -1) >= version:
            return False
        await self.set_person(register_id, {**fields, "timeline_version": version}, session)
        return True

    async def people_on_register(self) -> list[dict[str, Any]]:
        return [doc async for doc in self.people.find({"on_register": True}).sort("_id", 1)]
