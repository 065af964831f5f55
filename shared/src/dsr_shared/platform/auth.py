"""Bearer tokens and roles (CONTRACT.md "HTTP").

The register's identity service is the only issuer of access tokens: it signs
them with an asymmetric key (RS256 or EdDSA) and publishes the public keys at
its JWKS URL. Every service verifies a token with those public keys, checks
its issuer, audience and expiry, and validates its claims against a schema, so
whoever holds a service's configuration cannot mint one. Anything that is not
such a token is 401, never 500."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Protocol

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError


class Role(StrEnum):
    REFERRER = "referrer"
    DSR_TEAM = "dsr_team"
    # Manages the directory of users; held together with dsr_team.
    DSR_ADMIN = "dsr_admin"
    COMMISSIONER = "commissioner"
    OPS = "ops"
    SYSTEM = "system"
    # Reads the audit of who read or changed whose record, and nothing else.
    AUDITOR = "auditor"


# Signatures a register token may carry: asymmetric only, so `none` and HS256 fail.
REGISTER_ALGORITHMS = ("RS256", "EdDSA")
# Tolerated clock difference between the issuer and a service.
LEEWAY_SECONDS = 30


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[Role]
    email: str | None = None
    org: str | None = None

    def has(self, *roles: Role) -> bool:
        return bool(self.roles & set(roles))


class RegisterClaims(BaseModel):
    """What a register access token must say about its holder: a subject, and
    roles as a list of role names; email and organisation strings when present.
    A `roles` of null, a number, a nested list or a mapping fails here. A role
    name this service does not know is ignored, not refused: a service deployed
    before a new role keeps accepting the tokens of people who hold it."""

    model_config = ConfigDict(extra="ignore", strict=True)

    sub: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    roles: list[Annotated[str, StringConstraints(max_length=64)]] = Field(max_length=20)
    email: Annotated[str, StringConstraints(max_length=256)] | None = None
    org: Annotated[str, StringConstraints(max_length=64)] | None = None

    def principal(self) -> Principal:
        roles = frozenset(Role(r) for r in self.roles if r in Role._value2member_map_)
        return Principal(subject=self.sub, roles=roles, email=self.email, org=self.org)


class InvalidToken(Exception):
    """The token is not one this service accepts (401)."""


class KeysUnavailable(Exception):
    """The issuer's public keys could not be fetched (503: try again)."""


class KeySource(Protocol):
    def signing_key(self, kid: str | None) -> Any:
        """The public key that verifies a token with this `kid`."""


class JwksKeys:
    """Public keys from a JWKS URL, cached; an unknown `kid` refetches the set
    (at most once a minute), which is how a key rotation reaches every service."""

    def __init__(self, url: str, *, cache_seconds: int = 300, timeout: float = 5.0) -> None:
        self.url = url
        self._cache_seconds, self._timeout = cache_seconds, timeout
        self._client: jwt.PyJWKClient | None = None

    def _keys(self) -> jwt.PyJWKClient:
        # Made when first needed: an app is built (for its OpenAPI document) without settings.
        if self._client is None:
            try:
                self._client = jwt.PyJWKClient(
                    self.url, cache_keys=True, lifespan=self._cache_seconds, timeout=self._timeout
                )
            except jwt.PyJWKClientError as exc:
                raise InvalidToken(f"no usable key URL configured ({exc})") from exc
        return self._client

    def signing_key(self, kid: str | None) -> Any:
        client = self._keys()
        try:
            if kid is not None:
                return client.get_signing_key(kid).key
            # A token without a kid is accepted only while the set holds a single key.
            keys = client.get_jwk_set().keys
            if len(keys) != 1:
                raise InvalidToken("the token names no key (kid) and the issuer publishes several")
            return keys[0].key
        except jwt.PyJWKClientConnectionError as exc:
            raise KeysUnavailable(f"the issuer's keys could not be fetched from {self.url}") from exc
        except jwt.PyJWKClientError as exc:
            raise InvalidToken(str(exc)) from exc


class JwtVerifier:
    """Verifies a signed JWT: signature by a key of `keys`, an allowed algorithm,
    issuer, audience, and expiry (required). Returns the claims."""

    def __init__(self, keys: KeySource, *, issuer: str, audience: str, algorithms: tuple[str, ...] | list[str]) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.algorithms = list(algorithms)

    def claims(self, token: str, *, require: tuple[str, ...] = ("exp", "iat", "iss", "aud", "sub")) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        kid = header.get("kid")
        if header.get("alg") not in self.algorithms:
            raise InvalidToken(f"algorithm {header.get('alg')!r} is not accepted")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("kid is not a string")
        key = self.keys.signing_key(kid)
        try:
            return jwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": list(require)},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        except (TypeError, ValueError) as exc:  # odd claim types PyJWT does not expect
            raise InvalidToken(f"malformed claims: {exc}") from exc


class TokenVerifier:
    """A service's view of register access tokens: verified as JwtVerifier
    does, then held to the RegisterClaims schema."""

    def __init__(self, keys: KeySource, *, issuer: str, audience: str) -> None:
        self._jwt = JwtVerifier(keys, issuer=issuer, audience=audience, algorithms=REGISTER_ALGORITHMS)

    @classmethod
    def from_settings(cls, settings: Any) -> "TokenVerifier":
        return cls(JwksKeys(settings.jwks_url), issuer=settings.auth_issuer, audience=settings.auth_audience)

    def verify_now(self, token: str) -> Principal:
        claims = self._jwt.claims(token)
        try:
            return RegisterClaims.model_validate(claims).principal()
        except ValidationError as exc:
            fields = sorted({".".join(str(p) for p in error["loc"]) for error in exc.errors()})
            raise InvalidToken(f"malformed claims: {', '.join(fields)}") from exc

    async def verify(self, token: str) -> Principal:
        # Fetching keys is blocking I/O (rarely: they are cached): keep it off the event loop.
        return await asyncio.to_thread(self.verify_now, token)


_bearer = HTTPBearer(auto_error=False)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def require_roles(*roles: Role):
    """A FastAPI dependency: 401 without a valid token, 403 without one of `roles`."""

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "bearer token required", _CHALLENGE)
        verifier: TokenVerifier = request.app.state.token_verifier
        try:
            principal = await verifier.verify(credentials.credentials)
        except InvalidToken as exc:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"invalid token: {exc}", _CHALLENGE) from exc
        except KeysUnavailable as exc:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, "tokens cannot be verified now: try again", {"Retry-After": "5"}
            ) from exc
        if not principal.has(*roles):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs one of the roles: {', '.join(sorted(roles))}")
        return principal

    return dependency
