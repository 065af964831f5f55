"""Subscribers: rating changes schedule what the new rating demands."""

from __future__ import annotations

from pymongo.asynchronous.client_session import AsyncClientSession

from dsr_shared.db import Outgoing
from dsr_shared.envelope import Envelope, derived_event_id
from dsr_shared.events import ObligationScheduled, RatingChanged
from dsr_shared.messaging import Handler
from dsr_shared.runtime import Runtime
from dsr_scheduler.adapters.obligations import ObligationStore
from dsr_scheduler.domain.obligations import schedule
from dsr_shared.working_time import WorkingCalendar


def rating_handlers(runtime: Runtime, store: ObligationStore, calendar: WorkingCalendar) -> dict[str, Handler]:
    area = runtime.settings.area

    async def on_rating_changed(envelope: Envelope, event: RatingChanged) -> None:
        obligations = schedule(area, calendar, event, envelope.event_id, envelope.occurred_at)

        async def effect(session: AsyncClientSession) -> list[Outgoing]:
            await store.add_all(obligations, session)
            return [
                runtime.outgoing(
                    ObligationScheduled(
                        obligation_id=o.obligation_id,
                        register_id=o.register_id,
                        kind=o.kind,
                        title=o.title,
                        rule=o.rule,
                        responsible=o.responsible,
                        due_at=o.due_at,
                        triggered_by_event_id=envelope.event_id,
                    ),
                    occurred_at=envelope.occurred_at,
                    correlation_id=envelope.correlation_id,
                    causation_id=envelope.event_id,
                    event_id=derived_event_id(o.obligation_id, "ObligationScheduled"),
                )
                for o in obligations
            ]

        await runtime.uow.run_once(envelope.event_id, effect)

    return {RatingChanged.EVENT_TYPE: on_rating_changed}
