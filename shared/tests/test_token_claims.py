"""Tokens are verified with the issuer's public keys and held to a schema:
claims of the wrong type are refused as tokens (401), never a server error: a
role list that is null, a number, nested or a mapping; a subject or email that
is not text. A role this service does not know is ignored."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from dsr_shared.platform.auth import InvalidToken, Role, TokenVerifier

KEY = ed25519.Ed25519PrivateKey.generate()
ISSUER, AUDIENCE = "https://identity.example.org", "dsr"


class OneKey:
    def __init__(self, key: Any) -> None:
        self.key = key

    def signing_key(self, kid: str | None) -> Any:
        return self.key


VERIFIER = TokenVerifier(OneKey(KEY.public_key()), issuer=ISSUER, audience=AUDIENCE)


def _token(key: Any = KEY, **claims: Any) -> str:
    now = datetime.now(timezone.utc)
    base = {
        "sub": "user-1",
        "roles": ["dsr_team"],
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    return jwt.encode({**base, **claims}, key, algorithm="EdDSA")


@pytest.mark.parametrize(
    "claims",
    [
        {"roles": None},
        {"roles": 5},
        {"roles": [["dsr_team"]]},
        {"roles": {"dsr_team": True}},
        {"email": 12345},
        {"sub": 7},
        {"sub": ""},
        {"aud": "another"},
        {"iss": "https://elsewhere.example.org"},
        {"exp": datetime.now(timezone.utc) - timedelta(hours=1)},
    ],
)
def test_malformed_or_foreign_claims_are_not_a_token(claims):
    with pytest.raises(InvalidToken):
        VERIFIER.verify_now(_token(**claims))


def test_another_key_or_a_shared_secret_is_not_a_token():
    with pytest.raises(InvalidToken):
        VERIFIER.verify_now(_token(ed25519.Ed25519PrivateKey.generate()))
    hs256 = jwt.encode(
        {"sub": "x", "roles": [], "iss": ISSUER, "aud": AUDIENCE, "exp": 4102444800},
        "a-shared-secret-of-32-bytes-or-more!",
    )
    with pytest.raises(InvalidToken):
        VERIFIER.verify_now(hs256)


def test_well_formed_claims_name_the_principal():
    principal = VERIFIER.verify_now(_token(sub="user-1", email="a@example.org", roles=["dsr_team", "not-a-role"]))
    assert principal.subject == "user-1" and principal.email == "a@example.org"
    assert principal.roles == frozenset({Role.DSR_TEAM})
