"""The notifier's settings: the shared ones plus the mail server."""

from __future__ import annotations

from pydantic import SecretStr

from dsr_shared.settings import ServiceSettings


class NotifierSettings(ServiceSettings):
    service_name: str = "notifier"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "dsr-no-reply@nhs.invalid"
