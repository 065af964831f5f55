"""A discharge heard from the hospitals' topic: R-ELIG-4's automatic
referral (domain/automatic_referral.py decides), once per discharge event."""

from __future__ import annotations

from dsr_shared.contract.envelope import Envelope, derived_event_id
from dsr_shared.contract.events import Discharged, ReferralAccepted
from dsr_shared.platform.db import Outgoing
from dsr_shared.platform.unit_of_work import Transaction
from dsr_referral.domain.automatic_referral import ACCEPTED_BY, automatic_referral, needs_automatic_referral
from dsr_referral.domain.register_id import new_register_id
from dsr_referral.domain.register_moves import Move
from dsr_referral.service.ports import Ports


class Discharges:
    def __init__(self, ports: Ports) -> None:
        self.ports = ports
        self.store = ports.store

    async def discharged(self, envelope: Envelope, discharge: Discharged) -> None:
        """A person discharged who was not on the register then (never referred,
        or removed) is referred automatically; a removed person keeps their
        register id (R-ID-1). Someone back on it since (a referral came first)
        is left alone."""
        nhs_number = discharge.nhs_number
        known = await self.store.person_by_nhs_number(nhs_number)
        removed = bool(known and known.get("removed_at"))
        moves = [Move(**move) for move in (known or {}).get("register_moves", [])]
        if not needs_automatic_referral(discharge, known=known is not None, removed=removed, moves=moves):
            return
        area = self.ports.settings.area
        now = self.ports.clock.now()
        register_id = known["_id"] if known else new_register_id(area.code)
        referral_id = derived_event_id(envelope.event_id, "automatic-referral")
        event = automatic_referral(
            discharge,
            referral_id=referral_id,
            register_id=register_id,
            nhs_number_hash=self.ports.nhs_number_hash(nhs_number),
            dsr_team_mailbox=area.dsr_team_mailbox,
        )
        doc = {
            "_id": str(referral_id),
            "submission_id": f"discharge:{envelope.event_id}",
            "submitted_by": ACCEPTED_BY,
            "submitted_at": now,
            "outcome": "accepted",
            "register_id": register_id,
            "cohort": event.cohort.value,
            "source": {
                "discharge_event_id": str(envelope.event_id),
                "hospital_ods_code": discharge.hospital_ods_code,
                "discharged_at": discharge.discharged_at,
                "destination": discharge.destination,
            },
            "correlation_id": envelope.correlation_id,
        }

        async def effect(transaction: Transaction) -> list[Outgoing]:
            if not known:
                await self.store.add_person(register_id, nhs_number, str(referral_id), now, transaction)
            elif not await self.store.return_person(register_id, str(referral_id), now, transaction):
                return []  # a referral brought them back meanwhile: on the register again, nothing to do
            await self.store.add_referral(doc, transaction)
            outgoing = self.ports.outgoing(
                event,
                occurred_at=discharge.discharged_at,
                correlation_id=envelope.correlation_id,
                causation_id=envelope.event_id,
                event_id=derived_event_id(envelope.event_id, ReferralAccepted.EVENT_TYPE),
            )
            return [outgoing]

        # A second delivery, or a second discharge racing it, meets the unique NHS
        # number (or a person no longer removed) and adds nothing.
        await self.ports.uow.run_once(envelope.event_id, effect)
