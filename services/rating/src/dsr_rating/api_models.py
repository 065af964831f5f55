"""Request bodies of the register's HTTP API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from dsr_shared.contract.events import Rating
from dsr_shared.contract.events.referrals import Professional
from dsr_shared.contract.fields import IDENTIFIER_PATTERN, text

Text = text(4000)
UpdateText = text(10000)
RegisterId = Annotated[str, Query(min_length=1, max_length=100, pattern=IDENTIFIER_PATTERN)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RatingChangeBody(_Body):
    """R-RAG-2. The rationale is the short update that goes with every change."""

    rating: Rating
    rationale: Text
    agreed_with_person: bool = Field(description="Discussed and agreed with the person or their family.")


class UpdateBody(_Body):
    """Record content: no name, date of birth, address or NHS number here;
    the register identifier says who."""

    text: UpdateText


class ProfessionalsBody(_Body):
    professionals: list[Professional] = Field(max_length=50)

    @field_validator("professionals")
    @classmethod
    def _one_case_holder(cls, professionals: list[Professional]) -> list[Professional]:
        if sum(p.case_holder for p in professionals) > 1:
            raise ValueError("at most one professional is the case holder")
        return professionals


class RemovalBody(_Body):
    """R-RAG-6: from a referrer, the conversation or best-interest meeting that
    agreed removal; from the DSR team, why they remove the person."""

    reason: Text
    best_interest_meeting: bool = False


class MergeResolvedBody(_Body):
    """How the DSR team dealt with a hospital's merge of two patient records
    (no NHS number here: the register ids say who)."""

    reason: Text
