"""What hospitals tell the register: admissions, discharges, transfers, their
cancellations and patient merges. Published by other NHS systems or by the
project's hospital gateway (HL7 v2 ADT over MLLP, FHIR Encounter). They know
the NHS number, not the register identifier, so these are keyed by NHS number.

Admission-side facts (Admitted, AdmissionCancelled, Transferred) and merges go
on dsr.hospital.admissions; discharge-side facts (Discharged,
DischargeCancelled) on dsr.hospital.discharges, which the referral service
also reads (R-ELIG-4). The rating service folds them in the time each
happened, whatever order they arrive in (docs/REGISTER.md)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field

from dsr_shared.contract.events.base import Event
from dsr_shared.contract.events.bounds import Name
from dsr_shared.contract.topics import Topic

NhsNumber = Annotated[str, Field(pattern=r"^\d{10}$", max_length=10)]
OdsCode = Annotated[str, Field(min_length=3, max_length=10)]
Ward = Annotated[str, Field(min_length=1, max_length=40)]
Specialty = Annotated[str, Field(min_length=1, max_length=10)]
BedType = Literal["mental_health", "learning_disability"]
LegalBasis = Literal["informal", "section_2", "section_3", "other"]


class _HospitalEvent(Event):
    KEY_FIELD: ClassVar[str] = "nhs_number"

    nhs_number: NhsNumber


class Admitted(_HospitalEvent):
    """An admission to a mental health or learning disability bed (R-RAG-3).
    `ward` and `specialty` (the main specialty or treatment function code)
    are given by the gateway; other publishers may leave them out."""

    EVENT_TYPE: ClassVar[str] = "Admitted"
    TOPIC: ClassVar[Topic] = Topic.ADMISSIONS

    admitted_at: AwareDatetime
    hospital_ods_code: OdsCode
    bed_type: BedType
    secure: bool = False
    legal_basis: LegalBasis
    ward: Ward | None = None
    specialty: Specialty | None = None


class Discharged(_HospitalEvent):
    """A discharge from a mental health or learning disability bed (R-RAG-4, R-ELIG-4)."""

    EVENT_TYPE: ClassVar[str] = "Discharged"
    TOPIC: ClassVar[Topic] = Topic.DISCHARGES

    discharged_at: AwareDatetime
    hospital_ods_code: OdsCode
    destination: Name | None = None
    ward: Ward | None = None
    specialty: Specialty | None = None


class AdmissionCancelled(_HospitalEvent):
    """The admission at `hospital_ods_code` at `admitted_at` did not happen
    (HL7 A11, or a FHIR Encounter entered in error): the register stands as if
    it had never been sent. `cancelled_at`: when the hospital cancelled it."""

    EVENT_TYPE: ClassVar[str] = "AdmissionCancelled"
    TOPIC: ClassVar[Topic] = Topic.ADMISSIONS

    hospital_ods_code: OdsCode
    admitted_at: AwareDatetime
    cancelled_at: AwareDatetime


class DischargeCancelled(_HospitalEvent):
    """The discharge from `hospital_ods_code` at `discharged_at` did not
    happen (HL7 A13): the person is still in hospital."""

    EVENT_TYPE: ClassVar[str] = "DischargeCancelled"
    TOPIC: ClassVar[Topic] = Topic.DISCHARGES

    hospital_ods_code: OdsCode
    discharged_at: AwareDatetime
    cancelled_at: AwareDatetime


class Transferred(_HospitalEvent):
    """The person moved to another mental health or learning disability bed,
    in the same hospital or another (HL7 A02, or an A08 that changes the
    stay): they stay blue and the register records where they are now. A
    transfer for someone the register did not know was in hospital counts as
    their admission (the admission message was missed)."""

    EVENT_TYPE: ClassVar[str] = "Transferred"
    TOPIC: ClassVar[Topic] = Topic.ADMISSIONS

    transferred_at: AwareDatetime
    hospital_ods_code: OdsCode
    from_hospital_ods_code: OdsCode | None = None
    bed_type: BedType
    secure: bool = False
    legal_basis: LegalBasis
    ward: Ward | None = None
    specialty: Specialty | None = None


class PatientsMerged(_HospitalEvent):
    """A hospital merged two patient records (HL7 A40): `nhs_number` is the
    record kept, `merged_nhs_number` the one merged into it. The register
    never applies a merge: it puts it before the DSR team to resolve."""

    EVENT_TYPE: ClassVar[str] = "PatientsMerged"
    TOPIC: ClassVar[Topic] = Topic.ADMISSIONS

    merged_nhs_number: NhsNumber
    merged_at: AwareDatetime
    hospital_ods_code: OdsCode
