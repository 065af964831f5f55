"""Tokens with claims of the wrong type are refused as tokens (401), never a
server error: a role list that is null, a number, nested or a mapping; a
subject or email that is not text."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import jwt
import pytest

from dsr_shared.auth import Role, decode_token, issue_token

SECRET = "claims-test-secret-0123456789-abcdef"


def _token(**claims) -> str:
    now = datetime.now(timezone.utc)
    return jwt.encode({"sub": "someone@example.org", "iss": "dsr", "exp": now + timedelta(minutes=5), **claims}, SECRET)


@pytest.mark.parametrize(
    "claims",
    [{"roles": None}, {"roles": 5}, {"roles": [["dsr_team"]]}, {"roles": {"dsr_team": True}}, {"email": 12345},
     {"sub": 7}, {"sub": ""}],
)
def test_malformed_claims_are_not_a_token(claims):
    with pytest.raises(jwt.InvalidTokenError):
        decode_token(_token(**claims), SECRET, "dsr")


def test_well_formed_claims_name_the_principal():
    principal = decode_token(issue_token(SECRET, "a@example.org", [Role.DSR_TEAM], email="a@example.org"), SECRET, "dsr")
    assert principal.subject == "a@example.org" and principal.has(Role.DSR_TEAM) and principal.email == "a@example.org"
    assert decode_token(_token(roles=["referrer", "not-a-role"]), SECRET, "dsr").roles == frozenset({Role.REFERRER})
