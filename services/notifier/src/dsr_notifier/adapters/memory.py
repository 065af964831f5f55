"""The notifier's repositories in memory, with the same methods and answers as
the MongoDB ones (adapters/notifications.py, adapters/projection.py), for
use-case tests that run in milliseconds. test_repository_contract.py runs the
same checks on both, so these cannot drift from the real ones.

Every read hands out a copy, as a database does, so a use case cannot change
the stored state other than by saving it."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from dsr_shared.contract.envelope import Envelope
from dsr_shared.contract.events import ProfessionalsChanged, ReferralAccepted
from dsr_shared.platform.contacts import InMemoryContacts
from dsr_shared.platform.unit_of_work import Transaction
from dsr_notifier.adapters.notifications import PUBLIC_FIELDS, DigestAlreadyMade, real_now
from dsr_notifier.adapters.projection import RATING_ORDER
from dsr_notifier.domain.recipients import Contacts
from dsr_notifier.domain.standing import PENDING, ObligationChange


def _matches(doc: dict[str, Any], filters: dict[str, Any]) -> bool:
    """The filters GET /notifications uses: equality, or `$in` a list."""
    for field, wanted in filters.items():
        value = doc.get(field)
        if isinstance(wanted, dict):
            if value not in wanted["$in"]:
                return False
        elif value != wanted:
            return False
    return True


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in doc.items() if k in PUBLIC_FIELDS}


class MemoryNotificationStore:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.digests: dict[str, dict[str, Any]] = {}

    async def ensure_indexes(self) -> None:
        pass

    async def enqueue(self, rows: list[dict[str, Any]], session: Transaction) -> None:
        now = real_now()
        for row in rows:
            self.rows.setdefault(row["_id"], {**copy.deepcopy(row), "state": "pending", "attempts": 0, "wake_at": now})

    async def record_digest(self, key: str, meeting_at: datetime, at: datetime, session: Transaction) -> None:
        if key in self.digests:
            raise DigestAlreadyMade(key)
        self.digests[key] = {"_id": key, "meeting_at": meeting_at, "made_at": at}

    async def digests_since(self, now: datetime) -> datetime:
        return self.digests.setdefault("since", {"_id": "since", "at": now})["at"]

    async def digest_made(self, key: str) -> bool:
        return key in self.digests

    async def due(self, limit: int) -> list[dict[str, Any]]:
        now = real_now()
        ready = sorted(
            (doc for doc in self.rows.values() if doc["state"] in ("pending", "sending") and doc["wake_at"] <= now),
            key=lambda doc: doc["wake_at"],
        )[:limit]
        return [{"_id": doc["_id"], "state": doc["state"], "wake_at": doc["wake_at"]} for doc in ready]

    async def claim(self, owner: str, lease: timedelta, due: list[dict[str, Any]]) -> list[dict[str, Any]]:
        now = real_now()
        claimed = []
        for seen in due:
            doc = self.rows.get(seen["_id"])
            if doc is None or doc["state"] != seen["state"] or doc.get("wake_at", now + lease) > now:
                continue  # claimed by another since
            taken_now = doc["state"] == "sending"
            if taken_now:
                doc["taken_over"] = True
            doc.update(state="sending", owner=owner, wake_at=now + lease, attempts=doc.get("attempts", 0) + 1)
            claimed.append({**copy.deepcopy(doc), "taken_over": taken_now})
        return claimed

    def _owned(self, notification_id: str, owner: str) -> dict[str, Any] | None:
        doc = self.rows.get(notification_id)
        return doc if doc and doc["state"] == "sending" and doc.get("owner") == owner else None

    async def mark_sent(
        self, notification_id: str, owner: str, subject: str, at: datetime, session: Transaction
    ) -> bool:
        doc = self._owned(notification_id, owner)
        if doc is None:
            return False
        doc.update(state="sent", sent_at=at, subject=subject)
        doc.pop("wake_at", None)
        doc.pop("owner", None)
        return True

    async def retry_later(
        self,
        notification_id: str,
        owner: str,
        error: str,
        next_attempt_at: datetime,
        *,
        alerted: bool,
        session: Transaction = None,
    ) -> bool:
        doc = self._owned(notification_id, owner)
        if doc is None:
            return False
        doc.update(state="pending", wake_at=next_attempt_at, last_error=error[:500])
        if alerted:
            doc["alerted"] = True
        doc.pop("owner", None)
        return True

    async def mark_failed(
        self, notification_id: str, owner: str, error: str, at: datetime, session: Transaction
    ) -> bool:
        doc = self._owned(notification_id, owner)
        if doc is None:
            return False
        doc.update(state="failed", failed_at=at, last_error=error[:500])
        doc.pop("wake_at", None)
        doc.pop("owner", None)
        return True

    async def release(self, notification_ids: list[str], owner: str) -> None:
        for notification_id in notification_ids:
            doc = self._owned(notification_id, owner)
            if doc is not None:
                doc.update(state="pending", wake_at=real_now(), attempts=doc["attempts"] - 1)
                doc.pop("owner")

    async def requeue(self, notification_id: str) -> dict[str, Any] | None:
        doc = self.rows.get(notification_id)
        if doc is None or doc["state"] != "failed":
            return None
        doc.update(state="pending", wake_at=real_now(), alerted=False)
        doc.pop("failed_at", None)
        return _public(doc)

    async def get(self, notification_id: str) -> dict[str, Any] | None:
        doc = self.rows.get(notification_id)
        return _public(doc) if doc else None

    async def recent(self, filters: dict[str, Any], limit: int = 500) -> list[dict[str, Any]]:
        found = [doc for doc in self.rows.values() if _matches(doc, filters)]
        found.sort(key=lambda doc: doc["created_at"], reverse=True)
        return [_public(doc) for doc in found[:limit]]


class MemoryProjection:
    def __init__(self) -> None:
        # Shared with the other services, as the MongoDB projection's (dsr_shared.platform.contacts).
        self.contacts = InMemoryContacts()
        self.obligations: dict[str, dict[str, Any]] = {}
        self.people: dict[str, dict[str, Any]] = {}

    async def ensure_indexes(self) -> None:
        pass

    async def set_standing(self, register_id: str, on_register: bool, rating: str | None, session: Transaction) -> None:
        person = self.people.setdefault(register_id, {"_id": register_id})
        person["on_register"] = on_register
        if rating:
            person["rating"] = rating

    async def rating_of(self, register_id: str, session: Transaction = None) -> str | None:
        person = self.people.get(register_id)
        return person.get("rating") if person and person.get("on_register") else None

    async def on_register_by_rating(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for register_id in sorted(self.people):
            person = self.people[register_id]
            if person.get("on_register"):
                found.setdefault(person.get("rating") or "unknown", []).append(register_id)
        order = {rating: i for i, rating in enumerate(RATING_ORDER)}
        return dict(sorted(found.items(), key=lambda item: order.get(item[0], len(order))))

    async def contacts_of(self, register_id: str, session: Transaction = None) -> Contacts:
        return Contacts.from_doc(await self.contacts.document(register_id, session))

    async def contacts_for(self, register_ids: set[str]) -> dict[str, Contacts]:
        return {rid: Contacts.from_doc(doc) for rid, doc in (await self.contacts.documents(register_ids)).items()}

    async def referral_accepted(self, envelope: Envelope, event: ReferralAccepted, session: Transaction) -> None:
        await self.contacts.referral_accepted(envelope, event, session)

    async def professionals_changed(
        self, envelope: Envelope, event: ProfessionalsChanged, session: Transaction
    ) -> None:
        await self.contacts.professionals_changed(envelope, event, session)

    async def advance_obligations(self, changes: list[ObligationChange]) -> None:
        for obligation_id, fields, earlier in changes:
            current = self.obligations.get(obligation_id)
            if current is None:
                self.obligations[obligation_id] = {"_id": obligation_id, **copy.deepcopy(fields)}
            elif current["state"] in earlier:
                current.update(copy.deepcopy(fields))

    async def pending_by(self, moment: datetime, limit: int = 5000) -> list[dict[str, Any]]:
        found = [o for o in self.obligations.values() if o["state"] in PENDING and o["due_at"] <= moment]
        return copy.deepcopy(sorted(found, key=lambda o: o["due_at"])[:limit])
