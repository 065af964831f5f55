"""Who hears about what. Pure: an event and the area in, messages out.
Messages carry the register identifier, never a name, date of birth,
address or NHS number."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dsr_shared.area import AreaProfile
from dsr_shared.events import ObligationScheduled


@dataclass(frozen=True)
class Notification:
    recipient: str
    template: str
    register_id: str | None
    context: dict[str, Any] = field(default_factory=dict)


def for_obligation_scheduled(event: ObligationScheduled, area: AreaProfile) -> list[Notification]:
    if event.responsible != "dsr_team":
        return []
    return [
        Notification(
            recipient=area.dsr_team_mailbox,
            template="obligation_scheduled",
            register_id=event.register_id,
            context={
                "title": event.title,
                "rule": event.rule,
                "due_at": event.due_at,
                "obligation_id": str(event.obligation_id),
            },
        )
    ]
