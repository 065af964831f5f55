"""The identity service's pure rules and its keys, without processes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from dsr_identity.adapters.keys import KeyRing, SigningKey
from dsr_identity.domain.roles import access_claims, first_sign_in_roles, grant_refusal, organisation

from dsr_shared.platform.auth import InvalidToken, Role, TokenVerifier
from dsr_shared.platform.settings import StartupRefused

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)


def pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_cis2_organisation_is_the_selected_roles_and_other_providers_name_a_claim():
    cis2 = {
        "selected_roleid": "555254242106",
        "nhsid_nrbac_roles": [
            {"person_roleid": "555254240100", "org_code": "RXM", "role_code": "S8000:G8000:R8001"},
            {"person_roleid": "555254242106", "org_code": "RTG", "role_code": "S8000:G8000:R8003"},
        ],
    }
    assert organisation(cis2, "org") == "RTG"
    assert organisation({"nhsid_nrbac_roles": [{"org_code": "RXM"}]}, "org") == "RXM"
    assert organisation({"tid": "a-tenant"}, "tid") == "a-tenant"
    assert organisation({"org": 5}, "org") is None and organisation({}, "org") is None


def test_first_sign_in_gives_nothing_unless_the_area_lets_the_organisation_refer():
    assert first_sign_in_roles("RXM", []) == frozenset()
    assert first_sign_in_roles(None, ["RXM"]) == frozenset()
    assert first_sign_in_roles("rxm", [" RXM "]) == {Role.REFERRER}
    assert first_sign_in_roles("RTG", ["RXM"]) == frozenset()


def test_system_is_never_given_to_a_person():
    assert grant_refusal(set(), Role.SYSTEM)
    assert all(grant_refusal(set(), role) is None for role in set(Role) - {Role.SYSTEM})


def test_a_rotation_signs_with_the_new_key_and_still_accepts_the_old_ones_tokens():
    old = SigningKey.from_pem(pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)), "old")
    new = SigningKey.from_pem(pem(ed25519.Ed25519PrivateKey.generate()), "new")
    before, during = KeyRing(old), KeyRing(new, old)
    assert [k["kid"] for k in during.jwks()["keys"]] == [new.kid, old.kid]
    assert {k["alg"] for k in during.jwks()["keys"]} == {"RS256", "EdDSA"}
    assert all("d" not in k for k in during.jwks()["keys"])  # public parts only
    claims = access_claims(
        issuer="https://id.example.org",
        audience="dsr",
        subject="u1",
        roles=[Role.REFERRER],
        now=datetime.now(timezone.utc),
        lifetime=timedelta(minutes=5),
        email="a@example.org",
    )
    verifier = TokenVerifier(during, issuer="https://id.example.org", audience="dsr")
    assert verifier.verify_now(before.sign(claims)).roles == {Role.REFERRER}
    assert jwt.get_unverified_header(during.sign(claims))["kid"] == new.kid
    assert verifier.verify_now(during.sign(claims)).email == "a@example.org"
    with pytest.raises(InvalidToken):
        TokenVerifier(KeyRing(new), issuer="https://id.example.org", audience="dsr").verify_now(before.sign(claims))


def test_weak_or_unsupported_keys_are_refused_at_start():
    with pytest.raises(StartupRefused, match="2,048"):
        SigningKey.from_pem(
            pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)), "DSR_IDENTITY_SIGNING_KEY"
        )
    with pytest.raises(StartupRefused, match="not a PEM"):
        SigningKey.from_pem(b"nonsense", "DSR_IDENTITY_SIGNING_KEY")
    public_only = SigningKey.from_pem(
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        "previous",
    )
    with pytest.raises(StartupRefused, match="private key"):
        KeyRing(public_only)


def test_access_claims_are_short_lived_and_unique():
    one = access_claims(
        issuer="i",
        audience="dsr",
        subject="u",
        roles=[Role.DSR_TEAM, Role.DSR_ADMIN],
        now=NOW,
        lifetime=timedelta(minutes=5),
        org="15M",
    )
    two = access_claims(issuer="i", audience="dsr", subject="u", roles=[], now=NOW, lifetime=timedelta(minutes=5))
    assert one["exp"] - one["iat"] == 300 and one["roles"] == ["dsr_admin", "dsr_team"] and one["org"] == "15M"
    assert one["jti"] != two["jti"] and two["roles"] == [] and "email" not in two
