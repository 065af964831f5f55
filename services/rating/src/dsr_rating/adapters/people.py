"""The register's store: one document per person, with its whole history."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from dsr_rating.domain.register import Person


class PeopleStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.people = db["people"]

    async def ensure_indexes(self) -> None:
        await self.people.create_index("nhs_number_hash", unique=True)
        await self.people.create_index([("rating", 1), ("cohort", 1)])

    async def add(self, person: Person, session: AsyncClientSession) -> None:
        await self.people.insert_one({"_id": person.register_id, **person.model_dump(mode="python")}, session=session)

    async def get(self, register_id: str) -> Person | None:
        doc = await self.people.find_one({"_id": register_id})
        return Person.model_validate(doc) if doc else None

    async def list(self, filters: dict[str, Any]) -> list[Person]:
        cursor = self.people.find(filters, projection={"history": 0}).sort("_id", 1)
        return [Person.model_validate({**doc, "history": []}) async for doc in cursor]
