"""FHIR R4 Encounters (UK Core) as hospital messages, read with the
fhir.resources R4B models (docs/HOSPITAL_FEEDS.md "FHIR").

- in-progress: the admission (period.start) to the first location, and a
  transfer to each later ward (its period.start);
- finished: the same, and the discharge (period.end) from the last;
- entered-in-error or cancelled: the admission at period.start did not happen.
Other statuses (planned, arrived, triaged, onleave, unknown) change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fhir.resources.R4B.encounter import Encounter

from dsr_hospital_gateway.domain.messages import REQUIRED_FIELD_MISSING, HospitalMessage, Location, Refused

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEMS = ("https://fhir.nhs.uk/Id/ods-organization-code", "https://fhir.nhs.uk/Id/ods-site-code")
LEGAL_STATUS_SYSTEM = "https://fhir.hl7.org.uk/CodeSystem/UKCore-LegalStatusClassificationEngland"
# v3 ActCode encounter classes that are a stay in a bed; read as PV1-2 "I".
INPATIENT_CLASSES = {"IMP", "ACUTE", "NONAC"}
SITE, WARD = "si", "wa"  # location-physical-type codes


def encounter(body: dict[str, Any]) -> Encounter:
    """The resource, validated by the R4B model (pydantic ValidationError if not one)."""
    return Encounter.model_validate(body)


def hospital_messages(resource: Encounter, now: datetime, zone: ZoneInfo) -> list[HospitalMessage]:
    """What the Encounter says, as the messages an HL7 feed would have sent."""
    period = resource.period
    start = _aware(period.start, zone) if period and period.start else None
    end = _aware(period.end, zone) if period and period.end else None
    if resource.status not in ("in-progress", "finished", "entered-in-error", "cancelled"):
        return []
    if start is None:
        raise Refused(
            "AE",
            "no_period_start",
            "Encounter.period.start: the admission time is missing",
            where="Encounter.period.start",
            error=REQUIRED_FIELD_MISSING,
        )
    encounter_class = resource.class_fhir.code if resource.class_fhir else None
    common = {
        "nhs_number": _nhs_number(resource),
        "patient_class": "I" if encounter_class in INPATIENT_CLASSES else encounter_class,
        "specialty": _service_code(resource),
        "treatment_function": _service_code(resource),
        "legal_status": _legal_status(resource),
    }
    wards = _wards(resource, zone)
    site = _site(resource)
    first = wards[0][1] if wards else None
    admitted = Location(site=site, ward=first)
    if resource.status in ("entered-in-error", "cancelled"):
        updated = resource.meta.lastUpdated if resource.meta and resource.meta.lastUpdated else now
        return [
            HospitalMessage(
                kind="cancel_admit", occurred_at=_aware(updated, zone), location=admitted, admitted_at=start, **common
            )
        ]
    messages = [HospitalMessage(kind="admit", occurred_at=start, location=admitted, admitted_at=start, **common)]
    previous = admitted
    for moved_at, ward in wards[1:]:
        here = Location(site=site, ward=ward)
        messages.append(
            HospitalMessage(
                kind="transfer", occurred_at=moved_at or start, location=here, prior_location=previous, **common
            )
        )
        previous = here
    if resource.status == "finished":
        if end is None:
            raise Refused(
                "AE",
                "no_period_end",
                "Encounter.period.end: a finished encounter needs its discharge time",
                where="Encounter.period.end",
                error=REQUIRED_FIELD_MISSING,
            )
        destination = _code(resource.hospitalization.dischargeDisposition) if resource.hospitalization else None
        messages.append(
            HospitalMessage(
                kind="discharge",
                occurred_at=end,
                location=previous,
                discharged_at=end,
                destination=destination,
                **common,
            )
        )
    return messages


def _aware(moment: Any, zone: ZoneInfo) -> datetime:
    if not isinstance(moment, datetime):  # a date alone: midnight in the area
        moment = datetime(moment.year, moment.month, moment.day)
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _nhs_number(resource: Encounter) -> str | None:
    identifier = resource.subject.identifier if resource.subject else None
    if identifier is None or identifier.system != NHS_NUMBER_SYSTEM:
        return None
    return (identifier.value or "").replace(" ", "") or None


def _site(resource: Encounter) -> str | None:
    for entry in resource.location or []:
        if _physical_type(entry) == SITE and entry.location.identifier:
            return entry.location.identifier.value
    provider = resource.serviceProvider.identifier if resource.serviceProvider else None
    return provider.value if provider is not None and provider.system in ODS_SYSTEMS else None


def _wards(resource: Encounter, zone: ZoneInfo) -> list[tuple[datetime | None, str]]:
    """The wards in the order the person was in them."""
    found = []
    for entry in resource.location or []:
        if _physical_type(entry) not in (WARD, None) or entry.location.identifier is None:
            continue
        if entry.location.identifier.system in ODS_SYSTEMS:
            continue
        began = _aware(entry.period.start, zone) if entry.period and entry.period.start else None
        found.append((began, entry.location.identifier.value))
    return sorted(found, key=lambda pair: (pair[0] is not None, pair[0] or datetime.min.replace(tzinfo=zone)))


def _physical_type(entry: Any) -> str | None:
    return _code(entry.physicalType)


def _code(concept: Any) -> str | None:
    if concept is None or not concept.coding:
        return None
    return concept.coding[0].code


def _service_code(resource: Encounter) -> str | None:
    return _code(resource.serviceType)


def _legal_status(resource: Encounter) -> str | None:
    """A UK Core legal status classification code anywhere in the extensions."""
    for concept in _concepts(resource.extension or []):
        for coding in concept.coding or []:
            if coding.system == LEGAL_STATUS_SYSTEM:
                return coding.code
    return None


def _concepts(extensions: list[Any]) -> Iterator[Any]:
    for extension in extensions:
        if getattr(extension, "valueCodeableConcept", None) is not None:
            yield extension.valueCodeableConcept
        yield from _concepts(extension.extension or [])
