"""The notifier's own view of the register, built from the events it reads
(it calls no other service): each person's contacts (dsr_shared.platform.contacts),
and, for the tracking-meeting digest, who is on the register with which rating and the
open obligations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from dsr_shared.contract.envelope import Envelope
from dsr_shared.contract.events import ProfessionalsChanged, ReferralAccepted
from dsr_shared.platform.contacts import ContactsProjection
from dsr_shared.platform.db import DUPLICATE_KEY
from dsr_notifier.domain.recipients import Contacts
from dsr_notifier.domain.standing import PENDING, ObligationChange

RATING_ORDER = ["red", "amber", "blue", "green"]


class Projection:
    def __init__(self, db: AsyncDatabase) -> None:
        # Shared with the other services (dsr_shared.platform.contacts): also who may see whom.
        self.contacts = ContactsProjection(db)
        self.obligations = db["obligations"]
        self.people = db["people"]

    async def ensure_indexes(self) -> None:
        await self.contacts.ensure_indexes()
        await self.obligations.create_index([("state", 1), ("due_at", 1)])
        await self.people.create_index([("on_register", 1), ("rating", 1)])

    async def set_standing(
        self, register_id: str, on_register: bool, rating: str | None, session: AsyncClientSession
    ) -> None:
        """From RatingChanged and PersonRemoved, which come in order (one
        person's events share a partition of dsr.ratings)."""
        fields: dict[str, Any] = {"on_register": on_register}
        if rating:
            fields["rating"] = rating
        await self.people.update_one({"_id": register_id}, {"$set": fields}, upsert=True, session=session)

    async def rating_of(self, register_id: str, session: AsyncClientSession | None = None) -> str | None:
        """The person's current rating as last heard (None: not heard yet, or removed)."""
        doc = await self.people.find_one({"_id": register_id}, session=session)
        return doc.get("rating") if doc and doc.get("on_register") else None

    async def on_register_by_rating(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        async for doc in self.people.find({"on_register": True}).sort("_id", 1):
            found.setdefault(doc.get("rating") or "unknown", []).append(doc["_id"])
        order = {rating: i for i, rating in enumerate(RATING_ORDER)}
        return dict(sorted(found.items(), key=lambda item: order.get(item[0], len(order))))

    async def contacts_of(self, register_id: str, session: AsyncClientSession | None = None) -> Contacts:
        return Contacts.from_doc(await self.contacts.document(register_id, session))

    async def contacts_for(self, register_ids: set[str]) -> dict[str, Contacts]:
        return {rid: Contacts.from_doc(doc) for rid, doc in (await self.contacts.documents(register_ids)).items()}

    async def referral_accepted(self, envelope: Envelope, event: ReferralAccepted, session: AsyncClientSession) -> None:
        await self.contacts.referral_accepted(envelope, event, session)

    async def professionals_changed(
        self, envelope: Envelope, event: ProfessionalsChanged, session: AsyncClientSession
    ) -> None:
        await self.contacts.professionals_changed(envelope, event, session)

    async def advance_obligations(self, changes: list[ObligationChange]) -> None:
        """Record where each obligation stands (`fields`, with its state) where
        it stands at one of the `earlier` states or is not known yet: one
        round trip for all, outside any transaction, in any order (the state
        only moves forward). Where one stands further already, its upsert
        meets the existing _id and nothing changes."""
        writes = []
        for obligation_id, fields, earlier in changes:
            selector: dict[str, Any] = {"_id": obligation_id}
            change: dict[str, Any] = {"$setOnInsert": fields}
            if earlier:
                selector["state"] = {"$in": earlier}
                change = {"$set": fields}
            writes.append(UpdateOne(selector, change, upsert=True))
        if not writes:
            return
        try:
            await self.obligations.bulk_write(writes, ordered=False)
        except BulkWriteError as exc:
            if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                raise  # only "it stands as far already (or further)" is nothing to record

    async def pending_by(self, moment: datetime, limit: int = 5000) -> list[dict[str, Any]]:
        """Open, due or overdue obligations due by `moment`."""
        cursor = self.obligations.find({"state": {"$in": list(PENDING)}, "due_at": {"$lte": moment}}).sort("due_at", 1)
        return [doc async for doc in cursor.limit(limit)]
