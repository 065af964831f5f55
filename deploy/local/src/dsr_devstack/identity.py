"""What the identity service of a local stack (or a test session) is given:
a signing key kept in the state directory, the local OpenID provider, the
system clients and who administers the directory."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .oidc_provider import OidcProvider
from .personas import PERSONAS, WEB_CLIENT_ID

# The `dsr` command's client on a local stack (development mode: the identity
# service refuses this secret anywhere else).
OPS_CLIENT_ID = "dsr_ops"
OPS_CLIENT_SECRET = "dev-only-dsr-ops-client-secret"


def secret_sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def ensure_signing_key(path: Path) -> Path:
    """An Ed25519 private key (PEM) at `path`, made once and kept, so tokens
    outlive a restart of the identity service."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = ed25519.Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.touch(mode=0o600)
        path.write_bytes(pem)
    return path


def provider_setting(provider: OidcProvider) -> str:
    return json.dumps(
        [
            {
                "name": "Local test provider",
                "issuer": provider.issuer,
                "client_id": WEB_CLIENT_ID,
                "jwks_url": provider.jwks_url,
            }
        ]
    )


def identity_env(
    *,
    issuer: str,
    provider: OidcProvider,
    key_file: Path,
    clients: list[dict] | None = None,
    bootstrap_admins: list[str] = (),
    seed_personas: bool = False,
) -> dict[str, str]:
    """The identity service's environment; `clients`: [{client_id, secret, roles}]."""
    clients = (
        clients
        if clients is not None
        else [{"client_id": OPS_CLIENT_ID, "secret": OPS_CLIENT_SECRET, "roles": ["ops"]}]
    )
    env = {
        "DSR_AUTH_ISSUER": issuer,
        "DSR_IDENTITY_SIGNING_KEY_FILE": str(ensure_signing_key(key_file)),
        "DSR_IDENTITY_PROVIDERS": provider_setting(provider),
        "DSR_IDENTITY_CLIENTS": json.dumps(
            [
                {"client_id": c["client_id"], "secret_sha256": secret_sha256(c["secret"]), "roles": c["roles"]}
                for c in clients
            ]
        ),
        "DSR_IDENTITY_BOOTSTRAP_ADMINS": json.dumps(
            [{"issuer": provider.issuer, "subject": s} for s in bootstrap_admins]
        ),
    }
    if seed_personas:
        env["DSR_IDENTITY_SEED_USERS"] = json.dumps(
            [
                {
                    "issuer": provider.issuer,
                    "subject": p.subject,
                    "email": p.email,
                    "org": p.org,
                    "roles": list(p.roles),
                }
                for p in PERSONAS
            ]
        )
    return env
