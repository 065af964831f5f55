"""What every page needs: the signed-in user with the role the page asks
for, the services as that user, the form with its CSRF token checked."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request

from dsr_web import session
from dsr_web.backend import UserBackend
from dsr_web.domain.access import may_open
from dsr_web.session import User
from dsr_web.signin import access_token


class SignInRequired(Exception):
    pass


class PageRefused(Exception):
    """The user may not use this page (403)."""


class CsrfFailed(Exception):
    pass


def signed_in(request: Request) -> User:
    user = session.user(request)
    if user is None:
        raise SignInRequired()
    return user


def may_use(page: str):
    """A dependency: the signed-in user, if their roles open `page`; a 403 page otherwise."""

    def dependency(user: Annotated[User, Depends(signed_in)]) -> User:
        if not may_open(user, page):
            raise PageRefused()
        return user

    return dependency


async def services(request: Request, user: Annotated[User, Depends(signed_in)]) -> UserBackend:
    """The services' APIs as the signed-in user (the access token renewed when needed)."""
    backend = request.app.state.backend
    token = await access_token(request, backend)
    if token is None:
        request.session.clear()
        raise SignInRequired()
    return backend.as_user(token, request.state.correlation_id)


async def form_data(request: Request) -> dict[str, str]:
    """The posted form, once its CSRF token matched the session's."""
    form = await request.form()
    expected = request.session.get("csrf")
    given = form.get("csrf_token")
    if not expected or not isinstance(given, str) or not secrets.compare_digest(given, expected):
        raise CsrfFailed()
    return {k: v for k, v in form.items() if isinstance(v, str)}


Form = Annotated[dict[str, str], Depends(form_data)]
Services = Annotated[UserBackend, Depends(services)]
