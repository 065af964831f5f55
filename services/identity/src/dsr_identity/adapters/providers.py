"""ID tokens from the area's identity providers, verified against each
provider's published keys: its issuer, the web front end's client id as
audience, expiry. The nonce was the web front end's to check when it signed
the user in."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import jwt

from dsr_shared.platform.auth import InvalidToken, JwksKeys, JwtVerifier, KeysUnavailable
from dsr_identity.settings import IdentityProvider


class DiscoveredKeys:
    """A provider's JWKS, from its configured URL or its discovery document
    (fetched once, when first needed)."""

    def __init__(self, provider: IdentityProvider) -> None:
        self._provider = provider
        self._keys: JwksKeys | None = JwksKeys(provider.jwks_url) if provider.jwks_url else None
        self._lock = threading.Lock()

    def signing_key(self, kid: str | None) -> Any:
        with self._lock:
            if self._keys is None:
                self._keys = JwksKeys(self._discover())
        return self._keys.signing_key(kid)

    def _discover(self) -> str:
        url = f"{self._provider.issuer.rstrip('/')}/.well-known/openid-configuration"
        try:
            answer = httpx.get(url, timeout=5)
            answer.raise_for_status()
            return answer.json()["jwks_uri"]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise KeysUnavailable(f"{self._provider.name}: no jwks_uri from {url}") from exc


class Providers:
    def __init__(self, providers: list[IdentityProvider]) -> None:
        self._by_issuer = {
            p.issuer: (
                p,
                JwtVerifier(DiscoveredKeys(p), issuer=p.issuer, audience=p.client_id, algorithms=p.algorithms),
            )
            for p in providers
        }

    def verify(self, id_token: str) -> tuple[IdentityProvider, dict[str, Any]]:
        """The provider and the verified claims of an ID token."""
        try:
            issuer = jwt.decode(id_token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        if not isinstance(issuer, str) or issuer not in self._by_issuer:
            raise InvalidToken("the ID token is not from an identity provider of this area")
        provider, verifier = self._by_issuer[issuer]
        claims = verifier.claims(id_token)
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise InvalidToken("the ID token has no subject")
        return provider, claims
