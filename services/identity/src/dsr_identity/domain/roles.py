"""Who may hold which role, and what a register access token says (pure rules)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from dsr_shared.platform.auth import Role

# Roles a person can be given in the directory; `system` belongs to system clients only.
PERSON_ROLES = frozenset({Role.REFERRER, Role.DSR_TEAM, Role.DSR_ADMIN, Role.COMMISSIONER, Role.OPS, Role.AUDITOR})
# Roles a system client may be configured with.
CLIENT_ROLES = frozenset({Role.SYSTEM, Role.OPS})
# What a bootstrap administrator named in the settings always holds. dsr_admin
# alone manages the directory and sees no one's record: a DSR team
# administrator holds both.
BOOTSTRAP_ROLES = frozenset({Role.DSR_TEAM, Role.DSR_ADMIN})


def grant_refusal(held: Iterable[Role], role: Role) -> str | None:
    """Why `role` may not be added to a person holding `held`, or None."""
    if role not in PERSON_ROLES:
        return f"{role} is not a role a person can be given"
    return None


def first_sign_in_roles(organisation: str | None, referrer_organisations: Iterable[str]) -> frozenset[Role]:
    """No role for someone the register does not know, unless the area lets
    staff of their organisation refer from the start."""
    allowed = {code.strip().upper() for code in referrer_organisations}
    if organisation and organisation.strip().upper() in allowed:
        return frozenset({Role.REFERRER})
    return frozenset()


def organisation(claims: Mapping[str, Any], org_claim: str) -> str | None:
    """The user's organisation from an ID token: CIS2's selected role's
    organisation (`nhsid_nrbac_roles`, `selected_roleid`) when present, else the
    provider's configured claim."""
    nrbac = claims.get("nhsid_nrbac_roles")
    if isinstance(nrbac, list):
        selected = claims.get("selected_roleid")
        for role in nrbac:
            if isinstance(role, dict) and isinstance(role.get("org_code"), str):
                if selected is None or role.get("person_roleid") == selected:
                    return role["org_code"]
    value = claims.get(org_claim)
    return value if isinstance(value, str) and value else None


def access_claims(
    *,
    issuer: str,
    audience: str,
    subject: str,
    roles: Iterable[Role],
    now: datetime,
    lifetime: timedelta,
    email: str | None = None,
    org: str | None = None,
) -> dict[str, Any]:
    """The claims of a register access token: short-lived, with a unique id."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "roles": sorted(r.value for r in roles),
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "jti": str(uuid.uuid4()),
    }
    if email:
        claims["email"] = email
    if org:
        claims["org"] = org
    return claims
