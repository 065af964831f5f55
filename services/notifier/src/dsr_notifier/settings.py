"""The notifier's settings: the shared ones plus the mail relay and its retries."""

from __future__ import annotations

from pydantic import SecretStr

from dsr_shared.platform.settings import ServiceSettings


class NotifierSettings(ServiceSettings):
    service_name: str = "notifier"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # Upgrade the connection with STARTTLS before logging in (the certificate is verified).
    smtp_starttls: bool = False
    # A CA bundle to verify the relay's certificate with, when it is not signed by a public CA.
    smtp_ca_file: str | None = None
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "dsr-no-reply@nhs.invalid"
    # Retries of an email the relay did not take: exponential backoff with jitter,
    # from the first wait up to the longest, for as long as it takes.
    smtp_retry_first_seconds: float = 1.0
    smtp_retry_longest_seconds: float = 300.0
    # After this many failed attempts NotificationFailed (permanent: false) tells
    # operations that mail is stuck; the retries go on.
    smtp_alert_after_attempts: int = 10
    # How long a process owns an email it is sending; after a crash another
    # process (or the restarted one) sends it once the lease has run out.
    smtp_lease_seconds: float = 60.0
    # Emails sent over one connection to the relay.
    smtp_batch: int = 20
    # Emails read from the queue at once, then claimed and sent a batch at a time.
    smtp_queue_read: int = 500
    # The sender looks for mail to send at least this often (it is woken at once
    # when an event gives it something to send).
    mail_poll_seconds: float = 1.0
