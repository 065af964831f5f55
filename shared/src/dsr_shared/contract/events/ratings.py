"""The register's events (topic dsr.ratings). Together they are the register's
own log: every change of a person's record made by a person (over HTTP) is
published here in full, so the rating service can rebuild from the topics."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from dsr_shared.contract.events.base import Event
from dsr_shared.contract.events.bounds import MAX_ITEMS, Code, LongText, Subject, Text
from dsr_shared.contract.events.common import AgeBand, Cohort, Rating
from dsr_shared.contract.events.referrals import Professional
from dsr_shared.contract.topics import Topic

# A person's history of transitions, in one event: years of weekly changes fit.
MAX_TRANSITIONS = 1000

# A cancelled admission or discharge (HL7 A11, A13) puts back the rating the
# register would have had without it: not a discharge, nor a new admission.
RatingCause = Literal[
    "referral", "person", "admission", "discharge", "green_month_ended", "admission_cancelled", "discharge_cancelled"
]


class Stay(BaseModel):
    """A stay in a mental health or learning disability bed, as the rules read
    it (no NHS number: the register id says who)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    hospital_ods_code: Code
    admitted_at: datetime
    bed_type: Literal["mental_health", "learning_disability"]
    secure: bool = False
    legal_basis: Literal["informal", "section_2", "section_3", "other"]


class HospitalStay(Stay):
    """The bed a person is in, and the ward (the hospital's own code) when the
    hospital gateway knows it. A timeline's transitions keep the `Stay` only:
    a person's whole history must fit in one message."""

    ward: Annotated[str, StringConstraints(max_length=40)] | None = None


class Transition(BaseModel):
    """One change of a person's place on the register, at the time it happened
    in the world: from a rating (None: entering) to a rating (None: leaving).
    Its id stays the same when the register learns more about the past, so a
    consumer can tell a new transition from one it already knows."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    transition_id: uuid.UUID
    at: AwareDatetime
    from_rating: Rating | None
    to_rating: Rating | None
    cause: RatingCause | Literal["removal"]
    # As they were at that time (the rules that depend on age, cohort or bed).
    cohort: Cohort = Cohort.UNKNOWN
    age_band: AgeBand = AgeBand.UNKNOWN
    hospital: Stay | None = None


class RatingChanged(Event):
    """R-RAG-2/R-RAG-7: every change says from what, to what, why, by whom, and
    what caused it (a person's decision or another event).

    The register announces every transition of a person's history it has not
    announced yet, in time order, each at the time it happened (the envelope's
    `occurred_at`), and again when what it knows about it changes (a late fact
    changed where it led from or to). `timeline` is the person's whole history
    of transitions as the register knows it now (`timeline_version` counts
    what it knows): a consumer that keeps state per person reconciles with the
    newest timeline rather than adding up changes."""

    EVENT_TYPE: ClassVar[str] = "RatingChanged"
    TOPIC: ClassVar[Topic] = Topic.RATINGS

    register_id: Code
    from_rating: Rating | None
    to_rating: Rating
    rationale: Text
    changed_by: Subject
    agreed_with_person: bool | None = None
    cause: RatingCause
    cause_event_id: uuid.UUID | None = None
    cohort: Cohort
    # A change by the DSR team (it may correct blue by hand; R-RAG-3).
    by_dsr_team: bool = False
    # For the rules that depend on age (R-OB-10) and on the bed (R-OB-8 secure).
    age_band: AgeBand = AgeBand.UNKNOWN
    hospital: HospitalStay | None = None
    transition_id: uuid.UUID | None = None
    timeline: list[Transition] | None = Field(default=None, max_length=MAX_TRANSITIONS)
    timeline_version: int | None = None


class UpdateAdded(Event):
    """A case-holder update (seed 000); it resets the update clocks (R-OB-11/12)."""

    EVENT_TYPE: ClassVar[str] = "UpdateAdded"
    TOPIC: ClassVar[Topic] = Topic.RATINGS

    register_id: Code
    update_id: uuid.UUID
    added_by: Subject
    kind: Literal["update", "removal_request"] = "update"
    # The record's own words; no name, date of birth, address or NHS number
    # belongs here (the API says so), and no email or log repeats it.
    text: LongText = ""
    written_at: AwareDatetime | None = None


class RemovalRequested(Event):
    """R-RAG-6: a referrer asks; the DSR team must be alerted."""

    EVENT_TYPE: ClassVar[str] = "RemovalRequested"
    TOPIC: ClassVar[Topic] = Topic.RATINGS

    register_id: Code
    requested_by: Subject
    update_id: uuid.UUID | None = None
    best_interest_meeting: bool = False


class PersonRemoved(Event):
    """R-RAG-6 (only the DSR team removes) or R-RAG-5 (the green month ended)."""

    EVENT_TYPE: ClassVar[str] = "PersonRemoved"
    TOPIC: ClassVar[Topic] = Topic.RATINGS

    register_id: Code
    removed_by: Subject
    cause: Literal["dsr_team", "green_month_ended"] = "dsr_team"
    reason: Text = ""
    # The fact that removed them (the register's own id for it).
    cause_event_id: uuid.UUID | None = None
    transition_id: uuid.UUID | None = None
    timeline: list[Transition] | None = Field(default=None, max_length=MAX_TRANSITIONS)
    timeline_version: int | None = None


class ProfessionalsChanged(Event):
    """The professionals around a person and their work contacts (seed 000)."""

    EVENT_TYPE: ClassVar[str] = "ProfessionalsChanged"
    TOPIC: ClassVar[Topic] = Topic.RATINGS

    register_id: Code
    professionals: list[Professional] = Field(default_factory=list, max_length=MAX_ITEMS)
    changed_by: Subject


class ConsentRenewed(Event):
    EVENT_TYPE: ClassVar[str] = "ConsentRenewed"
    TOPIC: ClassVar[Topic] = Topic.RATINGS

    register_id: Code
    renewed_by: Subject
