"""Bearer tokens and roles (docs/CONTRACT.md "HTTP"). Tokens are JWTs signed by the
area's identity provider; here HS256 with a shared secret from settings, which
a deployment replaces with the provider's key. Roles: referrer, dsr_team, ops,
system."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError


class Role(StrEnum):
    REFERRER = "referrer"
    DSR_TEAM = "dsr_team"
    OPS = "ops"
    SYSTEM = "system"
    # Reads the audit of who read or changed whose record, and nothing else.
    AUDITOR = "auditor"


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[Role]
    email: str | None = None

    def has(self, *roles: Role) -> bool:
        return bool(self.roles & set(roles))


def issue_token(secret: str, subject: str, roles: list[Role], *, issuer: str = "dsr", email: str | None = None,
                ttl: timedelta = timedelta(hours=8)) -> str:
    now = datetime.now(timezone.utc)
    claims = {"sub": subject, "roles": [r.value for r in roles], "iss": issuer, "iat": now, "exp": now + ttl}
    if email:
        claims["email"] = email
    return jwt.encode(claims, secret, algorithm="HS256")


class Claims(BaseModel):
    """What a token must say, with its types: a subject, and roles as a list of
    role names. Anything else (`roles: null`, `5`, a nested list, a mapping, an
    email that is not text) is not a token this service accepts: 401."""

    model_config = ConfigDict(extra="ignore", strict=True)

    sub: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    roles: list[Annotated[str, StringConstraints(max_length=64)]] = Field(default_factory=list, max_length=20)
    email: Annotated[str, StringConstraints(max_length=256)] | None = None


def decode_token(token: str, secret: str, issuer: str) -> Principal:
    """The principal a token names; InvalidTokenError for a bad signature,
    expiry, issuer or claims."""
    raw = jwt.decode(token, secret, algorithms=["HS256"], issuer=issuer, options={"require": ["sub", "exp", "iss"]})
    try:
        claims = Claims.model_validate(raw)
    except ValidationError as exc:
        raise jwt.InvalidTokenError(f"malformed claims: {exc.error_count()} problem(s)") from exc
    roles = frozenset(Role(r) for r in claims.roles if r in Role._value2member_map_)
    return Principal(subject=claims.sub, roles=roles, email=claims.email)


_bearer = HTTPBearer(auto_error=False)


def require_roles(*roles: Role):
    """A FastAPI dependency: 401 without a valid token, 403 without one of `roles`."""

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "bearer token required", {"WWW-Authenticate": "Bearer"})
        settings = request.app.state.settings
        try:
            principal = decode_token(credentials.credentials, settings.auth_secret.get_secret_value(), settings.auth_issuer)
        except jwt.PyJWTError as exc:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"invalid token: {exc}", {"WWW-Authenticate": "Bearer"}) from exc
        if not principal.has(*roles):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs one of the roles: {', '.join(sorted(roles))}")
        return principal

    return dependency
