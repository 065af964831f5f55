"""The tracking meeting's agenda (R-OB-14), printable: people by rating,
what is due by the meeting, whose update is missing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from dsr_web.pages.common import Services, may_use
from dsr_web.rendering import render
from dsr_web.session import User

router = APIRouter()
Team = Annotated[User, Depends(may_use("meeting"))]


@router.get("/tracking-meeting")
async def tracking_meeting(request: Request, user: Team, api: Services) -> Response:
    agenda = await api.tracking_meeting()
    return render(request, "meeting.jinja", {"title": "Tracking meeting", "agenda": agenda})
