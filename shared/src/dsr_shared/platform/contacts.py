"""Each person's contacts as a service that does not keep the register sees
them: built from ReferralAccepted (dsr.referrals) and ProfessionalsChanged
(dsr.ratings), in the service's own `contacts` collection. It answers who
may see whom (access.py) and whom to write to (the notifier).

One document per register id:
- `referrers`: everyone who referred the person (the referrer's work email
  and the submitting user), over all their referrals;
- `referrer_email`, `referrer_at`: the referrer of the latest referral;
- `professionals`, `case_holders`, `professionals_at`, `professionals_event`:
  the work emails of the newest list of professionals (a referral's list, or a
  later change on the register).
Every update is idempotent and commutes: referrers are a set, and the newest
(occurred_at, event_id) wins, so redelivered, late and out-of-order events
leave the same document."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from dsr_shared.contract.envelope import Envelope
from dsr_shared.contract.events import ProfessionalsChanged, ReferralAccepted
from dsr_shared.contract.events.referrals import Professional
from dsr_shared.platform.access import Contacts, PersonAccess, identities
from dsr_shared.platform.auth import Principal, Role
from dsr_shared.platform.consuming import Handler


def _email(value: str | None) -> str | None:
    value = (value or "").strip().lower()
    return value or None


def professionals_fields(professionals: Iterable[Professional]) -> dict[str, list[str]]:
    """What is kept of a list of professionals: the work emails, and which are
    case holders'. Names and phone numbers are not kept."""
    professionals = list(professionals)
    emails = [_email(p.email) for p in professionals]
    return {
        "professionals": sorted({e for e in emails if e}),
        "case_holders": sorted({e for e, p in zip(emails, professionals, strict=True) if e and p.case_holder}),
    }


