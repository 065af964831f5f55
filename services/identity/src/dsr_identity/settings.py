"""The identity service's settings: the shared ones (DSR_AUTH_ISSUER is this
service's own issuer URL, DSR_AUTH_AUDIENCE the audience of its tokens) plus
its signing keys, the area's identity providers, system clients, bootstrap
administrators and the organisations whose staff become referrers on first
sign-in. Lists are JSON in the environment."""

from __future__ import annotations

import hashlib
import hmac

from pydantic import BaseModel, Field, SecretStr, field_validator

from dsr_shared.platform.auth import Role
from dsr_shared.platform.settings import ServiceSettings
from dsr_identity.domain.roles import CLIENT_ROLES

# The `dsr` command's client secret on a local stack; refused outside development mode.
DEVELOPMENT_OPS_SECRET = "dev-only-dsr-ops-client-secret"


class IdentityProvider(BaseModel):
    """An OpenID Connect provider whose staff may sign in (CIS2, Entra ID)."""

    name: str
    issuer: str
    # The web front end's client id at this provider: the audience of its ID tokens.
    client_id: str
    # Default: the jwks_uri of the provider's discovery document.
    jwks_url: str | None = None
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "RS512", "PS256", "ES256", "EdDSA"])
    # The claim that names the user's organisation (an ODS code for NHS staff).
    # CIS2: the organisation of the selected role in `nhsid_nrbac_roles` is used when present.
    org_claim: str = "org"
    email_claim: str = "email"


class ProviderSubject(BaseModel):
    issuer: str
    subject: str


class SeedUser(BaseModel):
    """Someone recorded with roles before their first sign-in: the demo personas
    of a local stack (development mode only)."""

    issuer: str
    subject: str
    email: str | None = None
    org: str | None = None
    roles: list[Role] = Field(default_factory=list)


class SystemClient(BaseModel):
    """A system caller (a hospital feed, the `dsr` command) with its own credentials:
    a client secret (only its SHA-256 is configured) and/or a public key for
    private_key_jwt."""

    client_id: str
    secret_sha256: str | None = None
    public_key_pem: str | None = None
    roles: list[Role] = Field(min_length=1)

    @field_validator("roles")
    @classmethod
    def _client_roles(cls, roles: list[Role]) -> list[Role]:
        if not set(roles) <= CLIENT_ROLES:
            raise ValueError(f"a system client holds only {', '.join(sorted(CLIENT_ROLES))}")
        return roles

    def secret_matches(self, secret: str) -> bool:
        if not self.secret_sha256:
            return False
        return hmac.compare_digest(hashlib.sha256(secret.encode()).hexdigest(), self.secret_sha256.lower())


class IdentitySettings(ServiceSettings):
    service_name: str = "identity"
    http_port: int = 8005
    # The private key that signs access tokens (PEM: RSA of 2,048 bits or more, or
    # Ed25519), inline or as a file. During a rotation the previous key (private or
    # public PEM) is still published, so tokens it signed stay valid until they expire.
    identity_signing_key: SecretStr | None = None
    identity_signing_key_file: str | None = None
    identity_previous_key: SecretStr | None = None
    identity_previous_key_file: str | None = None
    identity_token_seconds: int = Field(default=300, ge=30, le=3600)
    identity_providers: list[IdentityProvider] = Field(default_factory=list)
    identity_clients: list[SystemClient] = Field(default_factory=list)
    identity_bootstrap_admins: list[ProviderSubject] = Field(default_factory=list)
    # ODS codes of organisations whose staff are referrers from their first sign-in.
    identity_referrer_organisations: list[str] = Field(default_factory=list)
    identity_seed_users: list[SeedUser] = Field(default_factory=list)

    @property
    def token_endpoint(self) -> str:
        return f"{self.auth_issuer.rstrip('/')}/token"

    def startup_problems(self, *, nhs_hash_key: bool = False) -> list[str]:
        problems = super().startup_problems(nhs_hash_key=nhs_hash_key)
        if self.development_mode:
            return problems
        if not (self.identity_signing_key or self.identity_signing_key_file):
            problems.append(
                "DSR_IDENTITY_SIGNING_KEY (or DSR_IDENTITY_SIGNING_KEY_FILE) is not set: the private key "
                "that signs access tokens"
            )
        if not self.identity_providers:
            problems.append("DSR_IDENTITY_PROVIDERS is not set: the identity providers staff sign in with")
        if self.identity_seed_users:
            problems.append(
                "DSR_IDENTITY_SEED_USERS is for local stacks only (development mode): roles are given "
                "through the directory API"
            )
        development = hashlib.sha256(DEVELOPMENT_OPS_SECRET.encode()).hexdigest()
        for client in self.identity_clients:
            if (client.secret_sha256 or "").lower() == development:
                problems.append(f"DSR_IDENTITY_CLIENTS: client {client.client_id!r} has the shipped development secret")
        return problems
