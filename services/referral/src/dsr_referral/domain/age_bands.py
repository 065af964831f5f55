"""R-OB-10 follows the age on the day: when a person on the register moves
to another age band (turning 18, or the area's keyworking age limit), the
change is announced once. Pure: dates in, the band to announce (or none) out.
The bands themselves come from the area profile (`AreaProfile.age_bands`),
the same for every service."""

from __future__ import annotations

import uuid
from datetime import date

from dsr_shared.contract.envelope import derived_event_id
from dsr_shared.contract.events import AgeBand, AgeBandChanged
from dsr_shared.rules.area import AgeBands
from dsr_referral.domain.eligibility import age_band_on


def age_band_change(
    born: date, referred_on: date, announced: str | None, today: date, bands: AgeBands
) -> AgeBand | None:
    """The band to announce today, or None when it is the one last announced
    (or, announced before that was kept, the one the referral carried)."""
    was = announced or age_band_on(born, referred_on, bands).value
    band = age_band_on(born, today, bands)
    return None if band.value == was else band


def age_band_event_id(register_id: str, referral_id: str, age_band: str, effective_on: date) -> uuid.UUID:
    """The same change of the same person, on the same referral and day, always has the same id."""
    basis = uuid.uuid5(uuid.NAMESPACE_URL, f"dsr:age-band:{register_id}:{referral_id}:{effective_on.isoformat()}")
    return derived_event_id(basis, f"{AgeBandChanged.EVENT_TYPE}:{age_band}")
