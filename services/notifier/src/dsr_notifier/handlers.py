"""Subscribers: obligation events become emails to the people responsible."""

from __future__ import annotations

import uuid

from pymongo.asynchronous.client_session import AsyncClientSession

from dsr_shared.db import Outgoing
from dsr_shared.envelope import Envelope, derived_event_id
from dsr_shared.events import NotificationSent, ObligationScheduled
from dsr_shared.messaging import Handler
from dsr_shared.runtime import Runtime
from dsr_notifier.adapters.mailer import SmtpMailer
from dsr_notifier.adapters.rendering import Renderer
from dsr_notifier.adapters.sent import SentLog
from dsr_notifier.domain.messages import Notification, for_obligation_scheduled


class Sender:
    """Sends each notification once per (event, recipient) and records it."""

    def __init__(self, runtime: Runtime, sent: SentLog, renderer: Renderer, mailer: SmtpMailer) -> None:
        self.runtime, self.sent, self.renderer, self.mailer = runtime, sent, renderer, mailer

    async def deliver(self, envelope: Envelope, notifications: list[Notification]) -> None:
        for notification in notifications:
            notification_id = derived_event_id(envelope.event_id, f"notify:{notification.recipient}")
            claimed = await self.sent.claim(
                {
                    "_id": str(notification_id),
                    "source_event_id": str(envelope.event_id),
                    "source_event_type": envelope.event_type,
                    "register_id": notification.register_id,
                    "recipient": notification.recipient,
                    "template": notification.template,
                }
            )
            if not claimed:
                continue
            # SMTP faults are ConnectionError/TimeoutError: the dispatcher retries
            # them with backoff, and the message is read again if they last.
            await self.mailer.send(self.renderer.render(notification, str(notification_id)))
            await self._record(envelope, notification, notification_id)

    async def _record(self, envelope: Envelope, notification: Notification, notification_id: uuid.UUID) -> None:
        async def work(session: AsyncClientSession) -> list[Outgoing]:
            await self.sent.mark_sent(str(notification_id), session)
            event = NotificationSent(
                notification_id=notification_id,
                source_event_id=envelope.event_id,
                source_event_type=envelope.event_type,
                register_id=notification.register_id,
                recipient=notification.recipient,
                template=notification.template,
            )
            return [
                self.runtime.outgoing(
                    event,
                    occurred_at=self.runtime.clock.now(),
                    correlation_id=envelope.correlation_id,
                    causation_id=envelope.event_id,
                    event_id=derived_event_id(notification_id, "NotificationSent"),
                )
            ]

        await self.runtime.uow.commit_and_publish(work)


def obligation_handlers(runtime: Runtime, sender: Sender) -> dict[str, Handler]:
    area = runtime.settings.area

    async def on_scheduled(envelope: Envelope, event: ObligationScheduled) -> None:
        await sender.deliver(envelope, for_obligation_scheduled(event, area))

    return {ObligationScheduled.EVENT_TYPE: on_scheduled}
