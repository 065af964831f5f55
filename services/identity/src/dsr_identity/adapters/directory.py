"""The directory of users in MongoDB: one document per person, keyed by the
register's own stable user id, found by (provider issuer, provider subject)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from dsr_shared.platform.auth import Role


@dataclass(frozen=True)
class User:
    user_id: str
    issuer: str
    subject: str
    roles: frozenset[Role]
    email: str | None
    org: str | None
    created_at: datetime
    last_sign_in_at: datetime | None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "User":
        return cls(
            user_id=doc["_id"],
            issuer=doc["issuer"],
            subject=doc["subject"],
            roles=frozenset(Role(r) for r in doc.get("roles", []) if r in Role._value2member_map_),
            email=doc.get("email"),
            org=doc.get("org"),
            created_at=doc["created_at"],
            last_sign_in_at=doc.get("last_sign_in_at"),
        )

    def view(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "issuer": self.issuer,
            "subject": self.subject,
            "email": self.email,
            "org": self.org,
            "roles": sorted(self.roles),
            "created_at": self.created_at.isoformat(),
            "last_sign_in_at": self.last_sign_in_at.isoformat() if self.last_sign_in_at else None,
        }


class Directory:
    def __init__(self, db: AsyncDatabase) -> None:
        self._users = db["users"]

    async def ensure_indexes(self) -> None:
        await self._users.create_index([("issuer", 1), ("subject", 1)], unique=True)

    async def signed_in(
        self,
        *,
        issuer: str,
        subject: str,
        email: str | None,
        org: str | None,
        at: datetime,
        initial_roles: frozenset[Role],
        signing_in: bool = True,
        session: AsyncClientSession | None = None,
    ) -> tuple[User, bool]:
        """The user with this provider identity, recorded with `initial_roles` if
        new; their email and organisation as the provider says today. True when new.
        `signing_in` False: recorded ahead of their first sign-in (seeding)."""
        seen = {"last_sign_in_at": at} if signing_in else {}
        for _ in range(2):  # a concurrent first sign-in wins the insert; then it is found
            existing = await self._users.find_one_and_update(
                {"issuer": issuer, "subject": subject},
                {"$set": {"email": email, "org": org, **seen}},
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            if existing is not None:
                return User.from_doc(existing), False
            doc = {
                "_id": str(uuid.uuid4()),
                "issuer": issuer,
                "subject": subject,
                "email": email,
                "org": org,
                "roles": sorted(r.value for r in initial_roles),
                "created_at": at,
                "last_sign_in_at": seen.get("last_sign_in_at"),
            }
            try:
                await self._users.insert_one(doc, session=session)
                return User.from_doc(doc), True
            except DuplicateKeyError:
                continue
        raise RuntimeError("user could be neither found nor recorded")

    async def get(self, user_id: str, session: AsyncClientSession | None = None) -> User | None:
        doc = await self._users.find_one({"_id": user_id}, session=session)
        return User.from_doc(doc) if doc else None

    async def page(self, *, limit: int, offset: int) -> tuple[list[User], int]:
        total = await self._users.count_documents({})
        cursor = self._users.find({}).sort([("created_at", 1), ("_id", 1)]).skip(offset).limit(limit)
        return [User.from_doc(doc) async for doc in cursor], total

    async def set_roles(self, user_id: str, roles: frozenset[Role], session: AsyncClientSession) -> User | None:
        doc = await self._users.find_one_and_update(
            {"_id": user_id},
            {"$set": {"roles": sorted(r.value for r in roles)}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        return User.from_doc(doc) if doc else None
