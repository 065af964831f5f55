"""Register access tokens for tests, obtained as a person gets one: signed in at
the session's OpenID provider (authorization code flow with PKCE), the ID
token exchanged at the identity service, the roles given by a bootstrap
administrator through the directory API. Nothing here signs a token."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, urlparse

import httpx
import jwt

from dsr_devstack import WEB_CLIENT_ID
from dsr_testing.infra import FEED_CLIENT

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
REDIRECT_URI = "http://127.0.0.1/signed-in"
# Whoever the identity service is told to make an administrator (DSR_IDENTITY_BOOTSTRAP_ADMINS).
BOOTSTRAP_ADMIN = "bootstrap.admin@test.invalid"
# A token is used until this many seconds before it expires.
MARGIN_SECONDS = 60


@dataclass
class IdentityClient:
    provider_url: str
    identity_url: str
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))
    _cache: dict[tuple, tuple[str, float]] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # -- the person's side -------------------------------------------------
    def id_token(self, subject: str, *, client_id: str = WEB_CLIENT_ID, **claims: object) -> str:
        """Sign in at the provider as `subject` (claims: email by default the subject
        when it looks like one), as a browser would through the web front end
        (or through another application: `client_id`)."""
        user_claims = {"email": subject} if "@" in subject else {}
        answer = self.http.put(f"{self.provider_url}/users/{quote(subject, safe='')}", json={**user_claims, **claims})
        answer.raise_for_status()
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        params = {
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "scope": "openid email profile",
            "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(8),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        answer = self.http.post(f"{self.provider_url}/oauth2/authorize", params=params, data={"sub": subject})
        assert answer.status_code == 302, (answer.status_code, answer.text[:300])
        code = parse_qs(urlparse(answer.headers["location"]).query)["code"][0]
        answer = self.http.post(
            f"{self.provider_url}/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
            auth=(client_id, "web-client-secret"),
        )
        answer.raise_for_status()
        return answer.json()["id_token"]

    def exchange(self, id_token: str) -> httpx.Response:
        return self.http.post(
            f"{self.identity_url}/token",
            data={
                "grant_type": TOKEN_EXCHANGE,
                "subject_token": id_token,
                "subject_token_type": ID_TOKEN_TYPE,
            },
        )

    def sign_in(self, subject: str, **claims: object) -> str:
        """A register access token for `subject` with whatever roles the directory gives."""
        answer = self.exchange(self.id_token(subject, **claims))
        assert answer.status_code == 200, answer.text
        return answer.json()["access_token"]

    def client_token(self, client_id: str, secret: str) -> httpx.Response:
        return self.http.post(
            f"{self.identity_url}/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
        )

    def _client_access(self, client_id: str, secret: str) -> str:
        answer = self.client_token(client_id, secret)
        assert answer.status_code == 200, answer.text
        return answer.json()["access_token"]

    # -- the administrator's side -------------------------------------------
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._cached((), BOOTSTRAP_ADMIN, lambda: self.sign_in(BOOTSTRAP_ADMIN))}"}

    def set_roles(self, user_id: str, held: set[str], wanted: set[str]) -> None:
        for role in sorted(wanted - held):
            answer = self.http.put(f"{self.identity_url}/users/{user_id}/roles/{role}", headers=self.admin())
            assert answer.status_code == 200, answer.text
        for role in sorted(held - wanted):
            answer = self.http.delete(f"{self.identity_url}/users/{user_id}/roles/{role}", headers=self.admin())
            assert answer.status_code == 200, answer.text

    def token(self, roles: tuple[str, ...], subject: str) -> str:
        """A token for `subject` holding exactly `roles`, cached until shortly before
        it expires. `system` alone is a system client's (the hospital feed's): no
        person holds it."""
        key = (tuple(sorted(set(roles))), subject)
        if "system" in key[0]:
            assert key[0] == ("system",), "system is a client's role, held alone"
            return self._cached(key[0], "client", lambda: self._client_access(*FEED_CLIENT))

        def fresh() -> str:
            token = self.sign_in(subject)
            claims = jwt.decode(token, options={"verify_signature": False})
            if set(claims["roles"]) != set(key[0]):
                self.set_roles(claims["sub"], set(claims["roles"]), set(key[0]))
                token = self.sign_in(subject)
            return token

        return self._cached(key[0], subject, fresh)

    def user_id(self, subject: str) -> str:
        """The directory's id of `subject` (signed in now if never before)."""
        return jwt.decode(self.sign_in(subject), options={"verify_signature": False})["sub"]

    def _cached(self, roles: tuple, subject: str, fresh) -> str:
        with self._lock:
            hit = self._cache.get((roles, subject))
            if hit and hit[1] - MARGIN_SECONDS > time.time():
                return hit[0]
            token = fresh()
            expires = jwt.decode(token, options={"verify_signature": False})["exp"]
            self._cache[(roles, subject)] = (token, expires)
            return token


class BearerHeaders(Mapping[str, str]):
    """{"Authorization": "Bearer …"} whose token is fetched when first read and
    renewed when near expiry: a module may build one at import time, and a long
    test may keep using it."""

    def __init__(self, source, roles: tuple[str, ...], subject: str) -> None:
        self._source, self._roles, self._subject = source, roles, subject

    def __getitem__(self, name: str) -> str:
        if name != "Authorization":
            raise KeyError(name)
        return f"Bearer {self._source().token(self._roles, self._subject)}"

    def __iter__(self) -> Iterator[str]:
        return iter(("Authorization",))

    def __len__(self) -> int:
        return 1
