"""The register's events (topic dsr.ratings). Together they are the register's
own log: every change of a person's record made by a person (over HTTP) is
published here in full, so the rating service can rebuild from the topics."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from dsr_shared.events.base import Event
from dsr_shared.events.common import AgeBand, Cohort, Rating
from dsr_shared.events.referrals import Professional
from dsr_shared.topics import Topic

# A cancelled admission or discharge (HL7 A11, A13) puts back the rating the
# register would have had without it: not a discharge, nor a new admission.
RatingCause = Literal[
    "referral", "person", "admission", "discharge", "green_month_ended", "admission_cancelled", "discharge_cancelled"
]


class HospitalStay(BaseModel):
    """The bed a person was admitted to (no NHS number: the register id says who)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    hospital_ods_code: str
    admitted_at: datetime
    bed_type: Literal["mental_health", "learning_disability"]
    secure: bool = False
    legal_basis: Literal["informal", "section_2", "section_3", "other"]
    # The ward (the hospital's own code), when the hospital gateway knows it.
    ward: str | None = None


class RatingChanged(Event):
    """R-RAG-2/R-RAG-7: every change says from what, to what, why, by whom, and
    what caused it (a person's decision or another event)."""

    EVENT_TYPE: ClassVar[str] = "RatingChanged"
    TOPIC: ClassVar[Topic] = Topic.RATINGS

    register_id: str
    from_rating: Rating | None
    to_rating: Rating
    rationale: str
    changed_by: str
    agreed_with_person: bool | None = None
    cause: RatingCause
    cause_event_id: uuid.UUID | None = None
    cohort: Cohort
    # A change by the DSR team (it may correct blue by hand; R-RAG-3).
    by_dsr_team: bool = False
    # For the rules that depend on age (R-OB-10) and on the bed (R-OB-8 secure).
    age_band: AgeBand = AgeBand.UNKNOWN
    hospital: HospitalStay | None = None


class UpdateAdded(Event):
    """A case-holder update (seed 000); it resets the update clocks (R-OB-11/12)."""

    EVENT_TYPE: ClassVar[str] = "UpdateAdded"
    TOPIC: ClassVar[Topic] = Topic.RATINGS

    register_id: str
    update_id: uuid.UUID
    added_by: str
    kind: Literal["update", "removal_request"] = "update"
    # The record's own words; no name, date of birth, address or NHS number
    # belongs here (the API says so), and no email or log repeats it.
    text: str = ""
    written_at: AwareDatetime | None = None


class RemovalRequested(Event):
    """R-RAG-6: a referrer asks; the DSR team must be alerted."""

    EVENT_TYPE: ClassVar[str] = "RemovalRequested"
    TOPIC: ClassVar[Topic] = Topic.RATINGS

    register_id: str
    requested_by: str
    update_id: uuid.UUID | None = None
    best_interest_meeting: bool = False


class PersonRemoved(Event):
    """R-RAG-6 (only the DSR team removes) or R-RAG-5 (the green month ended)."""

    EVENT_TYPE: ClassVar[str] = "PersonRemoved"
    TOPIC: ClassVar[Topic] = Topic.RATINGS

    register_id: str
    removed_by: str
    cause: Literal["dsr_team", "green_month_ended"] = "dsr_team"
    reason: str = ""


class ProfessionalsChanged(Event):
    """The professionals around a person and their work contacts (seed 000)."""

    EVENT_TYPE: ClassVar[str] = "ProfessionalsChanged"
    TOPIC: ClassVar[Topic] = Topic.RATINGS

    register_id: str
    professionals: list[Professional] = Field(default_factory=list)
    changed_by: str


class ConsentRenewed(Event):
    EVENT_TYPE: ClassVar[str] = "ConsentRenewed"
    TOPIC: ClassVar[Topic] = Topic.RATINGS

    register_id: str
    renewed_by: str
