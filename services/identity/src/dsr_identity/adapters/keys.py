"""The keys that sign access tokens: the current one signs, the current and the
previous one are published (a rotation), each named by its RFC 7638
thumbprint as `kid`."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

from dsr_shared.platform.auth import InvalidToken
from dsr_shared.platform.settings import StartupRefused

_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    public: Any
    private: Any | None = None

    @classmethod
    def from_pem(cls, pem: bytes, setting: str) -> "SigningKey":
        try:
            private = serialization.load_pem_private_key(pem, password=None)
            public = private.public_key()
        except ValueError:
            private = None
            try:
                public = serialization.load_pem_public_key(pem)
            except ValueError as exc:
                raise StartupRefused(f"{setting} is not a PEM private or public key") from exc
        if isinstance(public, rsa.RSAPublicKey):
            if public.key_size < 2048:
                raise StartupRefused(f"{setting}: an RSA key needs 2,048 bits or more")
            algorithm, jwk = "RS256", RSAAlgorithm.to_jwk(public, as_dict=True)
        elif isinstance(public, ed25519.Ed25519PublicKey):
            algorithm, jwk = "EdDSA", OKPAlgorithm.to_jwk(public, as_dict=True)
        else:
            raise StartupRefused(f"{setting}: only RSA and Ed25519 keys sign register tokens")
        return cls(_thumbprint(jwk), algorithm, public, private)

    @classmethod
    def generate(cls) -> "SigningKey":
        private = ed25519.Ed25519PrivateKey.generate()
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return cls.from_pem(pem, "generated key")

    def jwk(self) -> dict[str, Any]:
        to_jwk = RSAAlgorithm.to_jwk if self.algorithm == "RS256" else OKPAlgorithm.to_jwk
        return {**to_jwk(self.public, as_dict=True), "kid": self.kid, "use": "sig", "alg": self.algorithm}


def _thumbprint(jwk: dict[str, Any]) -> str:
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _pem(inline: Any, file: str | None, setting: str) -> bytes | None:
    if inline is not None:
        return inline.get_secret_value().encode()
    if file:
        try:
            return Path(file).read_bytes()
        except OSError as exc:
            raise StartupRefused(f"{setting}_FILE cannot be read: {exc.strerror}") from exc
    return None


class KeyRing:
    """Signs with the current key; publishes it and the previous one. Also the
    key source of this service's own token verifier."""

    def __init__(self, current: SigningKey, previous: SigningKey | None = None) -> None:
        if current.private is None:
            raise StartupRefused("DSR_IDENTITY_SIGNING_KEY must be a private key")
        self.current = current
        self.keys = {key.kid: key for key in (current, previous) if key is not None}

    @classmethod
    def from_settings(cls, settings: Any) -> "KeyRing":
        current = _pem(settings.identity_signing_key, settings.identity_signing_key_file, "DSR_IDENTITY_SIGNING_KEY")
        previous = _pem(
            settings.identity_previous_key, settings.identity_previous_key_file, "DSR_IDENTITY_PREVIOUS_KEY"
        )
        if current is None:
            if not settings.development_mode:
                raise StartupRefused(
                    "DSR_IDENTITY_SIGNING_KEY (or DSR_IDENTITY_SIGNING_KEY_FILE) is not set: the "
                    "private key that signs access tokens"
                )
            # Development only: a key for this process's life; its tokens die with it.
            return cls(SigningKey.generate())
        return cls(
            SigningKey.from_pem(current, "DSR_IDENTITY_SIGNING_KEY"),
            SigningKey.from_pem(previous, "DSR_IDENTITY_PREVIOUS_KEY") if previous else None,
        )

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(
            claims,
            self.current.private,
            algorithm=self.current.algorithm,
            headers={"kid": self.current.kid, "typ": "at+jwt"},
        )

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.jwk() for key in self.keys.values()]}

    def signing_key(self, kid: str | None) -> Any:
        key = self.keys.get(kid or "")
        if key is None:
            raise InvalidToken("the token was not signed by a key of this issuer")
        return key.public
