"""The register's rules (DOMAIN.md R-RAG-*). Pure: no I/O."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from dsr_shared.events import Cohort, Rating, RatingChanged, ReferralAccepted


class RatingChange(BaseModel):
    """One line of a person's history (R-RAG-7: nothing is overwritten)."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    from_rating: Rating | None
    to_rating: Rating
    rationale: str
    changed_by: str
    agreed_with_person: bool | None = None
    cause: str
    cause_event_id: uuid.UUID | None = None


class Person(BaseModel):
    register_id: str
    rating: Rating
    cohort: Cohort
    nhs_number_hash: str
    on_register_since: datetime
    history: list[RatingChange]
    version: int = 1


def enter_register(event: ReferralAccepted, event_id: uuid.UUID, at: datetime) -> tuple[Person, RatingChanged]:
    """R-RAG-1: the person enters with the referrer's initial rating."""
    change = RatingChange(
        at=at,
        from_rating=None,
        to_rating=event.initial_rating,
        rationale=event.rating_rationale,
        changed_by=event.accepted_by,
        cause="referral",
        cause_event_id=event_id,
    )
    person = Person(
        register_id=event.register_id,
        rating=event.initial_rating,
        cohort=event.cohort,
        nhs_number_hash=event.nhs_number_hash,
        on_register_since=at,
        history=[change],
    )
    return person, _announce(person, change)


def _announce(person: Person, change: RatingChange) -> RatingChanged:
    return RatingChanged(
        register_id=person.register_id,
        from_rating=change.from_rating,
        to_rating=change.to_rating,
        rationale=change.rationale,
        changed_by=change.changed_by,
        agreed_with_person=change.agreed_with_person,
        cause=change.cause,
        cause_event_id=change.cause_event_id,
        cohort=person.cohort,
    )
