"""The notifier's events (topic dsr.notifications)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from dsr_shared.events.base import Event
from dsr_shared.topics import Topic


class _NotificationEvent(Event):
    TOPIC: ClassVar[Topic] = Topic.NOTIFICATIONS

    notification_id: uuid.UUID
    source_event_id: uuid.UUID
    source_event_type: str
    register_id: str | None
    recipient: str
    template: str


class NotificationSent(_NotificationEvent):
    EVENT_TYPE: ClassVar[str] = "NotificationSent"


class NotificationFailed(_NotificationEvent):
    EVENT_TYPE: ClassVar[str] = "NotificationFailed"
    error: str
    attempts: int
