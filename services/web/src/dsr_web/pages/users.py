"""The register's directory of users (identity service): who holds which role."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from dsr_web.pages.common import Services, may_use
from dsr_web.rendering import render
from dsr_web.session import User

router = APIRouter(prefix="/users")
Admin = Annotated[User, Depends(may_use("users"))]


@router.get("")
async def users(request: Request, user: Admin, api: Services) -> Response:
    return render(request, "users.jinja", {"title": "Users", "users": await api.users()})
