"""What the gateway keeps, and for how long: the message control ids it has
taken (to acknowledge a repeat without publishing it again) and the messages
it could not parse (for the operations team). Both expire after the
retention in settings; a sweeper deletes what has expired."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from bson import Binary
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


class ControlIds:
    """Messages taken, by sender and MSH-10: what was answered and published.
    No personal data: the sender, the control id, the outcome, event ids."""

    def __init__(self, db: AsyncDatabase, retention: timedelta) -> None:
        self.taken = db["hl7_control_ids"]
        self.retention = retention

    async def ensure_indexes(self) -> None:
        await self.taken.create_index("expires_at")

    async def answered(self, key: str) -> dict[str, Any] | None:
        return await self.taken.find_one({"_id": key})

    async def remember(self, key: str, at: datetime, outcome: str, text: str, event_ids: list[str]) -> None:
        doc = {"at": at, "expires_at": at + self.retention, "outcome": outcome, "text": text, "event_ids": event_ids}
        try:
            await self.taken.insert_one({"_id": key, **doc})
        except DuplicateKeyError:
            pass  # the same message on two connections at once: both published the same event ids

    async def expire(self, now: datetime) -> int:
        return (await self.taken.delete_many({"expires_at": {"$lte": now}})).deleted_count


class Quarantine:
    """Frames that are not HL7 v2 at all. They may hold personal data: only the
    operations role reads them (audited), and they expire."""

    def __init__(self, db: AsyncDatabase, retention: timedelta) -> None:
        self.kept = db["quarantine"]
        self.retention = retention

    async def ensure_indexes(self) -> None:
        await self.kept.create_index("expires_at")
        await self.kept.create_index("received_at")

    async def keep(self, raw: bytes, reason: str, peer: str, at: datetime) -> str:
        quarantine_id = str(uuid.uuid4())
        await self.kept.insert_one(
            {
                "_id": quarantine_id,
                "received_at": at,
                "expires_at": at + self.retention,
                "reason": reason,
                "peer": peer,
                "size": len(raw),
                "raw": Binary(raw),
            }
        )
        return quarantine_id

    async def list(self, limit: int = 200) -> list[dict[str, Any]]:
        cursor = self.kept.find({}, projection={"raw": 0}).sort("received_at", -1).limit(limit)
        return [doc async for doc in cursor]

    async def get(self, quarantine_id: str) -> dict[str, Any] | None:
        return await self.kept.find_one({"_id": quarantine_id})

    async def delete(self, quarantine_id: str) -> bool:
        return (await self.kept.delete_one({"_id": quarantine_id})).deleted_count == 1

    async def expire(self, now: datetime) -> int:
        return (await self.kept.delete_many({"expires_at": {"$lte": now}})).deleted_count
