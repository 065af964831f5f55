"""The register's events (topic dsr.ratings)."""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from dsr_shared.events.base import Event
from dsr_shared.events.common import Cohort, Rating
from dsr_shared.topics import Topic


class RatingChanged(Event):
    """R-RAG-2/R-RAG-7: every change says from what, to what, why, by whom, and
    what caused it (a person's decision or another event)."""

    EVENT_TYPE: ClassVar[str] = "RatingChanged"
    TOPIC: ClassVar[Topic] = Topic.RATINGS

    register_id: str
    from_rating: Rating | None
    to_rating: Rating
    rationale: str
    changed_by: str
    agreed_with_person: bool | None = None
    cause: Literal["referral", "person", "admission", "discharge", "green_month_ended"]
    cause_event_id: uuid.UUID | None = None
    cohort: Cohort


class UpdateAdded(Event):
    EVENT_TYPE: ClassVar[str] = "UpdateAdded"
    TOPIC: ClassVar[Topic] = Topic.RATINGS

    register_id: str
    update_id: uuid.UUID
    added_by: str


class RemovalRequested(Event):
    EVENT_TYPE: ClassVar[str] = "RemovalRequested"
    TOPIC: ClassVar[Topic] = Topic.RATINGS

    register_id: str
    requested_by: str


class PersonRemoved(Event):
    EVENT_TYPE: ClassVar[str] = "PersonRemoved"
    TOPIC: ClassVar[Topic] = Topic.RATINGS

    register_id: str
    removed_by: str


class ConsentRenewed(Event):
    EVENT_TYPE: ClassVar[str] = "ConsentRenewed"
    TOPIC: ClassVar[Topic] = Topic.RATINGS

    register_id: str
    renewed_by: str
