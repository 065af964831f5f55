"""Composition root of the identity service: no broker, a database for the
directory and the audit log."""

from __future__ import annotations

from fastapi import FastAPI

from dsr_shared.platform.auth import TokenVerifier
from dsr_shared.platform.clock import Clock
from dsr_shared.platform.http import create_app
from dsr_shared.platform.runtime import Runtime
from dsr_shared.platform.settings import StartupRefused
from dsr_identity.adapters.clients import Clients
from dsr_identity.adapters.directory import Directory
from dsr_identity.adapters.keys import KeyRing
from dsr_identity.adapters.providers import Providers
from dsr_identity.api import directory_router, issuer_router
from dsr_identity.service import Identity
from dsr_identity.settings import IdentitySettings


def build_app(settings: IdentitySettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or IdentitySettings()
    runtime = Runtime.build(settings, clock)
    try:
        keys = KeyRing.from_settings(settings)
    except StartupRefused:
        settings.refuse_unsafe()  # every missing setting named at once, where that is the cause
        raise
    directory = Directory(runtime.db)
    clients = Clients(settings.identity_clients, runtime.db, settings.token_endpoint, settings.auth_issuer)
    identity = Identity(runtime, settings, keys, Providers(settings.identity_providers), directory)

    async def indexes(_: Runtime) -> None:
        await directory.ensure_indexes()
        await clients.ensure_indexes()
        await identity.seed()

    return create_app(
        runtime,
        title="DSR identity service",
        topics=[],
        routers=[issuer_router(identity, clients), directory_router(identity)],
        on_startup=[indexes],
        # Its own tokens (the directory's administrators) are checked with its own keys.
        token_verifier=TokenVerifier(keys, issuer=settings.auth_issuer, audience=settings.auth_audience),
    )
