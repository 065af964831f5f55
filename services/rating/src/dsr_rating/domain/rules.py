"""What a person may change on the register, and why not (R-RAG-2..6).
Each refusal is a reason with a code, as the intake gives them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from dsr_shared.contract.events import Rating
from dsr_rating.domain.standing import Standing

# How pressing each rating is; blue is apart (in hospital).
_URGENCY = {Rating.RED: 3, Rating.AMBER: 2, Rating.GREEN: 1}


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str
    field: str = "(body)"

    def as_reason(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "field": self.field}


def not_on_register(standing: Standing) -> list[Refusal]:
    if standing.status == "removed":
        return [
            Refusal("R-RAG-6.removed", "The person has been removed from the register; a new referral puts them back.")
        ]
    return []


def rating_change_refusals(
    standing: Standing, to: Rating, *, by_dsr_team: bool, now: datetime, post_discharge: Rating
) -> list[Refusal]:
    refusals = not_on_register(standing)
    if refusals:
        return refusals
    if to == standing.rating:
        refusals.append(Refusal("R-RAG-2.unchanged", f"The person is already rated {to}.", "rating"))
    if to == Rating.BLUE and not by_dsr_team:
        refusals.append(
            Refusal(
                "R-RAG-3.blue_by_admission", "Blue follows an admission; only the DSR team sets it by hand.", "rating"
            )
        )
    if (standing.rating == Rating.BLUE or standing.in_hospital) and to != Rating.BLUE and not by_dsr_team:
        refusals.append(
            Refusal(
                "R-RAG-3.in_hospital",
                "The person is in hospital; their discharge sets the rating, or the DSR team corrects it.",
                "rating",
            )
        )
    held = standing.hold_until is not None and now < standing.hold_until
    if held and to in _URGENCY and _URGENCY[to] < _URGENCY[post_discharge] and not by_dsr_team:
        refusals.append(
            Refusal(
                "R-RAG-4.hold",
                f"After discharge the area keeps the person {post_discharge} until {cast(datetime, standing.hold_until).isoformat()}.",
                "rating",
            )
        )
    return refusals


def removal_refusals(standing: Standing) -> list[Refusal]:
    if standing.status == "removed":
        return [Refusal("R-RAG-6.removed", "The person has already been removed from the register.")]
    return []
