"""The people on the register, as this service keeps them: removal and the
newest timeline (heard from the rating service), the current address (changed over HTTP, never
published: addresses do not leave this service), and who a person is, for
whoever may see it (api.py checks who)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import Any

import structlog

from dsr_shared.contract.envelope import Envelope
from dsr_shared.contract.events import PersonRemoved, RatingChanged
from dsr_shared.contract.events.ratings import Transition
from dsr_shared.contract.events.referrals import Address
from dsr_shared.platform.access import NOBODY, Contacts
from dsr_shared.platform.db import Outgoing
from dsr_shared.platform.unit_of_work import Transaction
from dsr_referral.domain.eligibility import lives_in_area
from dsr_referral.domain.register_moves import on_register_now, register_moves
from dsr_referral.service.discharges import referrals_owed
from dsr_referral.service.ports import Ports

log = structlog.get_logger()


@dataclass(frozen=True)
class AddressChange:
    register_id: str
    in_area: bool


class People:
    def __init__(self, ports: Ports) -> None:
        self.ports = ports
        self.store = ports.store

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
        await self._heard(envelope, event.register_id, event.timeline, event.timeline_version, removal)

    async def rating_changed(self, envelope: Envelope, event: RatingChanged) -> None:
        """Only its timeline matters here: it may have the person back on the
        register (a late fact made their removal untrue)."""
        await self._heard(envelope, event.register_id, event.timeline, event.timeline_version, None)

    async def _heard(
        self,
        envelope: Envelope,
        register_id: str,
        timeline: list[Transition] | None,
        version: int | None,
        removal: dict[str, Any] | None,
    ) -> None:
        """The newest timeline decides whether the person is on the register now
        (an older one changes nothing), and whether a discharge kept while they
        were on it was in fact while they were off (R-ELIG-4: referred now); a
        removal without one (an older rating service) marks them off."""
        moves = register_moves(timeline or [])
        on_register = on_register_now(moves)

        async def effect(transaction: Transaction) -> list[Outgoing]:
            if timeline is not None and version is not None:
                kept = [asdict(move) for move in moves]
                if not await self.store.keep_timeline(register_id, version, kept, on_register, transaction):
                    return []  # an older timeline, or someone not known here
            if removal is not None and not on_register:
                if not await self.store.mark_removed(register_id, envelope.occurred_at, removal, transaction):
                    log.warning("removal of a person not on the register here", register_id=register_id)
            if timeline is None:
                return []
            return await referrals_owed(self.ports, register_id, moves, transaction)

        await self.ports.uow.run_once(envelope.event_id, effect)

    async def contacts(self, register_id: str) -> Contacts | None:
        """Who referred the person (the submitting users and the referrers named
        on their accepted referrals, known here at once) and the professionals
        on their current list (from the register's events); None when there is
        no such person. The same lookups either way (dsr_shared.platform.access)."""
        person, referrers, listed = await asyncio.gather(
            self.store.person(register_id), self.store.referrers_of(register_id), self.ports.contacts.of(register_id)
        )
        return (Contacts.of(referrers) | (listed or NOBODY)) if person else None

    async def change_address(self, register_id: str, address: Address, by: str) -> AddressChange | None:
        """None when there is no such person. `in_area`: whether the new address
        alone ties the person to the area (R-ELIG-3, postcode district)."""
        fields = address.model_dump(mode="json")
        changed = False

        async def change(transaction: Transaction) -> list[Outgoing]:
            nonlocal changed
            changed = await self.store.change_address(register_id, fields, self.ports.clock.now(), by, transaction)
            return []  # no event: the address stays here

        await self.ports.uow.commit_and_publish(change)
        if not changed:
            return None
        return AddressChange(register_id, lives_in_area(address.postcode, self.ports.settings.area))

    async def details(self, register_id: str) -> dict[str, Any] | None:
        """Name, date of birth, NHS number, current address; None when there is no such person."""
        return await self.store.details(register_id)

    async def search(
        self, *, nhs_number: str | None = None, family_name: str | None = None
    ) -> tuple[list[str], list[dict]]:
        """The register ids found by NHS number or last name (exact, any case), and each one's details."""
        if nhs_number:
            person = await self.store.person_by_nhs_number(nhs_number)
            ids = [person["_id"]] if person else []
        else:
            ids = await self.store.by_family_name(family_name or "")
        found = [d for d in [await self.store.details(register_id) for register_id in ids] if d]
        return ids, found
