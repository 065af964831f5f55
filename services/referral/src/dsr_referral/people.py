"""The people on the register, as this service keeps them: removal (heard from
the rating service) and the current address (changed over HTTP, never
published: addresses do not leave this service)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog
from pymongo.asynchronous.client_session import AsyncClientSession

from dsr_shared.access import NOBODY, Contacts
from dsr_shared.contacts import ContactsProjection
from dsr_shared.db import Outgoing
from dsr_shared.envelope import Envelope
from dsr_shared.events import PersonRemoved
from dsr_shared.events.referrals import Address
from dsr_shared.runtime import Runtime
from dsr_referral.adapters.referrals import ReferralStore
from dsr_referral.domain.eligibility import lives_in_area

log = structlog.get_logger()


@dataclass(frozen=True)
class AddressChange:
    register_id: str
    in_area: bool


class People:
    def __init__(self, runtime: Runtime, store: ReferralStore, contacts: ContactsProjection) -> None:
        self.runtime = runtime
        self.store = store
        self.contacts_projection = contacts

    async def removed(self, envelope: Envelope, event: PersonRemoved) -> None:
        """R-RAG-6 / R-RAG-5: the person is off the register. Their record stays,
        marked, so that a new referral (or a discharge, R-ELIG-4) brings them
        back under the same register id (R-ID-1)."""
        removal = {
            "cause": event.cause,
            "removed_by": event.removed_by,
            "reason": event.reason,
            "event_id": str(envelope.event_id),
        }

        async def effect(session: AsyncClientSession) -> list[Outgoing]:
            if not await self.store.mark_removed(event.register_id, envelope.occurred_at, removal, session):
                log.warning("removal of a person not on the register here", register_id=event.register_id)
            return []

        await self.runtime.uow.run_once(envelope.event_id, effect)

    async def contacts(self, register_id: str) -> Contacts | None:
        """Who referred the person (the submitting users and the referrers named
        on their accepted referrals, known here at once) and the professionals
        on their current list (from the register's events); None when there is
        no such person. The same lookups either way (access.py)."""
        person, referrers, listed = await asyncio.gather(
            self.store.person(register_id), self.store.referrers_of(register_id), self.contacts_projection.of(register_id)
        )
        return (Contacts.of(referrers) | (listed or NOBODY)) if person else None

    async def change_address(self, register_id: str, address: Address, by: str) -> AddressChange | None:
        """None when there is no such person. `in_area`: whether the new address
        alone ties the person to the area (R-ELIG-3, postcode district)."""
        changed = await self.store.change_address(register_id, address.model_dump(mode="json"), self.runtime.clock.now(), by)
        if not changed:
            return None
        return AddressChange(register_id, lives_in_area(address.postcode, self.runtime.settings.area))
