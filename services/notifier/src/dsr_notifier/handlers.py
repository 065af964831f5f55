"""Subscribers: what happens on the register becomes emails to the right people.

Each handler, in one transaction with the event's inbox record, updates the
notifier's projection (contacts, open obligations) and queues the emails the
event calls for (domain/messages.py), one per (event, recipient); the sender
(delivery.py) sends them. A redelivered event finds its inbox record and
queues nothing, and a queued email's id is derived from the event and the
recipient, so an event gives each recipient one email. Consuming never waits
on the mail relay. While rebuilding (DSR_REBUILD) the projection is updated
and nothing is queued."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pymongo.asynchronous.client_session import AsyncClientSession

from dsr_shared.db import Outgoing
from dsr_shared.envelope import Envelope, derived_event_id
from dsr_shared.events import (
    FurtherReferralReceived,
    ObligationCancelled,
    ObligationCompleted,
    ObligationDue,
    ObligationOverdue,
    ObligationScheduled,
    PersonRemoved,
    ProfessionalsChanged,
    RatingChanged,
    ReferralAccepted,
    ReferralRejected,
    RemovalRequested,
    UpdateAdded,
)
from dsr_shared.messaging import Handler
from dsr_shared.runtime import Runtime
from dsr_notifier.adapters.notifications import NotificationStore
from dsr_notifier.adapters.projection import Projection
from dsr_notifier.delivery import Courier
from dsr_notifier.domain import messages
from dsr_notifier.domain.messages import Notification

Decide = Callable[[AsyncClientSession], Awaitable[list[Notification]]]


def queued(source_event_id, source_event_type: str, correlation_id: str | None, note: Notification, at,
           key=None) -> dict:
    """The queue's document for one email (adapters/notifications.py). Its id
    derives from the event, or from `key` when several events may tell of the
    same thing (a transition the register announces again as it learns more)."""
    mail_id = derived_event_id(key, f"notify:{note.template}:{note.recipient}") if key else derived_event_id(
        source_event_id, f"notify:{note.recipient}"
    )
    return {
        "_id": str(mail_id),
        "source_event_id": str(source_event_id),
        "source_event_type": source_event_type,
        "correlation_id": correlation_id,
        "register_id": note.register_id,
        "recipient": note.recipient,
        "template": note.template,
        "context": note.context,
        "created_at": at,
    }


class Notifier:
    def __init__(self, runtime: Runtime, store: NotificationStore, projection: Projection, courier: Courier) -> None:
        self.runtime, self.store, self.projection, self.courier = runtime, store, projection, courier
        self.area = runtime.settings.area

    async def handle(self, envelope: Envelope, decide: Decide, key=None) -> None:
        async def effect(session: AsyncClientSession) -> list[Outgoing]:
            notes = await decide(session)
            if notes and not self.runtime.settings.rebuild:
                now = self.runtime.clock.now()
                rows = [queued(envelope.event_id, envelope.event_type, envelope.correlation_id, n, now, key) for n in notes]
                await self.store.enqueue(rows, session)
            return []

        if await self.runtime.uow.run_once(envelope.event_id, effect):
            self.courier.poke()


def obligation_handlers(notifier: Notifier) -> dict[str, Handler]:
    area, projection = notifier.area, notifier.projection

    async def on_obligation(envelope: Envelope, event) -> None:
        async def decide(session: AsyncClientSession) -> list[Notification]:
            await projection.obligation(envelope.event_type, event, envelope.occurred_at, session)
            if isinstance(event, ObligationDue):
                return messages.for_obligation_due(event, await projection.contacts_of(event.register_id, session), area)
            if isinstance(event, ObligationOverdue):
                return messages.for_obligation_overdue(event, await projection.contacts_of(event.register_id, session), area)
            return []

        await notifier.handle(envelope, decide)

    return {
        cls.EVENT_TYPE: on_obligation
        for cls in (ObligationScheduled, ObligationDue, ObligationOverdue, ObligationCompleted, ObligationCancelled)
    }


def rating_handlers(notifier: Notifier) -> dict[str, Handler]:
    area, projection = notifier.area, notifier.projection

    async def on_rating_changed(envelope: Envelope, event: RatingChanged) -> None:
        async def decide(session: AsyncClientSession) -> list[Notification]:
            await set_standing(event, session)
            return messages.for_rating_changed(event, envelope.occurred_at, area)

        # One email per transition and recipient, however often it is announced.
        await notifier.handle(envelope, decide, key=event.transition_id)

    async def set_standing(event: RatingChanged | PersonRemoved, session: AsyncClientSession) -> None:
        """Where the person stands now: the newest transition of the timeline
        (an announcement may be of an older one the register learned late)."""
        if event.timeline:
            latest = max(event.timeline, key=lambda t: (t.at, str(t.transition_id)))
            rating = latest.to_rating.value if latest.to_rating else None
            return await projection.set_standing(event.register_id, rating is not None, rating, session)
        if isinstance(event, RatingChanged):
            return await projection.set_standing(event.register_id, True, event.to_rating.value, session)
        await projection.set_standing(event.register_id, False, None, session)

    async def on_update_added(envelope: Envelope, event: UpdateAdded) -> None:
        async def decide(_: AsyncClientSession) -> list[Notification]:
            return messages.for_update_added(event, envelope.occurred_at, area)

        await notifier.handle(envelope, decide)

    async def on_removal_requested(envelope: Envelope, event: RemovalRequested) -> None:
        async def decide(_: AsyncClientSession) -> list[Notification]:
            return messages.for_removal_requested(event, envelope.occurred_at, area)

        await notifier.handle(envelope, decide)

    async def on_person_removed(envelope: Envelope, event: PersonRemoved) -> None:
        async def decide(session: AsyncClientSession) -> list[Notification]:
            await set_standing(event, session)
            return messages.for_person_removed(event, envelope.occurred_at, area)

        await notifier.handle(envelope, decide, key=event.transition_id)

    async def on_professionals_changed(envelope: Envelope, event: ProfessionalsChanged) -> None:
        async def decide(session: AsyncClientSession) -> list[Notification]:
            await projection.contacts.professionals_changed(envelope, event, session)
            return []

        await notifier.handle(envelope, decide)

    return {
        RatingChanged.EVENT_TYPE: on_rating_changed,
        UpdateAdded.EVENT_TYPE: on_update_added,
        RemovalRequested.EVENT_TYPE: on_removal_requested,
        PersonRemoved.EVENT_TYPE: on_person_removed,
        ProfessionalsChanged.EVENT_TYPE: on_professionals_changed,
    }


def referral_handlers(notifier: Notifier) -> dict[str, Handler]:
    area, projection = notifier.area, notifier.projection

    async def on_accepted(envelope: Envelope, event: ReferralAccepted) -> None:
        async def decide(session: AsyncClientSession) -> list[Notification]:
            await projection.contacts.referral_accepted(envelope, event, session)
            return messages.for_referral_accepted(event, envelope.occurred_at, area)

        await notifier.handle(envelope, decide)

    async def on_rejected(envelope: Envelope, event: ReferralRejected) -> None:
        async def decide(_: AsyncClientSession) -> list[Notification]:
            return messages.for_referral_rejected(event, envelope.occurred_at, area)

        await notifier.handle(envelope, decide)

    async def on_further_referral(envelope: Envelope, event: FurtherReferralReceived) -> None:
        async def decide(session: AsyncClientSession) -> list[Notification]:
            current = await projection.rating_of(event.register_id, session)
            return messages.for_further_referral(event, current, area)

        await notifier.handle(envelope, decide)

    return {
        ReferralAccepted.EVENT_TYPE: on_accepted,
        ReferralRejected.EVENT_TYPE: on_rejected,
        FurtherReferralReceived.EVENT_TYPE: on_further_referral,
    }
