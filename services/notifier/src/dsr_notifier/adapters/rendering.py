"""Jinja2 templates, plain text and HTML, one set per kind of message
(templates/<kind>.subject.j2, .txt.j2, .html.j2), with the area's name.
Times are shown in the area's time zone."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from dsr_shared.rules.area import AreaProfile

RATING_WORDS = {
    "red": "red (in crisis, at risk of admission)",
    "amber": "amber (wellbeing deteriorating)",
    "green": "green (settled)",
    "blue": "blue (in hospital)",
}


class Renderer:
    def __init__(self, area: AreaProfile, sender: str) -> None:
        self.area = area
        self.sender = sender
        self.zone = ZoneInfo(area.working_time.timezone)
        self.env = Environment(
            loader=PackageLoader("dsr_notifier", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.filters["when"] = self.when
        self.env.filters["day"] = self.day
        self.env.filters["rating"] = lambda r: RATING_WORDS.get(r or "", r or "not on the register")
        self.env.globals["record_link"] = self.record_link

    def when(self, moment: datetime) -> str:
        return moment.astimezone(self.zone).strftime("%A %d %B %Y, %H:%M")

    def day(self, moment: datetime) -> str:
        return moment.astimezone(self.zone).strftime("%a %d %b")

    def record_link(self, register_id: str) -> str:
        return f"{self.area.record_link_base}{register_id}"

    def render(self, row: dict[str, Any], sent_at: datetime) -> EmailMessage:
        """The email for one queued notification (adapters/notifications.py)."""
        register_id = row.get("register_id")
        context = {**row.get("context", {}), "area": self.area, "register_id": register_id}
        if register_id:
            context["link"] = self.record_link(register_id)
        name = row["template"]
        message = EmailMessage()
        message["Subject"] = " ".join(self.env.get_template(f"{name}.subject.j2").render(context).split())
        message["From"] = self.sender
        message["To"] = row["recipient"]
        message["Date"] = format_datetime(sent_at)
        message["Message-ID"] = f"<{row['_id']}@dsr.{self.area.code.lower()}.invalid>"
        message["Auto-Submitted"] = "auto-generated"
        message["X-DSR-Notification-Id"] = row["_id"]
        message["X-DSR-Kind"] = name
        if register_id:
            message["X-DSR-Register-Id"] = register_id
        message.set_content(self.env.get_template(f"{name}.txt.j2").render(context))
        message.add_alternative(self.env.get_template(f"{name}.html.j2").render(context), subtype="html")
        return message
