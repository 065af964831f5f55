"""From envelope to event: find the class by type, upcast old versions with
the class's own upcasters (`Event.UPCASTERS`)."""

from __future__ import annotations

from dsr_shared.contract.envelope import Envelope
from dsr_shared.contract.events import hospital, notifications, obligations, ratings, referrals
from dsr_shared.contract.events.base import Event


def _event_classes() -> list[type[Event]]:
    modules = (referrals, ratings, hospital, obligations, notifications)
    return [
        cls
        for module in modules
        for cls in vars(module).values()
        if isinstance(cls, type) and issubclass(cls, Event) and "EVENT_TYPE" in cls.__dict__
    ]


EVENT_TYPES: dict[str, type[Event]] = {cls.EVENT_TYPE: cls for cls in _event_classes()}


class UnknownEventType(ValueError):
    pass


class UnsupportedSchemaVersion(ValueError):
    pass


def decode_event(envelope: Envelope) -> Event:
    cls = EVENT_TYPES.get(envelope.event_type)
    if cls is None:
        raise UnknownEventType(f"unknown event_type {envelope.event_type!r}")
    version, data = envelope.schema_version, dict(envelope.data)
    if version > cls.SCHEMA_VERSION:
        raise UnsupportedSchemaVersion(
            f"{envelope.event_type} schema_version {version} is newer than {cls.SCHEMA_VERSION}"
        )
    while version < cls.SCHEMA_VERSION:
        upcast = cls.UPCASTERS.get(version)
        if upcast is None:
            raise UnsupportedSchemaVersion(f"no upcaster for {envelope.event_type} v{version}")
        data, version = upcast(data), version + 1
    return cls.model_validate(data)
