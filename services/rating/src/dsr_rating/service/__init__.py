"""The rating service's use cases: every transaction of the register, whether
an event, a change over HTTP or the green-month sweep brings it. Each loads
through the repositories, asks domain/ to decide, saves, and stages what it
announces, through the one unit of work. Entry points (handlers.py, api.py,
app.py) make one call here each."""

from __future__ import annotations

from dsr_rating.service.commands import Changed, Conflict, Refused
from dsr_rating.service.core import Register, record_contacts
from dsr_rating.service.green_month import GreenMonths
from dsr_rating.service.on_events import OnEvents
from dsr_rating.service.ports import Audit, ClaimMissing, Outgoer, People
from dsr_rating.service.queries import Page, Queries


class RatingService(OnEvents, Queries, GreenMonths):
    """Every use case of the register, over one set of repositories and one unit of work."""


__all__ = [
    "Audit",
    "Changed",
    "ClaimMissing",
    "Conflict",
    "Outgoer",
    "Page",
    "People",
    "RatingService",
    "Refused",
    "Register",
    "record_contacts",
]
