"""Every read or change of a person's record is audited (docs/RULES.md "Data
protection"), in each service's own `audit` collection: who (subject and
roles), when, what (action and outcome), about whom (`subject_id`: a register
id; a referral, obligation or notification id when no person is known; `*`
for a list), and through which endpoint with which correlation id.
GET /audit (audit_api.py) reads it back."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from dsr_shared.platform.auth import Principal
from dsr_shared.platform.clock import Clock


@dataclass(frozen=True)
class Via:
    """The HTTP request an audited action came through (set by http.py)."""

    endpoint: str
    correlation_id: str | None = None


VIA: ContextVar[Via | None] = ContextVar("dsr_audit_via", default=None)


class AuditLog:
    def __init__(self, db: AsyncDatabase, clock: Clock, service: str = "dsr") -> None:
        self._entries = db["audit"]
        self._clock = clock
        self._service = service

    async def ensure_indexes(self) -> None:
        await self._entries.create_index([("subject_id", 1), ("at", 1), ("_id", 1)])
        await self._entries.create_index([("actor", 1), ("at", 1), ("_id", 1)])
        await self._entries.create_index([("at", 1), ("_id", 1)])

    async def record(
        self,
        principal: Principal,
        action: str,
        subject_id: str,
        outcome: str = "ok",
        session: AsyncClientSession | None = None,
    ) -> None:
        via = VIA.get()
        await self._entries.insert_one(
            {
                "at": self._clock.now(),
                "service": self._service,
                "actor": principal.subject,
                "actor_email": principal.email,
                "roles": sorted(principal.roles),
                "action": action,
                "subject_id": subject_id,
                "outcome": outcome,
                "endpoint": via.endpoint if via else None,
                "correlation_id": via.correlation_id if via else None,
            },
            session=session,
        )

    async def read(
        self,
        *,
        subject_id: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Entries in time order, and the cursor of the next page (None at the end)."""
        query: dict[str, Any] = {}
        if subject_id is not None:
            query["subject_id"] = subject_id
        if actor is not None:
            query["actor"] = actor
        if since is not None:
            query["at"] = {"$gte": since}
        if after is not None:
            at, last_id = _parse_cursor(after)
            query["$or"] = [{"at": {"$gt": at}}, {"at": at, "_id": {"$gt": last_id}}]
        cursor = self._entries.find(query).sort([("at", 1), ("_id", 1)]).limit(limit + 1)
        found = [doc async for doc in cursor]
        more = len(found) > limit
        found = found[:limit]
        return [_public(doc) for doc in found], (_cursor(found[-1]) if more else None)


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    doc["entry_id"] = str(doc.pop("_id"))
    return doc


# The next page starts after this entry: its time (milliseconds since the
# epoch, as the database keeps it) and its id.
CURSOR_PATTERN = r"^[0-9]{1,13}-[0-9a-f]{24}$"


def _cursor(entry: dict[str, Any]) -> str:
    return f"{round(entry['at'].timestamp() * 1000)}-{entry['entry_id']}"


def _parse_cursor(value: str) -> tuple[datetime, ObjectId]:
    millis, _, entry_id = value.partition("-")
    return datetime.fromtimestamp(int(millis) / 1000, timezone.utc), ObjectId(entry_id)
