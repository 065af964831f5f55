"""The base of every event: immutable, versioned, tolerant of unknown fields."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from dsr_shared.contract.topics import Topic

# Turns one schema version's `data` into the next version's.
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class Event(BaseModel):
    """An event's `data`. Subclasses name their type, version, topic and the
    field that keys the message (so one person's events stay in order)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    EVENT_TYPE: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int] = 1
    TOPIC: ClassVar[Topic]
    KEY_FIELD: ClassVar[str] = "register_id"
    # The class's own upcasters, by the version each reads: a class that bumps
    # SCHEMA_VERSION to n adds {n - 1: upcaster} to those it had.
    UPCASTERS: ClassVar[Mapping[int, Upcaster]] = MappingProxyType({})

    def message_key(self) -> str:
        return str(getattr(self, self.KEY_FIELD))
