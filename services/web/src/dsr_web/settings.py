"""The web service's settings, from the environment (prefix DSR_)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dsr_shared.rules.area import AreaProfile, load_profile

DEVELOPMENT_SESSION_SECRET = "dev-only-web-session-secret-change-me-0123456789"  # noqa: S105


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DSR_", env_file=".env", extra="ignore")

    service_name: str = "web"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    log_level: str = "INFO"
    area_profile: str = "derbyshire"
    # Development only: allows the shipped session secret and plain-http cookies.
    development_mode: bool = False
    # Behind a TLS-terminating proxy: trust its X-Forwarded-Proto/For headers.
    behind_proxy: bool = False

    # The services the pages are made of.
    referral_url: str = "http://127.0.0.1:8001"
    rating_url: str = "http://127.0.0.1:8002"
    scheduler_url: str = "http://127.0.0.1:8003"
    notifier_url: str = "http://127.0.0.1:8004"
    identity_url: str = "http://127.0.0.1:8005"
    backend_timeout_seconds: float = 10.0

    # The area's identity provider (OpenID Connect, authorization code with PKCE).
    oidc_issuer: str = "http://127.0.0.1:8009"
    oidc_client_id: str = "dsr-web"
    # Client authentication: a secret (client_secret_post), or a private key
    # (private_key_jwt, as NHS CIS2 requires): PEM text or a file holding it.
    oidc_client_secret: SecretStr | None = None
    oidc_private_key: SecretStr | None = None
    oidc_private_key_file: Path | None = None
    oidc_private_key_id: str | None = None
    oidc_scope: str = "openid profile email"
    # CIS2: the authentication assurance level asked for, e.g. "AAL3".
    oidc_acr_values: str | None = None
    # The web's own address as the provider redirects to it; else from the request.
    public_url: str | None = None

    # The session cookie: signed, HttpOnly, SameSite=Lax (the provider's redirect
    # back must carry it), Secure unless turned off for plain-http local runs.
    session_secret: SecretStr = SecretStr(DEVELOPMENT_SESSION_SECRET)
    session_cookie: str = "dsr_session"
    cookie_secure: bool = True
    session_idle_minutes: int = 30
    session_absolute_hours: int = 10

    @model_validator(mode="after")
    def _fail_closed(self) -> "WebSettings":
        """Outside development mode, refuse to start with a shipped or weak secret."""
        if self.development_mode:
            return self
        session = self.session_secret.get_secret_value()
        if session == DEVELOPMENT_SESSION_SECRET or session.startswith("dev-only"):
            raise ValueError("DSR_SESSION_SECRET is the shipped development value: set a secret of 32+ characters")
        if len(session) < 32:
            raise ValueError("DSR_SESSION_SECRET is shorter than 32 characters")
        if self.oidc_client_secret and self.oidc_client_secret.get_secret_value().startswith("dev-only"):
            raise ValueError(
                "DSR_OIDC_CLIENT_SECRET is a development value: set the secret the identity provider issued"
            )
        if not (self.oidc_client_secret or self.oidc_private_key or self.oidc_private_key_file):
            raise ValueError("set DSR_OIDC_CLIENT_SECRET, or DSR_OIDC_PRIVATE_KEY(_FILE) for private_key_jwt")
        return self

    @cached_property
    def area(self) -> AreaProfile:
        return load_profile(self.area_profile)

    def private_key_pem(self) -> str | None:
        if self.oidc_private_key:
            return self.oidc_private_key.get_secret_value()
        if self.oidc_private_key_file:
            return self.oidc_private_key_file.read_text("utf-8")
        return None
