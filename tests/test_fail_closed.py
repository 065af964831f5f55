"""Issue 14 (5): outside development mode, a service refuses to start without
its token settings or with the shipped development values, and says which
setting. Each service is started as a real process with an empty environment
of DSR_ settings; none reaches its broker or database."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dsr_shared.platform.settings import DEVELOPMENT_NHS_HASH_KEY

# Service -> the settings it must name when started with none of its own.
NAMED = {
    "referral": ("DSR_AUTH_ISSUER", "DSR_NHS_HASH_KEY"),
    "rating": ("DSR_AUTH_ISSUER", "DSR_NHS_HASH_KEY"),
    "scheduler": ("DSR_AUTH_ISSUER",),
    "notifier": ("DSR_AUTH_ISSUER",),
    "identity": ("DSR_AUTH_ISSUER", "DSR_IDENTITY_SIGNING_KEY", "DSR_IDENTITY_PROVIDERS"),
}


def start(service: str, tmp_path, **settings: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSR_")} | settings
    # No .env file where it starts.
    return subprocess.run(
        [sys.executable, "-m", f"dsr_{service}"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("service", sorted(NAMED))
def test_a_service_without_its_settings_refuses_to_start_naming_them(service, tmp_path):
    ran = start(service, tmp_path, DSR_HTTP_PORT="1")
    assert ran.returncode == 78, (ran.returncode, ran.stderr[-2000:])
    assert ran.stderr.startswith("refusing to start:")
    for setting in NAMED[service]:
        assert setting in ran.stderr, (setting, ran.stderr)
    assert "DSR_DEVELOPMENT_MODE" in ran.stderr


def test_the_shipped_hash_key_is_refused_and_development_mode_accepts_it(tmp_path):
    from dsr_shared.platform.settings import ServiceSettings

    issuer = {"auth_issuer": "https://identity.example.org"}
    shipped = ServiceSettings(nhs_hash_key=DEVELOPMENT_NHS_HASH_KEY, **issuer)
    assert [p.split()[0] for p in shipped.startup_problems(nhs_hash_key=True)] == ["DSR_NHS_HASH_KEY"]
    assert shipped.startup_problems(nhs_hash_key=False) == []
    assert ServiceSettings(nhs_hash_key=" ", **issuer).startup_problems(nhs_hash_key=True)
    assert ServiceSettings(development_mode=True).startup_problems(nhs_hash_key=True) == []
    assert ServiceSettings(nhs_hash_key="a-real-secret", **issuer).startup_problems(nhs_hash_key=True) == []


def test_the_identity_service_refuses_the_development_client_secret_and_seed_users():
    from dsr_identity.settings import DEVELOPMENT_OPS_SECRET, IdentitySettings

    from dsr_devstack.identity import OPS_CLIENT_SECRET, secret_sha256

    assert OPS_CLIENT_SECRET == DEVELOPMENT_OPS_SECRET
    settings = IdentitySettings(
        auth_issuer="https://identity.example.org",
        identity_signing_key="-----BEGIN PRIVATE KEY-----",
        identity_providers=[{"name": "CIS2", "issuer": "https://cis2.example.org", "client_id": "web"}],
        identity_clients=[
            {"client_id": "dsr_ops", "secret_sha256": secret_sha256(OPS_CLIENT_SECRET), "roles": ["ops"]}
        ],
        identity_seed_users=[{"issuer": "https://cis2.example.org", "subject": "x", "roles": ["dsr_team"]}],
    )
    problems = " ".join(settings.startup_problems())
    assert "DSR_IDENTITY_CLIENTS" in problems and "DSR_IDENTITY_SEED_USERS" in problems
    assert (
        IdentitySettings(development_mode=True, identity_seed_users=settings.identity_seed_users).startup_problems()
        == []
    )
