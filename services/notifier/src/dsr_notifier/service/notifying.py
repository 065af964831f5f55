"""The notifier's use cases: what happens on the register becomes emails to the
right people, queued in the transaction that marks the event processed.

Each event updates the notifier's projection (contacts, standing, open
obligations) and queues the emails the event calls for (domain/messages.py),
one per (event, recipient); the sender (sending.py) sends them. A redelivered
event finds its inbox record and queues nothing, and a queued email's id is
derived from the event and the recipient, so an event gives each recipient one
email. Consuming never waits on the mail relay. While rebuilding (DSR_REBUILD)
the projection is updated and nothing is queued.

R-OB-14: the digests before each tracking meeting (domain/digest.py says what
and when), made from the notifier's own view of the register once per meeting:
the meeting's marker and its emails are written in one transaction, and the
marker (area and meeting time) can be written only once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog

from dsr_shared.contract.envelope import Envelope
from dsr_shared.contract.events import (
    FurtherReferralReceived,
    ObligationDue,
    ObligationOverdue,
    PersonRemoved,
    ProfessionalsChanged,
    RatingChanged,
    ReferralAccepted,
    ReferralRejected,
    RemovalRequested,
    UpdateAdded,
)
from dsr_shared.platform.clock import Clock
from dsr_shared.platform.db import Outgoing
from dsr_shared.platform.unit_of_work import Transaction, UnitOfWork
from dsr_notifier.adapters.notifications import DigestAlreadyMade, NotificationStore
from dsr_notifier.adapters.projection import Projection
from dsr_notifier.domain import messages, standing
from dsr_notifier.domain.digest import SOURCE_TYPE, UPDATE_KIND, digest_key, digest_source_id, digests
from dsr_notifier.domain.meetings import digest_at, meeting_to_announce
from dsr_notifier.domain.messages import Notification, queued
from dsr_notifier.settings import NotifierSettings

log = structlog.get_logger()

Decide = Callable[[Transaction], Awaitable[list[Notification]]]


@dataclass(frozen=True)
class Retried:
    """The answer to a request to send a failed email again: the email, now
    queued; else its state (None: there is no such email)."""

    notification: dict[str, Any] | None
    state: str | None = None


class NotifierService:
    def __init__(
        self,
        settings: NotifierSettings,
        clock: Clock,
        uow: UnitOfWork,
        store: NotificationStore,
        projection: Projection,
    ) -> None:
        self.settings, self.clock, self.uow, self.store, self.projection = settings, clock, uow, store, projection
        self.area = settings.area
        # Set when there is mail to send, so the sender need not wait for its next poll.
        self.mail_waiting = asyncio.Event()
        # Obligation events handled and not yet written (the consumer's own task only).
        self._obligations_to_record: list[standing.ObligationChange] = []

    async def _notify(self, envelope: Envelope, decide: Decide, key: Any = None) -> None:
        """The event's effect, once: `decide` updates the projection and says
        which emails the event calls for; they are queued with its inbox record."""

        async def effect(transaction: Transaction) -> list[Outgoing]:
            notes = await decide(transaction)
            if notes and not self.settings.rebuild:
                now = self.clock.now()
                rows = [
                    queued(envelope.event_id, envelope.event_type, envelope.correlation_id, n, now, key) for n in notes
                ]
                await self.store.enqueue(rows, transaction)
            return []

        if await self.uow.run_once(envelope.event_id, effect):
            await self.uow.when_committed(self.mail_waiting.set)

    # dsr.obligations

    async def obligation_changed(self, envelope: Envelope, event: Any) -> None:
        """Any of the five obligation events: the obligation's state moves
        forward only, in one write outside any transaction (doing it twice
        changes nothing, so no inbox record is needed: most of these events
        mail no one); a due or overdue one is then told to whoever is
        responsible, once (by event id)."""
        self._obligations_to_record.append(self._obligation_change(envelope, event))
        # Written together with the others of the batch, after it (at once outside one).
        await self.uow.when_committed(self._record_obligations)
        if not isinstance(event, ObligationDue | ObligationOverdue):
            return

        async def decide(transaction: Transaction) -> list[Notification]:
            contacts = await self.projection.contacts_of(event.register_id, transaction)
            if isinstance(event, ObligationDue):
                return messages.for_obligation_due(event, contacts, self.area)
            return messages.for_obligation_overdue(event, contacts, self.area)

        await self._notify(envelope, decide)

    @staticmethod
    def _obligation_change(envelope: Envelope, event: Any) -> standing.ObligationChange:
        state = standing.OBLIGATION_STATES[envelope.event_type]
        fields = {
            "register_id": event.register_id,
            "rule": event.rule,
            "kind": event.kind,
            "responsible": event.responsible,
            "due_at": event.due_at,
            "needs_own_consent": event.needs_own_consent,
            "state": state,
            "updated_at": envelope.occurred_at,
        }
        return str(event.obligation_id), fields, standing.earlier_states(state)

    async def _record_obligations(self) -> None:
        """What the obligation events handled so far say, in one write."""
        changes, self._obligations_to_record = self._obligations_to_record, []
        await self.projection.advance_obligations(changes)

    # dsr.ratings

    async def rating_changed(self, envelope: Envelope, event: RatingChanged) -> None:
        async def decide(transaction: Transaction) -> list[Notification]:
            await self._set_standing(event, transaction)
            return messages.for_rating_changed(event, envelope.occurred_at, self.area)

        # One email per transition and recipient, however often it is announced.
        await self._notify(envelope, decide, key=event.transition_id)

    async def person_removed(self, envelope: Envelope, event: PersonRemoved) -> None:
        async def decide(transaction: Transaction) -> list[Notification]:
            await self._set_standing(event, transaction)
            return messages.for_person_removed(event, envelope.occurred_at, self.area)

        await self._notify(envelope, decide, key=event.transition_id)

    async def _set_standing(self, event: RatingChanged | PersonRemoved, transaction: Transaction) -> None:
        on_register, rating = standing.standing(event)
        await self.projection.set_standing(event.register_id, on_register, rating, transaction)

    async def update_added(self, envelope: Envelope, event: UpdateAdded) -> None:
        async def decide(_: Transaction) -> list[Notification]:
            return messages.for_update_added(event, envelope.occurred_at, self.area)

        await self._notify(envelope, decide)

    async def removal_requested(self, envelope: Envelope, event: RemovalRequested) -> None:
        async def decide(_: Transaction) -> list[Notification]:
            return messages.for_removal_requested(event, envelope.occurred_at, self.area)

        await self._notify(envelope, decide)

    async def professionals_changed(self, envelope: Envelope, event: ProfessionalsChanged) -> None:
        async def decide(transaction: Transaction) -> list[Notification]:
            await self.projection.professionals_changed(envelope, event, transaction)
            return []

        await self._notify(envelope, decide)

    # dsr.referrals

    async def referral_accepted(self, envelope: Envelope, event: ReferralAccepted) -> None:
        async def decide(transaction: Transaction) -> list[Notification]:
            await self.projection.referral_accepted(envelope, event, transaction)
            return messages.for_referral_accepted(event, envelope.occurred_at, self.area)

        await self._notify(envelope, decide)

    async def referral_rejected(self, envelope: Envelope, event: ReferralRejected) -> None:
        async def decide(_: Transaction) -> list[Notification]:
            return messages.for_referral_rejected(event, envelope.occurred_at, self.area)

        await self._notify(envelope, decide)

    async def further_referral_received(self, envelope: Envelope, event: FurtherReferralReceived) -> None:
        async def decide(transaction: Transaction) -> list[Notification]:
            current = await self.projection.rating_of(event.register_id, transaction)
            return messages.for_further_referral(event, current, self.area)

        await self._notify(envelope, decide)

    # The digest sweeper (R-OB-14)

    async def make_digests(self) -> int:
        """Queue the digests of the latest meeting whose digest time has come,
        if not done yet; the number of emails queued (0: nothing to do)."""
        area, now = self.area, self.clock.now()
        if area.tracking_meeting is None or self.settings.rebuild:
            return 0
        meeting_at = meeting_to_announce(area, now, await self.store.digests_since(now))
        if meeting_at is None:
            return 0
        key = digest_key(area, meeting_at)
        if await self.store.digest_made(key):
            return 0
        pending = await self.projection.pending_by(meeting_at)
        contacts = await self.projection.contacts_for({d["register_id"] for d in pending if d["kind"] == UPDATE_KIND})
        notes = digests(
            area,
            meeting_at,
            now,
            pending,
            contacts,
            await self.projection.on_register_by_rating(),
            due_at=digest_at(area, meeting_at),
        )
        source_id = digest_source_id(key)
        rows = [queued(source_id, SOURCE_TYPE, f"digest:{key}", note, now) for note in notes]

        async def work(transaction: Transaction) -> list[Outgoing]:
            await self.store.record_digest(key, meeting_at, now, transaction)
            await self.store.enqueue(rows, transaction)
            return []

        try:
            await self.uow.commit_and_publish(work)
        except DigestAlreadyMade:
            return 0  # another process made them
        log.info("tracking meeting digests queued", meeting_at=meeting_at.isoformat(), emails=len(rows))
        self.mail_waiting.set()
        return len(rows)

    # HTTP

    async def notifications(self, filters: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        """Newest first, as GET /notifications shows them."""
        return await self.store.recent(filters, limit)

    async def retry(self, notification_id: str) -> Retried:
        """A failed email back in the queue; only a failed one can be."""
        found = await self.store.requeue(notification_id)
        if found is not None:
            self.mail_waiting.set()
            return Retried(found)
        current = await self.store.get(notification_id)
        return Retried(None, current["state"] if current else None)
