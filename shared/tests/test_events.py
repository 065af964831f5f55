"""Events are versioned and tolerant: unknown fields are ignored, old versions
are upcast, newer versions are refused (and so dead-lettered)."""

from datetime import datetime, timezone

import pytest

from dsr_shared.contract.envelope import new_envelope
from dsr_shared.contract.events import RatingChanged, UnsupportedSchemaVersion, decode_event

DATA = {
    "register_id": "QJ2-AAAA-BBBB-C",
    "from_rating": None,
    "to_rating": "amber",
    "rationale": "r",
    "changed_by": "x",
    "cause": "referral",
    "cohort": "adult",
}


def envelope(version: int, data: dict):
    return new_envelope(
        event_type="RatingChanged",
        schema_version=version,
        occurred_at=datetime.now(timezone.utc),
        area="QJ2",
        data=data,
    )


def test_unknown_fields_from_a_newer_producer_are_ignored():
    event = decode_event(envelope(1, {**DATA, "added_later": 1}))
    assert isinstance(event, RatingChanged) and event.to_rating == "amber"


def test_a_newer_version_is_refused():
    with pytest.raises(UnsupportedSchemaVersion):
        decode_event(envelope(2, DATA))


def test_an_old_version_is_upcast(monkeypatch):
    monkeypatch.setattr(RatingChanged, "SCHEMA_VERSION", 2)
    monkeypatch.setattr(RatingChanged, "UPCASTERS", {1: lambda d: {**d, "rationale": d["rationale"] + " (v1)"}})
    assert decode_event(envelope(1, DATA)).rationale == "r (v1)"
