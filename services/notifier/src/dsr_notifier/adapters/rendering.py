"""Jinja2 templates, plain text and HTML, one set per kind of message."""

from __future__ import annotations

from email.message import EmailMessage
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from dsr_shared.area import AreaProfile
from dsr_notifier.domain.messages import Notification


class Renderer:
    def __init__(self, area: AreaProfile, sender: str) -> None:
        self.area = area
        self.sender = sender
        self.zone = ZoneInfo(area.working_time.timezone)
        self.env = Environment(
            loader=PackageLoader("dsr_notifier", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
            undefined=StrictUndefined,
        )

    def render(self, notification: Notification, message_id: str) -> EmailMessage:
        context = {
            **notification.context,
            "area": self.area,
            "register_id": notification.register_id,
            "link": f"{self.area.record_link_base}{notification.register_id or ''}",
        }
        if "due_at" in context:
            context["due_local"] = context["due_at"].astimezone(self.zone).strftime("%A %d %B %Y, %H:%M")
        name = notification.template
        message = EmailMessage()
        message["Subject"] = self.env.get_template(f"{name}.subject.j2").render(context).strip()
        message["From"] = self.sender
        message["To"] = notification.recipient
        message["Message-ID"] = f"<{message_id}@dsr.{self.area.code.lower()}.invalid>"
        message["X-DSR-Register-Id"] = notification.register_id or ""
        message.set_content(self.env.get_template(f"{name}.txt.j2").render(context))
        message.add_alternative(self.env.get_template(f"{name}.html.j2").render(context), subtype="html")
        return message
