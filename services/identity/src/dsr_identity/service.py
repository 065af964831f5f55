"""The use cases: a signed-in person's ID token exchanged for a register access
token; a system client's credentials for one; the directory managed by DSR
team administrators, every grant and removal audited."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog

from dsr_shared.platform.auth import Principal, Role
from dsr_shared.platform.runtime import Runtime
from dsr_identity.adapters.directory import Directory, User
from dsr_identity.adapters.keys import KeyRing
from dsr_identity.adapters.providers import Providers
from dsr_identity.domain.roles import (
    BOOTSTRAP_ROLES,
    access_claims,
    first_sign_in_roles,
    grant_refusal,
    organisation,
)
from dsr_identity.settings import IdentitySettings, SystemClient

log = structlog.get_logger()

# The actor named in the audit log for changes no administrator made.
FIRST_SIGN_IN = Principal(subject="system:first-sign-in", roles=frozenset())
BOOTSTRAP = Principal(subject="system:bootstrap-admin", roles=frozenset())
SEED = Principal(subject="system:seed", roles=frozenset())


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    roles: list[str]

    def body(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "roles": self.roles,
        }


class Refused(Exception):
    """A grant or removal the rules do not allow (422)."""


class Identity:
    def __init__(
        self, runtime: Runtime, settings: IdentitySettings, keys: KeyRing, providers: Providers, directory: Directory
    ) -> None:
        self.runtime = runtime
        self.settings = settings
        self.keys = keys
        self.providers = providers
        self.directory = directory
        self._bootstrap = {(a.issuer, a.subject) for a in settings.identity_bootstrap_admins}

    def _issue(
        self, subject: str, roles: frozenset[Role], *, email: str | None = None, org: str | None = None
    ) -> IssuedToken:
        lifetime = timedelta(seconds=self.settings.identity_token_seconds)
        claims = access_claims(
            issuer=self.settings.auth_issuer,
            audience=self.settings.auth_audience,
            subject=subject,
            roles=roles,
            now=self.runtime.clock.now(),
            lifetime=lifetime,
            email=email,
            org=org,
        )
        return IssuedToken(self.keys.sign(claims), int(lifetime.total_seconds()), sorted(r.value for r in roles))

    async def exchange(self, id_token: str) -> IssuedToken:
        """A register access token for the person an ID token names (InvalidToken
        or KeysUnavailable otherwise). Someone new is recorded, with no role
        unless the area lets their organisation refer."""
        # Fetching a provider's keys is blocking I/O (rarely: they are cached).
        provider, claims = await asyncio.to_thread(self.providers.verify, id_token)
        issuer, subject = provider.issuer, claims["sub"]
        email = claims.get(provider.email_claim) if isinstance(claims.get(provider.email_claim), str) else None
        org = organisation(claims, provider.org_claim)
        initial = first_sign_in_roles(org, self.settings.identity_referrer_organisations)
        user, new = await self.directory.signed_in(
            issuer=issuer, subject=subject, email=email, org=org, at=self.runtime.clock.now(), initial_roles=initial
        )
        if new:
            log.info("first sign-in recorded", user_id=user.user_id, provider=provider.name, roles=sorted(user.roles))
            for role in sorted(user.roles):
                await self.runtime.audit.record(FIRST_SIGN_IN, f"directory.grant.{role}", user.user_id)
        if (issuer, subject) in self._bootstrap and not BOOTSTRAP_ROLES <= user.roles:
            user = await self._change(BOOTSTRAP, user.user_id, add=BOOTSTRAP_ROLES - user.roles)
        return self._issue(user.user_id, user.roles, email=user.email, org=user.org)

    async def seed(self) -> None:
        """Development mode: the configured people, with at least their roles."""
        for seed in self.settings.identity_seed_users:
            user, _ = await self.directory.signed_in(
                issuer=seed.issuer,
                subject=seed.subject,
                email=seed.email,
                org=seed.org,
                at=self.runtime.clock.now(),
                initial_roles=frozenset(),
                signing_in=False,
            )
            await self._change(SEED, user.user_id, add=frozenset(seed.roles) - user.roles)

    def for_client(self, client: SystemClient) -> IssuedToken:
        return self._issue(f"client:{client.client_id}", frozenset(client.roles))

    async def users(self, *, limit: int, offset: int) -> tuple[list[User], int]:
        return await self.directory.page(limit=limit, offset=offset)

    async def user(self, user_id: str) -> User | None:
        return await self.directory.get(user_id)

    async def grant(self, admin: Principal, user_id: str, role: Role) -> User | None:
        return await self._change(admin, user_id, add=frozenset({role}))

    async def revoke(self, admin: Principal, user_id: str, role: Role) -> User | None:
        return await self._change(admin, user_id, remove=frozenset({role}))

    async def _change(
        self,
        actor: Principal,
        user_id: str,
        *,
        add: frozenset[Role] = frozenset(),
        remove: frozenset[Role] = frozenset(),
    ) -> User | None:
        """Adds then removes roles in one transaction with their audit entries;
        None for an unknown user, Refused where a rule forbids it. Granting what
        is held, or removing what is not, changes nothing and is not audited."""
        changed: list[User | None] = [None]

        async def work(session):
            user = await self.directory.get(user_id, session)
            if user is None:
                return []
            roles = set(user.roles)
            for role in sorted(add - roles):
                refusal = grant_refusal(roles, role)
                if refusal:
                    raise Refused(refusal)
                roles.add(role)
                await self.runtime.audit.record(actor, f"directory.grant.{role}", user_id, session=session)
            for role in sorted(remove & roles):
                roles.discard(role)
                await self.runtime.audit.record(actor, f"directory.revoke.{role}", user_id, session=session)
            changed[0] = (
                await self.directory.set_roles(user_id, frozenset(roles), session) if roles != set(user.roles) else user
            )
            return []

        await self.runtime.uow.in_transaction(work)
        return changed[0]
