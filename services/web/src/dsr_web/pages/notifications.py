"""What was emailed to whom and when; failed mail sent again."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from dsr_web import session
from dsr_web.backend import Conflict, NotFound
from dsr_web.pages.common import Form, Services, may_use
from dsr_web.rendering import render
from dsr_web.session import User

router = APIRouter(prefix="/notifications")
Staff = Annotated[User, Depends(may_use("notifications"))]
STATES = ("pending", "sending", "sent", "failed")


@router.get("")
async def notifications(request: Request, user: Staff, api: Services, state: str = "") -> Response:
    state = state if state in STATES else ""
    found = await api.notifications(state=state or None, limit=200)
    return render(request, "notifications.jinja", {"title": "Notifications", "notifications": found, "state": state})


@router.post("/{notification_id}/retry")
async def retry(request: Request, notification_id: str, form: Form, user: Staff, api: Services) -> Response:
    try:
        await api.retry_notification(notification_id)
    except Conflict:
        session.flash(request, "That email is no longer failed: it was not sent again")
    except NotFound:
        session.flash(request, "That email was not found")
    else:
        session.flash(request, "The email will be sent again")
    return RedirectResponse("/notifications?state=failed", status_code=303)
