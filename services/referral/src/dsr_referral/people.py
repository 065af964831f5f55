"""The people on the register, as this service keeps them: removal (heard from
the rating service) and the current address (changed over HTTP, never
published: addresses do not leave this service)."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from pymongo.asynchronous.client_session import AsyncClientSession

from dsr_shared.db import Outgoing
from dsr_shared.envelope import Envelope
from dsr_shared.events import PersonRemoved
from dsr_shared.events.referrals import Address
from dsr_shared.runtime import Runtime
from dsr_referral.access import Submitter, may_see
from dsr_referral.adapters.referrals import ReferralStore
from dsr_referral.domain.eligibility import lives_in_area

log = structlog.get_logger()


@dataclass(frozen=True)
class AddressChange:
    register_id: str
    in_area: bool


class People:
    def __init__(self, runtime: Runtime, store: ReferralStore) -> None:
        self.runtime = runtime
        self.store = store

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

    async def may_change(self, register_id: str, who: Submitter) -> bool:
        """Whoever may see the record (access.py)."""
        return await self.store.person(register_id) is not None and await may_see(self.store, register_id, who)

    async def change_address(self, register_id: str, address: Address, by: str) -> AddressChange | None:
        """None when there is no such person. `in_area`: whether the new address
        alone ties the person to the area (R-ELIG-3, postcode district)."""
        changed = await self.store.change_address(register_id, address.model_dump(mode="json"), self.runtime.clock.now(), by)
        if not changed:
            return None
        return AddressChange(register_id, lives_in_area(address.postcode, self.runtime.settings.area))
