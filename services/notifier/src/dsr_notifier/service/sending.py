"""The sender: a background task that sends what the use cases queued.

Consuming never waits on the mail relay: a handler only records the emails
its event calls for (adapters/notifications.py), in the transaction that marks
the event processed. This task claims queued emails, sends them over one
connection, and records each as sent, with NotificationSent in the outbox,
right after the relay has taken it, through the unit of work. An email the relay did not take waits for
its next attempt, with exponential backoff and jitter (tenacity); after
`smtp_alert_after_attempts` NotificationFailed (permanent: false) says mail is
stuck, and the retries go on, so nothing is lost. A message the relay refuses
for good (5xx) is marked failed, with NotificationFailed (permanent: true).

The one window for a second copy: the relay has taken an email and the process
dies before the `sent` mark commits (one MongoDB transaction, about 5 ms on
the local database; `dsr_notifier_unrecorded_send_seconds` measures it, up to
the mark's write in that transaction). The email is sent again, with the same
Message-ID, when its lease runs out; the row says `taken_over`, the log
`email taken over`, and `dsr_notifier_emails_total{outcome="taken_over"}`
counts it (every email its stopped sender had claimed is taken over; at most
the one in flight can go out twice).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import structlog
from prometheus_client import Counter, Histogram
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from dsr_shared.contract.envelope import derived_event_id
from dsr_shared.contract.events import NotificationFailed, NotificationSent
from dsr_shared.platform.db import Outgoing
from dsr_shared.platform.faults import TRANSIENT_FAULTS
from dsr_shared.platform.metrics import REGISTRY
from dsr_shared.platform.runtime import Runtime
from dsr_shared.platform.unit_of_work import Transaction
from dsr_notifier.adapters.mailer import Refused, SmtpMailer
from dsr_notifier.adapters.notifications import real_now
from dsr_notifier.adapters.rendering import Renderer
from dsr_notifier.service.notifying import NotifierService

OutgoingEvent = Callable[..., Outgoing]

log = structlog.get_logger()

EMAILS = Counter(
    "dsr_notifier_emails",
    "Emails by outcome (sent, retry, failed, taken_over: claimed again after its sender stopped)",
    ["template", "outcome"],
    registry=REGISTRY,
)
UNRECORDED_SECONDS = Histogram(
    "dsr_notifier_unrecorded_send_seconds",
    "From the relay taking an email to the write of its sent mark, in the transaction that commits it: the window "
    "in which a crash sends it twice",
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5),
    registry=REGISTRY,
)


class Courier:
    def __init__(
        self, service: NotifierService, outgoing: OutgoingEvent, renderer: Renderer, mailer: SmtpMailer
    ) -> None:
        """`outgoing` builds this service's events (Runtime.outgoing)."""
        self.service, self.outgoing, self.renderer, self.mailer = service, outgoing, renderer, mailer
        self.uow, self.store, self.clock = service.uow, service.store, service.clock
        settings = self.settings = service.settings
        self.owner = f"{settings.service_name}:{uuid.uuid4()}"
        self.backoff = wait_exponential_jitter(
            multiplier=settings.smtp_retry_first_seconds,
            max=settings.smtp_retry_longest_seconds,
            jitter=settings.smtp_retry_first_seconds,
        )
        self._wake = service.mail_waiting

    async def run(self, _: Runtime | None = None) -> None:
        while True:
            self._wake.clear()
            try:
                worked = await self.round()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the next round tries again
                log.warning("mail round failed", error=repr(exc))
                worked = False
            if not worked:
                try:
                    await asyncio.wait_for(self._wake.wait(), self.settings.mail_poll_seconds)
                except TimeoutError:
                    pass

    async def round(self) -> bool:
        """Send what is due, a batch at a time; False when nothing was."""
        s = self.settings
        due = await self.store.due(s.smtp_queue_read)
        for start in range(0, len(due), s.smtp_batch):
            # Claimed just before they are sent, so a lease covers one batch.
            rows = await self.store.claim(
                self.owner, timedelta(seconds=s.smtp_lease_seconds), due[start : start + s.smtp_batch]
            )
            if rows:
                await self._send_batch(rows)
        return bool(due)

    async def _send_batch(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if row["taken_over"]:
                # Its sender stopped with it claimed: it may have gone out before the stop.
                EMAILS.labels(row["template"], "taken_over").inc()
                log.warning(
                    "email taken over from a sender that stopped: it may go out twice",
                    notification_id=row["_id"],
                    attempts=row["attempts"],
                )
        # Emails whose outcome is in hand. One being sent when the process
        # stops stays claimed: it may have gone out, so it waits for its lease.
        started: set[str] = set()
        try:
            async with self.mailer.connect() as connection:
                for row in rows:
                    started.add(row["_id"])
                    await self._deliver(connection, row)
        except asyncio.CancelledError:
            await asyncio.shield(self.store.release([r["_id"] for r in rows if r["_id"] not in started], self.owner))
            raise
        except Exception as exc:  # the relay, not one message: everything not yet tried waits
            error = _error(exc)
            log.warning("mail relay failed", error=error, waiting=len(rows) - len(started))
            for row in rows:
                if row["_id"] not in started:
                    await self._retry_later(row, error)

    async def _deliver(self, connection: Any, row: dict[str, Any]) -> None:
        try:
            message = self.renderer.render(row, self.clock.now())
        except Exception as exc:  # noqa: BLE001 - a template fault will not mend itself
            await self._fail(row, f"could not build the email: {exc!r}")
            return
        try:
            await connection.send(message)
        except Refused as exc:
            if exc.permanent:
                await self._fail(row, str(exc))
            else:
                await self._retry_later(row, str(exc))
            return
        except Exception as exc:  # the relay: this email waits, and so does the rest of the batch
            await self._retry_later(row, _error(exc))
            raise
        taken = time.perf_counter()
        await self._record_sent(row, message["Subject"], taken)
        EMAILS.labels(row["template"], "sent").inc()

    async def _record_sent(self, row: dict[str, Any], subject: str, taken: float) -> None:
        """Mark it sent, at once; a database fault here is retried until it
        passes, since sending again is what this must avoid."""
        marked = taken

        async def work(transaction: Transaction) -> list[Outgoing]:
            nonlocal marked
            now = self.clock.now()
            sent = await self.store.mark_sent(row["_id"], self.owner, subject, now, transaction)
            marked = time.perf_counter()  # the last attempt's: the one that commits
            if not sent:
                log.warning(
                    "email was no longer ours when sent: it may have gone out twice", notification_id=row["_id"]
                )
                return []
            return [self._event(NotificationSent, row, "NotificationSent")]

        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(TRANSIENT_FAULTS), wait=wait_exponential_jitter(multiplier=0.2, max=10)
        ):
            with attempt:
                await self.uow.commit_and_publish(work)
        UNRECORDED_SECONDS.observe(marked - taken)

    async def _retry_later(self, row: dict[str, Any], error: str) -> None:
        attempts = row["attempts"]
        delay = self.backoff(SimpleNamespace(attempt_number=attempts))  # type: ignore[arg-type]  # only the attempt number is read
        alert = attempts >= self.settings.smtp_alert_after_attempts and not row.get("alerted")
        next_at = real_now() + timedelta(seconds=delay)
        EMAILS.labels(row["template"], "retry").inc()
        if not alert:
            await self.store.retry_later(row["_id"], self.owner, error, next_at, alerted=False)
            return

        async def work(transaction: Transaction) -> list[Outgoing]:
            if not await self.store.retry_later(
                row["_id"], self.owner, error, next_at, alerted=True, session=transaction
            ):
                return []
            return [
                self._event(
                    NotificationFailed,
                    row,
                    f"NotificationFailed:{attempts}",
                    error=error,
                    attempts=attempts,
                    permanent=False,
                )
            ]

        log.warning("email still not sent", notification_id=row["_id"], attempts=attempts, error=error)
        await self.uow.commit_and_publish(work)

    async def _fail(self, row: dict[str, Any], error: str) -> None:
        attempts = row["attempts"]

        async def work(transaction: Transaction) -> list[Outgoing]:
            if not await self.store.mark_failed(row["_id"], self.owner, error, self.clock.now(), transaction):
                return []
            return [
                self._event(
                    NotificationFailed,
                    row,
                    f"NotificationFailed:{attempts}",
                    error=error,
                    attempts=attempts,
                    permanent=True,
                )
            ]

        log.error("email refused for good", notification_id=row["_id"], error=error)
        EMAILS.labels(row["template"], "failed").inc()
        await self.uow.commit_and_publish(work)

    def _event(self, cls: type, row: dict[str, Any], purpose: str, **extra: Any) -> Outgoing:
        event = cls(
            notification_id=uuid.UUID(row["_id"]),
            source_event_id=uuid.UUID(row["source_event_id"]),
            source_event_type=row["source_event_type"],
            register_id=row.get("register_id"),
            recipient=row["recipient"],
            template=row["template"],
            **extra,
        )
        return self.outgoing(
            event,
            occurred_at=self.clock.now(),
            correlation_id=row.get("correlation_id"),
            causation_id=row["source_event_id"],
            event_id=derived_event_id(row["_id"], purpose),
        )


def _error(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None)
    text = f"{code} {message}" if code and message else repr(exc)
    return f"{type(exc).__name__}: {text}"[:500]
