"""R-OB-14: when the area's tracking meetings are, and when their digests go out."""

from __future__ import annotations

from datetime import datetime, timedelta

from dsr_shared.rules.area import AreaProfile
from dsr_shared.rules.working_time import WorkingCalendar


def digest_at(area: AreaProfile, meeting_at: datetime) -> datetime:
    """`tracking_digest_before` before the meeting, in the area's working time."""
    return WorkingCalendar(area.working_time).before(meeting_at, area.tracking_digest_before)


def meeting_to_announce(area: AreaProfile, now: datetime, since: datetime) -> datetime | None:
    """The latest meeting whose digest time has come: the coming meeting once
    its digest time has passed, else the last one. None for an area without
    meetings, and for a meeting whose digest time was before `since` (when the
    notifier first looked), so a new notifier sends nothing for meetings it
    never saw coming. The caller sends each meeting's digests once; one for a
    meeting that has begun goes out late (the notifier was not running at its
    digest time, or a simulated clock jumped over it)."""
    upcoming = area.next_tracking_meeting(now)
    if upcoming is None:
        return None
    meeting_at = upcoming if digest_at(area, upcoming) <= now else upcoming - timedelta(days=7)
    return meeting_at if digest_at(area, meeting_at) >= since else None
