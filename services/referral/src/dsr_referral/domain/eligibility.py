"""Who may be on the register (docs/RULES.md R-ELIG-1..3, R-ID-2). Pure: the
referral and the area profile in, every reason it cannot be accepted out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from nhs_number import is_valid as nhs_number_is_valid

from dsr_shared.contract.events import AgeBand, Cohort, ReferralSubmitted
from dsr_shared.contract.events.referrals import RejectionReason
from dsr_shared.rules.area import AgeBands, AreaProfile


@dataclass(frozen=True)
class Assessment:
    reasons: tuple[RejectionReason, ...]
    cohort: Cohort
    age_band: AgeBand

    @property
    def eligible(self) -> bool:
        return not self.reasons


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def postcode_district(postcode: str) -> str:
    """The outward code: everything but the last three characters (the inward code)."""
    return postcode.upper().replace(" ", "")[:-3]


def lives_in_area(postcode: str, area: AreaProfile) -> bool:
    """R-ELIG-3's first tie: the postcode district is in the area's geography."""
    return postcode_district(postcode) in area.geography.postcode_districts


def _reason(code: str, message: str, field: str) -> RejectionReason:
    return RejectionReason(code=code, message=message, field=field)


def assess(referral: ReferralSubmitted, area: AreaProfile, today: date) -> Assessment:
    reasons: list[RejectionReason] = []
    person = referral.person

    # R-ELIG-1: a confirmed diagnosis with evidence.
    if not referral.diagnosis.confirmed:
        reasons.append(
            _reason(
                "R-ELIG-1.unconfirmed",
                "The diagnosis of learning disability and/or autism must be confirmed.",
                "diagnosis.confirmed",
            )
        )
    if not (referral.diagnosis.evidence_reference or "").strip():
        reasons.append(
            _reason(
                "R-ELIG-1.no_evidence", "Evidence of the diagnosis must be attached.", "diagnosis.evidence_reference"
            )
        )

    # R-ELIG-2: consent or a documented best-interest decision.
    if referral.consent is None and referral.best_interest_decision is None:
        reasons.append(
            _reason(
                "R-ELIG-2.no_consent",
                "Consent (with its date) or a best-interest decision (with its date) is required.",
                "consent",
            )
        )

    # R-ID-2: a valid NHS number.
    if not nhs_number_is_valid(person.nhs_number.replace(" ", "")):
        reasons.append(
            _reason(
                "R-ID-2.invalid_nhs_number", "The NHS number is not a valid 10-digit NHS number.", "person.nhs_number"
            )
        )

    # No dates in the future.
    for field, value in _dates(referral):
        if value is not None and value > today:
            reasons.append(_reason("date_in_future", f"{field} is in the future.", field))

    # R-ELIG-3: a connection to the area.
    age = age_on(person.date_of_birth, referral.referral_date)
    if not _in_area(referral, area, is_cyp=area.age_bands.cohort(age) == Cohort.CYP):
        reasons.append(
            _reason(
                "R-ELIG-3.out_of_area",
                f"The person has no qualifying connection to {area.name}.",
                "person.address.postcode",
            )
        )

    return Assessment(reasons=tuple(reasons), cohort=area.age_bands.cohort(age), age_band=area.age_bands.band(age))


def age_band_on(born: date, day: date, bands: AgeBands) -> AgeBand:
    """The band of someone born on `born`, on `day` (R-OB-10: the age on the day)."""
    return bands.band(age_on(born, day))


def _dates(referral: ReferralSubmitted) -> list[tuple[str, date | None]]:
    return [
        ("referral_date", referral.referral_date),
        ("person.date_of_birth", referral.person.date_of_birth),
        ("consent.given_on", referral.consent.given_on if referral.consent else None),
        (
            "best_interest_decision.decided_on",
            referral.best_interest_decision.decided_on if referral.best_interest_decision else None,
        ),
    ]


def _in_area(referral: ReferralSubmitted, area: AreaProfile, *, is_cyp: bool) -> bool:
    person, geo = referral.person, area.geography
    lives_here = lives_in_area(person.address.postcode, area)
    gp_here = person.gp_practice_code is not None and person.gp_practice_code.upper() in geo.gp_practice_codes
    la_here = person.local_authority_code is not None and person.local_authority_code in geo.local_authority_codes
    # Out-of-area placement funded by the ICB (incl. s.117): only when red, for an urgent C(E)TR.
    funded_placement = (person.placement_funded_by_area_icb or person.section_117) and referral.proposed_rating == "red"
    # A CYP looked-after child placed out of area by one of the area's local authorities.
    looked_after = person.looked_after_child_placed_out_of_area and la_here and is_cyp
    # The local authority describes where the person lives, unless they are placed out of area.
    la_home = la_here and not person.looked_after_child_placed_out_of_area
    return lives_here or gp_here or la_home or funded_placement or looked_after
