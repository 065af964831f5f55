"""What a hospital said, whatever the format (HL7 v2 ADT or FHIR Encounter):
the few fields the register needs, and how a message is refused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

# HL7 v2 trigger events and what they mean to the register.
Kind = Literal["admit", "transfer", "discharge", "update", "cancel_admit", "cancel_discharge", "merge"]
TRIGGERS: dict[str, Kind] = {
    "A01": "admit",
    "A02": "transfer",
    "A03": "discharge",
    "A08": "update",
    "A11": "cancel_admit",
    "A13": "cancel_discharge",
    "A40": "merge",
}


@dataclass(frozen=True)
class Location:
    site: str | None = None  # ODS site code
    ward: str | None = None  # the trust's ward code


@dataclass(frozen=True)
class HospitalMessage:
    kind: Kind
    nhs_number: str | None
    occurred_at: datetime  # when it happened: EVN-6, else EVN-2, else MSH-7
    location: Location
    patient_class: str | None = None
    prior_location: Location | None = None  # transfer: where from (PV1-6)
    specialty: str | None = None
    treatment_function: str | None = None
    legal_status: str | None = None
    admitted_at: datetime | None = None  # PV1-44
    discharged_at: datetime | None = None  # PV1-45
    destination: str | None = None  # PV1-37
    merged_nhs_number: str | None = None  # MRG-1
    merged_nhs_number_invalid: bool = False


# HL7 table 0357 (message error condition codes) used in ERR-1.
REQUIRED_FIELD_MISSING = "101"
DATA_TYPE_ERROR = "102"
TABLE_VALUE_NOT_FOUND = "103"
UNSUPPORTED_MESSAGE_TYPE = "200"
UNSUPPORTED_EVENT_CODE = "201"
UNSUPPORTED_PROCESSING_ID = "202"
UNSUPPORTED_VERSION_ID = "203"
INTERNAL_ERROR = "207"


class Refused(Exception):
    """A message the gateway does not take. `ack` AE: its content is wrong
    (the sender must correct it); AR: the gateway does not take this kind of
    message, or cannot take any now (the sender may send it again later).
    `reason` names fields, never their values: it goes into the ACK, logs and
    metrics."""

    def __init__(
        self, ack: Literal["AE", "AR"], code: str, reason: str, *, where: str | None = None, error: str = INTERNAL_ERROR
    ):
        super().__init__(reason)
        self.ack = ack
        self.code = code  # a short reason code for metrics
        self.reason = reason
        self.where = where  # e.g. "PID-3"
        self.error = error  # HL7 table 0357
