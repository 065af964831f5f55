"""What happened to a person, as facts with the time they happened in the world.

The register is a fold over a person's facts in time order (`standing.py`), so
it ends the same whatever order the facts arrive in: late and out-of-order
hospital events take their place in time, and duplicates are dropped by event
id and, for hospital events, by what they say (hospital and time): of such
twins the one with the smaller event id is kept (`kept_twin`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from dsr_shared.contract.events import Rating
from dsr_shared.contract.events.ratings import HospitalStay
from dsr_shared.contract.events.referrals import Professional


def _utc_milliseconds(at: datetime) -> datetime:
    """The precision the database keeps, so a fact read back is the fact written."""
    at = at.astimezone(timezone.utc)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


Instant = Annotated[AwareDatetime, AfterValidator(_utc_milliseconds)]


def _stay_as_kept(stay: HospitalStay | None) -> HospitalStay | None:
    """The stay at the database's precision too: otherwise an admission read
    back differs from the one just added, and its transition looks changed."""
    return stay.model_copy(update={"admitted_at": _utc_milliseconds(stay.admitted_at)}) if stay else None


FactKind = Literal[
    "entry",
    "rating",
    "admission",
    "discharge",
    "removal",
    "green_month_ended",
    # Hospital corrections (hospital_corrections.py): HL7 A11, A13, A02.
    "admission_cancelled",
    "discharge_cancelled",
    "transfer",
]
# Facts that say where a person is in hospital, told apart by hospital and time.
STAY_KINDS = ("admission", "discharge", "transfer")


def stay_identity(kind: str, hospital_ods_code: str | None, at: datetime) -> str:
    """What makes an admission, discharge or transfer the same one, whatever event brought it."""
    return f"{kind}:{hospital_ods_code}:{_utc_milliseconds(at).isoformat()}"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class Fact(_Record):
    """One thing that can move a person's rating or place on the register."""

    id: str  # the event that brought it
    kind: FactKind
    at: Instant
    by: str
    rationale: str = ""
    rating: Rating | None = None  # entry, rating
    agreed_with_person: bool | None = None  # rating (R-RAG-2)
    by_dsr_team: bool = False  # rating: the DSR team's changes always take effect
    hospital: Annotated[HospitalStay | None, AfterValidator(_stay_as_kept)] = None  # admission, transfer
    hospital_ods_code: str | None = None  # admission, discharge, transfer, cancellations
    destination: str | None = None  # discharge
    # admission_cancelled, discharge_cancelled: the identity of the fact cancelled.
    cancels: str | None = None
    # Set only while folding (hospital_corrections.py): an admission or discharge
    # the hospital cancelled, kept in the history without taking effect.
    cancelled: bool = False
    # green_month_ended: the green rating whose month ended (R-RAG-5).
    green_since: Instant | None = None
    # entry: an automatic referral because of a discharge (R-ELIG-4); the entry
    # is dated from the discharge and leads to the post-discharge rating.
    after_discharge: bool = False

    @property
    def sort_key(self) -> tuple[datetime, int, str]:
        # At the same instant, what happened in hospital comes before an entry,
        # so an automatic referral dated from its discharge follows it.
        return (self.at, int(self.kind == "entry"), self.id)

    @property
    def identity(self) -> str:
        """The same admission or discharge sent twice, even under two event ids, is one fact."""
        if self.kind in STAY_KINDS:
            return stay_identity(self.kind, self.hospital_ods_code, self.at)
        if self.cancels is not None:
            return f"{self.kind}:{self.cancels}"
        return self.id


def kept_twin(one: Fact, other: Fact) -> Fact:
    """Of two twins (one fact under two event ids, `Fact.identity`), the one the
    register keeps: the smaller id, so the choice depends on the set of events
    and never on the order they arrive in."""
    return min(one, other, key=lambda f: f.id)


def one_per_fact(facts: Iterable[Fact]) -> list[Fact]:
    """The facts without their twins (the kept one of each), in time order."""
    kept: dict[str, Fact] = {}
    for fact in facts:
        kept[fact.identity] = kept_twin(kept[fact.identity], fact) if fact.identity in kept else fact
    return sorted(kept.values(), key=lambda f: f.sort_key)


class Update(_Record):
    """A case-holder update (seed 000), kept as written."""

    id: uuid.UUID
    at: Instant
    by: str
    kind: Literal["update", "removal_request"] = "update"
    text: str


class RemovalRequest(_Record):
    """R-RAG-6: a referrer asks the DSR team to remove the person."""

    id: str
    at: Instant
    by: str
    update_id: uuid.UUID | None = None
    best_interest_meeting: bool = False


class ProfessionalsList(_Record):
    """The professionals around the person; the latest list wins."""

    id: str
    at: Instant
    by: str
    professionals: list[Professional] = Field(default_factory=list)


def fact_id(*parts: object) -> str:
    """A deterministic id for a fact no event brought (the green month's end)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "dsr:" + ":".join(str(p) for p in parts)))
