"""System clients proving who they are at the token endpoint: a client secret
(HTTP Basic or form fields) or a JWT signed with the client's private key
(private_key_jwt, RFC 7523), used once."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote_plus

import jwt
from cryptography.hazmat.primitives import serialization
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from dsr_shared.platform.auth import LEEWAY_SECONDS
from dsr_identity.settings import SystemClient

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "EdDSA"]


class ClientRefused(Exception):
    pass


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        client_id, _, secret = base64.b64decode(authorization[6:].strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return unquote_plus(client_id), unquote_plus(secret)


class Clients:
    def __init__(self, clients: list[SystemClient], db: AsyncDatabase, token_endpoint: str, issuer: str) -> None:
        self._clients = {c.client_id: c for c in clients}
        self._assertions = db["client_assertions"]
        self._audiences = [token_endpoint, issuer]

    async def ensure_indexes(self) -> None:
        # Used assertion ids are kept until they would have expired anyway.
        await self._assertions.create_index("expires_at", expireAfterSeconds=0)

    async def authenticate(self, form: dict[str, Any], authorization: str | None) -> SystemClient:
        basic = basic_credentials(authorization)
        if basic:
            return self._by_secret(*basic)
        if form.get("client_assertion_type") == JWT_BEARER and form.get("client_assertion"):
            return await self._by_assertion(str(form["client_assertion"]), form.get("client_id"))
        if form.get("client_id") and form.get("client_secret"):
            return self._by_secret(str(form["client_id"]), str(form["client_secret"]))
        raise ClientRefused("client authentication required")

    def _by_secret(self, client_id: str, secret: str) -> SystemClient:
        client = self._clients.get(client_id)
        if client is None or not client.secret_matches(secret):
            raise ClientRefused("unknown client or wrong secret")
        return client

    async def _by_assertion(self, assertion: str, client_id: Any) -> SystemClient:
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise ClientRefused("the client assertion is not a JWT") from exc
        client = self._clients.get(unverified.get("iss")) if isinstance(unverified.get("iss"), str) else None
        if client is None or not client.public_key_pem or (client_id and client_id != client.client_id):
            raise ClientRefused("unknown client")
        key = serialization.load_pem_public_key(client.public_key_pem.encode())
        try:
            claims = jwt.decode(
                assertion,
                key,
                algorithms=ASSERTION_ALGORITHMS,
                audience=self._audiences,
                issuer=client.client_id,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "sub", "aud", "jti"]},
            )
        except jwt.PyJWTError as exc:
            raise ClientRefused(f"client assertion refused: {exc}") from exc
        if claims["sub"] != client.client_id or not isinstance(claims["jti"], str):
            raise ClientRefused("client assertion refused: sub must be the client id")
        expires = datetime.fromtimestamp(int(claims["exp"]) + LEEWAY_SECONDS, timezone.utc)
        try:
            await self._assertions.insert_one({"_id": f"{client.client_id}:{claims['jti']}", "expires_at": expires})
        except DuplicateKeyError:
            raise ClientRefused("client assertion already used") from None
        return client
