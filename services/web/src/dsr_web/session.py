"""What the signed session cookie holds, and its time-outs.

Starlette's SessionMiddleware signs the cookie (HttpOnly, SameSite=Lax,
Secure by setting). In it: who signed in (the register access token's
claims), the tokens, when the session started and was last used, the CSRF
token and a one-time message. Never a patient's personal data."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from starlette.requests import Request

ROLE_NAMES = {
    "referrer": "Referrer",
    "dsr_team": "DSR team",
    "dsr_admin": "DSR team administrator",
    "commissioner": "Commissioner",
    "ops": "Operations",
    "auditor": "Auditor",
}


@dataclass(frozen=True)
class User:
    subject: str
    name: str
    email: str | None
    roles: frozenset[str]

    def has(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))

    @property
    def dsr_team(self) -> bool:
        return "dsr_team" in self.roles

    @property
    def role_names(self) -> list[str]:
        return [ROLE_NAMES.get(r, r) for r in sorted(self.roles)]


def claims_of(access_token: str) -> dict[str, Any]:
    """The access token's claims, for display and navigation only: every
    service verifies the token itself on every call."""
    return jwt.decode(access_token, options={"verify_signature": False})


def start(request: Request, *, id_token: str, access_token: str, expires_in: int, name: str | None) -> None:
    claims = claims_of(access_token)
    now = time.time()
    request.session.clear()
    request.session.update(
        {
            "user": {
                "sub": str(claims.get("sub", "")),
                "name": name or claims.get("name") or claims.get("email") or "",
                "email": claims.get("email"),
                "roles": [r for r in claims.get("roles", []) if isinstance(r, str)],
            },
            "id_token": id_token,
            "access_token": access_token,
            "access_expires": now + expires_in,
            "started": now,
            "seen": now,
            "csrf": secrets.token_urlsafe(32),
        }
    )


def renew_access(request: Request, access_token: str, expires_in: int) -> None:
    claims = claims_of(access_token)
    request.session["access_token"] = access_token
    request.session["access_expires"] = time.time() + expires_in
    # Roles come from the register's directory: a grant or revocation shows at the next exchange.
    request.session["user"]["roles"] = [r for r in claims.get("roles", []) if isinstance(r, str)]
    request.session["user"] = dict(request.session["user"])


def user(request: Request) -> User | None:
    held = request.session.get("user")
    if not held:
        return None
    return User(held["sub"], held.get("name", ""), held.get("email"), frozenset(held.get("roles", [])))


def timed_out(request: Request, idle_seconds: float, absolute_seconds: float, now: float | None = None) -> bool:
    """True when a signed-in session has been idle, or open, too long."""
    if "user" not in request.session:
        return False
    now = now or time.time()
    return (
        now - request.session.get("seen", 0) > idle_seconds
        or now - request.session.get("started", 0) > absolute_seconds
    )


def touch(request: Request) -> None:
    if "user" in request.session:
        request.session["seen"] = time.time()


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def flash(request: Request, message: str) -> None:
    request.session["flash"] = message


def take_flash(request: Request) -> str | None:
    return request.session.pop("flash", None)
