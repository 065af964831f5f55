"""Plain words for what the services answer: ratings, deadlines in the area's
time zone ("Community C(E)TR due by Wed 3 Dec, 5pm"), who did what. Pure."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

RATINGS = {
    "red": ("Red", "In crisis, at risk of hospital admission"),
    "amber": (
        "Amber",
        "Wellbeing deteriorating; at risk of crisis without quick action, or just discharged from hospital",
    ),
    "green": ("Green", "Wellbeing settled; stays one month, then removed from the register"),
    "blue": ("Blue", "In a learning disability or mental health hospital"),
}
# The NHS.UK tag colour for each rating.
RATING_TAGS = {
    "red": "nhsuk-tag--red",
    "amber": "nhsuk-tag--orange",
    "green": "nhsuk-tag--green",
    "blue": "nhsuk-tag--blue",
}
COHORTS = {"adult": "Adult", "cyp": "Child or young person", "unknown": "Not known yet"}
AGE_BANDS = {"cyp": "Under 18", "young_adult": "18 to 24", "adult": "25 or over", "unknown": "Not known"}
STATES = {"open": "Open", "due": "Due", "overdue": "Overdue", "done": "Done", "cancelled": "Cancelled"}
STATE_TAGS = {
    "open": "nhsuk-tag--grey",
    "due": "nhsuk-tag--yellow",
    "overdue": "nhsuk-tag--red",
    "done": "nhsuk-tag--green",
    "cancelled": "nhsuk-tag--white",
}
RESPONSIBLE = {
    "dsr_team": "DSR team",
    "case_holder": "Case holder",
    "commissioner": "Commissioner",
    "keyworking_service": "Keyworking service",
}
CAUSES = {
    "referral": "Referral",
    "person": "Changed by a person",
    "admission": "Admitted to hospital",
    "discharge": "Discharged from hospital",
    "removal": "Removed",
    "green_month_ended": "Green month ended",
}


def rating_name(rating: str | None) -> str:
    return RATINGS.get(rating or "", ("Not rated", ""))[0]


def _clock(at: datetime) -> str:
    hour = at.hour % 12 or 12
    suffix = "am" if at.hour < 12 else "pm"
    return f"{hour}{suffix}" if at.minute == 0 else f"{hour}:{at.minute:02d}{suffix}"


def when(at: datetime | str | None, zone: str, *, today: date | None = None) -> str:
    """ "Wed 3 Dec, 5pm" in the area's time zone; the year only when it is not this year."""
    if at is None:
        return ""
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    local = moment.astimezone(ZoneInfo(zone))
    this_year = (today or datetime.now(ZoneInfo(zone)).date()).year
    day = f"{local:%a} {local.day} {local:%b}" + ("" if local.year == this_year else f" {local.year}")
    return f"{day}, {_clock(local)}"


def day(at: datetime | date | str | None, zone: str | None = None) -> str:
    """ "3 December 2025" (a date, or an instant's day in the area's time zone)."""
    if at is None or at == "":
        return ""
    if isinstance(at, str):
        at = date.fromisoformat(at) if len(at) == 10 else datetime.fromisoformat(at)
    if isinstance(at, datetime) and zone:
        at = at.astimezone(ZoneInfo(zone))
    return f"{at.day} {at:%B %Y}"


def obligation_words(obligation: dict, zone: str, *, today: date | None = None) -> str:
    """ "Community C(E)TR due by Wed 3 Dec, 5pm", or "… overdue since …", or "… done on …"."""
    title = obligation.get("title") or obligation.get("kind", "").replace("_", " ").capitalize()
    state = obligation.get("state")
    deadline = when(obligation.get("due_at"), zone, today=today)
    if state == "overdue":
        return f"{title} overdue since {deadline}"
    if state == "done":
        completion = obligation.get("completion") or {}
        return f"{title} done on {day(completion.get('at'), zone)}" if completion else f"{title} done"
    if state == "cancelled":
        return f"{title} no longer needed"
    return f"{title} due by {deadline}"


def who(actor: str | None) -> str:
    """Who made a change, as the services record it (an email or a system name)."""
    if not actor:
        return "Unknown"
    if actor.startswith("system:"):
        return {"system:discharge": "Automatically, on discharge"}.get(actor, "Automatically")
    return actor


def yes_no(value: bool | None) -> str:
    return {True: "Yes", False: "No", None: "Not recorded"}[value]
