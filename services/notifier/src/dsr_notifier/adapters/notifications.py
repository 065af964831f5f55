"""Outgoing mail in MongoDB: one document per (event, recipient), which is
both the queue and the record of what was sent to whom.

States: `pending` (waiting for its next attempt) → `sending` (claimed by one
process for a lease) → `sent`, or `failed` (refused for good;
`POST /notifications/{id}/retry` puts it back). `wake_at` is when a pending
email's next attempt is due, or when a sending one's lease runs out (its
process died): one field and one index for both, so the `sent` mark, which
ends the window for a second copy, updates as few index entries as it can.
A claim is an atomic update, so one process sends each email. Leases and
retry times are real time, not the simulated clock of demos."""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

# What GET /notifications shows of a document.
PUBLIC_FIELDS = {
    "_id": 1,
    "source_event_id": 1,
    "source_event_type": 1,
    "register_id": 1,
    "recipient": 1,
    "template": 1,
    "subject": 1,
    "state": 1,
    "attempts": 1,
    "created_at": 1,
    "sent_at": 1,
    "failed_at": 1,
    "last_error": 1,
    "wake_at": 1,
    "taken_over": 1,
}


# What `due` reads of an email: enough to claim it.
_DUE_FIELDS = {"_id": 1, "state": 1, "wake_at": 1}


class DigestAlreadyMade(Exception):
    """This meeting's digests were made already (perhaps by another process)."""


def real_now() -> datetime:
    return datetime.now(timezone.utc)


class NotificationStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.rows = db["notifications"]
        self.digests = db["digests"]

    async def ensure_indexes(self) -> None:
        # Only a pending or sending email has `wake_at`: the index holds the queue, not the record.
        await self.rows.create_index([("wake_at", 1)], sparse=True, name="queue")
        with contextlib.suppress(OperationFailure):  # the queue's index before it (absent on a new database)
            await self.rows.drop_index("state_1_wake_at_1")
        await self.rows.create_index([("register_id", 1), ("created_at", -1)])
        await self.rows.create_index([("source_event_id", 1)])
        await self.rows.create_index([("created_at", -1)])

    async def enqueue(self, rows: list[dict[str, Any]], session: AsyncClientSession) -> None:
        """Record emails to send. An id already present is left alone: one
        email per (event, recipient) whatever happens upstream."""
        now = real_now()
        for row in rows:
            await self.rows.update_one(
                {"_id": row["_id"]},
                {"$setOnInsert": {**row, "state": "pending", "attempts": 0, "wake_at": now}},
                upsert=True,
                session=session,
            )

    async def record_digest(self, key: str, meeting_at: datetime, at: datetime, session: AsyncClientSession) -> None:
        """Raises DigestAlreadyMade when this meeting's digests were made already:
        the key can be written once, also by several notifier processes."""
        try:
            await self.digests.insert_one({"_id": key, "meeting_at": meeting_at, "made_at": at}, session=session)
        except DuplicateKeyError as exc:
            raise DigestAlreadyMade(key) from exc

    async def digests_since(self, now: datetime) -> datetime:
        """When the notifier first looked for digests to send (set now, the first time)."""
        await self.digests.update_one({"_id": "since"}, {"$setOnInsert": {"at": now}}, upsert=True)
        return (await self.digests.find_one({"_id": "since"}))["at"]

    async def digest_made(self, key: str) -> bool:
        return await self.digests.find_one({"_id": key}, projection={"_id": 1}) is not None

    async def due(self, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` emails whose time has come, soonest first: only
        `_id`, `state` and `wake_at`, for `claim`. Read once for many claims:
        the embedded database reads every due email before it applies the
        limit, so reading them for each batch of 20 made draining a long
        queue cost its length squared."""
        cursor = self.rows.find({"wake_at": {"$lte": real_now()}}, projection=_DUE_FIELDS).sort("wake_at", 1)
        return [doc async for doc in cursor.limit(limit)]

    async def claim(self, owner: str, lease: timedelta, due: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Those of `due` still waiting, now owned by `owner`, in three round
        trips whatever their number. One still `sending` had its lease run out
        (its sender stopped mid-batch): it is marked `taken_over`, since it may
        have gone out already. In each row returned, `taken_over` says whether
        this claim took it over."""
        now, token = real_now(), str(uuid.uuid4())
        fields = {"state": "sending", "owner": owner, "wake_at": now + lease, "claim": token}
        stopped = {d["_id"] for d in due if d["state"] == "sending"}
        for state, ids, extra in (
            ("pending", [d["_id"] for d in due if d["_id"] not in stopped], {}),
            ("sending", sorted(stopped), {"taken_over": True}),
        ):
            if ids:
                # Each only if unchanged since read: no one else claimed it.
                await self.rows.update_many(
                    {"_id": {"$in": ids}, "state": state, "wake_at": {"$lte": now}},
                    {"$set": {**fields, **extra}, "$inc": {"attempts": 1}},
                )
        ids = [d["_id"] for d in due]
        claimed = {doc["_id"]: doc async for doc in self.rows.find({"_id": {"$in": ids}, "claim": token})}
        return [{**claimed[i], "taken_over": i in stopped} for i in ids if i in claimed]

    async def mark_sent(
        self, notification_id: str, owner: str, subject: str, at: datetime, session: AsyncClientSession
    ) -> bool:
        """False when the email is no longer this process's (its lease ran out
        and another took it): then it may have gone out twice."""
        done = await self.rows.update_one(
            {"_id": notification_id, "state": "sending", "owner": owner},
            {"$set": {"state": "sent", "sent_at": at, "subject": subject}, "$unset": {"wake_at": "", "owner": ""}},
            session=session,
        )
        return bool(done.modified_count)

    async def retry_later(
        self,
        notification_id: str,
        owner: str,
        error: str,
        next_attempt_at: datetime,
        *,
        alerted: bool,
        session: AsyncClientSession | None = None,
    ) -> bool:
        fields: dict[str, Any] = {"state": "pending", "wake_at": next_attempt_at, "last_error": error[:500]}
        if alerted:
            fields["alerted"] = True
        done = await self.rows.update_one(
            {"_id": notification_id, "state": "sending", "owner": owner},
            {"$set": fields, "$unset": {"owner": ""}},
            session=session,
        )
        return bool(done.modified_count)

    async def mark_failed(
        self, notification_id: str, owner: str, error: str, at: datetime, session: AsyncClientSession
    ) -> bool:
        done = await self.rows.update_one(
            {"_id": notification_id, "state": "sending", "owner": owner},
            {
                "$set": {"state": "failed", "failed_at": at, "last_error": error[:500]},
                "$unset": {"wake_at": "", "owner": ""},
            },
            session=session,
        )
        return bool(done.modified_count)

    async def release(self, notification_ids: list[str], owner: str) -> None:
        """Give back emails claimed but not tried (the process is stopping)."""
        if notification_ids:
            await self.rows.update_many(
                {"_id": {"$in": notification_ids}, "state": "sending", "owner": owner},
                {
                    "$set": {"state": "pending", "wake_at": real_now()},
                    "$inc": {"attempts": -1},
                    "$unset": {"owner": ""},
                },
            )

    async def requeue(self, notification_id: str) -> dict[str, Any] | None:
        """A failed email back in the queue; None when it is not failed."""
        done = await self.rows.update_one(
            {"_id": notification_id, "state": "failed"},
            {"$set": {"state": "pending", "wake_at": real_now(), "alerted": False}, "$unset": {"failed_at": ""}},
        )
        if not done.modified_count:
            return None
        return await self.rows.find_one({"_id": notification_id}, projection=PUBLIC_FIELDS)

    async def get(self, notification_id: str) -> dict[str, Any] | None:
        return await self.rows.find_one({"_id": notification_id}, projection=PUBLIC_FIELDS)

    async def recent(self, filters: dict[str, Any], limit: int = 500) -> list[dict[str, Any]]:
        cursor = self.rows.find(filters, projection=PUBLIC_FIELDS).sort("created_at", -1).limit(limit)
        return [doc async for doc in cursor]
