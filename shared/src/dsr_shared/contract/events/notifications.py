"""The notifier's events (topic dsr.notifications)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from dsr_shared.contract.events.base import Event
from dsr_shared.contract.events.bounds import Code, ErrorText, Subject
from dsr_shared.contract.topics import Topic


class _NotificationEvent(Event):
    """One email (`notification_id`: one per source event and recipient). A
    tracking-meeting digest has no source event: `source_event_type` is
    `TrackingMeetingDigest` and `source_event_id` is derived from the area and
    the meeting's time. Keyed by register identifier, or by notification id
    when the email is about no one person (a rejected referral, a digest)."""

    TOPIC: ClassVar[Topic] = Topic.NOTIFICATIONS

    notification_id: uuid.UUID
    source_event_id: uuid.UUID
    source_event_type: Code
    register_id: Code | None
    recipient: Subject
    template: Code

    def message_key(self) -> str:
        return self.register_id or str(self.notification_id)


class NotificationSent(_NotificationEvent):
    """The mail relay took the email (one per source event and recipient)."""

    EVENT_TYPE: ClassVar[str] = "NotificationSent"


class NotificationFailed(_NotificationEvent):
    """`permanent`: the mail relay refused this message for good (a 5xx reply),
    or it could not be built; it stays failed until someone retries it
    (`POST /notifications/{id}/retry`). Otherwise the relay has failed
    `attempts` times (unreachable, 4xx, login refused) and the notifier goes on
    retrying: a `NotificationSent` follows when it gets through."""

    EVENT_TYPE: ClassVar[str] = "NotificationFailed"
    error: ErrorText
    attempts: int
    permanent: bool = True
