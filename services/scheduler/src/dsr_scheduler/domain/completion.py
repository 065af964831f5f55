"""What a completion must say before it is accepted (R-OB-2, R-OB-15). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dsr_shared.contract.events import Rating
from dsr_scheduler.domain.obligations import CETR_KINDS

# A completion a little ahead of the server's clock is a clock skew, not the future.
SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Recommendation:
    """R-OB-15: a C(E)TR's recommendation, recorded with its owner and date."""

    description: str
    owner: str
    due_on: date


def refusals(
    kind: str, completed_at: datetime, now: datetime, *, rating_review: Rating | None, laep: bool, has_actions: bool
) -> list[dict[str, str]]:
    """Every reason to refuse completing an obligation of `kind` (empty: accept).
    A C(E)TR records the rating review (R-OB-15); a LAEP stands in only for a
    community C(E)TR (R-OB-2); only a C(E)TR records actions (R-OB-15)."""
    reasons = []
    if completed_at > now + SKEW:
        reasons.append(
            {"code": "completion.in_future", "message": "completed_at is in the future", "field": "completed_at"}
        )
    if kind in CETR_KINDS and not laep and rating_review is None:
        reasons.append(
            {"code": "R-OB-15.rating_review", "message": "a C(E)TR records the rating review", "field": "rating_review"}
        )
    if laep and kind != "community_cetr":
        reasons.append(
            {"code": "R-OB-2.laep", "message": "a LAEP stands in only for a community C(E)TR", "field": "laep"}
        )
    if has_actions and kind not in CETR_KINDS:
        reasons.append({"code": "R-OB-15.actions", "message": "actions are recorded from a C(E)TR", "field": "actions"})
    return reasons
