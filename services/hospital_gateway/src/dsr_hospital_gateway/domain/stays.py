"""Which hospital messages matter to the register, and the events they become
(docs/HOSPITAL_FEEDS.md). Pure: the area's mapping in, events out.

A stay matters when its patient class is an inpatient one and its ward is one
the area lists, or else its specialty or treatment function is a mental health
or learning disability one. Everything else is acknowledged and dropped: no
event, nothing stored."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from nhs_number import is_valid as nhs_number_is_valid

from dsr_shared.contract.events import (
    AdmissionCancelled,
    Admitted,
    DischargeCancelled,
    Discharged,
    Event,
    PatientsMerged,
    Transferred,
)
from dsr_shared.rules.area import BedType, HospitalFeeds, LegalBasis
from dsr_hospital_gateway.domain.messages import (
    DATA_TYPE_ERROR,
    REQUIRED_FIELD_MISSING,
    HospitalMessage,
    Location,
    Refused,
)

ODS_CODE = re.compile(r"^[A-Z0-9]{3,10}$")
# Where a transfer out of a counted bed into one the area does not count leads:
# for the register, a discharge.
LEFT_THE_BED = "transferred to a bed the area does not count"


@dataclass(frozen=True)
class Bed:
    site: str
    ward: str | None
    bed_type: BedType
    secure: bool
    specialty: str | None


def events_for(message: HospitalMessage, feeds: HospitalFeeds) -> list[Event]:
    """The events a message becomes: none when it is not about a stay that
    matters. Refused when it is but cannot be read."""
    if message.kind == "merge":
        return _merge(message)
    bed = _bed(message, message.location, feeds)
    prior = _bed(message, message.prior_location, feeds) if message.prior_location else None
    if bed is None:
        if message.kind == "transfer" and prior is not None:
            return [
                Discharged(
                    nhs_number=_nhs_number(message.nhs_number),
                    discharged_at=message.occurred_at,
                    hospital_ods_code=prior.site,
                    destination=LEFT_THE_BED,
                    ward=prior.ward,
                    specialty=prior.specialty,
                )
            ]
        return []
    nhs_number = _nhs_number(message.nhs_number)
    legal_basis = _legal_basis(message.legal_status, feeds)
    match message.kind:
        case "admit":
            return [_admitted(nhs_number, bed, message.admitted_at or message.occurred_at, legal_basis)]
        case "update" if message.discharged_at is None:
            # An update of a stay in progress: its admission (a twin of the one
            # already sent, or the one that was missed). Identified by PV1-44.
            return [_admitted(nhs_number, bed, message.admitted_at, legal_basis)] if message.admitted_at else []
        case "update":
            return []  # about a stay that has ended
        case "transfer":
            return [
                Transferred(
                    nhs_number=nhs_number,
                    transferred_at=message.occurred_at,
                    hospital_ods_code=bed.site,
                    from_hospital_ods_code=prior.site if prior else None,
                    bed_type=bed.bed_type,
                    secure=bed.secure,
                    legal_basis=legal_basis,
                    ward=bed.ward,
                    specialty=bed.specialty,
                )
            ]
        case "discharge":
            return [
                Discharged(
                    nhs_number=nhs_number,
                    discharged_at=message.discharged_at or message.occurred_at,
                    hospital_ods_code=bed.site,
                    destination=message.destination,
                    ward=bed.ward,
                    specialty=bed.specialty,
                )
            ]
        case "cancel_admit":
            admitted_at = _needed(message.admitted_at, "PV1-44", "the admission time says which admission is cancelled")
            return [
                AdmissionCancelled(
                    nhs_number=nhs_number,
                    hospital_ods_code=bed.site,
                    admitted_at=admitted_at,
                    cancelled_at=message.occurred_at,
                )
            ]
        case "cancel_discharge":
            discharged_at = _needed(
                message.discharged_at, "PV1-45", "the discharge time says which discharge is cancelled"
            )
            return [
                DischargeCancelled(
                    nhs_number=nhs_number,
                    hospital_ods_code=bed.site,
                    discharged_at=discharged_at,
                    cancelled_at=message.occurred_at,
                )
            ]
    return []


def _bed(message: HospitalMessage, location: Location | None, feeds: HospitalFeeds) -> Bed | None:
    if location is None or message.patient_class not in feeds.inpatient_classes:
        return None
    site = location.site
    ward = feeds.ward(site, location.ward)
    specialty = message.specialty or message.treatment_function
    if ward is not None:
        return Bed(_ods(site), location.ward, ward.bed_type, ward.secure, specialty)
    bed_type = feeds.specialties.bed_type(message.specialty) or feeds.treatment_functions.bed_type(
        message.treatment_function
    )
    if bed_type is None:
        return None
    return Bed(_ods(site), location.ward, bed_type, False, specialty)


def _merge(message: HospitalMessage) -> list[Event]:
    if message.merged_nhs_number_invalid:
        raise Refused(
            "AE",
            "invalid_merged_nhs_number",
            "MRG-1: the NHS number merged is not a valid one",
            where="MRG-1",
            error=DATA_TYPE_ERROR,
        )
    if message.merged_nhs_number is None or message.merged_nhs_number == message.nhs_number:
        return []  # the NHS number does not change: nothing the register keys on moves
    return [
        PatientsMerged(
            nhs_number=_nhs_number(message.nhs_number),
            merged_nhs_number=message.merged_nhs_number,
            merged_at=message.occurred_at,
            hospital_ods_code=_ods(message.location.site),
        )
    ]


def is_nhs_number(value: str) -> bool:
    """Ten digits, the last a modulus-11 check digit (R-ID-2)."""
    return len(value) == 10 and value.isdigit() and nhs_number_is_valid(value)


def _nhs_number(value: str | None) -> str:
    if value is None:
        raise Refused(
            "AE",
            "no_nhs_number",
            "PID-3: no NHS number (a repetition whose assigning authority is NHS)",
            where="PID-3",
            error=REQUIRED_FIELD_MISSING,
        )
    if not is_nhs_number(value):
        raise Refused(
            "AE",
            "invalid_nhs_number",
            "PID-3: the NHS number is not a valid one (R-ID-2)",
            where="PID-3",
            error=DATA_TYPE_ERROR,
        )
    return value


def _ods(site: str | None) -> str:
    if site is None:
        raise Refused(
            "AE",
            "no_site",
            "PV1-3.4: no hospital site (ODS code), nor a sending facility in MSH-4",
            where="PV1-3",
            error=REQUIRED_FIELD_MISSING,
        )
    if not ODS_CODE.match(site):
        raise Refused(
            "AE", "invalid_site", "PV1-3.4: the hospital site is not an ODS code", where="PV1-3", error=DATA_TYPE_ERROR
        )
    return site


def _legal_basis(code: str | None, feeds: HospitalFeeds) -> LegalBasis:
    return feeds.legal_status_codes.get(code or "", feeds.legal_status_otherwise)


def _needed(value: datetime | None, where: str, why: str) -> datetime:
    if value is None:
        raise Refused(
            "AE",
            f"no_{where.replace('-', '_').lower()}",
            f"{where}: missing; {why}",
            where=where,
            error=REQUIRED_FIELD_MISSING,
        )
    return value


def _admitted(nhs_number: str, bed: Bed, at: datetime, legal_basis: LegalBasis) -> Admitted:
    return Admitted(
        nhs_number=nhs_number,
        admitted_at=at,
        hospital_ods_code=bed.site,
        bed_type=bed.bed_type,
        secure=bed.secure,
        legal_basis=legal_basis,
        ward=bed.ward,
        specialty=bed.specialty,
    )


def when(event: Event) -> datetime:
    """When what an event tells happened in the world (its envelope's occurred_at)."""
    for field in ("cancelled_at", "admitted_at", "discharged_at", "transferred_at", "merged_at"):
        if hasattr(event, field):
            return getattr(event, field)
    raise TypeError(f"{type(event).__name__} is not a hospital event")
