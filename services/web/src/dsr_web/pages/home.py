"""The start page, where each role begins, and the pages about the service."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from dsr_web import session
from dsr_web.domain.access import home_for
from dsr_web.rendering import render

router = APIRouter()


@router.get("/")
async def start(request: Request) -> Response:
    user = session.user(request)
    if user is None:
        return render(request, "start.jinja", {"title": "Sign in"})
    return RedirectResponse(home_for(user), status_code=303)


@router.get("/no-access")
async def no_access(request: Request) -> Response:
    """Signed in, but the register's directory gives this person no role yet."""
    user = session.user(request)
    if user is None:
        return RedirectResponse("/", status_code=303)
    if user.roles:
        return RedirectResponse(home_for(user), status_code=303)
    area = request.app.state.settings.area
    return render(request, "no_access.jinja", {"title": "You do not have access yet", "mailbox": area.dsr_team_mailbox})


@router.get("/signed-out")
async def signed_out(request: Request) -> Response:
    return render(
        request,
        "message.jinja",
        {
            "title": "You have signed out",
            "message": "You have signed out of the Dynamic Support Register.",
            "sign_in": True,
        },
    )


@router.get("/session-ended")
async def session_ended(request: Request) -> Response:
    return render(
        request,
        "message.jinja",
        {
            "title": "You have been signed out",
            "message": "You were signed out because you had not used the register for a while, "
            "or your session reached its time limit. Anything you had not saved was not kept.",
            "sign_in": True,
        },
    )


@router.get("/accessibility")
async def accessibility(request: Request) -> Response:
    return render(request, "accessibility.jinja", {"title": "Accessibility statement"})


@router.get("/privacy")
async def privacy(request: Request) -> Response:
    return render(request, "privacy.jinja", {"title": "Privacy"})
