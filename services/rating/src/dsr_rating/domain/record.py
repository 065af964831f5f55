"""A person's record on the register: their facts, updates, removal requests
and professionals. Pure: the store saves it whole, guarded by `version`."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, EmailStr, Field, TypeAdapter

from dsr_shared.contract.events import AgeBand, Cohort, Transition
from dsr_shared.contract.events.ratings import Stay
from dsr_shared.rules.area import AreaProfile
from dsr_shared.rules.working_time import WorkingCalendar
from dsr_rating.domain.facts import Fact, Instant, ProfessionalsList, RemovalRequest, Update, _Record, kept_twin
from dsr_rating.domain.standing import Standing, fold

_INSTANT = TypeAdapter(Instant)


class BandAnnounced(_Record):
    """The age band as the referral service announced it, as of a time."""

    as_of: Instant
    age_band: AgeBand


class PersonRecord(BaseModel):
    register_id: str
    # Until the referral arrives (a rebuild may replay a person's own changes
    # first) these stay empty; the fold shows the person as not entered.
    nhs_number_hash: str | None = None
    cohort: Cohort = Cohort.UNKNOWN
    # As the referral service last announced it (ReferralAccepted, then
    # AgeBandChanged when the person turns 18 or 25): the newest announcement
    # wins, whatever order they arrive in.
    age_band: AgeBand = AgeBand.UNKNOWN
    age_band_as_of: Instant | None = None
    age_band_changes: int = 0
    # Every announcement, in time order: the rules that depend on age or
    # cohort use the band a person had when a transition happened.
    age_bands: list[BandAnnounced] = Field(default_factory=list)
    referrer_emails: list[EmailStr] = Field(default_factory=list)
    facts: list[Fact] = Field(default_factory=list)
    # The event ids of the twins not kept: counted in the version like a fact,
    # so that keeping the other twin is a change like any other.
    twin_ids: list[str] = Field(default_factory=list)
    updates: list[Update] = Field(default_factory=list)
    removal_requests: list[RemovalRequest] = Field(default_factory=list)
    professionals: ProfessionalsList | None = None
    professionals_changes: int = 0
    # Read at load time, checked at save: two changes at once, one wins.
    version: int = 0

    def add_fact(self, fact: Fact) -> bool:
        """False when the fact is already recorded: the same event, or a twin
        (the same admission or discharge under another event id). Of twins the
        record keeps the one with the smaller id (`kept_twin`) and notes the
        other's id: each twin moves the version once, whichever came first."""
        if fact.id in self.twin_ids or any(f.id == fact.id for f in self.facts):
            return False
        twin = next((f for f in self.facts if f.identity == fact.identity), None)
        if twin is None:
            self.facts = sorted([*self.facts, fact], key=lambda f: f.sort_key)
            return True
        kept = kept_twin(twin, fact)
        self.twin_ids = sorted([*self.twin_ids, fact.id if kept is twin else twin.id])
        self.facts = sorted([kept if f is twin else f for f in self.facts], key=lambda f: f.sort_key)
        return False

    def add_update(self, update: Update) -> bool:
        if any(u.id == update.id for u in self.updates):
            return False
        self.updates = sorted([*self.updates, update], key=lambda u: (u.at, str(u.id)))
        return True

    def add_removal_request(self, request: RemovalRequest) -> bool:
        if any(r.id == request.id for r in self.removal_requests):
            return False
        self.removal_requests = sorted([*self.removal_requests, request], key=lambda r: (r.at, r.id))
        return True

    def set_professionals(self, listing: ProfessionalsList) -> bool:
        if self.professionals and self.professionals.id == listing.id:
            return False
        self.professionals_changes += 1
        if self.professionals is None or (listing.at, listing.id) > (self.professionals.at, self.professionals.id):
            self.professionals = listing
        return True

    def set_age_band(self, age_band: AgeBand, as_of: datetime, *, counted: bool = True) -> bool:
        """False when an announcement newer than `as_of` is already on the record.
        A counted change (AgeBandChanged) moves the version; a referral's band
        comes with the entry, which moves it anyway."""
        as_of = _INSTANT.validate_python(as_of)  # as the database keeps it
        announced = BandAnnounced(as_of=as_of, age_band=age_band)
        if announced not in self.age_bands:
            self.age_bands = sorted([*self.age_bands, announced], key=lambda b: (b.as_of, b.age_band.value))
        if self.age_band_as_of is not None and as_of < self.age_band_as_of:
            return False
        self.age_band, self.age_band_as_of = age_band, as_of
        if age_band != AgeBand.UNKNOWN:
            self.cohort = age_band.cohort  # the cohort follows the band: a CYP becomes an adult at 18
        self.age_band_changes += counted
        return True

    def age_band_at(self, at: datetime) -> AgeBand:
        """The band announced last as of `at`; before any, the first one known."""
        known = [b for b in self.age_bands if b.age_band != AgeBand.UNKNOWN]
        if not known:
            return AgeBand.UNKNOWN
        return next((b.age_band for b in reversed(known) if b.as_of <= at), known[0].age_band)

    def cohort_at(self, at: datetime) -> Cohort:
        band = self.age_band_at(at)
        return band.cohort if band != AgeBand.UNKNOWN else self.cohort

    def transition_id(self, fact_key: str) -> uuid.UUID:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"dsr:transition:{self.register_id}:{fact_key}")

    def timeline(self, standing: Standing) -> list[Transition]:
        """The person's transitions as the register knows them now (R-RAG-7):
        each change that took effect, with the cohort, age band and bed of
        that time."""
        return [
            Transition(
                transition_id=self.transition_id(entry.fact_key),
                at=entry.at,
                from_rating=entry.from_rating,
                to_rating=entry.to_rating,
                cause=entry.cause,
                cohort=self.cohort_at(entry.at),
                age_band=self.age_band_at(entry.at),
                hospital=Stay(**entry.hospital.model_dump(exclude={"ward"})) if entry.hospital else None,
            )
            for entry in standing.history
            if entry.is_transition
        ]

    def standing(self, area: AreaProfile, calendar: WorkingCalendar) -> Standing:
        return fold(self.facts, area, calendar)

    def pending_removal_request(self, standing: Standing) -> RemovalRequest | None:
        """The latest request made since the person (re)entered the register, if still on it."""
        if not standing.on_register or not self.removal_requests:
            return None
        latest = self.removal_requests[-1]
        entered = max((e.at for e in standing.history if e.from_rating is None), default=None)
        return latest if entered is None or latest.at >= entered else None

    def next_version(self) -> int:
        """Counts every change, so that a change saved from a record read before
        it gets a conflict instead of writing the old content back (the twin of
        a fact counts too: it may change which event the record keeps). An age band
        change counts too: otherwise a rating change read before it would put
        the old band back and announce it. A rebuild replays the same events
        (each person's in their order on dsr.referrals), so it comes to the
        same version."""
        return (
            len(self.facts)
            + len(self.twin_ids)
            + len(self.updates)
            + len(self.removal_requests)
            + self.professionals_changes
            + self.age_band_changes
        )
