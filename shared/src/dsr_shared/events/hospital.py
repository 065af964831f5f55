"""Admissions and discharges published by other NHS systems. They know the NHS
number, not the register identifier, so these are keyed by NHS number."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from dsr_shared.events.base import Event
from dsr_shared.events.bounds import Name
from dsr_shared.topics import Topic


class Admitted(Event):
    EVENT_TYPE: ClassVar[str] = "Admitted"
    TOPIC: ClassVar[Topic] = Topic.ADMISSIONS
    KEY_FIELD: ClassVar[str] = "nhs_number"

    nhs_number: str = Field(pattern=r"^\d{10}$", max_length=10)
    admitted_at: AwareDatetime
    hospital_ods_code: str = Field(min_length=3, max_length=10)
    bed_type: Literal["mental_health", "learning_disability"]
    secure: bool = False
    legal_basis: Literal["informal", "section_2", "section_3", "other"]


class Discharged(Event):
    EVENT_TYPE: ClassVar[str] = "Discharged"
    TOPIC: ClassVar[Topic] = Topic.DISCHARGES
    KEY_FIELD: ClassVar[str] = "nhs_number"

    nhs_number: str = Field(pattern=r"^\d{10}$", max_length=10)
    discharged_at: AwareDatetime
    hospital_ods_code: str = Field(min_length=3, max_length=10)
    destination: Name | None = None
