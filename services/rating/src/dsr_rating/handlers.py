"""Subscribers: referral outcomes (and, later, hospital events) change the register."""

from __future__ import annotations

from pymongo.asynchronous.client_session import AsyncClientSession

from dsr_shared.db import Outgoing
from dsr_shared.envelope import Envelope, derived_event_id
from dsr_shared.events import ReferralAccepted
from dsr_shared.messaging import Handler
from dsr_shared.runtime import Runtime
from dsr_rating.adapters.people import PeopleStore
from dsr_rating.domain.register import enter_register


def referral_handlers(runtime: Runtime, people: PeopleStore) -> dict[str, Handler]:
    async def on_accepted(envelope: Envelope, event: ReferralAccepted) -> None:
        async def effect(session: AsyncClientSession) -> list[Outgoing]:
            person, changed = enter_register(event, envelope.event_id, envelope.occurred_at)
            await people.add(person, session)
            return [
                runtime.outgoing(
                    changed,
                    occurred_at=envelope.occurred_at,
                    correlation_id=envelope.correlation_id,
                    causation_id=envelope.event_id,
                    event_id=derived_event_id(envelope.event_id, "RatingChanged"),
                )
            ]

        await runtime.uow.run_once(envelope.event_id, effect)

    return {ReferralAccepted.EVENT_TYPE: on_accepted}
