"""The scheduler's events (topic dsr.obligations)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from pydantic import AwareDatetime

from dsr_shared.contract.events.base import Event
from dsr_shared.contract.events.bounds import Code, Name, Subject, Text
from dsr_shared.contract.events.common import Rating
from dsr_shared.contract.topics import Topic


class _ObligationEvent(Event):
    TOPIC: ClassVar[Topic] = Topic.OBLIGATIONS

    obligation_id: uuid.UUID
    register_id: Code
    kind: Code
    title: Name
    rule: Code
    # A role, or the owner named on a C(E)TR action (R-OB-15).
    responsible: Name
    due_at: AwareDatetime
    # R-OB-10: the keyworking offer needs the young person's own consent.
    needs_own_consent: bool = False


class ObligationScheduled(_ObligationEvent):
    EVENT_TYPE: ClassVar[str] = "ObligationScheduled"
    # The event that demanded it; for a rating change, the register's transition id.
    triggered_by_event_id: uuid.UUID
    # Its deadline had already passed when it was scheduled (the change that
    # demanded it was reported late): it is overdue at once.
    past_due: bool = False


class ObligationDue(_ObligationEvent):
    EVENT_TYPE: ClassVar[str] = "ObligationDue"


class ObligationOverdue(_ObligationEvent):
    EVENT_TYPE: ClassVar[str] = "ObligationOverdue"


class ObligationCompleted(_ObligationEvent):
    EVENT_TYPE: ClassVar[str] = "ObligationCompleted"
    completed_at: datetime
    outcome: Text
    completed_by: Subject
    # R-OB-15: a C(E)TR's rating review, and how many actions it recorded.
    rating_review: Rating | None = None
    actions: int = 0


class ObligationCancelled(_ObligationEvent):
    EVENT_TYPE: ClassVar[str] = "ObligationCancelled"
    reason: Text
    # True when it was never demanded after all: the transition that caused it
    # turned out not to have happened as first reported.
    withdrawn: bool = False
