"""Obligations in MongoDB."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from dsr_scheduler.domain.obligations import Obligation


class ObligationStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.obligations = db["obligations"]

    async def ensure_indexes(self) -> None:
        await self.obligations.create_index([("state", 1), ("due_at", 1)])
        await self.obligations.create_index([("register_id", 1), ("state", 1)])

    async def add_all(self, obligations: list[Obligation], session: AsyncClientSession) -> None:
        if obligations:
            await self.obligations.insert_many(
                [{"_id": str(o.obligation_id), **o.model_dump(mode="python")} for o in obligations], session=session
            )

    async def find(self, filters: dict[str, Any]) -> list[Obligation]:
        cursor = self.obligations.find(filters).sort("due_at", 1)
        return [Obligation.model_validate(doc) async for doc in cursor]
