"""A discharge heard from the hospitals' topic: R-ELIG-4's automatic
referral (domain/automatic_referral.py decides), once per discharge event.
A discharge of someone on the register at its time is kept on their record
and judged again whenever a newer timeline is heard (`referrals_owed`): a
removal the rating service recorded late may have had them off it then."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from dsr_shared.contract.envelope import Envelope, derived_event_id
from dsr_shared.contract.events import Discharged, ReferralAccepted
from dsr_shared.platform.db import Outgoing
from dsr_shared.platform.unit_of_work import Transaction
from dsr_referral.domain import automatic_referral as rule
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
        register id (R-ID-1). Someone on it then is left alone, and the
        discharge kept. Read in the transaction: a timeline earlier in the
        same batch counts."""
        seen = {
            "event_id": str(envelope.event_id),
            "discharged_at": discharge.discharged_at,
            "hospital_ods_code": discharge.hospital_ods_code,
            "destination": discharge.destination,
            "correlation_id": envelope.correlation_id,
        }

        async def effect(transaction: Transaction) -> list[Outgoing]:
            known = await self.store.person_by_nhs_number(discharge.nhs_number, transaction)
            removed = bool(known and known.get("removed_at"))
            moves = _moves(known)
            if rule.needs_automatic_referral(discharge, known=known is not None, removed=removed, moves=moves):
                return await _refer(self.ports, known, discharge.nhs_number, seen, moves, transaction)
            assert known is not None
            await self.store.keep_discharge(known["_id"], seen, transaction)
            return []

        # A second delivery meets the inbox; a second discharge racing it, the unique
        # NHS number or a person no longer removed (then it is kept, judged again later).
        await self.ports.uow.run_once(envelope.event_id, effect)


async def referrals_owed(ports: Ports, register_id: str, moves: Sequence[Move], transaction: Transaction) -> list:
    """After a newer timeline is kept: the automatic referrals it shows were
    owed on discharges kept while the person seemed on the register."""
    person = await ports.store.person(register_id, transaction)
    kept = (person or {}).get("discharges_while_on") or []
    if person is None or not kept:
        return []
    out: list[Outgoing] = []
    for i in rule.referrals_owed([d["discharged_at"] for d in kept], moves):
        out += await _refer(ports, person, person["nhs_number"], kept[i], moves, transaction)
    return out


async def _refer(
    ports: Ports,
    known: dict[str, Any] | None,
    nhs_number: str,
    seen: dict[str, Any],
    moves: Sequence[Move],
    transaction: Transaction,
) -> list[Outgoing]:
    """The automatic referral on the discharge `seen`, under the person's
    register id if known (R-ID-1). A kept discharge is forgotten in the same
    transaction as its referral is made, so none is made twice."""
    store, area, now = ports.store, ports.settings.area, ports.clock.now()
    discharge_id = uuid.UUID(seen["event_id"])
    referral_id = derived_event_id(discharge_id, "automatic-referral")
    register_id = known["_id"] if known else new_register_id(area.code)
    if not known:
        await store.add_person(register_id, nhs_number, str(referral_id), now, transaction)
    elif not await store.return_person(register_id, str(referral_id), now, transaction):
        if not rule.back_since_later(moves, seen["discharged_at"]):
            # Back on the register by a referral this service has made or taken but
            # the rating service has not told of yet: judged again on its timeline.
            await store.keep_discharge(register_id, seen, transaction)
            return []
    if known:
        await store.forget_discharge(register_id, seen["event_id"], transaction)
    discharge = Discharged(
        nhs_number=nhs_number,
        discharged_at=seen["discharged_at"],
        hospital_ods_code=seen["hospital_ods_code"],
        destination=seen["destination"],
    )
    event = rule.automatic_referral(
        discharge,
        referral_id=referral_id,
        register_id=register_id,
        nhs_number_hash=ports.nhs_number_hash(nhs_number),
        dsr_team_mailbox=area.dsr_team_mailbox,
    )
    await store.add_referral(
        {
            "_id": str(referral_id),
            "submission_id": f"discharge:{discharge_id}",
            "submitted_by": rule.ACCEPTED_BY,
            "submitted_at": now,
            "outcome": "accepted",
            "register_id": register_id,
            "cohort": event.cohort.value,
            "source": {
                "discharge_event_id": str(discharge_id),
                "hospital_ods_code": discharge.hospital_ods_code,
                "discharged_at": discharge.discharged_at,
                "destination": discharge.destination,
            },
            "correlation_id": seen["correlation_id"],
        },
        transaction,
    )
    outgoing = ports.outgoing(
        event,
        occurred_at=discharge.discharged_at,
        correlation_id=seen["correlation_id"],
        causation_id=discharge_id,
        event_id=derived_event_id(discharge_id, ReferralAccepted.EVENT_TYPE),
    )
    return [outgoing]


def _moves(known: dict[str, Any] | None) -> list[Move]:
    return [Move(**move) for move in (known or {}).get("register_moves", [])]
