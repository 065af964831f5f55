"""The register's directory of users (the identity service): who holds
which role; DSR team administrators give and take roles (audited there)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from dsr_web import session
from dsr_web.backend import NotFound, Rejected
from dsr_web.pages.common import Form, Services, may_use
from dsr_web.rendering import render
from dsr_web.session import ROLE_NAMES, User

router = APIRouter(prefix="/users")
Admin = Annotated[User, Depends(may_use("users"))]
GRANTABLE = ("referrer", "dsr_team", "dsr_admin", "commissioner", "ops")
PAGE_SIZE = 100


@router.get("")
async def users(request: Request, user: Admin, api: Services, page: int = 1) -> Response:
    page = max(1, page)
    listing = await api.users(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render(
        request,
        "users.jinja",
        {
            "title": "Users",
            "users": listing["users"],
            "total": listing["total"],
            "page": page,
            "pages": max(1, -(-listing["total"] // PAGE_SIZE)),
            "grantable": GRANTABLE,
            "role_names": ROLE_NAMES,
        },
    )


@router.post("/{user_id}/roles")
async def change_role(request: Request, user_id: str, form: Form, user: Admin, api: Services) -> Response:
    role, action = form.get("role", ""), form.get("action", "")
    if role not in GRANTABLE or action not in ("grant", "revoke"):
        session.flash(request, "Choose a role to give or take away")
        return RedirectResponse("/users", status_code=303)
    try:
        if action == "grant":
            await api.grant_role(user_id, role)
        else:
            await api.revoke_role(user_id, role)
    except Rejected as rejected:
        session.flash(request, f"Not changed: {rejected}")
    except NotFound:
        session.flash(request, "That user was not found")
    else:
        verb = "given" if action == "grant" else "taken away"
        session.flash(
            request, f"Role {ROLE_NAMES[role]} {verb}. It takes effect when they next sign in, within 5 minutes."
        )
    return RedirectResponse("/users", status_code=303)
