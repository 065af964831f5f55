"""An area's (ICB's) profile: every value docs/RULES.md calls an "area setting".

Profiles are TOML files. `defaults.toml` holds the defaults of docs/RULES.md; an area
file names what differs, and its obligation rules replace defaults by id."""

from __future__ import annotations

import tomllib
from datetime import datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from dsr_shared.contract.events.common import AgeBand, Cohort, Rating

DurationUnit = Literal["working_hours", "working_days", "calendar_days", "weeks", "months"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday"]
WEEKDAYS: list[Weekday] = ["monday", "tuesday", "wednesday", "thursday", "friday"]


class _Setting(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AgeBands(_Setting):
    """The area's age bands, from its profile, for every service: a child or
    young person (CYP) until `cyp_until`, a young adult (keyworking, R-OB-10)
    until `keyworking_until`, an adult after."""

    cyp_until: int = 18
    keyworking_until: int = 25

    def band(self, age: int) -> AgeBand:
        if age < self.cyp_until:
            return AgeBand.CYP
        return AgeBand.YOUNG_ADULT if age < self.keyworking_until else AgeBand.ADULT

    def cohort(self, age: int) -> Cohort:
        return Cohort.CYP if age < self.cyp_until else Cohort.ADULT

    def upper(self, band: AgeBand) -> int | None:
        """The first birthday a band is below (None: no upper limit, or not known)."""
        return {AgeBand.CYP: self.cyp_until, AgeBand.YOUNG_ADULT: self.keyworking_until}.get(band)


class Duration(_Setting):
    amount: int = Field(ge=0)
    unit: DurationUnit


class Trigger(_Setting):
    """What starts an obligation: an event, optionally narrowed by the rating it
    moves to or from, by cohort, by age, or by a kind of bed."""

    event: Literal["RatingChanged", "ReferralAccepted", "ConsentRenewed", "UpdateAdded"]
    to_ratings: list[Rating] | None = None
    # "none": the person has just entered the register.
    from_ratings: list[Rating | Literal["none"]] | None = None
    cohort: Cohort | None = None
    secure_bed: bool | None = None
    under_age: int | None = None
    # Under the area's keyworking age limit (R-OB-10): the limit is the
    # profile's `keyworking_age_limit`, written once.
    under_keyworking_age_limit: bool = False
    # What caused the change: "discharge" for the post-discharge meeting
    # (R-OB-5), whether the person was known to be in hospital or referred
    # automatically on discharge (R-ELIG-4).
    causes: list[str] | None = None

    def matches(
        self,
        event: str,
        *,
        to_rating: Rating | None = None,
        from_rating: Rating | None = None,
        cohort: Cohort = Cohort.UNKNOWN,
        age_band: AgeBand = AgeBand.UNKNOWN,
        secure_bed: bool | None = None,
        cause: str | None = None,
        age_bands: AgeBands,
    ) -> bool:
        """Whether an event with these facts starts the rule. An age limit
        (R-OB-10) matches only when the age band is known to be under it. A
        person whose cohort is not known yet (referred automatically) gets the
        CYP rules, whose deadlines are the stricter ones, until it is."""
        if self.event != event:
            return False
        if self.causes is not None and cause not in self.causes:
            return False
        if self.to_ratings is not None and to_rating not in self.to_ratings:
            return False
        if self.from_ratings is not None and (from_rating.value if from_rating else "none") not in self.from_ratings:
            return False
        if self.cohort is not None and cohort != self.cohort:
            if not (cohort == Cohort.UNKNOWN and self.cohort == Cohort.CYP):
                return False
        if self.secure_bed is not None and bool(secure_bed) != self.secure_bed:
            return False
        limit = age_bands.keyworking_until if self.under_keyworking_age_limit else self.under_age
        if limit is not None:
            upper = age_bands.upper(age_band)
            return upper is not None and upper <= limit
        return True


class ObligationRule(_Setting):
    id: str = Field(pattern=r"^R-OB-\d+[a-z]?$")
    kind: str
    title: str
    trigger: Trigger
    deadline: Duration
    repeat: Duration | None = None
    responsible: Literal["dsr_team", "case_holder", "commissioner", "keyworking_service"]
    # How long before the deadline ObligationDue is announced; the area's default when unset.
    due_notice: Duration | None = None
    # The obligation is cancelled when the person's rating leaves these.
    while_rating: list[Rating] | None = None
    needs_own_consent: bool = False


class Geography(_Setting):
    postcode_districts: list[str] = Field(default_factory=list)
    gp_practice_codes: list[str] = Field(default_factory=list)
    local_authority_codes: list[str] = Field(default_factory=list)


class WorkingTime(_Setting):
    timezone: str = "Europe/London"
    day_start: time = time(9, 0)
    day_end: time = time(17, 0)
    holiday_country: str = "GB"
    holiday_subdivision: str | None = "ENG"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)
        return value


class PostDischarge(_Setting):
    """R-RAG-4: the rating after discharge and how long it holds."""

    rating: Literal[Rating.RED, Rating.AMBER] = Rating.AMBER
    holds_for: Duration | None = None


class TrackingMeeting(_Setting):
    """R-OB-14: the weekly meeting; updates are due before it."""

    weekday: Weekday
    at: time


BedType = Literal["mental_health", "learning_disability"]
LegalBasis = Literal["informal", "section_2", "section_3", "other"]
# An HL7 v2 field, optionally one component: "PV1-10", "PV1-3.4", "ZU1-5.1".
HL7_FIELD = r"^[A-Z][A-Z0-9]{2}-\d{1,3}(\.\d{1,2})?$"


class WardMapping(_Setting):
    """A ward the area counts as a mental health or learning disability bed."""

    site: str = Field(min_length=3, max_length=10)  # ODS code of the site (PV1-3.4, else MSH-4)
    ward: str = Field(min_length=1, max_length=40)  # the trust's ward code (PV1-3.1)
    bed_type: BedType
    secure: bool = False


class CareCodes(_Setting):
    """National codes (main specialty, treatment function) that mean mental
    health or learning disability care."""

    mental_health: list[str] = Field(default_factory=list)
    learning_disability: list[str] = Field(default_factory=list)

    def bed_type(self, code: str | None) -> BedType | None:
        if code in self.learning_disability:
            return "learning_disability"
        if code in self.mental_health:
            return "mental_health"
        return None


class HospitalFeeds(_Setting):
    """How hospital messages (HL7 v2 ADT, FHIR Encounter) map onto the register:
    which stays matter, and the bed, security and legal basis of each
    (docs/HOSPITAL_FEEDS.md). A stay matters when its patient class is an
    inpatient one and its ward is listed, or else its specialty or treatment
    function is a mental health or learning disability one."""

    inpatient_classes: list[str] = Field(default_factory=lambda: ["I"])  # PV1-2
    wards: list[WardMapping] = Field(default_factory=list)
    specialty_field: str | None = Field(default="PV1-10", pattern=HL7_FIELD)
    specialties: CareCodes = CareCodes()
    treatment_function_field: str | None = Field(default=None, pattern=HL7_FIELD)
    treatment_functions: CareCodes = CareCodes()
    # Where the trust's feed carries the Mental Health Act legal status
    # classification code (NHS Data Dictionary: 01 informal, 02 section 2, 03 section 3...).
    legal_status_field: str | None = Field(default=None, pattern=HL7_FIELD)
    legal_status_codes: dict[str, LegalBasis] = Field(default_factory=dict)
    # A stay whose message carries no legal status, or one not in the codes above.
    legal_status_otherwise: LegalBasis = "other"

    def ward(self, site: str | None, ward: str | None) -> WardMapping | None:
        return next((w for w in self.wards if w.site == site and w.ward == ward), None)


class AreaProfile(_Setting):
    code: str = Field(min_length=2, max_length=10)
    name: str
    dsr_team_mailbox: EmailStr
    escalation_contacts: list[EmailStr] = Field(default_factory=list)
    record_link_base: str = "https://dsr.invalid/register/"
    geography: Geography = Geography()
    working_time: WorkingTime = WorkingTime()
    post_discharge: PostDischarge = PostDischarge()
    green_month: Duration = Duration(amount=1, unit="months")
    keyworking_age_limit: int = 25
    # Children and young people's services until this birthday (cohort CYP).
    cyp_age_limit: int = 18
    # How long before its deadline an obligation is announced as due (ObligationDue).
    due_notice: Duration = Duration(amount=2, unit="working_days")
    tracking_meeting: TrackingMeeting | None = None
    # How long before each tracking meeting the notifier sends its digests (R-OB-14).
    tracking_digest_before: Duration = Duration(amount=1, unit="working_days")
    # Who hears about obligations for the commissioner or the keyworking service;
    # the DSR team mailbox when unset.
    commissioner_mailbox: EmailStr | None = None
    keyworking_service_mailbox: EmailStr | None = None
    hospital_feeds: HospitalFeeds = HospitalFeeds()
    obligation_rules: list[ObligationRule]

    def rule(self, rule_id: str) -> ObligationRule:
        return next(r for r in self.obligation_rules if r.id == rule_id)

    def rules_triggered_by(self, event: str, **facts) -> list[ObligationRule]:
        """The obligation rules an event starts (facts: see Trigger.matches)."""
        return [
            rule for rule in self.obligation_rules if rule.trigger.matches(event, age_bands=self.age_bands, **facts)
        ]

    @property
    def age_bands(self) -> AgeBands:
        return AgeBands(cyp_until=self.cyp_age_limit, keyworking_until=self.keyworking_age_limit)

    def next_tracking_meeting(self, now: datetime) -> datetime | None:
        """The next tracking meeting at or after `now`, in the area's time zone;
        None when the area has none (R-OB-14)."""
        meeting = self.tracking_meeting
        if meeting is None:
            return None
        zone = ZoneInfo(self.working_time.timezone)
        local = now.astimezone(zone)
        days_ahead = (WEEKDAYS.index(meeting.weekday) - local.weekday()) % 7
        candidate = datetime.combine(local.date() + timedelta(days=days_ahead), meeting.at, tzinfo=zone)
        return candidate if candidate >= now else candidate + timedelta(days=7)


def _bundled(name: str) -> dict:
    text = resources.files("dsr_shared.rules.profiles").joinpath(f"{name}.toml").read_text("utf-8")
    return tomllib.loads(text)


def _merge_rules(defaults: list[dict], overrides: list[dict]) -> list[dict]:
    by_id = {rule["id"]: rule for rule in defaults}
    for rule in overrides:
        by_id[rule["id"]] = {**by_id.get(rule["id"], {}), **rule}
    return list(by_id.values())


def load_profile(name_or_path: str) -> AreaProfile:
    """A bundled profile by name (`derbyshire`, `staffordshire`) or a TOML file."""
    path = Path(name_or_path)
    area = tomllib.loads(path.read_text("utf-8")) if path.suffix == ".toml" else _bundled(name_or_path)
    defaults = _bundled("defaults")
    merged = {**defaults, **area}
    # One level deeper for the hospital feeds: an area adds its wards and keeps the national codes.
    merged["hospital_feeds"] = {**defaults.get("hospital_feeds", {}), **area.get("hospital_feeds", {})}
    merged["obligation_rules"] = _merge_rules(defaults.get("obligation_rules", []), area.get("obligation_rules", []))
    return AreaProfile.model_validate(merged)
