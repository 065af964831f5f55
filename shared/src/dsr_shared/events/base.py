"""The base of every event: immutable, versioned, tolerant of unknown fields."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from dsr_shared.topics import Topic


class Event(BaseModel):
    """An event's `data`. Subclasses name their type, version, topic and the
    field that keys the message (so one person's events stay in order)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    EVENT_TYPE: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int] = 1
    TOPIC: ClassVar[Topic]
    KEY_FIELD: ClassVar[str] = "register_id"

    def message_key(self) -> str:
        return str(getattr(self, self.KEY_FIELD))