class ContactsProjection:
    def __init__(self, db: AsyncDatabase) -> None:
        self.contacts = db["contacts"]

    async def ensure_indexes(self) -> None:
        # "Whose records may this user see": by any name they may be listed under.
        await self.contacts.create_index("referrers")
        await self.contacts.create_index("professionals")

    async def referral_accepted(
        self, envelope: Envelope, event: ReferralAccepted, session: AsyncClientSession | None = None
    ) -> None:
        register_id, at = event.register_id, envelope.occurred_at
        referrers = sorted(
            {n for n in (_email(event.referrer_email), _email(event.accepted_by)) if n and not n.startswith("system:")}
        )
        await self.contacts.update_one(
            {"_id": register_id}, {"$addToSet": {"referrers": {"$each": referrers}}}, upsert=True, session=session
        )
        await self.contacts.update_one(
            # None or not newer; `$not` rather than `$or`, which SecantusDB answers by a collection scan.
            {"_id": register_id, "referrer_at": {"$not": {"$gt": at}}},
            {"$set": {"referrer_email": _email(event.referrer_email), "referrer_at": at}},
            session=session,
        )
        await self._newest_professionals(register_id, event.professionals, at, envelope.event_id, session)

    async def professionals_changed(
        self, envelope: Envelope, event: ProfessionalsChanged, session: AsyncClientSession | None = None
    ) -> None:
        await self._newest_professionals(
            event.register_id, event.professionals, envelope.occurred_at, envelope.event_id, session
        )

    async def _newest_professionals(
        self,
        register_id: str,
        professionals: list[Professional],
        at: datetime,
        event_id: uuid.UUID,
        session: AsyncClientSession | None,
    ) -> None:
        current = await self.contacts.find_one(
            {"_id": register_id}, projection={"professionals_at": 1, "professionals_event": 1}, session=session
        )
        if current and current.get("professionals_at") is not None:
            if (current["professionals_at"], current.get("professionals_event") or "") >= (at, str(event_id)):
                return
        fields = {**professionals_fields(professionals), "professionals_at": at, "professionals_event": str(event_id)}
        await self.contacts.update_one({"_id": register_id}, {"$set": fields}, upsert=True, session=session)

    async def document(self, register_id: str, session: AsyncClientSession | None = None) -> dict[str, Any] | None:
        return await self.contacts.find_one({"_id": register_id}, session=session)

    async def documents(self, register_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        cursor = self.contacts.find({"_id": {"$in": sorted(set(register_ids))}})
        return {doc["_id"]: doc async for doc in cursor}

    async def of(self, register_id: str, session: AsyncClientSession | None = None) -> Contacts | None:
        """None for a person this service has not heard of. One lookup either
        way (access.py: the same work)."""
        doc = await self.document(register_id, session)
        return contacts_in(doc) if doc else None

    async def seen_by(self, principal: Principal) -> list[str]:
        """The register ids of the people this user is a contact of."""
        names = sorted(identities(principal))
        cursor = self.contacts.find(
            {"$or": [{"referrers": {"$in": names}}, {"professionals": {"$in": names}}]}, projection={"_id": 1}
        )
        return sorted([doc["_id"] async for doc in cursor])


class InMemoryContacts:
    """ContactsProjection kept in a dict, for the use-case tests that run in
    milliseconds: the same methods and answers (shared/tests/
    test_contacts_projection.py runs the same checks on both). Documents are
    copied out, as from the database; the transaction is ignored (the in-memory
    unit of work puts the state back when a use case fails)."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    async def ensure_indexes(self) -> None:
        pass

    async def referral_accepted(self, envelope: Envelope, event: ReferralAccepted, session: Any = None) -> None:
        doc = self.docs.setdefault(event.register_id, {"_id": event.register_id})
        named = sorted(
            {n for n in (_email(event.referrer_email), _email(event.accepted_by)) if n and not n.startswith("system:")}
        )
        held = doc.setdefault("referrers", [])
        held += [n for n in named if n not in held]  # as $addToSet
        if doc.get("referrer_at") is None or doc["referrer_at"] <= envelope.occurred_at:
            doc.update(referrer_email=_email(event.referrer_email), referrer_at=envelope.occurred_at)
        self._newest_professionals(doc, event.professionals, envelope)

    async def professionals_changed(self, envelope: Envelope, event: ProfessionalsChanged, session: Any = None) -> None:
        self._newest_professionals(
            self.docs.setdefault(event.register_id, {"_id": event.register_id}), event.professionals, envelope
        )

    @staticmethod
    def _newest_professionals(doc: dict[str, Any], professionals: list[Professional], envelope: Envelope) -> None:
        if doc.get("professionals_at") is not None:
            if (doc["professionals_at"], doc.get("professionals_event") or "") >= (
                envelope.occurred_at,
                str(envelope.event_id),
            ):
                return
        doc.update(
            professionals_fields(professionals),
            professionals_at=envelope.occurred_at,
            professionals_event=str(envelope.event_id),
        )

    async def document(self, register_id: str, session: Any = None) -> dict[str, Any] | None:
        return copy.deepcopy(self.docs.get(register_id))

    async def documents(self, register_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {rid: copy.deepcopy(self.docs[rid]) for rid in sorted(set(register_ids)) if rid in self.docs}

    async def of(self, register_id: str, session: Any = None) -> Contacts | None:
        doc = self.docs.get(register_id)
        return contacts_in(doc) if doc else None

    async def seen_by(self, principal: Principal) -> list[str]:
        names = identities(principal)
        return sorted(
            rid for rid, doc in self.docs.items() if names & {*doc.get("referrers", []), *doc.get("professionals", [])}
        )


async def list_scope(
    access: PersonAccess,
    projection: ContactsProjection,
    principal: Principal,
    action: str,
    register_id: str | None,
    everyone: Iterable[Role],
) -> str | dict[str, Any] | None:
    """The `register_id` filter of a list about people: the one asked for (for
    someone else's person, the 404 of a missing one), or, for a user who does
    not see everyone and named nobody, the people they are a contact of."""
    if access.sees_everyone(principal, everyone):
        return register_id
    if register_id:
        await access.require(principal, action, register_id, await projection.of(register_id))
        return register_id
    return {"$in": await projection.seen_by(principal)}


def contacts_in(doc: dict[str, Any] | None) -> Contacts:
    doc = doc or {}
    return Contacts.of(doc.get("referrers") or (), doc.get("professionals") or ())


def contacts_handlers(projection: ContactsProjection, run_once) -> dict[str, Handler]:
    """For a service that needs nothing else from these events: the projection
    updated once per event (`run_once`: the unit of work's, by event id)."""

    async def on_accepted(envelope: Envelope, event: ReferralAccepted) -> None:
        async def effect(session: AsyncClientSession) -> list:
            await projection.referral_accepted(envelope, event, session)
            return []

        await run_once(envelope.event_id, effect)

    async def on_professionals(envelope: Envelope, event: ProfessionalsChanged) -> None:
        async def effect(session: AsyncClientSession) -> list:
            await projection.professionals_changed(envelope, event, session)
            return []

        await run_once(envelope.event_id, effect)

    return {ReferralAccepted.EVENT_TYPE: on_accepted, ProfessionalsChanged.EVENT_TYPE: on_professionals}
