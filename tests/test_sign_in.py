"""Issue 14 on the real stack: people sign in at the OpenID provider and get
register access tokens from the identity service; the directory decides their
roles; every service refuses every token it cannot verify, on every endpoint.
One set of the four services for the module."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from pymongo import AsyncMongoClient

from dsr_devstack import ServiceProcess
from dsr_testing.stack import whole_stack
from dsr_testing.support import eventually, referral_body, valid_nhs_number
from dsr_testing.support import identity as identity_client
from dsr_testing.tokens import BOOTSTRAP_ADMIN


@pytest.fixture(scope="module")
def services(infra, identity, tmp_path_factory) -> Iterator[dict[str, ServiceProcess]]:
    isolation = f"t{uuid.uuid4().hex[:10]}"
    with whole_stack(infra, identity, isolation, tmp_path_factory.mktemp("sign-in")) as stack:
        yield stack.services | {"identity": identity.service}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


async def test_a_person_signs_in_with_no_role_is_given_referrer_and_loses_it(services, identity, infra):
    client = identity_client()
    referral, rating = services["referral"].url, services["rating"].url
    nurse = f"nurse.{uuid.uuid4().hex[:6]}@example.org"
    async with httpx.AsyncClient(timeout=30) as http:
        # Someone the register does not know signs in: recorded, with no role.
        first = client.sign_in(nurse)
        said = claims(first)
        assert said["roles"] == [] and said["email"] == nurse and said["aud"] == "dsr"
        assert said["iss"] == identity.issuer and said["sub"] != nurse and said["jti"]
        assert said["exp"] - said["iat"] == 300
        # ...who sees nothing and can do nothing.
        someone = await http.post(
            f"{referral}/referrals", json=referral_body(nhs_number=valid_nhs_number(501)), headers=client.admin()
        )
        assert someone.status_code == 202  # the bootstrap administrator is in the DSR team
        assert (
            await http.post(f"{referral}/referrals", json=referral_body(), headers=bearer(first))
        ).status_code == 403
        assert (await http.get(f"{rating}/register", headers=bearer(first))).status_code == 403

        # A DSR team administrator finds them in the directory and grants referrer.
        users = (await http.get(f"{identity.issuer}/users", headers=client.admin())).json()["users"]
        (user,) = [u for u in users if u["subject"] == nurse]
        assert user["roles"] == [] and user["user_id"] == said["sub"]
        assert (await http.get(f"{identity.issuer}/users", headers=bearer(first))).status_code == 403
        granted = await http.put(f"{identity.issuer}/users/{user['user_id']}/roles/referrer", headers=client.admin())
        assert granted.status_code == 200 and granted.json()["roles"] == ["referrer"]
        assert (
            await http.put(f"{identity.issuer}/users/{user['user_id']}/roles/system", headers=client.admin())
        ).status_code == 422
        unknown = await http.put(f"{identity.issuer}/users/nobody/roles/referrer", headers=client.admin())
        assert unknown.status_code == 404

        # Signed in again: a referrer, who refers and sees their own person only.
        referrer = client.sign_in(nurse)
        assert claims(referrer)["roles"] == ["referrer"]
        mine = await http.post(
            f"{referral}/referrals",
            json=referral_body(nhs_number=valid_nhs_number(502), referrer=referrer_of(nurse)),
            headers=bearer(referrer),
        )
        assert mine.status_code == 202, mine.text
        register_id = mine.json()["register_id"]
        someone_else = f"other.{uuid.uuid4().hex[:6]}@example.org"
        other = client.token(("referrer",), someone_else)
        theirs = await http.post(
            f"{referral}/referrals",
            json=referral_body(nhs_number=valid_nhs_number(503), referrer=referrer_of(someone_else)),
            headers=bearer(other),
        )
        assert theirs.status_code == 202, theirs.text

        async def seen(register: str, token: str) -> int:
            return (await http.get(f"{rating}/register/{register}", headers=bearer(token))).status_code

        await eventually(lambda: _is(seen(register_id, referrer), 200), timeout=90)
        await eventually(lambda: _is(seen(theirs.json()["register_id"], other), 200), timeout=90)
        assert await seen(theirs.json()["register_id"], referrer) == 404

        # Revoked: the next token has no role; the one held lapses within its lifetime.
        revoked = await http.delete(f"{identity.issuer}/users/{user['user_id']}/roles/referrer", headers=client.admin())
        assert revoked.status_code == 200 and revoked.json()["roles"] == []
        after = client.sign_in(nurse)
        assert claims(after)["roles"] == [] and await seen(register_id, after) == 403
        assert claims(referrer)["exp"] <= datetime.now(timezone.utc).timestamp() + 300

    # Every grant and removal is in the identity service's audit log, with who did it.
    admin_id = claims(client.admin()["Authorization"].split()[1])["sub"]
    mongo = AsyncMongoClient(infra.mongo_uri)
    try:
        database = identity.service.env["DSR_MONGO_DB"]
        entries = [
            (e["action"], e["actor"]) async for e in mongo[database]["audit"].find({"subject_id": user["user_id"]})
        ]
    finally:
        await mongo.close()
    assert sorted(entries) == [("directory.grant.referrer", admin_id), ("directory.revoke.referrer", admin_id)]


def referrer_of(email: str) -> dict:
    return {"name": "A Referrer", "role": "Community nurse", "organisation": "DHCFT", "email": email}


async def _is(status, expected: int) -> bool:
    return (await status) == expected


def _compact(header: dict, claims: dict, sign) -> str:
    """A compact JWS built by hand, for what PyJWT will not produce."""
    head = jwt.utils.base64url_encode(json.dumps(header).encode())
    body = jwt.utils.base64url_encode(json.dumps(claims).encode())
    return (head + b"." + body + b"." + jwt.utils.base64url_encode(sign(head + b"." + body))).decode()


def forgeries(identity) -> dict[str, str]:
    """Tokens no service may accept: another key, issuer or audience, expired,
    unsigned, HS256 with the public key as secret, and malformed claims. The
    real key is read from the session's identity service to sign the ones
    that must fail on something other than the signature. (A role a service
    does not know is ignored, not refused: shared/tests/test_token_claims.py.)"""
    real = serialization.load_pem_private_key(Path(identity.key_file).read_bytes(), password=None)
    kid = jwt.get_unverified_header(identity_client().sign_in(BOOTSTRAP_ADMIN))["kid"]
    now = int(datetime.now(timezone.utc).timestamp())
    good = {
        "iss": identity.issuer,
        "aud": "dsr",
        "sub": "someone",
        "roles": ["dsr_team", "ops", "referrer", "dsr_admin"],
        "iat": now,
        "exp": now + 300,
        "email": "someone@example.org",
    }

    def signed(changes: dict, key=real, drop: tuple[str, ...] = ()) -> str:
        body = {k: v for k, v in {**good, **changes}.items() if k not in drop}
        return jwt.encode(body, key, algorithm="EdDSA", headers={"kid": kid})

    public = real.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {
        "another key": signed({}, key=ed25519.Ed25519PrivateKey.generate()),
        "another issuer": signed({"iss": "https://elsewhere.example.org"}),
        "another audience": signed({"aud": "someone-else"}),
        "expired": signed({"iat": now - 7200, "exp": now - 3600}),
        "no expiry": signed({}, drop=("exp",)),
        "alg none": _compact({"alg": "none", "typ": "JWT", "kid": kid}, good, lambda _: b""),
        "HS256 with the public key": _compact(
            {"alg": "HS256", "typ": "JWT", "kid": kid},
            good,
            lambda data: hmac.new(public, data, hashlib.sha256).digest(),
        ),
        "roles null": signed({"roles": None}),
        "roles a number": signed({"roles": 5}),
        "roles nested": signed({"roles": [["dsr_team"]]}),
        "roles a mapping": signed({"roles": {"dsr_team": True}}),
        "no subject": signed({}, drop=("sub",)),
        "email a number": signed({"email": 12345}),
        "not a JWT": "not-a-token",
    }


async def test_every_endpoint_of_every_service_refuses_every_forged_token(services, identity):
    tokens = forgeries(identity)
    checked = 0
    async with httpx.AsyncClient(timeout=30) as http:
        for name, process in services.items():
            spec = (await http.get(f"{process.url}/openapi.json")).json()
            for path, operations in spec["paths"].items():
                if path.startswith(("/health", "/metrics", "/.well-known")) or path == "/token":
                    continue
                url = process.url + path.replace("{", "").replace("}", "")
                for method in operations:
                    for what, token in tokens.items():
                        answer = await http.request(method.upper(), url, headers=bearer(token))
                        assert answer.status_code == 401, (name, method, path, what, answer.status_code, answer.text)
                        checked += 1
    assert checked >= 15 * len(tokens)
