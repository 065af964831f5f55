"""Sending mail through the area's SMTP relay (aiosmtplib)."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from dsr_notifier.settings import NotifierSettings


class SmtpMailer:
    def __init__(self, settings: NotifierSettings) -> None:
        self.settings = settings

    async def send(self, message: EmailMessage) -> None:
        s = self.settings
        await aiosmtplib.send(
            message,
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            start_tls=s.smtp_starttls,
            timeout=s.smtp_timeout_seconds,
        )
