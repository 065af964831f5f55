"""Every read or change of a person's record is audited (docs/RULES.md "Data protection")."""

from __future__ import annotations

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from dsr_shared.auth import Principal
from dsr_shared.clock import Clock


class AuditLog:
    def __init__(self, db: AsyncDatabase, clock: Clock) -> None:
        self._entries = db["audit"]
        self._clock = clock

    async def ensure_indexes(self) -> None:
        await self._entries.create_index([("subject_id", 1), ("at", -1)])

    async def record(
        self,
        principal: Principal,
        action: str,
        subject_id: str,
        outcome: str = "ok",
        session: AsyncClientSession | None = None,
    ) -> None:
        await self._entries.insert_one(
            {
                "at": self._clock.now(),
                "actor": principal.subject,
                "roles": sorted(principal.roles),
                "action": action,
                "subject_id": subject_id,
                "outcome": outcome,
            },
            session=session,
        )
