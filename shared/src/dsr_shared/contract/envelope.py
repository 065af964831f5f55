"""The envelope every message on the bus carries (docs/CONTRACT.md, "The envelope")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Envelope(BaseModel):
    """Immutable; unknown fields are kept so that a newer producer loses nothing."""

    model_config = ConfigDict(frozen=True, extra="allow")

    event_id: uuid.UUID
    event_type: str
    schema_version: int = Field(ge=1)
    occurred_at: AwareDatetime
    area: str
    correlation_id: str
    causation_id: str | None = None
    data: dict[str, Any]


def new_envelope(
    *,
    event_type: str,
    schema_version: int,
    occurred_at: datetime,
    area: str,
    data: dict[str, Any],
    correlation_id: str | None = None,
    causation_id: str | None = None,
    event_id: uuid.UUID | None = None,
) -> Envelope:
    event_id = event_id or uuid.uuid4()
    return Envelope(
        event_id=event_id,
        event_type=event_type,
        schema_version=schema_version,
        occurred_at=occurred_at,
        area=area,
        correlation_id=correlation_id or str(event_id),
        causation_id=causation_id,
        data=data,
    )


def derived_event_id(cause: uuid.UUID | str, purpose: str) -> uuid.UUID:
    """The same cause and purpose always give the same id, so a retried handler
    publishes a duplicate that consumers drop, never a second event."""
    return uuid.uuid5(uuid.UUID(str(cause)), purpose)
