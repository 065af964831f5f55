"""What was sent to whom. One document per (event, recipient): claimed before
the send, marked sent after. A crash between the send and the mark is the one
window in which a redelivered event sends the same email again."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from dsr_shared.clock import Clock


class SentLog:
    def __init__(self, db: AsyncDatabase, clock: Clock) -> None:
        self.notifications = db["notifications"]
        self.clock = clock

    async def ensure_indexes(self) -> None:
        await self.notifications.create_index([("register_id", 1), ("created_at", -1)])
        await self.notifications.create_index([("source_event_id", 1)])

    async def claim(self, doc: dict[str, Any]) -> bool:
        """False when this (event, recipient) was already sent."""
        try:
            await self.notifications.insert_one({**doc, "state": "sending", "created_at": self.clock.now(), "attempts": 0})
            return True
        except DuplicateKeyError:
            existing = await self.notifications.find_one({"_id": doc["_id"]}, projection={"state": 1})
            return existing is None or existing["state"] != "sent"

    async def mark_sent(self, notification_id: str, session: AsyncClientSession) -> None:
        await self.notifications.update_one(
            {"_id": notification_id}, {"$set": {"state": "sent", "sent_at": self.clock.now()}, "$inc": {"attempts": 1}}, session=session
        )

    async def recent(self, filters: dict[str, Any], limit: int = 500) -> list[dict[str, Any]]:
        cursor = self.notifications.find(filters).sort("created_at", -1).limit(limit)
        return [doc async for doc in cursor]
