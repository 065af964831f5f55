"""Sending mail through the area's SMTP relay (aiosmtplib): STARTTLS and
login from settings, one connection for a batch of emails.

Faults come in two kinds. `Refused` is about one message: the relay answered
its recipient or its content with a 5xx (`permanent`: it will never take it)
or a 4xx (try it later); the connection stays usable. Anything else (the relay
unreachable, a timeout, a dropped connection, STARTTLS or login refused, the
sender refused) is about the relay: every email not yet sent waits for the
next attempt."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage

import aiosmtplib
from aiosmtplib.errors import SMTPDataError, SMTPRecipientRefused, SMTPRecipientsRefused

from dsr_notifier.settings import NotifierSettings


class Refused(Exception):
    def __init__(self, error: str, *, permanent: bool) -> None:
        super().__init__(error)
        self.permanent = permanent


class Connection:
    def __init__(self, smtp: aiosmtplib.SMTP) -> None:
        self._smtp = smtp

    async def send(self, message: EmailMessage) -> None:
        """Returns once the relay has taken the message (250 after DATA)."""
        try:
            await self._smtp.send_message(message)
        except SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            raise Refused(_describe(exc), permanent=all(c >= 500 for c in codes)) from exc
        except (SMTPRecipientRefused, SMTPDataError) as exc:
            raise Refused(_describe(exc), permanent=exc.code >= 500) from exc


def _describe(exc: Exception) -> str:
    if isinstance(exc, SMTPRecipientsRefused):
        return "; ".join(f"{r.code} {r.message}" for r in exc.recipients) or repr(exc)
    code = getattr(exc, "code", None)
    return f"{code} {getattr(exc, 'message', exc)}" if code else repr(exc)


class SmtpMailer:
    def __init__(self, settings: NotifierSettings) -> None:
        self.settings = settings

    def _tls_context(self) -> ssl.SSLContext | None:
        if not self.settings.smtp_starttls:
            return None
        return ssl.create_default_context(cafile=self.settings.smtp_ca_file)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[Connection]:
        s = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            start_tls=s.smtp_starttls,
            tls_context=self._tls_context(),
            timeout=s.smtp_timeout_seconds,
        )
        await smtp.connect()
        try:
            yield Connection(smtp)
        finally:
            try:
                await smtp.quit()
            except Exception:  # noqa: BLE001 - the mail is sent or not already; QUIT is a courtesy
                smtp.close()
