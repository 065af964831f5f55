"""The identity service as its own process: system clients (client secret and
private_key_jwt), a key rotation, organisations whose staff refer from their
first sign-in, bootstrap administrators. A second identity service beside the
session's, sharing its provider and issuer name, stands for the next
deployment with a new key."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from dsr_shared.platform.auth import InvalidToken, JwksKeys, Role, TokenVerifier
from dsr_devstack import ServiceProcess, free_port, identity_env
from dsr_testing.infra import FEED_CLIENT, OPS_CLIENT
from dsr_testing.support import identity as identity_client


@dataclass
class NextIdentity:
    service: ServiceProcess
    assertion_key: ed25519.Ed25519PrivateKey

    @property
    def url(self) -> str:
        return self.service.url


@pytest.fixture(scope="module")
def next_identity(identity, infra, tmp_path_factory) -> Iterator[NextIdentity]:
    """Signs with a new key, still publishes the session's (previous) one; one
    client authenticates with private_key_jwt; staff of RXM refer from the start."""
    folder = tmp_path_factory.mktemp("next-identity")
    port = free_port()
    assertion_key = ed25519.Ed25519PrivateKey.generate()
    public = assertion_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    env = {
        "DSR_MONGO_URI": infra.mongo_uri,
        "DSR_MONGO_DB": f"identity_next_{uuid.uuid4().hex[:8]}",
        "DSR_HTTP_PORT": str(port),
        **identity_env(
            issuer=identity.issuer,
            provider=identity.provider,
            key_file=folder / "new-key.pem",
            clients=[{"client_id": OPS_CLIENT[0], "secret": OPS_CLIENT[1], "roles": ["ops"]}],
        ),
        "DSR_IDENTITY_PREVIOUS_KEY_FILE": str(identity.key_file),
        "DSR_IDENTITY_REFERRER_ORGANISATIONS": json.dumps(["RXM"]),
        "DSR_IDENTITY_TOKEN_SECONDS": "120",
    }
    clients = json.loads(env["DSR_IDENTITY_CLIENTS"])
    clients.append({"client_id": "hospital_feed_jwt", "public_key_pem": public.decode(), "roles": ["system"]})
    env["DSR_IDENTITY_CLIENTS"] = json.dumps(clients)
    service = ServiceProcess("identity", "dsr_identity", port, env, folder / "identity.log")
    service.start()
    try:
        yield NextIdentity(service, assertion_key)
    finally:
        service.stop()


def token_body(answer: httpx.Response) -> dict:
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    return answer.json()


def test_system_clients_get_their_role_with_their_secret_only(identity):
    client = identity_client()
    ops = token_body(client.client_token(*OPS_CLIENT))
    said = jwt.decode(ops["access_token"], options={"verify_signature": False})
    assert (said["sub"], said["roles"], ops["token_type"], ops["expires_in"]) == (
        "client:dsr_ops",
        ["ops"],
        "Bearer",
        300,
    )
    feed = token_body(client.client_token(*FEED_CLIENT))
    assert jwt.decode(feed["access_token"], options={"verify_signature": False})["roles"] == ["system"]
    wrong = client.client_token(OPS_CLIENT[0], FEED_CLIENT[1])
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert client.client_token("nobody", "x").status_code == 401
    unsupported = client.http.post(f"{identity.issuer}/token", data={"grant_type": "password", "username": "a"})
    assert unsupported.status_code == 400 and unsupported.json()["error"] == "unsupported_grant_type"
    garbage = client.http.post(
        f"{identity.issuer}/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": "not-a-token",
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        },
    )
    assert garbage.status_code == 400 and garbage.json()["error"] == "invalid_grant"


def test_an_id_token_for_another_client_or_from_another_provider_is_refused(identity):
    client = identity_client()
    other_key = ed25519.Ed25519PrivateKey.generate()
    now = int(time.time())
    forged = jwt.encode(
        {"iss": identity.provider.issuer, "aud": "dsr-web", "sub": "x", "iat": now, "exp": now + 60},
        other_key,
        algorithm="EdDSA",
    )
    assert client.exchange(forged).json()["error"] == "invalid_grant"
    elsewhere = jwt.encode(
        {"iss": "https://idp.example.org", "aud": "dsr-web", "sub": "x", "iat": now, "exp": now + 60},
        other_key,
        algorithm="EdDSA",
    )
    assert "not from an identity provider of this area" in client.exchange(elsewhere).json()["error_description"]
    # An ID token the provider issued to another application is not for the register.
    for_another = client.exchange(client.id_token("someone@example.org", client_id="another-app")).json()
    assert for_another["error"] == "invalid_grant" and "audience" in for_another["error_description"].lower()


def test_discovery_and_keys(identity):
    config = httpx.get(f"{identity.issuer}/.well-known/openid-configuration").json()
    assert config["issuer"] == identity.issuer and config["token_endpoint"] == f"{identity.issuer}/token"
    keys = httpx.get(config["jwks_uri"]).json()["keys"]
    assert [(k["kty"], k["alg"], k["use"]) for k in keys] == [("OKP", "EdDSA", "sig")] and "d" not in keys[0]


def assertion(key, client_id: str, audience: str, **changes) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
        **changes,
    }
    return jwt.encode(claims, key, algorithm="EdDSA")


def test_private_key_jwt_client_authentication_is_used_once(next_identity, identity):
    url = f"{next_identity.url}/token"

    def ask(signed: str) -> httpx.Response:
        return httpx.post(
            url,
            data={
                "grant_type": "client_credentials",
                "client_assertion": signed,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            },
        )

    signed = assertion(next_identity.assertion_key, "hospital_feed_jwt", f"{identity.issuer}/token")
    body = token_body(ask(signed))
    assert jwt.decode(body["access_token"], options={"verify_signature": False})["roles"] == ["system"]
    assert ask(signed).json()["error_description"] == "client assertion already used"
    stranger = ed25519.Ed25519PrivateKey.generate()
    assert ask(assertion(stranger, "hospital_feed_jwt", f"{identity.issuer}/token")).status_code == 401
    assert (
        ask(assertion(next_identity.assertion_key, "hospital_feed_jwt", "https://elsewhere/token")).status_code == 401
    )
    assert (
        ask(
            assertion(
                next_identity.assertion_key, "hospital_feed_jwt", f"{identity.issuer}/token", exp=int(time.time()) - 120
            )
        ).status_code
        == 401
    )


def test_a_rotation_publishes_both_keys_and_every_token_still_verifies(next_identity, identity):
    keys = httpx.get(f"{next_identity.url}/.well-known/jwks.json").json()["keys"]
    old_kid = httpx.get(f"{identity.issuer}/.well-known/jwks.json").json()["keys"][0]["kid"]
    assert len(keys) == 2 and keys[1]["kid"] == old_kid
    old = token_body(identity_client().client_token(*OPS_CLIENT))["access_token"]
    new = token_body(
        httpx.post(f"{next_identity.url}/token", data={"grant_type": "client_credentials"}, auth=OPS_CLIENT)
    )["access_token"]
    assert jwt.get_unverified_header(new)["kid"] == keys[0]["kid"] != old_kid
    # A service that reads the new deployment's keys accepts both.
    verifier = TokenVerifier(
        JwksKeys(f"{next_identity.url}/.well-known/jwks.json"), issuer=identity.issuer, audience="dsr"
    )
    assert verifier.verify_now(old).roles == verifier.verify_now(new).roles == {Role.OPS}
    # One that knows only the old key refuses the new one's tokens.
    with pytest.raises(InvalidToken):
        TokenVerifier(
            JwksKeys(f"{identity.issuer}/.well-known/jwks.json"), issuer=identity.issuer, audience="dsr"
        ).verify_now(new)
    # The new deployment's own admin API accepts an administrator's token the old key signed.
    admin = identity_client().admin()
    assert httpx.get(f"{next_identity.url}/users", headers=admin).status_code == 200


def test_staff_of_a_listed_organisation_refer_from_their_first_sign_in(next_identity):
    client = identity_client()
    exchange = "urn:ietf:params:oauth:grant-type:token-exchange"

    def first_roles(subject: str, org: str) -> list[str]:
        id_token = client.id_token(subject, org=org)
        answer = httpx.post(
            f"{next_identity.url}/token",
            data={
                "grant_type": exchange,
                "subject_token": id_token,
                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            },
        )
        body = token_body(answer)
        assert body["expires_in"] == 120
        return jwt.decode(body["access_token"], options={"verify_signature": False})["roles"]

    assert first_roles(f"nurse.{uuid.uuid4().hex[:6]}@example.org", "RXM") == ["referrer"]
    assert first_roles(f"teacher.{uuid.uuid4().hex[:6]}@example.org", "SCH01") == []
