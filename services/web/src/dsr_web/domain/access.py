"""Which pages each role may use. The services decide what each person may
see; this only keeps people away from pages they cannot use, and a page
refuses (403 page) whoever opens it without the role. Pure."""

from __future__ import annotations

from dsr_web.session import User

# Page -> the roles that may open it.
PAGES: dict[str, tuple[str, ...]] = {
    "refer": ("referrer", "dsr_team"),
    "my_people": ("referrer", "dsr_team"),
    "record": ("referrer", "dsr_team"),
    "register": ("dsr_team",),
    "queue": ("dsr_team",),
    "meeting": ("dsr_team",),
    "notifications": ("dsr_team", "ops"),
    "users": ("dsr_admin",),
}


_NAV = (
    ("my_people", "/my-people", "My people"),
    ("register", "/register", "Register"),
    ("queue", "/queue", "Work queue"),
    ("meeting", "/tracking-meeting", "Tracking meeting"),
    ("refer", "/referral", "Refer someone"),
    ("notifications", "/notifications", "Notifications"),
    ("users", "/users", "Users"),
)


def may_open(user: User | None, page: str) -> bool:
    return user is not None and user.has(*PAGES[page])


def navigation(user: User | None, path: str) -> list[dict]:
    """The header's navigation items (NHS.UK header `navigation.items`)."""
    if user is None:
        return []
    return [
        {"href": href, "text": text, "current": path == href or path.startswith(href + "/")}
        for page, href, text in _NAV
        if may_open(user, page)
    ]


def home_for(user: User) -> str:
    """Where a signed-in user starts."""
    if user.dsr_team:
        return "/queue"
    if user.has("referrer"):
        return "/my-people"
    if user.has("ops"):
        return "/notifications"
    if user.has("dsr_admin"):
        return "/users"
    return "/no-access"
